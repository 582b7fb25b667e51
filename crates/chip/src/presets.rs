//! Chip presets compiled into the binary. Each TOML file cites its sources in its header.

use crate::{Chip, from_toml_str};

const PRESETS: [(&str, &str); 5] = [
    ("seedchip-v1", include_str!("presets/seedchip-v1.toml")),
    ("tpu-v1", include_str!("presets/tpu-v1.toml")),
    ("tpu-v4i", include_str!("presets/tpu-v4i.toml")),
    ("mtia-v1", include_str!("presets/mtia-v1.toml")),
    ("mtia-v2", include_str!("presets/mtia-v2.toml")),
];

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of a preset, with its source comments.
pub fn source(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A resolved, validated preset. Presets are checked by tests, so a failure here is our bug.
pub fn get(name: &str) -> Option<Chip> {
    let text = source(name)?;
    Some(
        from_toml_str(text, &format!("preset:{name}"))
            .unwrap_or_else(|e| panic!("built-in preset {name} is invalid: {e}")),
    )
}

pub fn all() -> Vec<Chip> {
    names().into_iter().filter_map(get).collect()
}
