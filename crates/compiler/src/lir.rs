//! The lowered IR the passes work on: tensors, constants, tables and a list of kernels, each of
//! which maps onto a handful of SCISA instructions.
//!
//! Everything is per sample: a tensor is a dense buffer of `per_sample` elements for every
//! sample of a micro-batch, and a [`View`] is a strided window into one sample's block (plus an
//! implicit batch dimension whose stride is the tensor's `per_sample`, or 0 for constants, which
//! every sample shares). Concat, slice, split, reshape and transpose are views, never copies,
//! unless a consumer needs a layout the view cannot give; that keeps copies out of the program.

use std::fmt;

use seedchip_ir::{Activation, Pooling, UnaryOp};
use seedchip_isa::DType;

macro_rules! id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(
    /// Index into [`Lir::tensors`].
    TensorId
);
id!(
    /// Index into [`Lir::consts`].
    ConstId
);

/// One dimension of a view: element count and stride in elements (0 = broadcast).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dim {
    pub size: u64,
    pub stride: u64,
}

impl Dim {
    pub const fn new(size: u64, stride: u64) -> Dim {
        Dim { size, stride }
    }
}

/// What a view looks into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Base {
    /// An activation: one block per sample.
    Tensor(TensorId),
    /// A constant shared by every sample (batch stride 0).
    Const(ConstId),
}

/// A strided window into one sample's block of a tensor (or into a constant).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct View {
    pub base: Base,
    pub offset: u64,
    pub dims: Vec<Dim>,
}

/// Row-major strides of a dense shape.
pub fn dense_dims(shape: &[u64]) -> Vec<Dim> {
    let mut dims = vec![Dim::new(0, 0); shape.len()];
    let mut stride = 1;
    for (i, &s) in shape.iter().enumerate().rev() {
        dims[i] = Dim::new(s, stride);
        stride *= s;
    }
    dims
}

impl View {
    pub fn dense(base: Base, shape: &[u64]) -> View {
        View {
            base,
            offset: 0,
            dims: dense_dims(shape),
        }
    }

    pub fn shape(&self) -> Vec<u64> {
        self.dims.iter().map(|d| d.size).collect()
    }

    pub fn numel(&self) -> u64 {
        self.dims.iter().map(|d| d.size).product()
    }

    pub fn tensor(&self) -> Option<TensorId> {
        match self.base {
            Base::Tensor(t) => Some(t),
            Base::Const(_) => None,
        }
    }

    /// Whether the view is the row-major layout of its shape starting at `offset`.
    pub fn is_contiguous(&self) -> bool {
        let mut expect = 1;
        for d in self.dims.iter().rev() {
            if d.size != 1 && d.stride != expect {
                return false;
            }
            expect *= d.size;
        }
        true
    }

    /// Whether the last dim is contiguous (size-1 dims have no meaningful stride).
    pub fn inner_contiguous(&self) -> bool {
        self.dims
            .last()
            .is_none_or(|d| d.size <= 1 || d.stride == 1)
    }

    /// One past the largest element offset the view touches (within a sample).
    pub fn extent(&self) -> u64 {
        if self.numel() == 0 {
            return self.offset;
        }
        self.offset
            + self
                .dims
                .iter()
                .map(|d| (d.size - 1) * d.stride)
                .sum::<u64>()
            + 1
    }

    /// `[start, end)` along `axis`.
    pub fn slice(&self, axis: usize, start: u64, end: u64) -> View {
        let mut v = self.clone();
        v.offset += start * v.dims[axis].stride;
        v.dims[axis].size = end - start;
        v
    }

    pub fn permute(&self, perm: &[usize]) -> View {
        View {
            base: self.base,
            offset: self.offset,
            dims: perm.iter().map(|&p| self.dims[p]).collect(),
        }
    }

