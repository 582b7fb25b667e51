//! The H100 measurements the peer models are fitted to, and the fixed rule that splits them into
//! rows used for fitting and rows held out for checking.
//!
//! The data is `data/h100-sxm.json`, a copy of `shared/calibration/h100-sxm.json` compiled into
//! the crate so tests and the binary never read outside the repository.
//!
//! The documented split ([`Split::DOCUMENTED`], deterministic; `validate` also reports the
//! held-out errors of the alternatives in [`Split::alternatives`]):
//! * GEMM rows: every other row in file order. The file lists 12 DLRM layer shapes for each of
//!   five batch sizes, so rows with an even index fit and rows with an odd index check; each
//!   batch size contributes six of each, and no checked shape is seen at that batch size.
//! * Embedding-bag rows: by table size. Rows on the 1 M-row tables (fp16 and fp32, uniform and
//!   skewed) fit; rows on the 40 M-row table check. A 40 M × 128 table is 200× the L2, like
//!   the big DLRM-v2 tables, so the check asks the model to extrapolate from a table that
//!   partly fits in cache to one that does not.

use serde::Deserialize;

use crate::Error;
use crate::skew::AccessPattern;

/// The calibration file as shipped in the repository.
pub const H100_JSON: &str = include_str!("../data/h100-sxm.json");

/// Device ceilings measured alongside the kernel timings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Ceilings {
    /// Device-to-device copy, read plus write bytes per second (GB/s).
    #[serde(rename = "device_copy_GBps_read_plus_write")]
    pub device_copy_gbps: f64,
    /// An 8192³ bf16 GEMM: the sustained tensor throughput under the power cap (TFLOP/s).
    #[serde(rename = "gemm_8192_bf16_TFLOPs")]
    pub gemm_bf16_tflops: f64,
    /// The same GEMM in tf32.
    #[serde(rename = "gemm_8192_tf32_TFLOPs")]
    pub gemm_tf32_tflops: f64,
}

/// One bf16 GEMM: `[M, K] × [K, N]`, eager PyTorch, microseconds per call.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct GemmRow {
    #[serde(rename = "M")]
    pub m: u64,
    #[serde(rename = "K")]
    pub k: u64,
    #[serde(rename = "N")]
    pub n: u64,
    pub us: f64,
}

/// One `nn.EmbeddingBag(mode=sum)` call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EmbeddingRow {
    pub rows: u64,
    pub dim: u64,
    /// `fp16` or `fp32`.
    pub dtype: String,
    /// `uniform` or `zipf<alpha>` (Pareto-tailed ranks folded onto the table by a hash, per the
    /// file's notes).
    pub dist: String,
    pub batch: u64,
    /// Indices per bag.
    pub pool: u64,
    pub ms: f64,
    #[serde(rename = "GBps_rows_read")]
    pub gbps_rows_read: f64,
    pub unique_frac: f64,
}

impl EmbeddingRow {
    pub fn us(&self) -> f64 {
        self.ms * 1000.0
    }

    pub fn lookups(&self) -> u64 {
        self.batch * self.pool
    }

    pub fn row_bytes(&self) -> Result<u64, Error> {
        let elem = match self.dtype.as_str() {
            "fp16" | "bf16" => 2,
            "fp32" => 4,
            other => {
                return Err(Error::Calibration {
                    reason: format!("embedding row dtype `{other}` is not one of fp16, bf16, fp32"),
                });
            }
        };
        Ok(self.dim * elem)
    }

    /// The row popularity this measurement used. The file's `zipf1.05` draws ranks from an
    /// unbounded Zipf law and scatters them by a multiplicative hash, so ranks past the table
    /// size wrap around: [`AccessPattern::FoldedZipf`].
    pub fn pattern(&self) -> Result<AccessPattern, Error> {
        if self.dist == "uniform" {
            return Ok(AccessPattern::Uniform);
        }
        let alpha = self
            .dist
            .strip_prefix("zipf")
            .and_then(|a| a.parse::<f64>().ok())
            .ok_or_else(|| Error::Calibration {
                reason: format!(
                    "embedding row distribution `{}` is neither `uniform` nor `zipf<alpha>`",
                    self.dist
                ),
            })?;
        AccessPattern::folded_zipf(alpha)
    }

    pub fn label(&self) -> String {
        format!(
            "{}M rows {} {} b{} pool{}",
            self.rows as f64 / 1e6,
            self.dtype,
            self.dist,
            self.batch,
            self.pool
        )
    }
}

/// A calibration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Calibration {
    pub device: String,
    pub sms: u32,
    pub software: String,
    pub ceilings: Ceilings,
    pub gemm_bf16: Vec<GemmRow>,
    pub embedding_bag_sum: Vec<EmbeddingRow>,
    pub notes: Vec<String>,
}

/// Whether a row fits the model or checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Fit,
    Check,
}

/// How GEMM rows are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GemmSplit {
    /// Even file index fits, odd checks (the documented split).
    AlternateRows,
    /// Every row at this M checks; the rest fit (extrapolation across batch sizes).
    HoldOutBatch(u64),
}

/// How embedding-bag rows are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingSplit {
    /// Tables up to [`EMBEDDING_FIT_MAX_ROWS`] fit, larger ones check (the documented split).
    ByTableSize,
    /// Even file index fits, odd checks.
    AlternateRows,
}

