//! Instruction semantics (docs/isa.md "Instruction classes"), one `match` arm per instruction.
//!
//! Every kernel follows the same shape: check all operands (bounds, alignment, sizes) before
//! touching memory, read its source tiles into dense buffers, compute, then write the
//! destination. Reading everything before writing anything makes an instruction's result
//! independent of how its operands alias, so kernels may split rows across threads. Float
//! reductions are never split: each accumulator is updated by one thread in the order the ISA
//! specifies, and vectorized loops run across independent accumulators (the `n` axis of a
//! matmul, the `dim` axis of a gather).

use rayon::prelude::*;
use seedchip_isa::{Addr, DType, Inst};
use seedchip_numerics::{QuantizedMultiplier, RowFormat, math};

use crate::codec::{self, elem_bytes, is_float};
use crate::fault::{FaultKind, Region};
use crate::machine::{Machine, region};
use crate::mem::{Memory, row_format};

/// Elements below which a kernel stays on the calling thread.
const PAR_MIN_ELEMS: usize = 1 << 14;

/// Most bytes one operand of one instruction may move. A simulator bound (host memory and
/// time), not an ISA rule: far above any tile that fits an SRAM, but a broadcast operand
/// (stride 0) with 2^32 rows would otherwise pass the bounds check and exhaust the host.
pub(crate) const MAX_OPERAND_BYTES: u64 = 1 << 30;

/// Bytes `mxu.matmul.batch` charges each problem against [`MAX_OPERAND_BYTES`] at least, so
/// `count` is bounded (to 2^22) even when the problems are empty (found by the
/// `funcsim_random` fuzz target: `m = k = 0, count = 2^32 - 1` ran for minutes).
const MIN_PROBLEM_BYTES: u128 = 256;

fn too_large(operand: &str, bytes: Option<u64>) -> FaultKind {
    bad(
        operand,
        match bytes {
            Some(b) => format!(
                "moves {b} bytes; funcsim simulates at most {MAX_OPERAND_BYTES} bytes per operand"
            ),
            None => "moves more than 2^64 bytes".to_string(),
        },
    )
}

/// A 2-D operand: `rows × cols` elements of `es` bytes, row stride `ld` and column stride
/// `inc` in elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile {
    pub operand: &'static str,
    pub region: Region,
    pub addr: u64,
    pub rows: u64,
    pub cols: u64,
    pub ld: u64,
    pub inc: u64,
    pub es: u64,
}

impl Tile {
    fn new(
        operand: &'static str,
        core: u32,
        addr: Addr,
        rows: impl Into<u64>,
        cols: impl Into<u64>,
        ld: impl Into<u64>,
        es: u64,
    ) -> Tile {
        Tile {
            operand,
            region: region(core, addr),
            addr: addr.offset,
            rows: rows.into(),
            cols: cols.into(),
            ld: ld.into(),
            inc: 1,
            es,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0 || self.cols == 0
    }

    /// Bytes from the first to one past the last element; `None` if that overflows.
    pub(crate) fn extent(&self) -> Option<u64> {
        if self.is_empty() {
            return Some(0);
        }
        let last = (self.rows - 1)
            .checked_mul(self.ld)?
            .checked_add((self.cols - 1).checked_mul(self.inc)?)?;
        last.checked_add(1)?.checked_mul(self.es)
    }

    /// Bytes of one row from its first to its last element.
    pub(crate) fn row_span(&self) -> u64 {
        ((self.cols - 1) * self.inc + 1) * self.es
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    Sum,
    Mean,
    Max,
}

#[derive(Debug, Clone, Copy)]
struct GatherOp {
    pool: Pool,
    dtype: DType,
    dst: Addr,
    table: Addr,
    rows: u64,
    dim: u32,
    idx: Addr,
    offsets: Addr,
    bags: u64,
    ldd: u64,
    cache_map: Option<Addr>,
}

#[derive(Debug, Clone, Copy)]
struct MatmulOp {
    dtype: DType,
    acc: Addr,
    a: Addr,
    b: Addr,
    m: u64,
    k: u64,
    n: u64,
    lda: u64,
    ldb: u64,
    ldacc: u64,
    accumulate: bool,
    transpose_b: bool,
}

#[derive(Debug, Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Max,
    Min,
}

impl Bin {
    fn name(self) -> &'static str {
        match self {
            Bin::Add => "vpu.add",
            Bin::Sub => "vpu.sub",
            Bin::Mul => "vpu.mul",
            Bin::Max => "vpu.max",
            Bin::Min => "vpu.min",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Un {
    Relu,
    Sigmoid,
    Tanh,
    Gelu,
    Silu,
    Exp,
    Rsqrt,
    Recip,
    Neg,
    Scale(f32),
}

/// A 2-D elementwise shape shared by the vector instructions.
#[derive(Debug, Clone, Copy)]
struct Shape2 {
    rows: u32,
    cols: u32,
    ldd: u32,
    lda: u32,
}

/// IEEE 754-2019 `maximum`: NaN if either is NaN, and +0 above -0.
#[inline]
pub(crate) fn fmax(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        codec::CANONICAL_NAN
    } else if a == b {
        if a.is_sign_positive() { a } else { b }
    } else if a > b {
        a
    } else {
        b
    }
}

/// IEEE 754-2019 `minimum`: NaN if either is NaN, and -0 below +0.
#[inline]
pub(crate) fn fmin(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        codec::CANONICAL_NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// `max(x, 0)` with NaN kept and -0 giving +0.
#[inline]
fn relu(x: f32) -> f32 {
    if x > 0.0 || x.is_nan() { x } else { 0.0 }
}

fn bad(operand: &str, message: impl Into<String>) -> FaultKind {
    FaultKind::BadOperand {
        operand: operand.to_string(),
        message: message.into(),
    }
}

/// Elements of a narrow-float operand converted to f32 at a time.
const NARROW_CHUNK_ELEMS: usize = 1 << 20;

/// Computes an elementwise narrow-float (bf16, f16, fp8) operation through f32, one chunk at a
/// time, and encodes the results. Elementwise, so chunking cannot change a bit; whole-operand
/// f32 copies made an operand at the size bound (1 GiB, reachable with a stride-0 tile) hold
/// about six times its bytes at once (a `funcsim_random` fuzz find: over 4 GiB for a
/// half-precision `vpu.silu` on a 16 MiB chip).
fn narrow_chunks(
    dtype: DType,
    x: &[u8],
    y: Option<&[u8]>,
    f: impl Fn(&[f32], Option<&[f32]>) -> Vec<f32>,
) -> Vec<u8> {
    let chunk_bytes = NARROW_CHUNK_ELEMS * elem_bytes(dtype) as usize;
    let mut out = Vec::with_capacity(x.len());
    for (i, xc) in x.chunks(chunk_bytes).enumerate() {
        let xf = codec::to_f32(dtype, xc);
        let yf = y.map(|y| codec::to_f32(dtype, &y[i * chunk_bytes..i * chunk_bytes + xc.len()]));
        out.extend_from_slice(&codec::from_f32(dtype, &f(&xf, yf.as_deref())));
    }
    out
}

fn map_f32<F: Fn(f32) -> f32 + Sync>(x: &[f32], f: F) -> Vec<f32> {
    if x.len() >= PAR_MIN_ELEMS {
        x.par_iter().with_min_len(4096).map(|&v| f(v)).collect()
    } else {
        x.iter().map(|&v| f(v)).collect()
    }
}

fn zip_f32<F: Fn(f32, f32) -> f32 + Sync>(x: &[f32], y: &[f32], f: F) -> Vec<f32> {
    if x.len() >= PAR_MIN_ELEMS {
        x.par_iter()
            .zip(y.par_iter())
            .with_min_len(4096)
            .map(|(&a, &b)| f(a, b))
            .collect()
    } else {
        x.iter().zip(y).map(|(&a, &b)| f(a, b)).collect()
    }
}

/// Whether two lists of half-open byte intervals, each sorted and non-overlapping, share a byte
/// (one merge walk).
pub(crate) fn intervals_intersect(x: &[(u64, u64)], y: &[(u64, u64)]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        if x[i].0 < y[j].1 && y[j].0 < x[i].1 {
            return true;
        }
        if x[i].1 <= y[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    false
}

/// Whether two strided row sets of the same shape share a byte.
fn rows_overlap(a: u64, sa: u64, b: u64, sb: u64, rows: u64, rb: u64) -> bool {
    let ea = a + (rows - 1) * sa + rb;
    let eb = b + (rows - 1) * sb + rb;
    if ea <= b || eb <= a {
        return false;
    }
    let merged = |start: u64, stride: u64| {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for r in 0..rows {
            let s = start + r * stride;
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(s + rb),
                _ => out.push((s, s + rb)),
            }
        }
        out
    };
    let (x, y) = (merged(a, sa), merged(b, sb));
    intervals_intersect(&x, &y)
}

/// Where a gathered row's bytes are.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// A slot of the hot-row cache in shared SRAM.
    Slot(u64),
    /// A row of the table.
    Row(u64),
}

/// Everything the pooling threads read, shared immutably.
struct RowReader<'a> {
    mem: &'a Memory,
    proc_table: Option<usize>,
    region: Region,
    base: u64,
    row_bytes: u64,
    format: RowFormat,
}

impl<'a> RowReader<'a> {
    fn row<'b>(&'b self, src: Src, buf: &'b mut [f32], bytes: &mut Vec<u8>) -> &'b [f32]
    where
        'a: 'b,
    {
        let (region, addr) = match src {
            Src::Slot(a) => (Region::Shared, a),
            Src::Row(r) => {
                if let Some(t) = self.proc_table {
                    let p = &self.mem.hbm.procs[t];
                    if let Some(row) = p.cache.get(r, buf.len()) {
                        return row;
                    }
                    p.row_f32(r, buf, bytes);
                    return buf;
                }
                (self.region, self.base + r * self.row_bytes)
            }
        };
        bytes.resize(self.row_bytes as usize, 0);
        self.mem.read(region, addr, bytes);
        self.format
            .decode_row(bytes, buf)
            .expect("row length matches its format");
        buf
    }
}

/// A tile's rows borrowed from SRAM: row `r` starts at byte `r · ld` of the slice.
#[derive(Clone, Copy)]
struct Rows<'a> {
    bytes: &'a [u8],
    ld: usize,
}