    /// The same elements seen with another shape in row-major order, without copying, when
    /// the strides allow it (numpy's no-copy reshape rule).
    pub fn reshape(&self, shape: &[u64]) -> Option<View> {
        let old: Vec<Dim> = self.dims.iter().copied().filter(|d| d.size != 1).collect();
        let new_sizes: Vec<u64> = shape.to_vec();
        if self.numel() != new_sizes.iter().product::<u64>() {
            return None;
        }
        let mut out = vec![Dim::new(1, 0); new_sizes.len()];
        let (mut oi, mut ni) = (0usize, 0usize);
        // Skip size-1 target dims as we go (any stride works for them).
        while ni < new_sizes.len() && oi < old.len() {
            if new_sizes[ni] == 1 {
                out[ni] = Dim::new(1, 0);
                ni += 1;
                continue;
            }
            // Group old dims [oi, oj) and new dims [ni, nj) with equal products.
            let (mut oj, mut nj) = (oi + 1, ni + 1);
            let (mut op, mut np) = (old[oi].size, new_sizes[ni]);
            while op != np {
                if op < np {
                    if oj >= old.len() {
                        return None;
                    }
                    op *= old[oj].size;
                    oj += 1;
                } else {
                    if nj >= new_sizes.len() {
                        return None;
                    }
                    np *= new_sizes[nj];
                    nj += 1;
                }
            }
            // The old group must be contiguous among itself.
            for k in oi..oj - 1 {
                if old[k].stride != old[k + 1].stride * old[k + 1].size {
                    return None;
                }
            }
            let mut stride = old[oj - 1].stride;
            for k in (ni..nj).rev() {
                out[k] = Dim::new(new_sizes[k], stride);
                stride *= new_sizes[k];
            }
            oi = oj;
            ni = nj;
        }
        while ni < new_sizes.len() {
            if new_sizes[ni] != 1 {
                return None;
            }
            out[ni] = Dim::new(1, 0);
            ni += 1;
        }
        if oi != old.len() {
            return None;
        }
        Some(View {
            base: self.base,
            offset: self.offset,
            dims: out,
        })
    }

    /// Re-expresses a view of a dense tensor of shape `shape` through `into`, a view with that
    /// shape into another tensor (how a producer writes straight into a concat slice).
    pub fn compose(&self, shape: &[u64], into: &View) -> Option<View> {
        let inner = dense_dims(shape);
        let mut offset = into.offset;
        let mut rem = self.offset;
        for (d, o) in inner.iter().zip(&into.dims) {
            if d.stride == 0 {
                continue;
            }
            let idx = rem / d.stride;
            rem %= d.stride;
            offset += idx * o.stride;
        }
        let mut dims = Vec::with_capacity(self.dims.len());
        for vd in &self.dims {
            if vd.size == 1 || vd.stride == 0 {
                dims.push(Dim::new(vd.size, 0));
                continue;
            }
            // The step must stay within one dim of the inner shape.
            let j = inner.iter().position(|d| {
                d.stride != 0 && vd.stride % d.stride == 0 && vd.stride / d.stride < d.size.max(2)
            })?;
            let k = vd.stride / inner[j].stride;
            if k * (vd.size - 1) >= inner[j].size {
                // Steps that carry into the next dim cannot be one stride in general.
                return None;
            }
            dims.push(Dim::new(vd.size, k * into.dims[j].stride));
        }
        let v = View {
            base: into.base,
            offset,
            dims,
        };
        Some(v)
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.base {
            Base::Tensor(t) => write!(f, "t{}", t.0)?,
            Base::Const(c) => write!(f, "c{}", c.0)?,
        }
        write!(f, "+{}[", self.offset)?;
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", d.size, d.stride)?;
        }
        f.write_str("]")
    }
}

/// An activation buffer: `per_sample` elements of `dtype` for each sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub per_sample: u64,
    pub dtype: DType,
    /// Real value of one code step for quantized (`i8`, `e4m3`) tensors.
    pub scale: Option<f32>,
    /// Code of real 0 for quantized tensors (-128 for non-negative int8 ones, else 0).
    pub zero_point: i32,
    /// IR values whose elements this tensor holds (calibration ranges come from them).
    pub sources: Vec<String>,
}

/// Values of a constant, in its storage type.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstData {
    F32(Vec<f32>),
    I32(Vec<i32>),
    /// Already encoded (quantized weights).
    Bytes(Vec<u8>),
}

/// What a constant is for, which decides where it lives.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstRole {
    /// The `k × n` right-hand operand of a GEMM, streamed from HBM in tiles.
    Weight { k: u64, n: u64 },
    /// Small vectors (biases, scales, masks, offsets) kept in SRAM for the whole program.
    Vector,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    pub name: String,
    pub dtype: DType,
    pub data: ConstData,
    pub role: ConstRole,
    /// Per-column (per output channel) real scales of quantized weights.
    pub channel_scales: Option<Vec<f32>>,
}