/// A fit/check split of the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Split {
    pub gemm: GemmSplit,
    pub embedding: EmbeddingSplit,
}

/// Embedding rows on tables up to this size fit; larger tables are held out.
pub const EMBEDDING_FIT_MAX_ROWS: u64 = 1_000_000;

impl Split {
    /// The split the acceptance bounds apply to.
    pub const DOCUMENTED: Split = Split {
        gemm: GemmSplit::AlternateRows,
        embedding: EmbeddingSplit::ByTableSize,
    };

    /// Other splits, reported to show how much the held-out errors depend on the choice.
    pub fn alternatives() -> Vec<(&'static str, Split)> {
        vec![
            (
                "GEMM: hold out every M = 2048 row",
                Split {
                    gemm: GemmSplit::HoldOutBatch(2048),
                    embedding: EmbeddingSplit::ByTableSize,
                },
            ),
            (
                "GEMM: hold out every M = 16384 row",
                Split {
                    gemm: GemmSplit::HoldOutBatch(16384),
                    embedding: EmbeddingSplit::ByTableSize,
                },
            ),
            (
                "embedding: every other row",
                Split {
                    gemm: GemmSplit::AlternateRows,
                    embedding: EmbeddingSplit::AlternateRows,
                },
            ),
        ]
    }

    pub fn gemm_role(&self, index: usize, row: &GemmRow) -> Role {
        let check = match self.gemm {
            GemmSplit::AlternateRows => index % 2 == 1,
            GemmSplit::HoldOutBatch(m) => row.m == m,
        };
        if check { Role::Check } else { Role::Fit }
    }

    pub fn embedding_role(&self, index: usize, row: &EmbeddingRow) -> Role {
        let check = match self.embedding {
            EmbeddingSplit::ByTableSize => row.rows > EMBEDDING_FIT_MAX_ROWS,
            EmbeddingSplit::AlternateRows => index % 2 == 1,
        };
        if check { Role::Check } else { Role::Fit }
    }
}

impl Calibration {
    pub fn from_json(text: &str) -> Result<Calibration, Error> {
        let c: Calibration = serde_json::from_str(text).map_err(|e| Error::Calibration {
            reason: e.to_string(),
        })?;
        for r in &c.embedding_bag_sum {
            r.row_bytes()?;
            r.pattern()?;
        }
        if c.sms == 0 || c.gemm_bf16.is_empty() || c.embedding_bag_sum.is_empty() {
            return Err(Error::Calibration {
                reason: "needs a non-zero SM count, GEMM rows and embedding-bag rows".into(),
            });
        }
        Ok(c)
    }

    /// The H100 file compiled into the crate.
    pub fn h100() -> Calibration {
        Calibration::from_json(H100_JSON)
            .unwrap_or_else(|e| panic!("the embedded data/h100-sxm.json is malformed: {e}"))
    }

    pub fn gemm_rows(&self, split: &Split, role: Role) -> Vec<GemmRow> {
        self.gemm_bf16
            .iter()
            .enumerate()
            .filter(|(i, r)| split.gemm_role(*i, r) == role)
            .map(|(_, r)| *r)
            .collect()
    }

    pub fn embedding_rows(&self, split: &Split, role: Role) -> Vec<EmbeddingRow> {
        self.embedding_bag_sum
            .iter()
            .enumerate()
            .filter(|(i, r)| split.embedding_role(*i, r) == role)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_file_parses_and_splits_both_ways() {
        let c = Calibration::h100();
        assert_eq!(c.sms, 132);
        let mut splits = vec![Split::DOCUMENTED];
        splits.extend(Split::alternatives().into_iter().map(|(_, s)| s));
        for s in &splits {
            let (fit, check) = (c.gemm_rows(s, Role::Fit), c.gemm_rows(s, Role::Check));
            assert_eq!(fit.len() + check.len(), c.gemm_bf16.len());
            assert!(!fit.is_empty() && !check.is_empty(), "{s:?}");
            let (fit, check) = (
                c.embedding_rows(s, Role::Fit),
                c.embedding_rows(s, Role::Check),
            );
            assert_eq!(fit.len() + check.len(), c.embedding_bag_sum.len());
            assert!(!fit.is_empty() && !check.is_empty(), "{s:?}");
        }
        // The documented split: 30 + 30 GEMM rows, 12 + 6 embedding rows.
        let d = Split::DOCUMENTED;
        assert_eq!(c.gemm_rows(&d, Role::Check).len(), 30);
        assert_eq!(c.embedding_rows(&d, Role::Check).len(), 6);
        assert!(
            c.embedding_rows(&d, Role::Check)
                .iter()
                .all(|r| r.rows > EMBEDDING_FIT_MAX_ROWS)
        );
    }

    #[test]
    fn malformed_rows_are_rejected() {
        let bad = H100_JSON.replacen("\"fp16\"", "\"fp64\"", 1);
        assert!(matches!(
            Calibration::from_json(&bad),
            Err(Error::Calibration { .. })
        ));
        let bad = H100_JSON.replacen("\"uniform\"", "\"normal\"", 1);
        assert!(Calibration::from_json(&bad).is_err());
        assert!(Calibration::from_json("{}").is_err());
    }
}
