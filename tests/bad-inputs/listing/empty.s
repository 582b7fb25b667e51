# an empty listing
# expect: empty.s:
