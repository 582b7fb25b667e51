# Not well synchronised: the vector unit reads what the DMA writes without waiting for it.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=1

.binding input "x" dtype=f32 shape=[16] at=hbm:0x0
.binding output "y" dtype=f32 shape=[16] at=shared:0x0

.core 0
    dma.copy dst=local:0x40 src=hbm:0x0 rows=1 row_bytes=64 dst_stride_bytes=64 src_stride_bytes=64 ; signal s0
    vpu.relu.f32 dst=shared:0x0 a=local:0x40 rows=1 cols=16 ldd=16 lda=16
    ctl.halt