impl Const {
    pub fn numel(&self) -> u64 {
        match (&self.data, self.dtype.size_bytes()) {
            (ConstData::F32(v), _) => v.len() as u64,
            (ConstData::I32(v), _) => v.len() as u64,
            (ConstData::Bytes(b), Some(s)) => b.len() as u64 / s,
            (ConstData::Bytes(b), None) => b.len() as u64,
        }
    }

    pub fn size_bytes(&self) -> u64 {
        match &self.data {
            ConstData::F32(v) => 4 * v.len() as u64,
            ConstData::I32(v) => 4 * v.len() as u64,
            ConstData::Bytes(b) => b.len() as u64,
        }
    }

    /// Little-endian bytes as stored in HBM.
    pub fn bytes(&self) -> Vec<u8> {
        match &self.data {
            ConstData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ConstData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ConstData::Bytes(b) => b.clone(),
        }
    }

    pub fn f32_values(&self) -> Option<&[f32]> {
        match &self.data {
            ConstData::F32(v) => Some(v),
            _ => None,
        }
    }
}

/// An embedding table used by gathers (always an IR parameter).
#[derive(Debug, Clone, PartialEq)]
pub struct TableRef {
    /// The IR parameter name (the procedural key).
    pub name: String,
    pub param: seedchip_ir::ParamId,
    pub rows: u64,
    pub dim: u64,
    /// Row format, chosen by `place_embeddings` (f32 until then).
    pub dtype: DType,
    /// Rows kept in the shared-SRAM hot-row cache (ascending), chosen by `place_embeddings`.
    pub hot_rows: Vec<u64>,
}

/// A model input or output and the tensor view it lives in on chip.
#[derive(Debug, Clone, PartialEq)]
pub struct Io {
    pub name: String,
    /// Per-sample shape.
    pub shape: Vec<u64>,
    /// `f32` for features and results, `i32` for embedding ids.
    pub dtype: DType,
    pub layout: IoLayout,
}

/// How an input is laid out in its HBM binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoLayout {
    /// `[batch, shape...]`, loaded into SRAM per micro-batch.
    PerSample,
    /// The index list of ragged bags, `i32[capacity]`: ids of every bag back to back (unused
    /// tail ignored). Read by the gather engines straight from HBM, never loaded.
    RaggedIds { capacity: u64 },
    /// Bag starts of ragged bags, `i32[batch + 1]`: PyTorch's `offsets` followed by the
    /// number of ids, so bag `b` is `ids[offsets[b]..offsets[b + 1]]` for every `b`.
    Offsets,
}

impl Io {
    /// The binding's shape for `batch` samples.
    pub fn binding_shape(&self, batch: u64) -> Vec<u64> {
        match self.layout {
            IoLayout::PerSample => {
                let mut s = vec![batch];
                s.extend(&self.shape);
                s
            }
            IoLayout::RaggedIds { capacity } => vec![capacity],
            IoLayout::Offsets => vec![batch + 1],
        }
    }

    /// Bytes of the binding for `batch` samples (4-byte elements).
    pub fn binding_bytes(&self, batch: u64) -> u64 {
        4 * self.binding_shape(batch).iter().product::<u64>()
    }
}

/// Vector-unit operations (one `vpu.*` instruction each, over 2-D tiles).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VOp {
    Add,
    Sub,
    Mul,
    Max,
    Min,
    Unary(UnaryOp),
    Rsqrt,
    Recip,
    Copy,
    Scale(f32),
    /// Conversion to this dtype (the source dtype is the operand's).
    Cvt(DType),
}

impl VOp {
    pub fn is_binary(self) -> bool {
        matches!(self, VOp::Add | VOp::Sub | VOp::Mul | VOp::Max | VOp::Min)
    }

    pub fn commutes(self) -> bool {
        matches!(self, VOp::Add | VOp::Mul | VOp::Max | VOp::Min)
    }
}

/// How a GEMM's operands are encoded (set by `quantize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatPrecision {
    Bf16,
    I8,
    E4m3,
}

