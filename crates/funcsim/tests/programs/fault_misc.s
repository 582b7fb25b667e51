# Several independent faulty instructions; each test truncates the stream at the one it wants
# (see faults.rs), so one listing covers misalignment, overlap, offsets, array size, operands.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=1

.core 0
    vpu.relu.f32 dst=local:0x100 a=local:0x2 rows=1 cols=4 ldd=4 lda=4
    dma.copy dst=shared:0x10 src=shared:0x0 rows=2 row_bytes=32 dst_stride_bytes=32 src_stride_bytes=32
    gather.sum.f32 dst=local:0x0 table=hbm:0x0 rows=4 dim=4 idx=local:0x100 offsets=local:0x200 bags=2 ldd=4 cache_map=none
    mxu.matmul.i8 acc=local:0x0 a=local:0x100 b=local:0x200 m=1 k=17 n=4 lda=17 ldb=4 ldacc=4 accumulate=0 transpose_b=0
    vpu.requant.i8 dst=local:0x0 a=local:0x100 rows=1 cols=4 ldd=4 lda=4 multiplier=5 shift=0 zero_point=0
    ctl.nop
    ctl.nop
    ctl.halt
