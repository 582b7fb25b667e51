//! The operator set.
//!
//! Ops are coarse where recommendation hardware cares about structure (embedding bags, the DLRM
//! dot interaction, the DCNv2 cross layer, DIN and HSTU attention): a compiler can map each one
//! to a gather engine or a fused kernel without first pattern-matching dozens of primitives. The
//! primitives (linear, elementwise, concat, reshape, ...) cover everything else, including what
//! ONNX import produces.
//!
//! Operand order is fixed per op and documented on each variant; the verifier checks it.

use serde::Serialize;

/// Activation fused into a [`Op::Linear`] or used inside attention units.
///
/// Fused because every accelerator applies it in the matrix unit's output stage; keeping it on
/// the linear saves the compiler a fusion pass and keeps MLPs readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    None,
    Relu,
    Sigmoid,
    Tanh,
    /// Exact (erf-based) GELU, PyTorch's default.
    Gelu,
    Silu,
}

impl Activation {
    pub const ALL: [Activation; 6] = [
        Activation::None,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu,
        Activation::Silu,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Activation::None => "none",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Activation::ALL.into_iter().find(|a| a.name() == s)
    }

    /// The unary op applying this activation, if any.
    pub fn unary(self) -> Option<UnaryOp> {
        match self {
            Activation::None => None,
            Activation::Relu => Some(UnaryOp::Relu),
            Activation::Sigmoid => Some(UnaryOp::Sigmoid),
            Activation::Tanh => Some(UnaryOp::Tanh),
            Activation::Gelu => Some(UnaryOp::Gelu),
            Activation::Silu => Some(UnaryOp::Silu),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnaryOp {
    Relu,
    Sigmoid,
    Tanh,
    Gelu,
    Silu,
    Neg,
    Exp,
}

impl UnaryOp {
    pub const ALL: [UnaryOp; 7] = [
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Gelu,
        UnaryOp::Silu,
        UnaryOp::Neg,
        UnaryOp::Exp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Silu => "silu",
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
        }
    }
}

/// Elementwise binary ops with numpy-style (right-aligned) broadcasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub const ALL: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];

    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
        }
    }
}

/// How an embedding bag combines the rows it gathers. An empty bag yields zeros for every mode
/// (PyTorch's behaviour), so padding samples with no lookups is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Sum,
    Mean,
    Max,
}

impl Pooling {
    pub const ALL: [Pooling; 3] = [Pooling::Sum, Pooling::Mean, Pooling::Max];

