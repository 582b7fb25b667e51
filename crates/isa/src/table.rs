//! THE instruction table. Every other view of the ISA (the [`Inst`](crate::Inst) enum, opcodes,
//! encoder, decoder, assembler, disassembler, the `seedchip isa` listing and the generated part
//! of docs/isa.md) is produced from this one list, so adding an instruction is one entry here
//! plus its semantics in funcsim and timing.
//!
//! Entry grammar:
//!
//! ```text
//! /// doc (first line is the listing's summary)
//! OPCODE  Variant  "class.op"  Queue  [slot: DType|DType|..., ...]  { field: Type, ... }
//! ```
//!
//! * The dtype slots (zero, one or two) live in the header's dtype byte (first slot in the low
//!   nibble) and appear as mnemonic suffixes in slot order: `vpu.cvt.f32.bf16`. The listed
//!   dtypes are the only ones the instruction accepts; anything else is rejected when encoding,
//!   decoding and assembling.
//! * Fields are packed in the listed order at their natural widths after the 8-byte header, and
//!   the instruction is zero-padded to a multiple of 8 bytes. A field's type is any
//!   [`Operand`](crate::Operand): `u8`, `u16`, `u32`, `u64`, `i32`, `bool`, `F32Imm` (f32
//!   bits), `Addr` (space + u64), `Option<Addr>`, `Sem`, `ChipSem`.
//! * Strides named `ld*` are row strides in elements of that operand (BLAS "leading
//!   dimension"); `incb` is `b`'s column stride in elements; fields ending in `_bytes` are bytes.
//!
//! Opcode 0x00 is never assigned, so zeroed memory does not decode as a program.
//!
//! The macro hands the whole table to a callback macro, so crates downstream (funcsim's
//! dispatch tables, test generators) can derive their own code from the same list.

