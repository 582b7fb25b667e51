//! Chip descriptions for seedchip: the TOML format, defaults, physical validation, the presets
//! compiled into the binary, derived figures (peaks, balance, area, yield, unit cost), and the
//! datasheet records of peer devices (GPUs and other products that are compared, not simulated).
//!
//! Reading order: [`desc`] (the format) → [`load`] (TOML with source locations) → [`resolve`]
//! (defaults) → [`validate`] → [`derived`] (peaks, area, cost) → [`presets`] and [`peers`].

pub mod derived;
pub mod desc;
pub mod load;
pub mod memory;
pub mod node;
pub mod peers;
pub mod precision;
pub mod presets;
pub mod resolve;
pub mod validate;

pub use derived::{Area, Derived, DieCost, derive};
pub use desc::*;
pub use load::{from_toml_str, load_path, resolve_name_or_path};
pub use memory::MemoryKind;
pub use precision::Precision;

/// Where a problem is: a file (or preset) name, and a 1-based line and column when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub origin: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.col) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}", self.origin),
            (Some(l), None) => write!(f, "{}:{l}", self.origin),
            _ => f.write_str(&self.origin),
        }
    }
}

/// One physical-sense problem found by validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted key path, e.g. `memory.bandwidth_gbps` or `cores.matrix_units[0].rows`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
    pub location: Option<Location>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User problem: the file is not TOML, or does not fit the chip format (unknown key, wrong
    /// type, missing key, unknown enum value such as a memory kind).
    #[error("{location}: key `{key}`: {message}")]
    Format {
        location: Location,
        key: String,
        message: String,
    },
    /// User problem: the description parses but makes no physical sense.
    #[error("{}", format_problems(.origin, .problems))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
    /// User problem: neither a preset nor a readable file.
    #[error("unknown chip `{name}`: not a preset and no such file")]
    UnknownChip { name: String, known: Vec<String> },
    /// User problem: the file could not be read.
    #[error("cannot read chip file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn format_problems(origin: &str, problems: &[Problem]) -> String {
    let mut s = format!(
        "invalid chip description {origin}: {} problem{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    s
}

impl Error {
    /// Hints for the CLI's `hint:` lines.
    pub fn hints(&self) -> Vec<String> {
        match self {
            Error::Format { .. } => vec![
                "`seedchip chip schema` prints every key; docs/chip-format.md explains them".into(),
            ],
            Error::Invalid { problems, .. } => {
                problems.iter().filter_map(|p| p.hint.clone()).collect()
            }
            Error::UnknownChip { known, .. } => {
                vec![
                    format!("presets: {}", known.join(", ")),
                    "or give a path to a .toml file".into(),
                ]
            }
            Error::Io { .. } => vec![],
        }
    }
}
