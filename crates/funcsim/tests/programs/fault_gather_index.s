# A gather whose ids come from user input; the test feeds an id beyond the table.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=2

.binding input "ids" dtype=i32 shape=[4] at=hbm:0x0
.binding input "offsets" dtype=i32 shape=[3] at=hbm:0x100
.binding output "pooled" dtype=f32 shape=[2,8] at=shared:0x0

.table "user_table" at=hbm:0x10000 rows=10 dim=8 dtype=bf16 source=procedural seed=1 param="user.weight" dist=uniform bound=0.1

.core 0
    dma.copy dst=local:0x0 src=hbm:0x0 rows=1 row_bytes=16 dst_stride_bytes=16 src_stride_bytes=16 ; signal s0
    dma.copy dst=local:0x20 src=hbm:0x100 rows=1 row_bytes=12 dst_stride_bytes=12 src_stride_bytes=12 ; signal s0
    gather.sum.bf16 dst=shared:0x0 table=hbm:0x10000 rows=10 dim=8 idx=local:0x0 offsets=local:0x20 bags=2 ldd=8 cache_map=none ; wait s0>=2
    ctl.halt
