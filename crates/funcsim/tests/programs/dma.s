# dma.copy: a strided column window of an HBM input, staged through local SRAM, lands in
# shared SRAM; a second copy moves two rows between the cores' spaces and back to HBM.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=4

.binding input "x" dtype=f32 shape=[4,6] at=hbm:0x1000
.binding output "window" dtype=f32 shape=[4,3] at=shared:0x100
.binding output "rows" dtype=f32 shape=[2,6] at=hbm:0x2000

.core 0
    # x[:, 1:4] -> local 0x40 (rows 12 bytes apart)
    dma.copy dst=local:0x40 src=hbm:0x1004 rows=4 row_bytes=12 dst_stride_bytes=12 src_stride_bytes=24 ; signal s0
    dma.copy dst=shared:0x100 src=local:0x40 rows=4 row_bytes=12 dst_stride_bytes=12 src_stride_bytes=12 ; wait s0>=1 ; signal s1
    # rows 3 and 1 of x (negative order via two copies) -> hbm 0x2000
    dma.copy dst=shared:0x400 src=hbm:0x1048 rows=1 row_bytes=24 dst_stride_bytes=24 src_stride_bytes=24 ; signal s2
    dma.copy dst=shared:0x418 src=hbm:0x1018 rows=1 row_bytes=24 dst_stride_bytes=24 src_stride_bytes=24 ; signal s2
    dma.copy dst=hbm:0x2000 src=shared:0x400 rows=2 row_bytes=24 dst_stride_bytes=24 src_stride_bytes=24 ; wait s2>=2
    ctl.halt
