//! Built-in models with published structure.
//!
//! Each model is a function that writes the published architecture with the IR builder. Shapes
//! and sizes come from the reference file `shared/reference/hardware-and-workloads.md`
//! (section B), cited per model; where the file leaves a size open, the model's doc comment
//! says so and where the chosen value comes from. Costs (FLOPs, lookups, bytes) are never
//! written here: `seedchip_ir::analysis` derives them from the graph, and the tests compare
//! them with the reference file.

mod ctr;
mod dlrm;
mod sequence;

use seedchip_ir::Graph;

use crate::Error;

/// Options shared by every built-in model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZooOptions {
    /// Caps every embedding table at this many rows (for small tests and fixtures); `None`
    /// keeps the published sizes. Costs per sample do not depend on it; table bytes do.
    pub rows_cap: Option<u64>,
    /// Seed of the procedural weights.
    pub seed: u64,
}

impl ZooOptions {
    /// Rows of a table after the cap.
    fn rows(&self, published: u64) -> u64 {
        self.rows_cap.map_or(published, |cap| published.min(cap))
    }
}

/// A registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    /// The zoo name (`seedchip model show <name>`).
    pub name: &'static str,
    /// One line on what the model is.
    pub summary: &'static str,
    /// Where its structure comes from.
    pub source: &'static str,
}

type BuildFn = fn(&ZooOptions) -> Result<Graph, Error>;

const MODELS: &[(ModelInfo, BuildFn)] = &[
    (dlrm::DLRM_V2, dlrm::dlrm_v2),
    (dlrm::DLRM_V1, dlrm::dlrm_v1),
    (dlrm::DLRM_PAPER, dlrm::dlrm_paper),
    (dlrm::RM1, dlrm::rm1),
    (dlrm::RM2, dlrm::rm2),
    (dlrm::RM3, dlrm::rm3),
    (ctr::WIDE_AND_DEEP, ctr::wide_and_deep),
    (ctr::DEEPFM, ctr::deepfm),
    (ctr::DIN, ctr::din),
    (ctr::TWO_TOWER, ctr::two_tower),
    (ctr::MMOE, ctr::mmoe),
    (sequence::HSTU_SMALL, sequence::hstu_small),
];

/// Every built-in model, in a fixed order.
#[must_use]
pub fn list() -> Vec<ModelInfo> {
    MODELS.iter().map(|(info, _)| *info).collect()
}

/// The registry entry of `name`.
pub fn info(name: &str) -> Result<ModelInfo, Error> {
    MODELS
        .iter()
        .find(|(info, _)| info.name == name)
        .map(|(info, _)| *info)
        .ok_or_else(|| unknown(name))
}

/// Builds model `name`; the graph is verified.
pub fn get(name: &str, options: &ZooOptions) -> Result<Graph, Error> {
    if options.rows_cap == Some(0) {
        return Err(Error::InvalidOptions {
            reason: "rows_cap must be at least 1".into(),
        });
    }
    let (_, build) = MODELS
        .iter()
        .find(|(info, _)| info.name == name)
        .ok_or_else(|| unknown(name))?;
    build(options)
}

fn unknown(name: &str) -> Error {
    Error::UnknownModel {
        name: name.to_string(),
        valid: MODELS
            .iter()
            .map(|(info, _)| info.name)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Finishes a builder, labelling a failure as a bug in the zoo model.
fn finish(name: &str, b: seedchip_ir::GraphBuilder) -> Result<Graph, Error> {
    b.finish().map_err(|source| Error::ModelBuild {
        model: name.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_resolvable() {
        let names: Vec<&str> = list().iter().map(|m| m.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        for n in names {
            assert_eq!(info(n).unwrap().name, n);
        }
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = get("dlrm-v9", &ZooOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("dlrm-v9"), "{err}");
        assert!(
            err.contains("dlrm-v2") && err.contains("hstu-small"),
            "{err}"
        );
    }

    #[test]
    fn zero_rows_cap_is_rejected() {
        let opts = ZooOptions {
            rows_cap: Some(0),
            seed: 0,
        };
        assert!(matches!(
            get("rm1", &opts),
            Err(Error::InvalidOptions { .. })
        ));
    }
}
