# gather: sum/mean/max pooling over a procedural emb8 table and a stored f32 table, ragged
# bags (one empty), ids in local and shared SRAM, bags written into a wider row (ldd) and the
# hot-row cache (cache_map: u32 count, sorted i32 ids, u32 shared slot addresses).
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=3

.binding input "idx" dtype=i32 shape=[10] at=hbm:0x1000
.binding input "offsets" dtype=i32 shape=[4] at=hbm:0x1100
.binding input "idx_big" dtype=i32 shape=[10] at=shared:0x1000
.binding input "cache" dtype=i32 shape=[5] at=shared:0x2000
.binding input "slots" dtype=f32 shape=[2,4] at=shared:0x3000
.binding output "sum8" dtype=f32 shape=[3,8] at=shared:0x400
.binding output "pools" dtype=f32 shape=[3,12] at=shared:0x800

.table "emb8" at=hbm:0x10000 rows=100 dim=8 dtype=emb8 source=procedural seed=42 param="emb.weight" dist=uniform bound=0.5
.table "small" at=hbm:0x20000 rows=6 dim=4 dtype=f32 source=bytes
.hex 000040c0000028c0000010c00000f0bf0000c0bf00000080000040bf0000c0be
.hex 000000000000c03e0000403f0000903f0000c03f0000f03f0000104000002840
.hex 000040400000584000007040000084400000904000009c400000a8400000b440

.core 0
    dma.copy dst=local:0x0 src=hbm:0x1000 rows=1 row_bytes=40 dst_stride_bytes=40 src_stride_bytes=40 ; signal s0
    dma.copy dst=local:0x40 src=hbm:0x1100 rows=1 row_bytes=16 dst_stride_bytes=16 src_stride_bytes=16 ; signal s0
    gather.sum.emb8 dst=shared:0x400 table=hbm:0x10000 rows=100 dim=8 idx=shared:0x1000 offsets=local:0x40 bags=3 ldd=8 cache_map=none ; wait s0>=2 ; signal s1
    gather.mean.f32 dst=local:0x100 table=hbm:0x20000 rows=6 dim=4 idx=local:0x0 offsets=local:0x40 bags=3 ldd=12 cache_map=none ; signal s1
    gather.max.f32 dst=local:0x110 table=hbm:0x20000 rows=6 dim=4 idx=local:0x0 offsets=local:0x40 bags=3 ldd=12 cache_map=none ; signal s1
    gather.sum.f32 dst=local:0x120 table=hbm:0x20000 rows=6 dim=4 idx=local:0x0 offsets=local:0x40 bags=3 ldd=12 cache_map=shared:0x2000 ; signal s1
    dma.copy dst=shared:0x800 src=local:0x100 rows=1 row_bytes=144 dst_stride_bytes=144 src_stride_bytes=144 ; wait s1>=4
    ctl.halt
