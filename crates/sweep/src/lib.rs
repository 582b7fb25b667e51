//! `seedchip-sweep`: design-space exploration.
//!
//! A sweep file ([`spec`]) names a base chip, parameters (dotted chip keys with values or
//! ranges), the models and batch sizes to run, constraints and objectives. [`space`] turns it
//! into points with stable ids (a hash of the point's chip keys) by grid, seeded random draw or
//! guided search, and splits them into shards by id alone. [`eval`] measures a point (the chip
//! crate validates the chip; `seedchip-measure` compiles and times each model), [`run`]
//! evaluates the points of a shard in parallel, appending a line per point as it finishes and
//! resuming from what a results file already holds, [`results`] reads, merges and sorts
//! results files, and [`report`] finds Pareto fronts, sensitivities, the best designs and what
//! limits them.
//!
//! Determinism: a point's record depends only on the sweep and the point; a finished results
//! file is sorted by point id; shards are a pure function of (space, K, N). So a sweep run on
//! one core, on 16, interrupted and resumed, or split over machines and merged, gives the
//! same bytes.

pub mod eval;
pub mod report;
pub mod results;
pub mod run;
pub mod space;
pub mod spec;

pub use eval::{Evaluator, Record};
pub use run::{Event, RunOptions, Summary, run};
pub use spec::{Spec, load, parse};

/// Version of the results-line and report formats.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User: the sweep file is wrong (syntax, unknown key, bad value), at `location`
    /// (file:line:col).
    #[error("{location}: key `{key}`: {message}")]
    Spec {
        location: String,
        key: String,
        message: String,
        hint: Option<String>,
    },
    /// User: a file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// User: a results file is not what it should be (not a results line, another sweep's
    /// lines, conflicting results), at `location` (file:line).
    #[error("{location}: {message}")]
    Results { location: String, message: String },
    /// User: a model could not be loaded.
    #[error("model `{model}`: {message}")]
    Model { model: String, message: String },
    /// User: options that do not fit the sweep (a bad shard, sharding a guided search).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Hints for the CLI's `hint:` lines.
    pub fn hints(&self) -> Vec<String> {
        match self {
            Error::Spec { hint, .. } => hint.iter().cloned().collect(),
            Error::Results { .. } => vec![
                "a results file belongs to one sweep; write another sweep's results to another file"
                    .into(),
            ],
            _ => vec![],
        }
    }
}
