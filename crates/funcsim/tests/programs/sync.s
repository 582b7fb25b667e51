# Two cores exchange data through shared SRAM, ordered only by semaphores: core-local
# signals between queues, chip semaphores between cores, ctl.wait/ctl.signal and a barrier.
# Well synchronised: passes --check-races.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=1

.binding input "x" dtype=f32 shape=[64] at=hbm:0x0
.binding output "y" dtype=f32 shape=[64] at=shared:0x1000
.binding output "z" dtype=f32 shape=[64] at=shared:0x2000

.core 0
    dma.copy dst=local:0x0 src=hbm:0x0 rows=1 row_bytes=256 dst_stride_bytes=256 src_stride_bytes=256 ; signal s0
    vpu.scale.f32 dst=shared:0x0 a=local:0x0 scale=2.0 rows=1 cols=64 ldd=64 lda=64 ; wait s0>=1 ; signal g0
    ctl.barrier sem=g1 count=2
    ctl.wait sem=g2 value=1 ; wait s0>=1
    vpu.add.f32 dst=shared:0x2000 a=shared:0x1000 b=shared:0x0 rows=1 cols=64 ldd=64 lda=64 ldb=64 incb=1 ; wait g2>=1
    ctl.halt
.core 1
    ctl.nop ; wait g0>=1
    vpu.scale.f32 dst=shared:0x1000 a=shared:0x0 scale=0.25 rows=1 cols=64 ldd=64 lda=64 ; wait g0>=1 ; signal s3
    ctl.signal sem=g2 ; wait s3>=1
    ctl.barrier sem=g1 count=2
    ctl.halt
