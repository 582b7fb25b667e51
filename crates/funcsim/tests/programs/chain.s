# chain: k-steps into two interleaved accumulators (columns 0-7 and 8-15 of the same rows),
# the pattern funcsim queues and runs together (crates/funcsim/src/defer.rs); a DMA that does
# not touch them runs in between, one that reads them runs after.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=4

.binding input "a" dtype=i8 shape=[4,64] at=hbm:0x1000
.binding input "b" dtype=i8 shape=[64,16] at=hbm:0x1100
.binding input "bias" dtype=i32 shape=[4,16] at=hbm:0x1800
.binding output "y" dtype=i32 shape=[4,16] at=shared:0x0
.binding output "copy" dtype=i32 shape=[4,16] at=shared:0x400

.core 0
    dma.copy dst=local:0x0 src=hbm:0x1000 rows=1 row_bytes=0x500 dst_stride_bytes=0x500 src_stride_bytes=0x500 ; signal s0
    dma.copy dst=shared:0x0 src=hbm:0x1800 rows=1 row_bytes=256 dst_stride_bytes=256 src_stride_bytes=256 ; signal s0
    mxu.matmul.i8 acc=shared:0x0 a=local:0x0 b=local:0x100 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0 ; wait s0>=2
    mxu.matmul.i8 acc=shared:0x20 a=local:0x0 b=local:0x108 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0
    mxu.matmul.i8 acc=shared:0x0 a=local:0x10 b=local:0x200 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0
    mxu.matmul.i8 acc=shared:0x20 a=local:0x10 b=local:0x208 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0
    dma.copy dst=local:0x800 src=local:0x0 rows=4 row_bytes=16 dst_stride_bytes=16 src_stride_bytes=64
    mxu.matmul.i8 acc=shared:0x0 a=local:0x20 b=local:0x300 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0
    mxu.matmul.i8 acc=shared:0x20 a=local:0x20 b=local:0x308 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0
    mxu.matmul.i8 acc=shared:0x0 a=local:0x30 b=local:0x400 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0
    mxu.matmul.i8 acc=shared:0x20 a=local:0x30 b=local:0x408 m=4 k=16 n=8 lda=64 ldb=16 ldacc=16 accumulate=1 transpose_b=0 ; signal s1
    dma.copy dst=shared:0x400 src=shared:0x0 rows=4 row_bytes=64 dst_stride_bytes=64 src_stride_bytes=64 ; wait s1>=1
    ctl.halt
