# alias: vector ops whose destination is their source (in place), overlaps it shifted by a
# row, lies after or before it, has gaps between its rows (ldd > cols), or lies in another
# SRAM. Results must not depend on whether funcsim computes into the destination directly or
# through a buffer.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=4

.binding input "x" dtype=f32 shape=[4,8] at=shared:0x0
.binding input "acc" dtype=i32 shape=[4,8] at=shared:0x800

.core 0
    vpu.copy.f32 dst=shared:0x100 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.add.f32 dst=shared:0x100 a=shared:0x100 b=shared:0x0 rows=4 cols=8 ldd=8 lda=8 ldb=8 incb=1
    vpu.neg.f32 dst=shared:0x120 a=shared:0x100 rows=4 cols=8 ldd=8 lda=8
    vpu.copy.f32 dst=shared:0x300 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.scale.f32 dst=shared:0x280 a=shared:0x300 scale=3.0 rows=4 cols=8 ldd=8 lda=8
    vpu.scale.f32 dst=shared:0x400 a=shared:0x0 scale=2.0 rows=4 cols=8 ldd=16 lda=8
    vpu.cvt.i32.f32 dst=local:0x0 a=shared:0x800 rows=4 cols=8 ldd=8 lda=8
    vpu.cvt.f32.i8 dst=local:0x100 a=shared:0x0 rows=4 cols=8 ldd=16 lda=8
    vpu.requant.i8 dst=local:0x200 a=shared:0x800 rows=4 cols=8 ldd=12 lda=8 multiplier=1518500250 shift=3 zero_point=-5
    vpu.requant.i8 dst=shared:0x800 a=shared:0x800 rows=4 cols=8 ldd=32 lda=8 multiplier=1518500250 shift=3 zero_point=-5
    ctl.halt
