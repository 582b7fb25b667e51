//! Turning ONNX tensor names into IR names.
//!
//! IR names use only `[A-Za-z0-9_./-]` and are unique across inputs, parameters and results
//! (they key procedural weights and `.npz` entries), while ONNX allows any string: PyTorch
//! writes `onnx::Gemm_12`, `/bot/Relu_output_0` or bare numbers. Sanitizing maps every other
//! character to `_`; collisions get a numeric suffix.

use std::collections::BTreeSet;

use seedchip_ir::verify::is_valid_name;

pub(crate) fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "t".to_string() } else { s }
}

/// Hands out unique IR names.
///
/// ONNX tensor names are reserved up front, so a helper value the importer invents (an
/// intermediate of a multi-op lowering) never takes the name a later tensor would claim.
#[derive(Debug, Default)]
pub(crate) struct Names {
    used: BTreeSet<String>,
    reserved: BTreeSet<String>,
}

impl Names {
    pub(crate) fn reserve<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        self.reserved.extend(names.into_iter().map(sanitize));
    }

    /// The name of an ONNX tensor: its sanitized form, or a suffixed one if that is taken.
    pub(crate) fn claim(&mut self, want: &str) -> String {
        let base = sanitize(want);
        if self.used.insert(base.clone()) {
            return base;
        }
        self.suffixed(&base)
    }

    /// A unique name derived from `want` that no ONNX tensor will claim.
    pub(crate) fn fresh(&mut self, want: &str) -> String {
        let base = sanitize(want);
        if !self.reserved.contains(&base) && self.used.insert(base.clone()) {
            return base;
        }
        self.suffixed(&base)
    }

    fn suffixed(&mut self, base: &str) -> String {
        let name = (1u64..)
            .map(|i| format!("{base}_{i}"))
            .find(|n| !self.used.contains(n) && !self.reserved.contains(n))
            .expect("an unused suffix exists");
        debug_assert!(is_valid_name(&name));
        self.used.insert(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_and_dedups() {
        assert_eq!(sanitize("onnx::Gemm_12"), "onnx__Gemm_12");
        assert_eq!(sanitize("/bot/Relu_output_0"), "/bot/Relu_output_0");
        assert_eq!(sanitize(""), "t");
        assert_eq!(sanitize("a b:c"), "a_b_c");
        let mut n = Names::default();
        n.reserve(["later"]);
        assert_eq!(n.claim("x:y"), "x_y");
        assert_eq!(n.claim("x_y"), "x_y_1");
        assert_eq!(n.fresh("x:y"), "x_y_2");
        assert_eq!(n.fresh("later"), "later_1");
        assert_eq!(n.claim("later"), "later");
        assert!(is_valid_name(&n.fresh("∂")));
    }
}
