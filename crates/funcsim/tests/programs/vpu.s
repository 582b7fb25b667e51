# vpu: binary ops with row/column/scalar broadcast, the unary functions, scale, a strided
# copy, conversions (fp8 round trip, float→int, saturating int→int), requantization
# (per-tensor and per-channel) and row reductions. Operands live in shared SRAM.
.scp container=1 isa=1
.target chip="funcsim-test" fingerprint=0x0 precision=int8 batch=4

.binding input "x" dtype=f32 shape=[4,8] at=shared:0x0
.binding input "y" dtype=f32 shape=[4,8] at=shared:0x80
.binding input "bias" dtype=f32 shape=[8] at=shared:0x100
.binding input "rowv" dtype=f32 shape=[4] at=shared:0x120
.binding input "xb" dtype=bf16 shape=[4,8] at=shared:0x140
.binding input "xi" dtype=i32 shape=[4,8] at=shared:0x180
.binding input "acc" dtype=i32 shape=[4,8] at=shared:0x200
.binding input "mults" dtype=i32 shape=[8] at=shared:0x280
.binding input "shifts" dtype=i32 shape=[8] at=shared:0x2a0
.binding output "add" dtype=f32 shape=[4,8] at=shared:0x400
.binding output "sub" dtype=f32 shape=[4,8] at=shared:0x480
.binding output "mul" dtype=f32 shape=[4,8] at=shared:0x500
.binding output "max" dtype=f32 shape=[4,8] at=shared:0x580
.binding output "min" dtype=f32 shape=[4,8] at=shared:0x600
.binding output "relu" dtype=f32 shape=[4,8] at=shared:0x680
.binding output "sigmoid" dtype=f32 shape=[4,8] at=shared:0x700
.binding output "tanh" dtype=f32 shape=[4,8] at=shared:0x780
.binding output "gelu" dtype=f32 shape=[4,8] at=shared:0x800
.binding output "silu" dtype=f32 shape=[4,8] at=shared:0x880
.binding output "exp" dtype=f32 shape=[4,8] at=shared:0x900
.binding output "rsqrt" dtype=f32 shape=[4,8] at=shared:0x980
.binding output "recip" dtype=f32 shape=[4,8] at=shared:0xa00
.binding output "neg" dtype=f32 shape=[4,8] at=shared:0xa80
.binding output "scale" dtype=f32 shape=[4,8] at=shared:0xb00
.binding output "copy" dtype=f32 shape=[2,4] at=shared:0xb80
.binding output "sqbf" dtype=bf16 shape=[4,8] at=shared:0xc00
.binding output "fp8" dtype=f32 shape=[4,8] at=shared:0xc80
.binding output "toi8" dtype=i8 shape=[4,8] at=shared:0xd00
.binding output "sat" dtype=i8 shape=[4,8] at=shared:0xd40
.binding output "req" dtype=i8 shape=[4,8] at=shared:0xd80
.binding output "reqpc" dtype=u8 shape=[4,8] at=shared:0xdc0
.binding output "rsum" dtype=f32 shape=[4] at=shared:0xe00
.binding output "rmax" dtype=f32 shape=[4] at=shared:0xe10
.binding output "addi" dtype=i32 shape=[4,8] at=shared:0xe80
.binding output "negi8" dtype=i8 shape=[4,8] at=shared:0xf00

.core 0
    vpu.add.f32 dst=shared:0x400 a=shared:0x0 b=shared:0x100 rows=4 cols=8 ldd=8 lda=8 ldb=0 incb=1
    vpu.sub.f32 dst=shared:0x480 a=shared:0x0 b=shared:0x120 rows=4 cols=8 ldd=8 lda=8 ldb=1 incb=0
    vpu.mul.f32 dst=shared:0x500 a=shared:0x0 b=shared:0x80 rows=4 cols=8 ldd=8 lda=8 ldb=8 incb=1
    vpu.max.f32 dst=shared:0x580 a=shared:0x0 b=shared:0x120 rows=4 cols=8 ldd=8 lda=8 ldb=0 incb=0
    vpu.min.f32 dst=shared:0x600 a=shared:0x0 b=shared:0x80 rows=4 cols=8 ldd=8 lda=8 ldb=8 incb=1
    vpu.relu.f32 dst=shared:0x680 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.sigmoid.f32 dst=shared:0x700 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.tanh.f32 dst=shared:0x780 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.gelu.f32 dst=shared:0x800 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.silu.f32 dst=shared:0x880 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.exp.f32 dst=shared:0x900 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.rsqrt.f32 dst=shared:0x980 a=shared:0x80 rows=4 cols=8 ldd=8 lda=8
    vpu.recip.f32 dst=shared:0xa00 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.neg.f32 dst=shared:0xa80 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.scale.f32 dst=shared:0xb00 a=shared:0x0 scale=0.3 rows=4 cols=8 ldd=8 lda=8
    vpu.copy.f32 dst=shared:0xb80 a=shared:0x28 rows=2 cols=4 ldd=4 lda=8
    vpu.mul.bf16 dst=shared:0xc00 a=shared:0x140 b=shared:0x140 rows=4 cols=8 ldd=8 lda=8 ldb=8 incb=1
    vpu.cvt.f32.e4m3 dst=local:0x0 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.cvt.e4m3.f32 dst=shared:0xc80 a=local:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.cvt.f32.i8 dst=shared:0xd00 a=shared:0x0 rows=4 cols=8 ldd=8 lda=8
    vpu.cvt.i32.i8 dst=shared:0xd40 a=shared:0x200 rows=4 cols=8 ldd=8 lda=8
    vpu.requant.i8 dst=shared:0xd80 a=shared:0x200 rows=4 cols=8 ldd=8 lda=8 multiplier=1518500250 shift=3 zero_point=-5
    vpu.requant.pc.u8 dst=shared:0xdc0 a=shared:0x200 rows=4 cols=8 ldd=8 lda=8 multipliers=shared:0x280 shifts=shared:0x2a0 zero_point=100
    vpu.reduce.sum.f32 dst=shared:0xe00 a=shared:0x0 rows=4 cols=8 lda=8
    vpu.reduce.max.f32 dst=shared:0xe10 a=shared:0x0 rows=4 cols=8 lda=8
    vpu.add.i32 dst=shared:0xe80 a=shared:0x180 b=shared:0x180 rows=4 cols=8 ldd=8 lda=8 ldb=8 incb=1
    vpu.neg.i8 dst=shared:0xf00 a=shared:0xd00 rows=4 cols=8 ldd=8 lda=8
    ctl.halt
