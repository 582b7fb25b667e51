//! The DLRM family: MLPerf DLRM-v2 (DCNv2) and DLRM v1, the DLRM paper's benchmark
//! configuration, and DeepRecSys' RM1–RM3.
//!
//! All share one skeleton (Naumov et al. 2019): dense features through a bottom MLP, one pooled
//! embedding bag per categorical feature, an interaction, and a top MLP ending in one sigmoid
//! probability. What differs is the interaction and the sizes.

use seedchip_ir::{Activation, Graph, GraphBuilder, Pooling};

use super::{ModelInfo, ZooOptions, finish};
use crate::Error;

/// How the bottom-MLP output and the pooled embeddings are combined.
#[derive(Debug, Clone, Copy)]
enum Interaction {
    /// Pairwise dot products of all vectors (no self-interaction), concatenated after the
    /// bottom output (facebookresearch/dlrm `interact_features`, "dot").
    Dot,
    /// Plain concatenation (DeepRecSys "cat").
    Cat,
    /// Concatenation followed by a DCNv2 low-rank cross network (torchrec `LowRankCrossNet`).
    Cross { layers: usize, rank: u64 },
}

/// One DLRM configuration. `tables` holds `(rows, hotness)` per categorical feature.
#[derive(Debug)]
struct Dlrm<'a> {
    dense: u64,
    bottom: &'a [u64],
    dim: u64,
    tables: &'a [(u64, u64)],
    interaction: Interaction,
    top: &'a [u64],
}

/// Inputs are `dense: f32[B, n]` and `cat_<i>: i64[B, hotness_i]` (torchrec's default names
/// for Criteo's categorical features); the output is `prob: f32[B, 1]`.
fn build(name: &str, cfg: &Dlrm<'_>, options: &ZooOptions) -> Result<Graph, Error> {
    let mut b = GraphBuilder::new(name);
    b.set_seed(options.seed);
    let dense = b.dense_input("dense", cfg.dense);
    // torchrec's DenseArch and dlrm_s_pytorch both apply ReLU after every bottom layer.
    let bottom = b
        .named("bot")
        .mlp(dense, cfg.bottom, Activation::Relu, Activation::Relu);
    let mut features = vec![bottom];
    for (i, &(rows, hotness)) in cfg.tables.iter().enumerate() {
        features.push(b.embedding_bag(
            &format!("cat_{i}"),
            options.rows(rows),
            cfg.dim,
            Pooling::Sum,
            hotness,
        ));
    }
    let top_in = match cfg.interaction {
        Interaction::Dot => {
            let z = b.named("interaction").dot_interaction(&features, false);
            b.concat(&[bottom, z], 1)
        }
        Interaction::Cat => b.named("interaction").concat(&features, 1),
        Interaction::Cross { layers, rank } => {
            let x0 = b.named("interaction").concat(&features, 1);
            b.named("cross").cross_net(x0, layers, rank)
        }
    };
    let prob = b
        .named("top")
        .mlp(top_in, cfg.top, Activation::Relu, Activation::Sigmoid);
    b.output("prob", prob);
    finish(name, b)
}

/// MLPerf DLRM-v2 table sizes and multi-hot sizes (reference file, section B.1).
const DLRM_V2_TABLES: [(u64, u64); 26] = [
    (40_000_000, 3),
    (39_060, 2),
    (17_295, 1),
    (7_424, 2),
    (20_265, 6),
    (3, 1),
    (7_122, 1),
    (1_543, 1),
    (63, 1),
    (40_000_000, 7),
    (3_067_956, 3),
    (405_282, 8),
    (10, 1),
    (2_209, 6),
    (11_938, 9),
    (155, 5),
    (4, 1),
    (976, 1),
    (14, 1),
    (40_000_000, 12),
    (40_000_000, 100),
    (40_000_000, 27),
    (590_152, 10),
    (12_973, 3),
    (108, 1),
    (36, 1),
];

pub(super) const DLRM_V2: ModelInfo = ModelInfo {
    name: "dlrm-v2",
    summary: "MLPerf Inference DLRM-v2: DCNv2 on multi-hot Criteo 1TB, 26 tables x 128, 214 lookups/pair",
    source: "reference file B.1: mlcommons/inference recommendation/dlrm_v2/pytorch/python/main.py \
             (embedding_dim 128, dcn_num_layers 3, dcn_low_rank_dim 512, dense_arch 512-256-128, \
             over_arch 1024-1024-512-256-1, CRITEO_SYNTH_MULTIHOT_SIZES)",
};

/// MLPerf DLRM-v2: 13 dense features → 512-256-128; 26 multi-hot sum bags of dim 128;
/// concatenation to 128 + 26·128 = 3,456 → 3 low-rank (512) cross layers → 1024-1024-512-256-1
/// with a sigmoid (reference file, section B.1).
pub(super) fn dlrm_v2(options: &ZooOptions) -> Result<Graph, Error> {
    build(
        DLRM_V2.name,
        &Dlrm {
            dense: 13,
            bottom: &[512, 256, 128],
            dim: 128,
            tables: &DLRM_V2_TABLES,
            interaction: Interaction::Cross {
                layers: 3,
                rank: 512,
            },
            top: &[1024, 1024, 512, 256, 1],
        },
        options,
    )
}