impl<'a> Rows<'a> {
    fn row(&self, r: usize, len: usize) -> &'a [u8] {
        &self.bytes[r * self.ld..r * self.ld + len]
    }
}

/// Fills the rows of `out` (`row` bytes each, `ld ≥ row` apart) row by row, in parallel for
/// large tiles; each row is computed by one call of `f(r, row bytes)` (no value depends on
/// another row, so the split cannot change a bit). Bytes between rows are not touched.
fn by_rows(
    out: &mut [u8],
    ld: usize,
    row: usize,
    elems: usize,
    f: impl Fn(usize, &mut [u8]) + Sync,
) {
    if row == 0 {
        return;
    }
    debug_assert!(ld >= row);
    let run = |(r, o): (usize, &mut [u8])| f(r, &mut o[..row]);
    if elems >= PAR_MIN_ELEMS {
        out.par_chunks_mut(ld)
            .enumerate()
            .with_min_len(8)
            .for_each(run);
    } else {
        out.chunks_mut(ld).enumerate().for_each(run);
    }
}

/// `f` over f32 rows into packed f32 rows (NaN results canonical, as `codec::map_f32_bytes`).
fn map_rows_f32(
    out: &mut [u8],
    ld: usize,
    a: Rows<'_>,
    rows: usize,
    cols: usize,
    f: impl Fn(f32) -> f32 + Sync,
) {
    let rb = cols * 4;
    by_rows(out, ld, rb, rows * cols, |r, o| {
        let x = a.row(r, rb);
        for (o, x) in o.chunks_exact_mut(4).zip(x.chunks_exact(4)) {
            o.copy_from_slice(&codec::canon(f(codec::le_f32(x))).to_le_bytes());
        }
    });
}

/// `f` over two f32 tiles' rows into packed f32 rows (NaN results canonical, as
/// `codec::zip_f32_bytes`).
fn zip_rows_f32(
    out: &mut [u8],
    ld: usize,
    a: Rows<'_>,
    b: Rows<'_>,
    rows: usize,
    cols: usize,
    f: impl Fn(f32, f32) -> f32 + Sync,
) {
    let rb = cols * 4;
    by_rows(out, ld, rb, rows * cols, |r, o| {
        let (x, y) = (a.row(r, rb), b.row(r, rb));
        let pairs = x.chunks_exact(4).zip(y.chunks_exact(4));
        for (o, (x, y)) in o.chunks_exact_mut(4).zip(pairs) {
            o.copy_from_slice(&codec::canon(f(codec::le_f32(x), codec::le_f32(y))).to_le_bytes());
        }
    });
}

/// Requantization multipliers of a tile's columns in the form of a loop that vectorizes:
/// `QuantizedMultiplier::apply` is `round(round(x·m / 2^s1) saturated / 2^s2)` (rounding half
/// away from zero) with `s1 = 31 + min(shift, 0)` and `s2 = max(shift, 0)` — a left shift folds
/// into the first rounding, a right shift is the second, a zero shift rounds by 2^0 (nothing);
/// a zero multiplier gives 0 either way. Same results as [`seedchip_numerics::requantize`],
/// without its branches.
struct ColumnRequant {
    mul: Vec<i64>,
    s1: Vec<u64>,
    s2: Vec<u64>,
}

impl ColumnRequant {
    fn new(qs: impl Iterator<Item = QuantizedMultiplier>) -> ColumnRequant {
        let (mut mul, mut s1, mut s2) = (Vec::new(), Vec::new(), Vec::new());
        for q in qs {
            let rs = q.right_shift();
            mul.push(i64::from(q.multiplier()));
            s1.push((31 + rs.min(0)).clamp(0, 62) as u64);
            s2.push(rs.clamp(0, 62) as u64);
        }
        ColumnRequant { mul, s1, s2 }
    }

    /// One row of little-endian i32 accumulators into bytes: results lie in `lo..=hi` (i8 or
    /// u8), so their low byte is the stored element.
    fn row(&self, row: &[u8], out: &mut [u8], zero_point: i32, lo: i64, hi: i64) {
        #[inline(always)]
        fn round_shift(v: i64, s: u64) -> i64 {
            // |v| ≤ 2^62 here, so adding half of 2^s (s ≤ 62) cannot overflow.
            let mag = ((v.unsigned_abs() + ((1u64 << s) >> 1)) >> s) as i64;
            if v < 0 { -mag } else { mag }
        }
        let zp = i64::from(zero_point);
        crate::igemm::with_simd(
            #[inline(always)]
            || {
                let cols = out.iter_mut().zip(row.chunks_exact(4));
                let params = self.mul.iter().zip(&self.s1).zip(&self.s2);
                for ((o, v), ((&m, &s1), &s2)) in cols.zip(params) {
                    let x = i64::from(i32::from_le_bytes([v[0], v[1], v[2], v[3]]));
                    let y = round_shift(x * m, s1).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
                    *o = (round_shift(y, s2) + zp).clamp(lo, hi) as u8;
                }
            },
        );
    }
}

/// `op` over two f32 tiles' rows into `out` (rows `ld` bytes apart).
fn zip_op(op: Bin, out: &mut [u8], ld: usize, x: Rows<'_>, y: Rows<'_>, rows: usize, cols: usize) {
    match op {
        Bin::Add => zip_rows_f32(out, ld, x, y, rows, cols, |p, q| p + q),
        Bin::Sub => zip_rows_f32(out, ld, x, y, rows, cols, |p, q| p - q),
        Bin::Mul => zip_rows_f32(out, ld, x, y, rows, cols, |p, q| p * q),
        Bin::Max => zip_rows_f32(out, ld, x, y, rows, cols, fmax),
        Bin::Min => zip_rows_f32(out, ld, x, y, rows, cols, fmin),
    }
}

