# A 128 KiB tile in a 64 KiB local SRAM.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=1

.core 1
    vpu.copy.f32 dst=local:0x0 a=local:0x0 rows=128 cols=256 ldd=256 lda=256
    ctl.halt