    pub fn name(self) -> &'static str {
        match self {
            Pooling::Sum => "sum",
            Pooling::Mean => "mean",
            Pooling::Max => "max",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Pooling::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Reductions over one non-batch axis, which is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReduceKind {
    Sum,
    Mean,
    Max,
}

impl ReduceKind {
    pub const ALL: [ReduceKind; 3] = [ReduceKind::Sum, ReduceKind::Mean, ReduceKind::Max];

    pub fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "sum",
            ReduceKind::Mean => "mean",
            ReduceKind::Max => "max",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        ReduceKind::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Score function of [`Op::SeqAttention`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKernel {
    /// Standard transformer attention: softmax over keys of `scale · q·k`.
    Softmax,
    /// HSTU pointwise attention: `silu(scale · q·k) / n` with `n` the sequence length, no
    /// normalization across keys (Zhai et al. 2024, generative-recommenders `hstu_attention`).
    Silu,
}

impl AttentionKernel {
    pub const ALL: [AttentionKernel; 2] = [AttentionKernel::Softmax, AttentionKernel::Silu];

    pub fn name(self) -> &'static str {
        match self {
            AttentionKernel::Softmax => "softmax",
            AttentionKernel::Silu => "silu",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        AttentionKernel::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// An operation. Operands are values; weights are parameter values (see `Graph::params`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Operands: `table: f32[rows, dim]` (must be a parameter, so rows can stay procedural),
    /// `indices`, and optionally `offsets`.
    /// * Fixed pooling: `indices: i32|i64[B, hotness]`, no offsets.
    /// * Ragged: `indices: i32|i64[?]`, `offsets: i32|i64[B]` holding each bag's start
    ///   (PyTorch `EmbeddingBag` without `include_last_offset`); the last bag ends at the end of
    ///   `indices`.
    ///
    /// Output `f32[B, dim]`. `mean_pooling` is the expected lookups per bag of a ragged input,
    /// used only by analysis (a fixed input's hotness is in its shape).
    EmbeddingBag {
        pooling: Pooling,
        mean_pooling: Option<f64>,
    },
    /// Unpooled lookup: `table: f32[rows, dim]` (a parameter), `indices: i32|i64[...]` →
    /// `f32[..., dim]`, one row per index. Behaviour sequences (DIN, HSTU) need every row.
    Embedding,
    /// `x: f32[..., in]`, `w: f32[out, in]` (PyTorch layout), optional `b: f32[out]` →
    /// `f32[..., out]`, then `act`.
    Linear {
        act: Activation,
    },
    /// `a: [..., m, k]`, `b: [..., k, n]` (or `[..., n, k]` with `transpose_b`) → `[..., m, n]`.
    /// Leading dims must match, or `b` is rank 2 and shared by every leading index.
    MatMul {
        transpose_b: bool,
    },
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// Variadic concatenation along `axis` (not the batch axis).
    Concat {
        axis: usize,
    },
    /// Reinterpret in row-major order. The target may contain `B` once, exactly when the input
    /// has it; fixed element counts must agree.
    Reshape {
        shape: Vec<crate::Dim>,
    },
    /// Merge dimensions `axis..` into one.
    Flatten {
        axis: usize,
    },
    /// `out.shape[i] = in.shape[perm[i]]`.
    Transpose {
        perm: Vec<usize>,
    },
    /// `[start, end)` along a non-batch `axis`.
    Slice {
        axis: usize,
        start: u64,
        end: u64,
    },
    /// Consecutive pieces along a non-batch `axis`; one output per size.
    Split {
        axis: usize,
        sizes: Vec<u64>,
    },
    /// DLRM dot interaction. Operands: `n` vectors `f32[B, d]` (or one `f32[B, n, d]`). Output
    /// `f32[B, p]`: the dot products `<v_i, v_j>` for `i` in `0..n`, `j < i` (or `j <= i` with
    /// `self_interaction`), in that row-major lower-triangle order (facebookresearch/dlrm
    /// `interact_features`). `p = n(n-1)/2` or `n(n+1)/2`.
    DotInteraction {
        self_interaction: bool,
    },
    /// DCNv2 low-rank cross layer (torchrec `LowRankCrossNet`, one layer):
    /// `x0, xl: f32[B, d]`, `v: f32[r, d]`, `w: f32[d, r]`, `b: f32[d]` →
    /// `x0 ⊙ (w·(v·xl) + b) + xl`.
    CrossLayer,
    /// Normalize over the last axis: `x`, `gamma: f32[d]`, `beta: f32[d]`.
    LayerNorm {
        eps: f32,
    },
    Softmax {
        axis: usize,
    },
    Reduce {
        kind: ReduceKind,
        axis: usize,
    },
    /// DIN target attention (Zhou et al., KDD 2018). Operands: `query: f32[B, d]` (candidate),
    /// `keys: f32[B, T, d]` (behaviours), then `(w_i, b_i)` pairs of the local activation unit
    /// MLP whose input is `[q, k_t, q - k_t, q ⊙ k_t]` (`4d`) and whose last layer has width 1.
    /// Hidden layers use `act`; the score is linear and, as in DIN, not softmax-normalized.
    /// Output `f32[B, d] = Σ_t score_t · k_t`.
    TargetAttention {
        act: Activation,
    },
    /// Multi-head self-attention core: `q, k: f32[B, n, h·dk]`, `v: f32[B, n, h·dv]` →
    /// `f32[B, n, h·dv]`. Projections, gating and norms stay separate ops.
    SeqAttention {
        heads: u64,
        kernel: AttentionKernel,
        causal: bool,
        scale: f32,
    },
}

impl Op {
    /// Mnemonic used in the text form and in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::EmbeddingBag { .. } => "embedding_bag",
            Op::Embedding => "embedding",
            Op::Linear { .. } => "linear",
            Op::MatMul { .. } => "matmul",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Concat { .. } => "concat",
            Op::Reshape { .. } => "reshape",
            Op::Flatten { .. } => "flatten",
            Op::Transpose { .. } => "transpose",
            Op::Slice { .. } => "slice",
            Op::Split { .. } => "split",
            Op::DotInteraction { .. } => "dot_interaction",
            Op::CrossLayer => "cross_layer",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Softmax { .. } => "softmax",
            Op::Reduce { .. } => "reduce",
            Op::TargetAttention { .. } => "target_attention",
            Op::SeqAttention { .. } => "seq_attention",
        }
    }

    /// Number of results (all ops but `split` produce one).
    pub fn num_outputs(&self) -> usize {
        match self {
            Op::Split { sizes, .. } => sizes.len(),
            _ => 1,
        }
    }
}