impl MatPrecision {
    pub fn dtype(self) -> DType {
        match self {
            MatPrecision::Bf16 => DType::Bf16,
            MatPrecision::I8 => DType::I8,
            MatPrecision::E4m3 => DType::E4m3,
        }
    }

    /// Accumulator type of `mxu.matmul.<dtype>`.
    pub fn acc(self) -> DType {
        match self {
            MatPrecision::I8 => DType::I32,
            _ => DType::F32,
        }
    }
}

/// Output conversion at the end of an epilogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutConv {
    /// Keep f32.
    None,
    Bf16,
    /// Multiply by `inv_scale`, add the zero point (a one-element f32 constant), then
    /// convert (round to nearest even, saturate) to `i8`/`e4m3`.
    Quant {
        to: DType,
        inv_scale: f32,
        zero_point: Option<ConstId>,
    },
}

/// The fixed-point path of an int8 GEMM whose consumers all read int8: bias added in i32,
/// then one per-channel requantization to the consumer's scale (docs/numerics.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Requant {
    pub bias: Option<ConstId>,
    pub multipliers: ConstId,
    pub shifts: ConstId,
    /// Zero point of the result (the consumer's).
    pub zero_point: i32,
    /// ReLU on the codes; not needed when the zero point is the lowest code (the clamp is it).
    pub relu: bool,
}

/// What happens to an accumulator tile before it is stored (set by `quantize` and `fuse`).
#[derive(Debug, Clone, PartialEq)]
pub struct Epilogue {
    /// Fused int8 requantization; when set, the other fields are unused.
    pub requant: Option<Requant>,
    /// Per-column f32 scales turning a quantized accumulator into real values.
    pub dequant: Option<ConstId>,
    pub bias: Option<ConstId>,
    pub act: Activation,
    pub out: OutConv,
}

/// Tiles of a GEMM (set by `tile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmTiles {
    /// Reduction rows per weight tile (≤ array rows).
    pub kt: u64,
    /// Output columns per weight tile (≤ array cols).
    pub nt: u64,
    /// A rows per matmul instruction.
    pub mt: u64,
    /// Weight tile buffers in local SRAM (2 = double buffering).
    pub w_buffers: u64,
    /// Columns of one accumulator: a multiple of `nt` (or all of `n`). The products of
    /// `acc_cols / nt` consecutive column blocks accumulate side by side, so one epilogue
    /// instruction covers a whole vector-unit width even when it writes a column slice of a
    /// wider output (a strided 128-column row would waste three quarters of 512 lanes).
    pub acc_cols: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gemm {
    /// `[..., k]` activations (the leading dims, batch included, are the GEMM's `m`).
    pub a: View,
    /// The IR value `a` holds (its calibrated range quantizes it).
    pub a_value: String,
    /// The `k × n` weight constant.
    pub w: ConstId,
    pub k: u64,
    pub n: u64,
    /// Columns `[n0, n1)` of the `k × n` product this kernel computes: all of `0..n`, unless
    /// `schedule::slice_runs` split the GEMM into column slices so that the elementwise run
    /// reading its result can start on the first slice (the slices share the weight constant
    /// and its tile-major layout).
    pub cols: (u64, u64),
    pub bias: Option<ConstId>,
    pub act: Activation,
    /// `[..., n1 − n0]`.
    pub dst: View,
    pub precision: Option<MatPrecision>,
    pub epilogue: Option<Epilogue>,
    pub tiles: Option<GemmTiles>,
}

impl Gemm {
    /// Output columns this kernel computes (`n`, unless split into column slices).
    pub fn width(&self) -> u64 {
        self.cols.1 - self.cols.0
    }
}

