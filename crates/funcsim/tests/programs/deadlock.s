# Each core waits for a semaphore that nothing signals.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=1

.core 0
    ctl.nop ; signal s1
    ctl.wait sem=g0 value=1
    ctl.halt
.core 1
    ctl.barrier sem=g3 count=3
    ctl.halt
