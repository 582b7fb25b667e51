//! Generative (sequential) recommenders: HSTU.

use seedchip_ir::{Activation, AttentionKernel, Graph, GraphBuilder};

use super::{ModelInfo, ZooOptions, finish};
use crate::Error;

pub(super) const HSTU_SMALL: ModelInfo = ModelInfo {
    name: "hstu-small",
    summary: "HSTU (MLPerf DLRMv3 layer shapes) over a 256-event history: 5 layers, 4 heads, d=512",
    source: "reference file B.7: mlcommons/inference recommendation/dlrm_v3/configs.py \
             (DlrmHSTUConfig: 5 layers, 4 heads, attention/QK dim 128, embedding dim 512, item \
             table 10^9 rows); Zhai et al., \"Actions Speak Louder than Words\", ICML 2024 \
             (arXiv 2402.17152); sequence length 256 instead of 16,384 is this model's choice",
};

/// Sequence length (history plus the candidate). MLPerf DLRMv3 allows 16,384; "small" keeps
/// the per-layer shapes of B.7 but a history short enough for the f32 reference to run
/// interactively. Attention cost grows with its square.
const SEQ_LEN: u64 = 256;
const LAYERS: usize = 5;
const HEADS: u64 = 4;
/// Attention (value) and query/key width per head.
const HEAD_DIM: u64 = 128;
const D_MODEL: u64 = 512;

/// HSTU with MLPerf DLRMv3's layer shapes (reference file, section B.7). The user's last 255
/// item ids and the candidate item are embedded from the shared 10^9-row item table into a
/// 256 × 512 sequence. Each of the 5 layers (Zhai et al. 2024, eqs. 1–3): pre-norm,
/// `U, V, Q, K = split(silu(x·W_uvqk))` (512 → 4 × 512), causal pointwise attention
/// `silu(scale·QKᵀ)/n · V` over 4 heads of 128 (scale 1/√128), then
/// `x + (LayerNorm(A) ⊙ U)·W_o`. The candidate's last hidden state goes through a linear
/// head to a sigmoid probability. Relative position/time biases are left out (the IR has no
/// op for them; they add no matrix work).
pub(super) fn hstu_small(options: &ZooOptions) -> Result<Graph, Error> {
    let mut b = GraphBuilder::new(HSTU_SMALL.name);
    b.set_seed(options.seed);
    let items = b.embedding_table("item.table", options.rows(1_000_000_000), D_MODEL);
    let history_idx = b.sparse_input("user_history", SEQ_LEN - 1);
    let history = b.named("history").embedding(items, history_idx);
    let item_idx = b.sparse_input("item", 1);
    let item = b.named("candidate").embedding(items, item_idx);
    let mut x = b.named("sequence").concat(&[history, item], 1);
    let width = HEADS * HEAD_DIM;
    let scale = 1.0 / (HEAD_DIM as f32).sqrt();
    for l in 0..LAYERS {
        let p = format!("layer_{l}");
        let normed = b.named(format!("{p}.norm_in")).layer_norm(x, 1e-6);
        let uvqk = b
            .named(format!("{p}.uvqk"))
            .linear(normed, 4 * width, Activation::Silu);
        let parts = b
            .named(format!("{p}.split"))
            .split(uvqk, 2, &[width, width, width, width]);
        let (u, v, q, k) = (parts[0], parts[1], parts[2], parts[3]);
        let a = b.named(format!("{p}.attention")).seq_attention(
            [q, k, v],
            HEADS,
            AttentionKernel::Silu,
            true,
            scale,
        );
        let a = b.named(format!("{p}.norm_attn")).layer_norm(a, 1e-6);
        let gated = b.named(format!("{p}.gate")).mul(a, u);
        let out = b
            .named(format!("{p}.out"))
            .linear(gated, D_MODEL, Activation::None);
        x = b.named(format!("{p}.residual")).add(x, out);
    }
    let last = b.named("last").slice(x, 1, SEQ_LEN - 1, SEQ_LEN);
    let last = b.flatten(last, 1);
    let prob = b.named("head").linear(last, 1, Activation::Sigmoid);
    b.output("prob", prob);
    finish(HSTU_SMALL.name, b)
}