/// Invokes `$callback! { <the table> }`. See the module documentation for the grammar.
#[macro_export]
macro_rules! for_each_inst {
    ($callback:ident) => {
        $callback! {
            /// 2-D strided copy of `rows` rows of `row_bytes` bytes between any two spaces.
            0x01 DmaCopy "dma.copy" Dma [] {
                dst: $crate::Addr,
                src: $crate::Addr,
                rows: u32,
                row_bytes: u32,
                dst_stride_bytes: u32,
                src_stride_bytes: u32,
            }

            /// Embedding bag, sum pooling: rows `idx[offsets[b]..offsets[b+1]]` of `table`, summed
            /// in f32 in index order into row `b` of `dst`.
            0x10 GatherSum "gather.sum" Gather [dtype: F32 | F16 | Bf16 | Emb8] {
                dst: $crate::Addr,
                table: $crate::Addr,
                rows: u32,
                dim: u32,
                idx: $crate::Addr,
                offsets: $crate::Addr,
                bags: u32,
                ldd: u32,
                cache_map: Option<$crate::Addr>,
            }
            /// Embedding bag, mean pooling: the sum divided by the bag size (one f32 division;
            /// an empty bag gives 0).
            0x11 GatherMean "gather.mean" Gather [dtype: F32 | F16 | Bf16 | Emb8] {
                dst: $crate::Addr,
                table: $crate::Addr,
                rows: u32,
                dim: u32,
                idx: $crate::Addr,
                offsets: $crate::Addr,
                bags: u32,
                ldd: u32,
                cache_map: Option<$crate::Addr>,
            }
            /// Embedding bag, max pooling with NaN propagation (an empty bag gives 0).
            0x12 GatherMax "gather.max" Gather [dtype: F32 | F16 | Bf16 | Emb8] {
                dst: $crate::Addr,
                table: $crate::Addr,
                rows: u32,
                dim: u32,
                idx: $crate::Addr,
                offsets: $crate::Addr,
                bags: u32,
                ldd: u32,
                cache_map: Option<$crate::Addr>,
            }

            /// `acc[m×n] (+)= a[m×k] · b[k×n]` on the systolic array, `k ≤ rows`, `n ≤ cols`;
            /// i8 accumulates in i32, the float types in f32 in increasing `k` order.
            0x20 MxuMatmul "mxu.matmul" Mxu [dtype: I8 | Bf16 | F16 | E4m3 | E5m2] {
                acc: $crate::Addr,
                a: $crate::Addr,
                b: $crate::Addr,
                m: u32,
                k: u32,
                n: u32,
                lda: u32,
                ldb: u32,
                ldacc: u32,
                accumulate: bool,
                transpose_b: bool,
            }
            /// `count` independent `mxu.matmul` problems, operand `i` at `base + i·stride_*`
            /// elements (per-sample interactions, attention heads).
            0x21 MxuMatmulBatch "mxu.matmul.batch" Mxu [dtype: I8 | Bf16 | F16 | E4m3 | E5m2] {
                acc: $crate::Addr,
                a: $crate::Addr,
                b: $crate::Addr,
                m: u32,
                k: u32,
                n: u32,
                lda: u32,
                ldb: u32,
                ldacc: u32,
                accumulate: bool,
                transpose_b: bool,
                count: u32,
                stride_a: u32,
                stride_b: u32,
                stride_acc: u32,
            }

            /// `dst = a + b` elementwise over `rows × cols`; `b` broadcasts with `ldb = 0`
            /// (one row) and/or `incb = 0` (one value per row).
            0x30 VpuAdd "vpu.add" Vpu [dtype: F32 | Bf16 | F16 | I32] {
                dst: $crate::Addr,
                a: $crate::Addr,
                b: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
                ldb: u32,
                incb: u32,
            }
            /// `dst = a - b` elementwise, broadcasting `b` as in `vpu.add`.
            0x31 VpuSub "vpu.sub" Vpu [dtype: F32 | Bf16 | F16 | I32] {
                dst: $crate::Addr,
                a: $crate::Addr,
                b: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
                ldb: u32,
                incb: u32,
            }
            /// `dst = a · b` elementwise, broadcasting `b` as in `vpu.add`.
            0x32 VpuMul "vpu.mul" Vpu [dtype: F32 | Bf16 | F16 | I32] {
                dst: $crate::Addr,
                a: $crate::Addr,
                b: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
                ldb: u32,
                incb: u32,
            }
            /// `dst = max(a, b)` elementwise (NaN propagates), broadcasting `b`.
            0x33 VpuMax "vpu.max" Vpu [dtype: F32 | Bf16 | F16 | I32 | I8] {
                dst: $crate::Addr,
                a: $crate::Addr,
                b: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
                ldb: u32,
                incb: u32,
            }
            /// `dst = min(a, b)` elementwise (NaN propagates), broadcasting `b`.
            0x34 VpuMin "vpu.min" Vpu [dtype: F32 | Bf16 | F16 | I32 | I8] {
                dst: $crate::Addr,
                a: $crate::Addr,
                b: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
                ldb: u32,
                incb: u32,
            }

            /// `dst = max(a, 0)`.
            0x40 VpuRelu "vpu.relu" Vpu [dtype: F32 | Bf16 | F16 | I32 | I8] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = 1 / (1 + e^-a)` (the chip's f32 implementation).
            0x41 VpuSigmoid "vpu.sigmoid" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = tanh(a)`.
            0x42 VpuTanh "vpu.tanh" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = gelu(a)`, erf form.
            0x43 VpuGelu "vpu.gelu" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = a · sigmoid(a)`.
            0x44 VpuSilu "vpu.silu" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = e^a`.
            0x45 VpuExp "vpu.exp" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = 1 / sqrt(a)`.
            0x46 VpuRsqrt "vpu.rsqrt" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = 1 / a`.
            0x47 VpuRecip "vpu.recip" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = -a` (integer `MIN` faults).
            0x48 VpuNeg "vpu.neg" Vpu [dtype: F32 | Bf16 | F16 | I32 | I8] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst = a`, bit for bit (re-layout a 2-D tile inside SRAM).
            0x49 VpuCopy "vpu.copy" Vpu [dtype: F32 | Bf16 | F16 | E4m3 | E5m2 | I8 | U8 | I32] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }

            /// `dst = a · scale`, one f32 multiply rounded once to the dtype.
            0x50 VpuScale "vpu.scale" Vpu [dtype: F32 | Bf16 | F16] {
                dst: $crate::Addr,
                a: $crate::Addr,
                scale: $crate::F32Imm,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// `dst(to) = convert(a(from))` with the numerics crate's rounding and saturation.
            0x51 VpuCvt "vpu.cvt" Vpu [
                from: F32 | Bf16 | F16 | E4m3 | E5m2 | I8 | U8 | I32,
                to: F32 | Bf16 | F16 | E4m3 | E5m2 | I8 | U8 | I32
            ] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
            }
            /// Fixed-point requantization of an i32 tile `a` to the dtype (i8/u8) with one
            /// multiplier, right shift and zero point (`numerics::requant`).
            0x52 VpuRequant "vpu.requant" Vpu [dtype: I8 | U8] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
                multiplier: i32,
                shift: i32,
                zero_point: i32,
            }
            /// Per-channel requantization: `multipliers` and `shifts` are i32 arrays of `cols`
            /// entries, one per output column.
            0x53 VpuRequantPc "vpu.requant.pc" Vpu [dtype: I8 | U8] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                ldd: u32,
                lda: u32,
                multipliers: $crate::Addr,
                shifts: $crate::Addr,
                zero_point: i32,
            }
            /// Per-row sum in increasing column order: `dst[r] = Σ_c a[r, c]`.
            0x54 VpuReduceSum "vpu.reduce.sum" Vpu [dtype: F32] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                lda: u32,
            }
            /// Per-row maximum (NaN propagates): `dst[r] = max_c a[r, c]`.
            0x55 VpuReduceMax "vpu.reduce.max" Vpu [dtype: F32] {
                dst: $crate::Addr,
                a: $crate::Addr,
                rows: u32,
                cols: u32,
                lda: u32,
            }

            /// Does nothing; carries a header wait/signal where no other instruction fits.
            0xE0 CtlNop "ctl.nop" Ctl [] {}
            /// End of this core's stream.
            0xE1 CtlHalt "ctl.halt" Ctl [] {}
            /// `sem += 1`, then wait until `sem ≥ count` (`count` = cores × uses of `sem`).
            0xE2 CtlBarrier "ctl.barrier" Ctl [] {
                sem: $crate::ChipSem,
                count: u32,
            }
            /// `sem += 1` when it executes (a second signal beside the header's).
            0xE3 CtlSignal "ctl.signal" Ctl [] {
                sem: $crate::Sem,
            }
            /// Wait until `sem ≥ value` (a second wait beside the header's).
            0xE4 CtlWait "ctl.wait" Ctl [] {
                sem: $crate::Sem,
                value: u32,
            }
        }
    };
}
