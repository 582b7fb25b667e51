# The source runs 4 KiB past the end of the test chip's 16 MiB HBM.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=1

.core 0
    dma.copy dst=local:0x0 src=hbm:0xfff000 rows=1 row_bytes=0x2000 dst_stride_bytes=0x2000 src_stride_bytes=0x2000
    ctl.halt