/// A per-sample batched matrix product of two activations: for every index of the leading
/// dims, `dst[m×n] = a[m×k] · b[k×n]` (`b` viewed `n × k` when `transpose_b`).
#[derive(Debug, Clone, PartialEq)]
pub struct Bmm {
    pub a: View,
    pub b: View,
    /// IR values whose ranges bound `a` and `b` (several when an operand stacks features).
    pub a_values: Vec<String>,
    pub b_values: Vec<String>,
    pub transpose_b: bool,
    /// f32 result.
    pub dst: View,
    pub precision: Option<MatPrecision>,
    /// Real-value multiplier of the accumulator (the product of the operands' scales).
    pub dequant: Option<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KOp {
    /// Model input (HBM binding) → SRAM.
    Load {
        input: usize,
        dst: View,
    },
    /// SRAM → model output (HBM binding).
    Store {
        src: View,
        output: usize,
    },
    /// Embedding lookups: `idx` holds `bags × hotness` ids per sample; pooled into `dst[bags,
    /// dim]`, or (no pooling) one row per id into `dst[bags·hotness, dim]`.
    Gather {
        table: usize,
        idx: View,
        hotness: u64,
        pooling: Option<Pooling>,
        dst: View,
        /// Pool in the gather engine (`true`), or copy rows with singleton bags and pool on the
        /// vector unit (chips without gather engines). Set by `place_embeddings`.
        engine: bool,
    },
    /// Ragged embedding bags: bag `b` pools `ids[offsets[b]..offsets[b + 1]]` into `dst[dim]`
    /// of sample `b`. `ids` and `offsets` are inputs (layouts `RaggedIds` and `Offsets`) that
    /// the gather engine reads from HBM: how many ids a micro-batch has is known only at run
    /// time, so they cannot be staged into SRAM by fixed-size copies.
    GatherRagged {
        table: usize,
        ids: usize,
        offsets: usize,
        pooling: Pooling,
        dst: View,
    },
    Gemm(Box<Gemm>),
    Bmm(Box<Bmm>),
    /// Elementwise over `dst`'s shape; operands broadcast through stride-0 dims.
    Vpu {
        op: VOp,
        dst: View,
        a: View,
        b: Option<View>,
    },
    /// Sum or max over the last dim of `src` into `dst` (the remaining dims).
    Reduce {
        max: bool,
        src: View,
        dst: View,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    pub op: KOp,
    /// The IR node this kernel serves (listing annotations).
    pub node: String,
}

/// The whole lowered program, before memory and instructions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lir {
    pub name: String,
    pub tensors: Vec<Tensor>,
    pub consts: Vec<Const>,
    pub tables: Vec<TableRef>,
    pub inputs: Vec<Io>,
    pub outputs: Vec<Io>,
    pub kernels: Vec<Kernel>,
}

impl Lir {
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        per_sample: u64,
        dtype: DType,
    ) -> TensorId {
        self.tensors.push(Tensor {
            name: name.into(),
            per_sample,
            dtype,
            scale: None,
            zero_point: 0,
            sources: Vec::new(),
        });
        TensorId(self.tensors.len() as u32 - 1)
    }

    pub fn add_const(&mut self, c: Const) -> ConstId {
        self.consts.push(c);
        ConstId(self.consts.len() as u32 - 1)
    }

    pub fn vector_f32(&mut self, name: impl Into<String>, values: Vec<f32>) -> ConstId {
        self.add_const(Const {
            name: name.into(),
            dtype: DType::F32,
            data: ConstData::F32(values),
            role: ConstRole::Vector,
            channel_scales: None,
        })
    }