/// Criteo Terabyte table sizes with MLPerf's 40 M index cap (reference file, section B.2).
const DLRM_V1_ROWS: [u64; 26] = [
    39_884_406, 39_043, 17_289, 7_420, 20_263, 3, 7_120, 1_543, 63, 38_532_951, 2_953_546, 403_346,
    10, 2_208, 11_938, 155, 4, 976, 14, 39_979_771, 25_641_295, 39_664_984, 585_935, 12_972, 108,
    36,
];

pub(super) const DLRM_V1: ModelInfo = ModelInfo {
    name: "dlrm-v1",
    summary: "MLPerf Inference DLRM (v0.7-v3.0): Criteo Terabyte, one-hot, dot interaction",
    source: "reference file B.2: mlcommons/inference recommendation/dlrm/pytorch/python/main.py \
             (parent of 0ab25310); facebookresearch/dlrm bench/run_and_time.sh",
};

/// MLPerf DLRM v1: 13 → 512-256-128; 26 one-hot bags of dim 128; dot interaction over 27
/// vectors (351 pairs) + the bottom output = 479 → 1024-1024-512-256-1 (reference file,
/// section B.2).
pub(super) fn dlrm_v1(options: &ZooOptions) -> Result<Graph, Error> {
    let tables: Vec<(u64, u64)> = DLRM_V1_ROWS.iter().map(|&r| (r, 1)).collect();
    build(
        DLRM_V1.name,
        &Dlrm {
            dense: 13,
            bottom: &[512, 256, 128],
            dim: 128,
            tables: &tables,
            interaction: Interaction::Dot,
            top: &[1024, 1024, 512, 256, 1],
        },
        options,
    )
}

pub(super) const DLRM_PAPER: ModelInfo = ModelInfo {
    name: "dlrm-paper",
    summary: "DLRM paper benchmark (Naumov et al. 2019): 8 x 1M x 64 tables, 100 lookups each",
    source: "reference file B.3: facebookresearch/dlrm bench/dlrm_s_benchmark.sh (arXiv 1906.00091)",
};

/// The DLRM paper's benchmark model: 512 dense features → 512-64; 8 tables of 1 M rows × 64
/// with 100 lookups each; dot interaction (36 pairs + 64 = 100) → 1024-1024-1024-1 (reference
/// file, section B.3). Bags are fixed at 100 as the reference file states.
pub(super) fn dlrm_paper(options: &ZooOptions) -> Result<Graph, Error> {
    build(
        DLRM_PAPER.name,
        &Dlrm {
            dense: 512,
            bottom: &[512, 64],
            dim: 64,
            tables: &[(1_000_000, 100); 8],
            interaction: Interaction::Dot,
            top: &[1024, 1024, 1024, 1],
        },
        options,
    )
}

pub(super) const RM1: ModelInfo = ModelInfo {
    name: "rm1",
    summary: "DeepRecSys RMC1: 8 x 4M x 32 tables, 80 lookups each, embedding-dominated",
    source: "reference file B.4: harvard-acc/DeepRecSys models/configs/dlrm_rm1.json (Gupta et al., HPCA 2020)",
};

/// RM1 (RMC1): 128 dense → 64-32; 8 tables × 4 M × 32 with 80 lookups; concatenation to
/// 32 + 8·32 = 288 → 256-64-1 (reference file, section B.4).
pub(super) fn rm1(options: &ZooOptions) -> Result<Graph, Error> {
    build(
        RM1.name,
        &Dlrm {
            dense: 128,
            bottom: &[64, 32],
            dim: 32,
            tables: &[(4_000_000, 80); 8],
            interaction: Interaction::Cat,
            top: &[256, 64, 1],
        },
        options,
    )
}

pub(super) const RM2: ModelInfo = ModelInfo {
    name: "rm2",
    summary: "DeepRecSys RMC2: 32 x 0.5M x 64 tables, 120 lookups each, the embedding-bound extreme",
    source: "reference file B.4: harvard-acc/DeepRecSys models/configs/dlrm_rm2.json (Gupta et al., HPCA 2020)",
};

/// RM2 (RMC2): 256 dense → 128-64; 32 tables × 0.5 M × 64 with 120 lookups; concatenation to
/// 64 + 32·64 = 2,112 → 128-64-1 (reference file, section B.4).
pub(super) fn rm2(options: &ZooOptions) -> Result<Graph, Error> {
    build(
        RM2.name,
        &Dlrm {
            dense: 256,
            bottom: &[128, 64],
            dim: 64,
            tables: &[(500_000, 120); 32],
            interaction: Interaction::Cat,
            top: &[128, 64, 1],
        },
        options,
    )
}

pub(super) const RM3: ModelInfo = ModelInfo {
    name: "rm3",
    summary: "DeepRecSys RMC3: 10 x 2M x 32 tables, 20 lookups each, MLP-dominated",
    source: "reference file B.4: harvard-acc/DeepRecSys models/configs/dlrm_rm3.json (Gupta et al., HPCA 2020)",
};

/// RM3 (RMC3): 2,560 dense → 1024-256-32; 10 tables × 2 M × 32 with 20 lookups; concatenation
/// to 32 + 10·32 = 352 → 512-256-1 (reference file, section B.4).
pub(super) fn rm3(options: &ZooOptions) -> Result<Graph, Error> {
    build(
        RM3.name,
        &Dlrm {
            dense: 2560,
            bottom: &[1024, 256, 32],
            dim: 32,
            tables: &[(2_000_000, 20); 10],
            interaction: Interaction::Cat,
            top: &[512, 256, 1],
        },
        options,
    )
}
