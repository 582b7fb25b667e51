//! Published MLPerf Inference DLRM-v2 results (closed division) to check end-to-end predictions
//! against. Copied from the reference file §C.1 with the MLPerf path of each log; these are
//! *measurements to compare with*, never inputs of the model.

use seedchip_chip::Precision;
use serde::Serialize;

/// User-item pairs per LoadGen sample: the mean of `tools/dist_quantile.txt` (reference §B.1).
pub const PAIRS_PER_SAMPLE: f64 = 270.0;

/// Pairs per engine batch in NVIDIA's DLRM-v2 harness (`gpu_batch_size = 51200` for H100 SXM
/// in `closed/NVIDIA/configs/dlrm-v2/Offline`), used for every device's prediction: throughput
/// is flat well before this size.
pub const ENGINE_BATCH_PAIRS: u64 = 51_200;

/// How far a prediction may stray from a result before `validate` fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioBound {
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MlperfResult {
    pub round: &'static str,
    /// Peer model name.
    pub device: &'static str,
    pub accelerators: u32,
    pub scenario: &'static str,
    /// Accuracy target: `99` or `99.9` (% of the reference AUC).
    pub accuracy: &'static str,
    /// Whole system, samples/s.
    pub samples_per_s: f64,
    /// The precision of the `tuned` prediction it is compared with.
    pub precision: Precision,
    /// `None`: shown for information only (the reason is in `note`).
    pub bound: Option<RatioBound>,
    pub note: &'static str,
    pub path: &'static str,
}

impl MlperfResult {
    pub fn per_accelerator(&self) -> f64 {
        self.samples_per_s / f64::from(self.accelerators)
    }

    pub fn label(&self) -> String {
        format!(
            "{} {}×{} {} {}",
            self.round, self.accelerators, self.device, self.accuracy, self.scenario
        )
    }
}

/// The headline check: predictions of a tuned engine within 1.5× of the per-GPU result.
const PRIMARY: RatioBound = RatioBound {
    min: 1.0 / 1.5,
    max: 1.5,
};
/// Devices and paths the model knows less well: within 2×.
const SANITY: RatioBound = RatioBound { min: 0.5, max: 2.0 };

/// The results compared in `docs/validation.md`, in table order.
pub fn results() -> Vec<MlperfResult> {
    vec![
        MlperfResult {
            round: "v4.0",
            device: "h100-sxm",
            accelerators: 8,
            scenario: "Offline",
            accuracy: "99",
            samples_per_s: 568_422.0,
            precision: Precision::Int8,
            bound: Some(PRIMARY),
            note: "int8/fp8 engine (the acceptance check)",
            path: "closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx8_TRT/dlrm-v2-99/Offline",
        },
        MlperfResult {
            round: "v4.0",
            device: "h100-sxm",
            accelerators: 1,
            scenario: "Offline",
            accuracy: "99",
            samples_per_s: 70_346.2,
            precision: Precision::Int8,
            bound: Some(PRIMARY),
            note: "same engine on one GPU",
            path: "closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx1_TRT/dlrm-v2-99/Offline",
        },
        MlperfResult {
            round: "v4.0",
            device: "h100-sxm",
            accelerators: 8,
            scenario: "Offline",
            accuracy: "99.9",
            samples_per_s: 354_151.0,
            precision: Precision::Fp16,
            bound: Some(SANITY),
            note: "high-accuracy target: fp16 path",
            path: "closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx8_TRT/dlrm-v2-99.9/Offline",
        },
        MlperfResult {
            round: "v4.0",
            device: "h200",
            accelerators: 8,
            scenario: "Offline",
            accuracy: "99",
            samples_per_s: 572_867.0,
            precision: Precision::Int8,
            bound: Some(SANITY),
            note: "",
            path: "closed/NVIDIA/results/H200-SXM-141GBx8_TRT/dlrm-v2-99/Offline",
        },
        MlperfResult {
            round: "v4.1",
            device: "h200",
            accelerators: 8,
            scenario: "Offline",
            accuracy: "99",
            samples_per_s: 637_342.0,
            precision: Precision::Int8,
            bound: Some(SANITY),
            note: "newer software on the same hardware",
            path: "closed/NVIDIA/results/H200-SXM-141GBx8_TRT/dlrm-v2-99/Offline (v4.1)",
        },
        MlperfResult {
            round: "v3.1",
            device: "l4",
            accelerators: 1,
            scenario: "Server",
            accuracy: "99",
            samples_per_s: 3_305.4,
            precision: Precision::Int8,
            bound: None,
            note: "information only: a Server result (throughput under a p99 latency bound, not \
                   the peak); the int8 tables exceed 24 GB so part of them lives in host memory, a \
                   path the calibration does not cover; and the H100's sustained-clock fraction is \
                   carried to a 72 W card that is far more power-limited",
            path: "closed/NVIDIA/results/L4x1_TRT/dlrm-v2-99/Server",
        },
    ]
}
