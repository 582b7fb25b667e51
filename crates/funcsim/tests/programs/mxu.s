# mxu: int8 with an int32 bias (accumulate), transposed b, a batched X·Xᵀ (the DLRM dot
# interaction), and every float operand type accumulating in f32.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=5

.binding input "a8" dtype=i8 shape=[5,16] at=hbm:0x1000
.binding input "b8" dtype=i8 shape=[16,12] at=hbm:0x1100
.binding input "bt8" dtype=i8 shape=[12,16] at=hbm:0x1200
.binding input "bias" dtype=i32 shape=[5,12] at=hbm:0x1300
.binding input "x8" dtype=i8 shape=[3,4,16] at=hbm:0x1400
.binding input "abf" dtype=bf16 shape=[4,16] at=hbm:0x2000
.binding input "bbf" dtype=bf16 shape=[16,8] at=hbm:0x2100
.binding input "ah" dtype=f16 shape=[4,16] at=hbm:0x2200
.binding input "bh" dtype=f16 shape=[16,8] at=hbm:0x2300
.binding input "a43" dtype=e4m3 shape=[4,16] at=hbm:0x2400
.binding input "b43" dtype=e4m3 shape=[16,8] at=hbm:0x2500
.binding input "a52" dtype=e5m2 shape=[4,16] at=hbm:0x2600
.binding input "b52" dtype=e5m2 shape=[16,8] at=hbm:0x2700
.binding output "y8" dtype=i32 shape=[5,12] at=shared:0x0
.binding output "yt8" dtype=i32 shape=[5,12] at=shared:0x100
.binding output "inter" dtype=i32 shape=[3,4,4] at=shared:0x200
.binding output "ybf" dtype=f32 shape=[4,8] at=shared:0x300
.binding output "ybf2" dtype=f32 shape=[4,8] at=shared:0x600
.binding output "yh" dtype=f32 shape=[4,8] at=shared:0x380
.binding output "y43" dtype=f32 shape=[4,8] at=shared:0x400
.binding output "y52" dtype=f32 shape=[4,8] at=shared:0x480

.core 0
    dma.copy dst=local:0x0 src=hbm:0x1000 rows=1 row_bytes=0x1800 dst_stride_bytes=0x1800 src_stride_bytes=0x1800 ; signal s0
    dma.copy dst=shared:0x0 src=hbm:0x1300 rows=1 row_bytes=240 dst_stride_bytes=240 src_stride_bytes=240 ; signal s1
    mxu.matmul.i8 acc=shared:0x0 a=local:0x0 b=local:0x100 m=5 k=16 n=12 lda=16 ldb=12 ldacc=12 accumulate=1 transpose_b=0 ; wait s1>=1
    mxu.matmul.i8 acc=shared:0x100 a=local:0x0 b=local:0x200 m=5 k=16 n=12 lda=16 ldb=16 ldacc=12 accumulate=0 transpose_b=1
    mxu.matmul.batch.i8 acc=shared:0x200 a=local:0x400 b=local:0x400 m=4 k=16 n=4 lda=16 ldb=16 ldacc=4 accumulate=0 transpose_b=1 count=3 stride_a=64 stride_b=64 stride_acc=16
    mxu.matmul.bf16 acc=shared:0x300 a=local:0x1000 b=local:0x1100 m=4 k=16 n=8 lda=16 ldb=8 ldacc=8 accumulate=0 transpose_b=0
    mxu.matmul.bf16 acc=shared:0x600 a=local:0x1000 b=local:0x1100 m=4 k=16 n=8 lda=16 ldb=8 ldacc=8 accumulate=0 transpose_b=0
    mxu.matmul.bf16 acc=shared:0x600 a=local:0x1000 b=local:0x1100 m=4 k=16 n=8 lda=16 ldb=8 ldacc=8 accumulate=1 transpose_b=0
    mxu.matmul.f16 acc=shared:0x380 a=local:0x1200 b=local:0x1300 m=4 k=16 n=8 lda=16 ldb=8 ldacc=8 accumulate=0 transpose_b=0
    mxu.matmul.e4m3 acc=shared:0x400 a=local:0x1400 b=local:0x1500 m=4 k=16 n=8 lda=16 ldb=8 ldacc=8 accumulate=0 transpose_b=0
    mxu.matmul.e5m2 acc=shared:0x480 a=local:0x1600 b=local:0x1700 m=4 k=16 n=8 lda=16 ldb=8 ldacc=8 accumulate=0 transpose_b=0
    ctl.halt