    pub fn vector_i32(&mut self, name: impl Into<String>, values: Vec<i32>) -> ConstId {
        self.add_const(Const {
            name: name.into(),
            dtype: DType::I32,
            data: ConstData::I32(values),
            role: ConstRole::Vector,
            channel_scales: None,
        })
    }

    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id.index()]
    }

    pub fn konst(&self, id: ConstId) -> &Const {
        &self.consts[id.index()]
    }

    /// Element type behind a view.
    pub fn dtype(&self, v: &View) -> DType {
        match v.base {
            Base::Tensor(t) => self.tensor(t).dtype,
            Base::Const(c) => self.konst(c).dtype,
        }
    }

    /// Elements between two samples of the view's base (0 for constants).
    pub fn batch_stride(&self, v: &View) -> u64 {
        match v.base {
            Base::Tensor(t) => self.tensor(t).per_sample,
            Base::Const(_) => 0,
        }
    }

    /// Every view a kernel reads, then every view it writes.
    pub fn views(op: &KOp) -> (Vec<&View>, Vec<&View>) {
        match op {
            KOp::Load { dst, .. } => (vec![], vec![dst]),
            KOp::Store { src, .. } => (vec![src], vec![]),
            KOp::Gather { idx, dst, .. } => (vec![idx], vec![dst]),
            KOp::GatherRagged { dst, .. } => (vec![], vec![dst]),
            KOp::Gemm(g) => (vec![&g.a], vec![&g.dst]),
            KOp::Bmm(b) => (vec![&b.a, &b.b], vec![&b.dst]),
            KOp::Vpu { dst, a, b, .. } => {
                let mut r = vec![a];
                r.extend(b.as_ref());
                (r, vec![dst])
            }
            KOp::Reduce { src, dst, .. } => (vec![src], vec![dst]),
        }
    }

    pub fn views_mut(op: &mut KOp) -> Vec<&mut View> {
        match op {
            KOp::Load { dst, .. } => vec![dst],
            KOp::Store { src, .. } => vec![src],
            KOp::Gather { idx, dst, .. } => vec![idx, dst],
            KOp::GatherRagged { dst, .. } => vec![dst],
            KOp::Gemm(g) => vec![&mut g.a, &mut g.dst],
            KOp::Bmm(b) => vec![&mut b.a, &mut b.b, &mut b.dst],
            KOp::Vpu { dst, a, b, .. } => {
                let mut r = vec![dst, a];
                r.extend(b.as_mut());
                r
            }
            KOp::Reduce { src, dst, .. } => vec![src, dst],
        }
    }

    /// Constants a kernel reads (besides views).
    pub fn kernel_consts(op: &KOp) -> Vec<ConstId> {
        let mut out = Vec::new();
        for v in Self::views(op).0 {
            if let Base::Const(c) = v.base {
                out.push(c);
            }
        }
        if let KOp::Gemm(g) = op {
            out.push(g.w);
            out.extend(g.bias);
            if let Some(e) = &g.epilogue {
                out.extend(e.dequant);
                out.extend(e.bias);
                if let Some(r) = &e.requant {
                    out.extend(r.bias);
                    out.push(r.multipliers);
                    out.push(r.shifts);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Base {
        Base::Tensor(TensorId(0))
    }

    #[test]
    fn reshape_dense_and_strided() {
        let v = View::dense(t(), &[4, 6]);
        let r = v.reshape(&[2, 2, 6]).unwrap();
        assert_eq!(
            r.dims,
            vec![Dim::new(2, 12), Dim::new(2, 6), Dim::new(6, 1)]
        );
        assert_eq!(v.reshape(&[24]).unwrap().dims, vec![Dim::new(24, 1)]);
        // A column slice cannot be flattened, but its rows can be split.
        let s = View::dense(t(), &[4, 10]).slice(1, 2, 8);
        assert!(s.reshape(&[24]).is_none());
        let r = s.reshape(&[4, 2, 3]).unwrap();
        assert_eq!(
            r.dims,
            vec![Dim::new(4, 10), Dim::new(2, 3), Dim::new(3, 1)]
        );
        assert_eq!(r.offset, 2);
        // Size-1 dims anywhere.
        let r = View::dense(t(), &[5]).reshape(&[1, 5, 1]).unwrap();
        assert_eq!(r.shape(), vec![1, 5, 1]);
    }

    #[test]
    fn compose_into_a_concat_slice() {
        // Tensor [3, 4] written into columns 2..6 of a [3, 10] buffer.
        let into = View::dense(Base::Tensor(TensorId(1)), &[3, 10]).slice(1, 2, 6);
        let whole = View::dense(t(), &[3, 4]);
        let c = whole.compose(&[3, 4], &into).unwrap();
        assert_eq!(c, into);
        // Row 1, columns 1..3 of the inner tensor.
        let part = whole.slice(0, 1, 2).slice(1, 1, 3);
        let c = part.compose(&[3, 4], &into).unwrap();
        assert_eq!(c.offset, 10 + 2 + 1);
        assert_eq!(c.dims, vec![Dim::new(1, 0), Dim::new(2, 1)]);
    }

    #[test]
    fn contiguity_and_extent() {
        let v = View::dense(t(), &[3, 4]);
        assert!(v.is_contiguous());
        assert_eq!(v.extent(), 12);
        let s = v.slice(1, 1, 3);
        assert!(!s.is_contiguous());
        assert_eq!(s.extent(), 1 + 2 * 4 + 1 + 1);
    }
}