/// `op` over an f32 tile's rows into `out` (rows `ld` bytes apart).
fn map_op(op: Un, out: &mut [u8], ld: usize, x: Rows<'_>, rows: usize, cols: usize) {
    match op {
        Un::Relu => map_rows_f32(out, ld, x, rows, cols, relu),
        Un::Sigmoid => map_rows_f32(out, ld, x, rows, cols, math::sigmoid),
        Un::Tanh => map_rows_f32(out, ld, x, rows, cols, math::tanh),
        Un::Gelu => map_rows_f32(out, ld, x, rows, cols, math::gelu),
        Un::Silu => map_rows_f32(out, ld, x, rows, cols, math::silu),
        Un::Exp => map_rows_f32(out, ld, x, rows, cols, math::exp),
        Un::Rsqrt => map_rows_f32(out, ld, x, rows, cols, math::rsqrt),
        Un::Recip => map_rows_f32(out, ld, x, rows, cols, math::recip),
        Un::Neg => map_rows_f32(out, ld, x, rows, cols, |v| -v),
        Un::Scale(k) => map_rows_f32(out, ld, x, rows, cols, |v| v * k),
    }
}

impl Machine {
    /// The rows of source tiles and the bytes of the destination tile, borrowed from SRAM at
    /// once, so that an instruction computes straight into its destination instead of into a
    /// buffer copied there afterwards: when every tile (checked, non-empty) lies in SRAM with
    /// unit column stride, no source byte lies within the destination's span, and the
    /// destination's rows do not overlap each other. Returns the destination's row pitch.
    fn rows_into<const N: usize>(
        &mut self,
        srcs: [&Tile; N],
        td: &Tile,
    ) -> Option<([Rows<'_>; N], &mut [u8], usize)> {
        if td.inc != 1 || srcs.iter().any(|t| t.inc != 1) {
            return None;
        }
        let row = (td.cols * td.es) as usize;
        let ld = if td.rows == 1 {
            row
        } else {
            (td.ld * td.es) as usize
        };
        if ld < row {
            return None;
        }
        let span = |t: &Tile| Some((t.region, t.addr, t.extent()?));
        let mut spans = [(Region::Hbm, 0, 0); N];
        for (s, t) in spans.iter_mut().zip(srcs) {
            *s = span(t)?;
        }
        let (bytes, out) = self.mem.sram_split(spans, span(td)?)?;
        let rows = std::array::from_fn(|i| Rows {
            bytes: bytes[i],
            ld: (srcs[i].ld * srcs[i].es) as usize,
        });
        Some((rows, out, ld))
    }

    /// A reusable output buffer of at least `len` bytes with unspecified contents (the caller
    /// writes all of `[..len]`, then hands it back with [`Machine::put_scratch`]): no
    /// allocation, zero-filling or page faults per instruction.
    fn take_scratch(&mut self, len: usize) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.scratch);
        if v.len() < len {
            v.resize(len, 0);
        }
        v
    }

    fn put_scratch(&mut self, v: Vec<u8>) {
        self.scratch = v;
    }

    /// A checked tile's rows, borrowed, when it lies in SRAM with unit column stride.
    fn rows_of(&self, t: &Tile) -> Option<Rows<'_>> {
        if t.inc != 1 || t.is_empty() {
            return None;
        }
        let bytes = self.mem.sram_span(t.region, t.addr, t.extent()?)?;
        Some(Rows {
            bytes,
            ld: (t.ld * t.es) as usize,
        })
    }

    fn check(&self, t: &Tile) -> Result<(), FaultKind> {
        let align = if t.es == 4 { 4 } else { 1 };
        self.mem
            .check(t.operand, t.region, t.addr, t.extent(), align)?;
        let bytes = t.rows.checked_mul(t.cols).and_then(|e| e.checked_mul(t.es));
        if bytes.is_none_or(|b| b > MAX_OPERAND_BYTES) {
            return Err(too_large(t.operand, bytes));
        }
        Ok(())
    }

    /// Accounts for reading a checked tile (statistics, race tracking).
    fn note_read(&mut self, t: &Tile) {
        if t.is_empty() {
            return;
        }
        self.stats.bytes_read.add(t.region, t.rows * t.cols * t.es);
        if let Some(r) = &mut self.races {
            r.tile(t.region, t.addr, t.rows, t.row_span(), t.ld * t.es, false);
        }
    }

    /// A checked tile's bytes, packed row-major (call [`Machine::note_read`] first).
    pub(crate) fn view(&self, t: &Tile) -> std::borrow::Cow<'_, [u8]> {
        if t.is_empty() {
            return std::borrow::Cow::Borrowed(&[]);
        }
        self.mem
            .view(t.region, t.addr, t.rows, t.cols, t.ld, t.inc, t.es)
    }

    /// Reads a checked tile, packed row-major.
    fn load(&mut self, t: &Tile) -> Vec<u8> {
        self.note_read(t);
        self.view(t).into_owned()
    }

    /// Writes a checked, contiguous-row tile from packed bytes.
    fn store(&mut self, t: &Tile, data: &[u8]) {
        if t.is_empty() {
            return;
        }
        debug_assert_eq!(t.inc, 1);
        self.mem
            .write_rows(t.region, t.addr, t.cols * t.es, t.ld * t.es, data);
        self.note_write(t);
    }

    /// Accounts for writing a checked, non-empty tile (statistics, origins, race tracking).
    fn note_write(&mut self, t: &Tile) {
        self.stats
            .bytes_written
            .add(t.region, t.rows * t.cols * t.es);
        self.origins
            .written(t.region, t.addr, t.extent().unwrap_or(0));
        if let Some(r) = &mut self.races {
            r.tile(t.region, t.addr, t.rows, t.row_span(), t.ld * t.es, true);
        }
    }

    fn table_name(&self, region: Region, addr: u64) -> String {
        if region == Region::Hbm
            && let Some((_, name, _)) = self.tables.iter().find(|(base, _, _)| *base == addr)
        {
            return name.clone();
        }
        format!("at {region} {addr:#x}")
    }

    /// Executes one instruction of `core` (its wait is satisfied; signals are the caller's).
    pub(crate) fn exec(&mut self, core: u32, inst: &Inst) -> Result<(), FaultKind> {
        match *inst {
            Inst::DmaCopy {
                dst,
                src,
                rows,
                row_bytes,
                dst_stride_bytes,
                src_stride_bytes,
            } => self.dma(
                core,
                dst,
                src,
                rows.into(),
                row_bytes.into(),
                dst_stride_bytes.into(),
                src_stride_bytes.into(),
            ),
            Inst::GatherSum {
                dtype,
                dst,
                table,
                rows,
                dim,
                idx,
                offsets,
                bags,
                ldd,
                cache_map,
            }
            | Inst::GatherMean {
                dtype,
                dst,
                table,
                rows,
                dim,
                idx,
                offsets,
                bags,
                ldd,
                cache_map,
            }
            | Inst::GatherMax {
                dtype,
                dst,
                table,
                rows,
                dim,
                idx,
                offsets,
                bags,
                ldd,
                cache_map,
            } => {
                let pool = match inst {
                    Inst::GatherSum { .. } => Pool::Sum,
                    Inst::GatherMean { .. } => Pool::Mean,
                    _ => Pool::Max,
                };
                self.gather(
                    core,
                    GatherOp {
                        pool,
                        dtype,
                        dst,
                        table,
                        rows: rows.into(),
                        dim,
                        idx,
                        offsets,
                        bags: bags.into(),
                        ldd: ldd.into(),
                        cache_map,
                    },
                )
            }
            Inst::MxuMatmul {
                dtype,
                acc,
                a,
                b,
                m,
                k,
                n,
                lda,
                ldb,
                ldacc,
                accumulate,
                transpose_b,
            } => self.matmul(
                core,
                MatmulOp {
                    dtype,
                    acc,
                    a,
                    b,
                    m: m.into(),
                    k: k.into(),
                    n: n.into(),
                    lda: lda.into(),
                    ldb: ldb.into(),
                    ldacc: ldacc.into(),
                    accumulate,
                    transpose_b,
                },
                1,
                [0; 3],
            ),
            Inst::MxuMatmulBatch {
                dtype,
                acc,
                a,
                b,
                m,
                k,
                n,
                lda,
                ldb,
                ldacc,
                accumulate,
                transpose_b,
                count,
                stride_a,
                stride_b,
                stride_acc,
            } => self.matmul(
                core,
                MatmulOp {
                    dtype,
                    acc,
                    a,
                    b,
                    m: m.into(),
                    k: k.into(),
                    n: n.into(),
                    lda: lda.into(),
                    ldb: ldb.into(),
                    ldacc: ldacc.into(),
                    accumulate,
                    transpose_b,
                },
                count.into(),
                [stride_a.into(), stride_b.into(), stride_acc.into()],
            ),
            Inst::VpuAdd {
                dtype,
                dst,
                a,
                b,
                rows,
                cols,
                ldd,
                lda,
                ldb,
                incb,
            } => self.binary(
                core,
                Bin::Add,
                dtype,
                dst,
                a,
                b,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
                ldb,
                incb,
            ),
            Inst::VpuSub {
                dtype,
                dst,
                a,
                b,
                rows,
                cols,
                ldd,
                lda,
                ldb,
                incb,
            } => self.binary(
                core,
                Bin::Sub,
                dtype,
                dst,
                a,
                b,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
                ldb,
                incb,
            ),
            Inst::VpuMul {
                dtype,
                dst,
                a,
                b,
                rows,
                cols,
                ldd,
                lda,
                ldb,
                incb,
            } => self.binary(
                core,
                Bin::Mul,
                dtype,
                dst,
                a,
                b,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
                ldb,
                incb,
            ),
            Inst::VpuMax {
                dtype,
                dst,
                a,
                b,
                rows,
                cols,
                ldd,
                lda,
                ldb,
                incb,
            } => self.binary(
                core,
                Bin::Max,
                dtype,
                dst,
                a,
                b,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
                ldb,
                incb,
            ),
            Inst::VpuMin {
                dtype,
                dst,
                a,
                b,
                rows,
                cols,
                ldd,
                lda,
                ldb,
                incb,
            } => self.binary(
                core,
                Bin::Min,
                dtype,
                dst,
                a,
                b,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
                ldb,
                incb,
            ),
            Inst::VpuRelu {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Relu,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuSigmoid {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Sigmoid,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuTanh {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Tanh,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuGelu {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Gelu,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuSilu {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Silu,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuExp {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Exp,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuRsqrt {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Rsqrt,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuRecip {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Recip,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuNeg {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Neg,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuScale {
                dtype,
                dst,
                a,
                scale,
                rows,
                cols,
                ldd,
                lda,
            } => self.unary(
                core,
                Un::Scale(scale.get()),
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuCopy {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.convert(
                core,
                dtype,
                dtype,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuCvt {
                from,
                to,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => self.convert(
                core,
                from,
                to,
                dst,
                a,
                Shape2 {
                    rows,
                    cols,
                    ldd,
                    lda,
                },
            ),
            Inst::VpuRequant {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
                multiplier,
                shift,
                zero_point,
            } => {
                let m = QuantizedMultiplier::new(multiplier, shift).map_err(|e| {
                    bad(
                        "multiplier",
                        format!("multiplier {multiplier}, shift {shift}: {e}"),
                    )
                })?;
                self.requant(
                    core,
                    dtype,
                    dst,
                    a,
                    Shape2 {
                        rows,
                        cols,
                        ldd,
                        lda,
                    },
                    zero_point,
                    |_| m,
                )
            }
            Inst::VpuRequantPc {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
                multipliers,
                shifts,
                zero_point,
            } => {
                let tm = Tile::new("multipliers", core, multipliers, 1u64, cols, 0u64, 4);
                let ts = Tile::new("shifts", core, shifts, 1u64, cols, 0u64, 4);
                self.check(&tm)?;
                self.check(&ts)?;
                if rows == 0 {
                    return Ok(());
                }
                let ms = codec::to_i32(DType::I32, &self.load(&tm));
                let ss = codec::to_i32(DType::I32, &self.load(&ts));
                let qs = ms
                    .iter()
                    .zip(&ss)
                    .enumerate()
                    .map(|(c, (&m, &s))| {
                        QuantizedMultiplier::new(m, s).map_err(|e| {
                            bad(
                                "multipliers",
                                format!("column {c}: multiplier {m}, shift {s}: {e}"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.requant(
                    core,
                    dtype,
                    dst,
                    a,
                    Shape2 {
                        rows,
                        cols,
                        ldd,
                        lda,
                    },
                    zero_point,
                    |c| qs[c],
                )
            }
            Inst::VpuReduceSum {
                dtype,
                dst,
                a,
                rows,
                cols,
                lda,
            } => self.reduce(core, false, dtype, dst, a, rows, cols, lda),
            Inst::VpuReduceMax {
                dtype,
                dst,
                a,
                rows,
                cols,
                lda,
            } => self.reduce(core, true, dtype, dst, a, rows, cols, lda),
            Inst::CtlNop {}
            | Inst::CtlHalt {}
            | Inst::CtlBarrier { .. }
            | Inst::CtlSignal { .. }
            | Inst::CtlWait { .. } => Ok(()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dma(
        &mut self,
        core: u32,
        dst: Addr,
        src: Addr,
        rows: u64,
        rb: u64,
        ds: u64,
        ss: u64,
    ) -> Result<(), FaultKind> {
        if rows == 0 || rb == 0 {
            return Ok(());
        }
        let (sr, dr) = (region(core, src), region(core, dst));
        let ext = |stride: u64| {
            (rows - 1)
                .checked_mul(stride)
                .and_then(|x| x.checked_add(rb))
        };
        let (se, de) = (ext(ss), ext(ds));
        self.mem.check("src", sr, src.offset, se, 1)?;
        self.mem.check("dst", dr, dst.offset, de, 1)?;
        let (se, de) = (se.unwrap_or(0), de.unwrap_or(0));
        let bytes = rows.checked_mul(rb);
        if bytes.is_none_or(|b| b > MAX_OPERAND_BYTES) {
            return Err(too_large("rows", bytes));
        }
        if sr == dr && rows_overlap(src.offset, ss, dst.offset, ds, rows, rb) {
            return Err(FaultKind::DmaOverlap {
                region: sr,
                src: src.offset,
                dst: dst.offset,
            });
        }
        if let Some(r) = &mut self.races {
            r.tile(sr, src.offset, rows, rb, ss, false);
            r.tile(dr, dst.offset, rows, rb, ds, true);
        }
        self.origins
            .copied(sr, src.offset, ss, dr, dst.offset, ds, rows, rb, de, se);
        self.mem
            .copy_rows(sr, src.offset, ss, dr, dst.offset, ds, rows, rb);
        self.stats.bytes_read.add(sr, rows * rb);
        self.stats.bytes_written.add(dr, rows * rb);
        Ok(())
    }

    /// Reads and validates a hot-row cache map: `u32 count`, `count` strictly increasing `i32`
    /// row ids, then `count` `u32` byte addresses of their slots in shared SRAM.
    fn cache_map(&mut self, core: u32, at: Addr) -> Result<(Vec<i32>, Vec<u64>), FaultKind> {
        let head = Tile::new("cache_map", core, at, 1u64, 1u64, 0u64, 4);
        self.check(&head)?;
        let count = codec::to_i32(DType::I32, &self.load(&head))[0] as u32;
        let body_at = at.offset.checked_add(4).ok_or(FaultKind::OutOfBounds {
            operand: "cache_map",
            region: region(core, at),
            addr: at.offset,
            len: 4,
            size: self.mem.size(region(core, at)),
        })?;
        let body = Tile::new(
            "cache_map",
            core,
            Addr::new(at.space, body_at),
            1u64,
            2 * u64::from(count),
            0u64,
            4,
        );
        self.check(&body)?;
        let vals = codec::to_i32(DType::I32, &self.load(&body));
        let (ids, slots) = vals.split_at(count as usize);
        if let Some(i) = ids.windows(2).position(|w| w[0] >= w[1]) {
            return Err(bad(
                "cache_map",
                format!(
                    "row ids must be strictly increasing: entry {} is {} after {}",
                    i + 1,
                    ids[i + 1],
                    ids[i]
                ),
            ));
        }
        Ok((
            ids.to_vec(),
            slots.iter().map(|&s| u64::from(s as u32)).collect(),
        ))
    }

    fn gather(&mut self, core: u32, g: GatherOp) -> Result<(), FaultKind> {
        if g.dim == 0 {
            return Err(bad("dim", "an embedding row has at least one element"));
        }
        let Some(format) = row_format(g.dtype) else {
            return Err(bad("dtype", format!("{} is not a table dtype", g.dtype)));
        };
        let row_bytes = format.row_bytes(g.dim as usize) as u64;
        let ot = Tile::new("offsets", core, g.offsets, 1u64, g.bags + 1, 0u64, 4);
        self.check(&ot)?;
        let dt = Tile::new("dst", core, g.dst, g.bags, g.dim, g.ldd, 4);
        self.check(&dt)?;
        let tr = region(core, g.table);
        let table_align = if g.dtype == DType::F32 { 4 } else { 1 };
        self.mem.check(
            "table",
            tr,
            g.table.offset,
            g.rows.checked_mul(row_bytes),
            table_align,
        )?;
        if g.bags == 0 {
            return Ok(());
        }
        let offs: Vec<i64> = codec::to_i32(DType::I32, &self.load(&ot))
            .into_iter()
            .map(i64::from)
            .collect();
        let mut previous = 0i64;
        for (bag, &offset) in offs.iter().enumerate() {
            if offset < previous {
                return Err(FaultKind::BadOffsets {
                    bag: bag as u64,
                    offset,
                    previous,
                });
            }
            previous = offset;
        }
        let first = offs[0] as u64;
        let n = offs[g.bags as usize] as u64 - first;
        let idx_region = region(core, g.idx);
        let idx_at = first
            .checked_mul(4)
            .and_then(|b| g.idx.offset.checked_add(b))
            .ok_or(FaultKind::OutOfBounds {
                operand: "idx",
                region: idx_region,
                addr: g.idx.offset,
                len: u64::MAX,
                size: self.mem.size(idx_region),
            })?;
        if !g.idx.offset.is_multiple_of(4) {
            return Err(FaultKind::Misaligned {
                operand: "idx",
                region: idx_region,
                addr: g.idx.offset,
                align: 4,
            });
        }
        let it = Tile::new(
            "idx",
            core,
            Addr::new(g.idx.space, idx_at),
            1u64,
            n,
            0u64,
            4,
        );
        self.check(&it)?;
        let ids = codec::to_i32(DType::I32, &self.load(&it));
        for bag in 0..g.bags as usize {
            for p in offs[bag]..offs[bag + 1] {
                let id = i64::from(ids[(p as u64 - first) as usize]);
                if id < 0 || id as u64 >= g.rows {
                    return Err(FaultKind::IndexOutOfRange {
                        table: self.table_name(tr, g.table.offset),
                        bag: bag as u64,
                        position: (p - offs[bag]) as u64,
                        id,
                        rows: g.rows,
                        origin: self.origins.lookup(
                            idx_region,
                            g.idx.offset + p as u64 * 4,
                            4,
                            &self.binding_names,
                        ),
                    });
                }
            }
        }

        let map = match g.cache_map {
            Some(at) => Some(self.cache_map(core, at)?),
            None => None,
        };
        let mut srcs = Vec::with_capacity(ids.len());
        let mut slot_rows = 0u64;
        for &id in &ids {
            let hit = map
                .as_ref()
                .and_then(|(mids, slots)| mids.binary_search(&id).ok().map(|i| slots[i]));
            srcs.push(match hit {
                Some(slot) => {
                    self.mem.check(
                        "cache_map slot",
                        Region::Shared,
                        slot,
                        Some(row_bytes),
                        table_align,
                    )?;
                    slot_rows += 1;
                    Src::Slot(slot)
                }
                None => Src::Row(id as u64),
            });
        }

        let proc_table = if tr == Region::Hbm {
            self.mem.hbm.clean_proc_at(g.table.offset, g.dim, g.dtype)
        } else {
            None
        };
        if let Some(t) = proc_table {
            let wanted: Vec<u64> = srcs
                .iter()
                .filter_map(|s| match s {
                    Src::Row(r) => Some(*r),
                    Src::Slot(_) => None,
                })
                .collect();
            self.mem.hbm.cache_rows(t, &wanted);
        }
        if let Some(r) = &mut self.races {
            for s in &srcs {
                match *s {
                    Src::Slot(a) => r.tile(Region::Shared, a, 1, row_bytes, 0, false),
                    Src::Row(row) => {
                        r.tile(tr, g.table.offset + row * row_bytes, 1, row_bytes, 0, false)
                    }
                }
            }
        }

        let dim = g.dim as usize;
        let mut out = vec![0f32; g.bags as usize * dim];
        {
            let reader = RowReader {
                mem: &self.mem,
                proc_table,
                region: tr,
                base: g.table.offset,
                row_bytes,
                format,
            };
            let (srcs, offs) = (&srcs, &offs);
            let pool_bag = |(buf, bytes): &mut (Vec<f32>, Vec<u8>),
                            (bag, acc): (usize, &mut [f32])| {
                let lo = (offs[bag] as u64 - first) as usize;
                let hi = (offs[bag + 1] as u64 - first) as usize;
                match g.pool {
                    Pool::Sum | Pool::Mean => {
                        acc.fill(0.0);
                        for &s in &srcs[lo..hi] {
                            let row = reader.row(s, buf, bytes);
                            for (a, &v) in acc.iter_mut().zip(row) {
                                *a += v;
                            }
                        }
                        if g.pool == Pool::Mean && hi > lo {
                            let d = (hi - lo) as f32;
                            for a in acc.iter_mut() {
                                *a /= d;
                            }
                        }
                    }
                    Pool::Max => {
                        if hi == lo {
                            acc.fill(0.0);
                        } else {
                            let row = reader.row(srcs[lo], buf, bytes);
                            acc.copy_from_slice(row);
                            for &s in &srcs[lo + 1..hi] {
                                let row = reader.row(s, buf, bytes);
                                for (a, &v) in acc.iter_mut().zip(row) {
                                    *a = fmax(*a, v);
                                }
                            }
                        }
                    }
                }
            };
            let init = || (vec![0f32; dim], Vec::new());
            if ids.len() * dim >= PAR_MIN_ELEMS {
                out.par_chunks_mut(dim)
                    .enumerate()
                    .with_min_len(8)
                    .for_each_init(init, pool_bag);
            } else {
                let mut state = init();
                for item in out.chunks_mut(dim).enumerate() {
                    pool_bag(&mut state, item);
                }
            }
        }
        self.stats.gather_rows += n;
        self.stats.gather_cached_rows += slot_rows;
        self.stats.bytes_read.add(tr, (n - slot_rows) * row_bytes);
        self.stats
            .bytes_read
            .add(Region::Shared, slot_rows * row_bytes);
        self.store(&dt, &codec::from_f32(DType::F32, &out));
        Ok(())
    }

    fn matmul(
        &mut self,
        core: u32,
        op: MatmulOp,
        count: u64,
        strides: [u64; 3],
    ) -> Result<(), FaultKind> {
        let (rows, cols) = self.array;
        if op.k > u64::from(rows) {
            return Err(bad(
                "k",
                format!("k = {} exceeds the matrix unit's {rows} rows", op.k),
            ));
        }
        if op.n > u64::from(cols) {
            return Err(bad(
                "n",
                format!("n = {} exceeds the matrix unit's {cols} columns", op.n),
            ));
        }
        let es = elem_bytes(op.dtype);
        let per_problem = (u128::from(op.m) * u128::from(op.k)
            + u128::from(op.k) * u128::from(op.n))
            * u128::from(es)
            + u128::from(op.m) * u128::from(op.n) * 4;
        // Each problem is charged at least MIN_PROBLEM_BYTES: problems with empty tiles move
        // nothing but still cost a bounds check each, and 2^32 of them would run for minutes.
        let total = u64::try_from(u128::from(count) * per_problem.max(MIN_PROBLEM_BYTES)).ok();
        if total.is_none_or(|b| b > MAX_OPERAND_BYTES) {
            return Err(too_large("count", total));
        }
        for i in 0..count {
            let shift = |operand: &'static str, base: Addr, stride: u64, es: u64| {
                i.checked_mul(stride)
                    .and_then(|e| e.checked_mul(es))
                    .and_then(|b| base.offset.checked_add(b))
                    .map(|offset| Addr::new(base.space, offset))
                    .ok_or(FaultKind::OutOfBounds {
                        operand,
                        region: region(core, base),
                        addr: base.offset,
                        len: u64::MAX,
                        size: self.mem.size(region(core, base)),
                    })
            };
            let one = MatmulOp {
                a: shift("a", op.a, strides[0], es)?,
                b: shift("b", op.b, strides[1], es)?,
                acc: shift("acc", op.acc, strides[2], 4)?,
                ..op
            };
            self.matmul_one(core, &one)?;
        }
        Ok(())
    }

    fn matmul_one(&mut self, core: u32, op: &MatmulOp) -> Result<(), FaultKind> {
        let es = elem_bytes(op.dtype);
        let ta = Tile::new("a", core, op.a, op.m, op.k, op.lda, es);
        let tb = if op.transpose_b {
            Tile::new("b", core, op.b, op.n, op.k, op.ldb, es)
        } else {
            Tile::new("b", core, op.b, op.k, op.n, op.ldb, es)
        };
        let tc = Tile::new("acc", core, op.acc, op.m, op.n, op.ldacc, 4);
        self.check(&ta)?;
        self.check(&tb)?;
        self.check(&tc)?;
        if tc.is_empty() {
            return Ok(());
        }
        if op.dtype == DType::I8 {
            self.matmul_i8(op, &ta, &tb, &tc)?;
            self.stats.macs += op.m * op.k * op.n;
            return Ok(());
        }
        let a = self.load(&ta);
        let b = self.load(&tb);
        let acc0 = op.accumulate.then(|| self.load(&tc));
        let (m, k, n) = (op.m as usize, op.k as usize, op.n as usize);
        let out = match op.dtype {
            DType::Bf16 | DType::F16 | DType::E4m3 | DType::E5m2 => crate::kernels::matmul_float(
                op.dtype,
                &a,
                &b,
                acc0.as_deref(),
                m,
                k,
                n,
                op.transpose_b,
            ),
            other => return Err(bad("dtype", format!("{other} is not a matrix-unit type"))),
        };
        drop((a, b, acc0));
        self.store(&tc, &out);
        self.stats.macs += op.m * op.k * op.n;
        Ok(())
    }

    /// `mxu.matmul.i8` on checked, non-empty tiles. Both inputs are packed (and overflow is
    /// decided) before the accumulator is touched, so aliasing cannot change the result and a
    /// fault leaves memory as it was. An SRAM accumulator whose rows do not overlap is updated
    /// in place; any other goes through a packed copy.
    fn matmul_i8(
        &mut self,
        op: &MatmulOp,
        ta: &Tile,
        tb: &Tile,
        tc: &Tile,
    ) -> Result<(), FaultKind> {
        let (m, k, n) = (op.m as usize, op.k as usize, op.n as usize);
        let in_place = tc.region != Region::Hbm && tc.ld >= tc.cols;
        if in_place && op.accumulate && self.chain_matmul(ta, tb, tc, m, k, n, op.transpose_b) {
            self.note_read(ta);
            self.note_read(tb);
            self.note_read(tc);
            self.note_write(tc);
            return Ok(());
        }
        self.flush_if_touched(&[ta, tb, tc]);
        self.note_read(ta);
        self.note_read(tb);
        if op.accumulate {
            self.note_read(tc);
        }
        let extent = tc.extent().expect("checked");
        let ldc = tc.ld as usize * 4;
        let mm = {
            let (a, b) = (self.view(ta), self.view(tb));
            let new = |acc0| crate::kernels::MatmulI8::new(a, b, acc0, m, k, n, op.transpose_b);
            match (
                op.accumulate,
                self.mem.sram_span(tc.region, tc.addr, extent),
            ) {
                (false, _) => new(None),
                (true, Some(c)) if in_place => new(Some((c, ldc))),
                (true, _) => new(Some((&self.view(tc), n * 4))),
            }
        }?;
        if in_place {
            // The kernel runs later, with others (crate::defer); nothing reads the
            // accumulator before it does.
            self.defer_matmul(mm, tc.region, tc.addr, ldc, op.accumulate);
            self.note_write(tc);
        } else {
            let mut out = if op.accumulate {
                self.view(tc).into_owned()
            } else {
                vec![0u8; m * n * 4]
            };
            mm.run(&mut out, n * 4, op.accumulate);
            self.store(tc, &out);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn binary(
        &mut self,
        core: u32,
        op: Bin,
        dtype: DType,
        dst: Addr,
        a: Addr,
        b: Addr,
        s: Shape2,
        ldb: u32,
        incb: u32,
    ) -> Result<(), FaultKind> {
        let es = elem_bytes(dtype);
        let td = Tile::new("dst", core, dst, s.rows, s.cols, s.ldd, es);
        let ta = Tile::new("a", core, a, s.rows, s.cols, s.lda, es);
        let tb = Tile {
            inc: incb.into(),
            ..Tile::new("b", core, b, s.rows, s.cols, ldb, es)
        };
        self.check(&ta)?;
        self.check(&tb)?;
        self.check(&td)?;
        if td.is_empty() {
            return Ok(());
        }
        self.note_read(&ta);
        self.note_read(&tb);
        if dtype == DType::F32 && self.rows_of(&ta).is_some() && self.rows_of(&tb).is_some() {
            let (rows, cols) = (s.rows as usize, s.cols as usize);
            if let Some(([x, y], out, ld)) = self.rows_into([&ta, &tb], &td) {
                zip_op(op, out, ld, x, y, rows, cols);
                self.note_write(&td);
                return Ok(());
            }
            let mut buf = self.take_scratch(rows * cols * 4);
            let out = &mut buf[..rows * cols * 4];
            let (x, y) = (
                self.rows_of(&ta).expect("rows"),
                self.rows_of(&tb).expect("rows"),
            );
            zip_op(op, out, cols * 4, x, y, rows, cols);
            self.store(&td, &buf[..rows * cols * 4]);
            self.put_scratch(buf);
            return Ok(());
        }
        let (x, y) = (self.view(&ta), self.view(&tb));
        let out = if dtype == DType::F32 {
            match op {
                Bin::Add => codec::zip_f32_bytes(&x, &y, |p, q| p + q),
                Bin::Sub => codec::zip_f32_bytes(&x, &y, |p, q| p - q),
                Bin::Mul => codec::zip_f32_bytes(&x, &y, |p, q| p * q),
                Bin::Max => codec::zip_f32_bytes(&x, &y, fmax),
                Bin::Min => codec::zip_f32_bytes(&x, &y, fmin),
            }
        } else if is_float(dtype) && x.len() == y.len() {
            narrow_chunks(dtype, &x, Some(&y), |x, y| {
                let y = y.expect("second operand");
                match op {
                    Bin::Add => zip_f32(x, y, |p, q| p + q),
                    Bin::Sub => zip_f32(x, y, |p, q| p - q),
                    Bin::Mul => zip_f32(x, y, |p, q| p * q),
                    Bin::Max => zip_f32(x, y, fmax),
                    Bin::Min => zip_f32(x, y, fmin),
                }
            })
        } else if is_float(dtype) {
            let (x, y) = (codec::to_f32(dtype, &x), codec::to_f32(dtype, &y));
            let r = match op {
                Bin::Add => zip_f32(&x, &y, |p, q| p + q),
                Bin::Sub => zip_f32(&x, &y, |p, q| p - q),
                Bin::Mul => zip_f32(&x, &y, |p, q| p * q),
                Bin::Max => zip_f32(&x, &y, fmax),
                Bin::Min => zip_f32(&x, &y, fmin),
            };
            codec::from_f32(dtype, &r)
        } else {
            let (x, y) = (codec::to_i32(dtype, &x), codec::to_i32(dtype, &y));
            let (lo, hi) = codec::int_range(dtype);
            let mut r = Vec::with_capacity(x.len());
            for (i, (&p, &q)) in x.iter().zip(&y).enumerate() {
                let (p, q) = (i64::from(p), i64::from(q));
                let v = match op {
                    Bin::Add => p + q,
                    Bin::Sub => p - q,
                    Bin::Mul => p * q,
                    Bin::Max => p.max(q),
                    Bin::Min => p.min(q),
                };
                if v < lo || v > hi {
                    let cols = u64::from(s.cols);
                    return Err(FaultKind::IntegerOverflow {
                        op: op.name(),
                        row: i as u64 / cols,
                        col: i as u64 % cols,
                        value: v,
                    });
                }
                r.push(v);
            }
            codec::from_i64_saturating(dtype, &r)
        };
        drop((x, y));
        self.store(&td, &out);
        Ok(())
    }

    fn unary(
        &mut self,
        core: u32,
        op: Un,
        dtype: DType,
        dst: Addr,
        a: Addr,
        s: Shape2,
    ) -> Result<(), FaultKind> {
        let es = elem_bytes(dtype);
        let td = Tile::new("dst", core, dst, s.rows, s.cols, s.ldd, es);
        let ta = Tile::new("a", core, a, s.rows, s.cols, s.lda, es);
        self.check(&ta)?;
        self.check(&td)?;
        if td.is_empty() {
            return Ok(());
        }
        self.note_read(&ta);
        if dtype == DType::F32 && self.rows_of(&ta).is_some() {
            let (rows, cols) = (s.rows as usize, s.cols as usize);
            if let Some(([x], out, ld)) = self.rows_into([&ta], &td) {
                map_op(op, out, ld, x, rows, cols);
                self.note_write(&td);
                return Ok(());
            }
            let mut buf = self.take_scratch(rows * cols * 4);
            let out = &mut buf[..rows * cols * 4];
            let x = self.rows_of(&ta).expect("rows");
            map_op(op, out, cols * 4, x, rows, cols);
            self.store(&td, &buf[..rows * cols * 4]);
            self.put_scratch(buf);
            return Ok(());
        }
        let x = self.view(&ta);
        let out = if dtype == DType::F32 {
            match op {
                Un::Relu => codec::map_f32_bytes(&x, relu),
                Un::Sigmoid => codec::map_f32_bytes(&x, math::sigmoid),
                Un::Tanh => codec::map_f32_bytes(&x, math::tanh),
                Un::Gelu => codec::map_f32_bytes(&x, math::gelu),
                Un::Silu => codec::map_f32_bytes(&x, math::silu),
                Un::Exp => codec::map_f32_bytes(&x, math::exp),
                Un::Rsqrt => codec::map_f32_bytes(&x, math::rsqrt),
                Un::Recip => codec::map_f32_bytes(&x, math::recip),
                Un::Neg => codec::map_f32_bytes(&x, |v| -v),
                Un::Scale(k) => codec::map_f32_bytes(&x, |v| v * k),
            }
        } else if is_float(dtype) {
            narrow_chunks(dtype, &x, None, |x, _| match op {
                Un::Relu => map_f32(x, relu),
                Un::Sigmoid => map_f32(x, math::sigmoid),
                Un::Tanh => map_f32(x, math::tanh),
                Un::Gelu => map_f32(x, math::gelu),
                Un::Silu => map_f32(x, math::silu),
                Un::Exp => map_f32(x, math::exp),
                Un::Rsqrt => map_f32(x, math::rsqrt),
                Un::Recip => map_f32(x, math::recip),
                Un::Neg => map_f32(x, |v| -v),
                Un::Scale(k) => map_f32(x, |v| v * k),
            })
        } else {
            let x = codec::to_i32(dtype, &x);
            let (lo, hi) = codec::int_range(dtype);
            let mut r = Vec::with_capacity(x.len());
            for (i, &v) in x.iter().enumerate() {
                let v = i64::from(v);
                let y = match op {
                    Un::Relu => v.max(0),
                    Un::Neg => -v,
                    _ => {
                        return Err(bad(
                            "dtype",
                            format!("{dtype} has no {op:?} on the vector unit"),
                        ));
                    }
                };
                if y < lo || y > hi {
                    let cols = u64::from(s.cols);
                    return Err(FaultKind::IntegerOverflow {
                        op: "vpu.neg",
                        row: i as u64 / cols,
                        col: i as u64 % cols,
                        value: y,
                    });
                }
                r.push(y);
            }
            codec::from_i64_saturating(dtype, &r)
        };
        drop(x);
        self.store(&td, &out);
        Ok(())
    }

    /// `vpu.cvt` (and `vpu.copy`, the conversion to the same type, which is bit for bit).
    fn convert(
        &mut self,
        core: u32,
        from: DType,
        to: DType,
        dst: Addr,
        a: Addr,
        s: Shape2,
    ) -> Result<(), FaultKind> {
        let td = Tile::new("dst", core, dst, s.rows, s.cols, s.ldd, elem_bytes(to));
        let ta = Tile::new("a", core, a, s.rows, s.cols, s.lda, elem_bytes(from));
        self.check(&ta)?;
        self.check(&td)?;
        if td.is_empty() {
            return Ok(());
        }
        self.note_read(&ta);
        if from != to && self.rows_of(&ta).is_some() {
            // Elementwise conversions, one row at a time (rows in parallel).
            let (rows, cols) = (s.rows as usize, s.cols as usize);
            let (ib, ob) = (
                cols * elem_bytes(from) as usize,
                cols * elem_bytes(to) as usize,
            );
            let fill = |x: Rows<'_>, r: usize, o: &mut [u8]| {
                let row = x.row(r, ib);
                if codec::convert_row_fast(from, to, row, o) {
                    return;
                }
                let converted = if is_float(from) || is_float(to) {
                    codec::from_f32(to, &codec::to_f32(from, row))
                } else {
                    let v: Vec<i64> = codec::to_i32(from, row)
                        .into_iter()
                        .map(i64::from)
                        .collect();
                    codec::from_i64_saturating(to, &v)
                };
                o.copy_from_slice(&converted);
            };
            if let Some(([x], out, ld)) = self.rows_into([&ta], &td) {
                by_rows(out, ld, ob, rows * cols, |r, o| fill(x, r, o));
                self.note_write(&td);
                return Ok(());
            }
            let mut buf = self.take_scratch(rows * ob);
            let x = self.rows_of(&ta).expect("rows");
            let out = &mut buf[..rows * ob];
            by_rows(out, ob, ob, rows * cols, |r, o| fill(x, r, o));
            self.store(&td, &buf[..rows * ob]);
            self.put_scratch(buf);
            return Ok(());
        }
        let x = self.view(&ta);
        let out = if from == to {
            x.into_owned()
        } else if is_float(from) || is_float(to) {
            codec::from_f32(to, &codec::to_f32(from, &x))
        } else {
            let v: Vec<i64> = codec::to_i32(from, &x).into_iter().map(i64::from).collect();
            codec::from_i64_saturating(to, &v)
        };
        self.store(&td, &out);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn requant(
        &mut self,
        core: u32,
        dtype: DType,
        dst: Addr,
        a: Addr,
        s: Shape2,
        zero_point: i32,
        multiplier: impl Fn(usize) -> QuantizedMultiplier + Sync,
    ) -> Result<(), FaultKind> {
        let td = Tile::new("dst", core, dst, s.rows, s.cols, s.ldd, elem_bytes(dtype));
        let ta = Tile::new("a", core, a, s.rows, s.cols, s.lda, 4);
        self.check(&ta)?;
        self.check(&td)?;
        if td.is_empty() {
            return Ok(());
        }
        if !matches!(dtype, DType::I8 | DType::U8) {
            return Err(bad("dtype", format!("requantization to {dtype}")));
        }
        let (lo, hi) = codec::int_range(dtype);
        let (rows, cols) = (s.rows as usize, s.cols as usize);
        self.note_read(&ta);
        let per_column = ColumnRequant::new((0..cols).map(multiplier));
        let fill = |row: &[u8], o: &mut [u8]| per_column.row(row, o, zero_point, lo, hi);
        if let Some(([x], out, ld)) = self.rows_into([&ta], &td) {
            by_rows(out, ld, cols, rows * cols, |r, o| {
                fill(x.row(r, cols * 4), o)
            });
            self.note_write(&td);
            return Ok(());
        }
        let mut buf = self.take_scratch(rows * cols);
        let x = self.view(&ta);
        let out = &mut buf[..rows * cols];
        by_rows(out, cols, cols, rows * cols, |r, o| {
            fill(&x[r * cols * 4..(r + 1) * cols * 4], o);
        });
        drop(x);
        self.store(&td, &buf[..rows * cols]);
        self.put_scratch(buf);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn reduce(
        &mut self,
        core: u32,
        max: bool,
        dtype: DType,
        dst: Addr,
        a: Addr,
        rows: u32,
        cols: u32,
        lda: u32,
    ) -> Result<(), FaultKind> {
        if dtype != DType::F32 {
            return Err(bad("dtype", format!("reductions are f32, not {dtype}")));
        }
        let ta = Tile::new("a", core, a, rows, cols, lda, 4);
        let td = Tile::new("dst", core, dst, 1u64, rows, 0u64, 4);
        self.check(&ta)?;
        self.check(&td)?;
        if rows == 0 {
            return Ok(());
        }
        let x = codec::to_f32(DType::F32, &self.load(&ta));
        let out: Vec<f32> = (0..rows as usize)
            .map(|r| {
                let row = &x[r * cols as usize..(r + 1) * cols as usize];
                if max {
                    row.iter().fold(f32::NEG_INFINITY, |m, &v| fmax(m, v))
                } else {
                    row.iter().fold(0.0f32, |s, &v| s + v)
                }
            })
            .collect();
        self.store(&td, &codec::from_f32(DType::F32, &out));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunked narrow-float evaluation gives the bytes whole-operand evaluation gives, across
    /// chunk boundaries, for unary and binary operations.
    #[test]
    fn narrow_chunks_match_whole_operand_evaluation() {
        let n = NARROW_CHUNK_ELEMS * 2 + 12_345;
        for dtype in [DType::Bf16, DType::F16] {
            // Every 16-bit pattern, repeated: NaNs, infinities, subnormals included.
            let x: Vec<u8> = (0..n)
                .flat_map(|i| ((i * 7919) as u16).to_le_bytes())
                .collect();
            let y: Vec<u8> = (0..n)
                .flat_map(|i| ((i * 104_729 + 3) as u16).to_le_bytes())
                .collect();
            let whole = codec::from_f32(dtype, &map_f32(&codec::to_f32(dtype, &x), math::silu));
            let chunked = narrow_chunks(dtype, &x, None, |x, _| map_f32(x, math::silu));
            assert!(whole == chunked, "{dtype} silu");
            let (xf, yf) = (codec::to_f32(dtype, &x), codec::to_f32(dtype, &y));
            let whole = codec::from_f32(dtype, &zip_f32(&xf, &yf, |p, q| p * q));
            let chunked = narrow_chunks(dtype, &x, Some(&y), |x, y| {
                zip_f32(x, y.expect("y"), |p, q| p * q)
            });
            assert!(whole == chunked, "{dtype} mul");
        }
    }

    /// The branch-free per-column requantization equals `requantize` for every shift the
    /// encoding allows, extreme multipliers and accumulators, both byte ranges and zero points.
    #[test]
    fn column_requant_matches_requantize() {
        use seedchip_numerics::requantize;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut qs = vec![QuantizedMultiplier::ZERO];
        for shift in -31..=62 {
            for m in [1 << 30, i32::MAX, (1 << 30) + 12345, 1_518_500_250] {
                qs.push(QuantizedMultiplier::new(m, shift).expect("valid"));
            }
        }
        for _ in 0..200 {
            let m = (next() % (1 << 31)) as i32;
            let shift = (next() % 94) as i32 - 31;
            if let Ok(q) = QuantizedMultiplier::new(m, shift) {
                qs.push(q);
            }
        }
        let mut accs = vec![i32::MIN, i32::MAX, 0, 1, -1, 1 << 20, -(1 << 20), 3, -3];
        accs.extend((0..300).map(|_| next() as i32));
        accs.extend((0..300).map(|_| (next() % 4096) as i32 - 2048));
        let per_column = ColumnRequant::new(qs.iter().copied());
        for (lo, hi, zp) in [
            (-128i64, 127i64, 0i32),
            (-128, 127, -5),
            (0, 255, 100),
            (0, 255, 0),
        ] {
            for &acc in &accs {
                let row: Vec<u8> = qs.iter().flat_map(|_| acc.to_le_bytes()).collect();
                let mut got = vec![0u8; qs.len()];
                per_column.row(&row, &mut got, zp, lo, hi);
                for (c, (&g, &q)) in got.iter().zip(&qs).enumerate() {
                    let want = requantize(acc, q, zp, lo as i32, hi as i32) as u8;
                    assert_eq!(g, want, "acc {acc}, column {c} ({q:?}), zero point {zp}");
                }
            }
        }
    }

    #[test]
    fn strided_overlap_is_exact() {
        // Interleaved columns of the same rows do not overlap.
        assert!(!rows_overlap(0, 16, 8, 16, 4, 8));
        assert!(rows_overlap(0, 16, 7, 16, 4, 8));
        assert!(!rows_overlap(0, 8, 64, 8, 8, 8));
        assert!(rows_overlap(0, 8, 56, 8, 8, 8));
        assert!(rows_overlap(0, 0, 0, 0, 1, 1));
    }

    #[test]
    fn max_and_min_order_signed_zeros_and_propagate_nan() {
        assert!(fmax(-0.0, 0.0).is_sign_positive());
        assert!(fmax(0.0, -0.0).is_sign_positive());
        assert!(fmin(0.0, -0.0).is_sign_negative());
        assert!(fmax(f32::NAN, 1.0).is_nan());
        assert!(fmin(1.0, f32::NAN).is_nan());
        assert_eq!(relu(-0.0).to_bits(), 0);
        assert!(relu(f32::NAN).is_nan());
    }
}
