//! Element types, dimensions and tensor types.
//!
//! Shapes carry a *symbolic* batch dimension so one graph serves every batch size: the executor
//! binds `B` when it sees the inputs, and the compiler can specialize it later.

use std::fmt;

use serde::Serialize;

/// Element type of a value.
///
/// Parameters are always f32 in the graph (files may store f16; they are widened on load).
/// Integer types exist for index inputs; the half types exist so lowered graphs can be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F16,
    BF16,
    I32,
    I64,
}

impl DType {
    pub const ALL: [DType; 5] = [DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64];

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I32 => "i32",
            DType::I64 => "i64",
        }
    }

    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One dimension of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
    /// The batch size, unknown until execution. Written `B`.
    Batch,
    /// A length known only at run time and unrelated to the batch, such as the total number of
    /// lookups in a ragged (offsets-style) index list. Written `?`. Only embedding-bag indices
    /// may carry it, so no other op has to reason about unknown sizes.
    Dyn,
    /// A compile-time constant.
    Fixed(u64),
}

impl Dim {
    pub fn fixed(self) -> Option<u64> {
        match self {
            Dim::Fixed(n) => Some(n),
            _ => None,
        }
    }

    /// Concrete size for a given batch; `None` for [`Dim::Dyn`].
    pub fn resolve(self, batch: u64) -> Option<u64> {
        match self {
            Dim::Batch => Some(batch),
            Dim::Fixed(n) => Some(n),
            Dim::Dyn => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Batch => f.write_str("B"),
            Dim::Dyn => f.write_str("?"),
            Dim::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// Dtype plus shape of a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

impl TensorType {
    pub fn new(dtype: DType, shape: Vec<Dim>) -> Self {
        TensorType { dtype, shape }
    }

    /// `dtype[B, dims...]`: the common shape of per-sample activations.
    pub fn batched(dtype: DType, dims: &[u64]) -> Self {
        let mut shape = Vec::with_capacity(dims.len() + 1);
        shape.push(Dim::Batch);
        shape.extend(dims.iter().map(|&d| Dim::Fixed(d)));
        TensorType { dtype, shape }
    }

    /// A shape with no symbolic dimensions (parameters).
    pub fn fixed(dtype: DType, dims: &[u64]) -> Self {
        TensorType {
            dtype,
            shape: dims.iter().map(|&d| Dim::Fixed(d)).collect(),
        }
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn has_batch(&self) -> bool {
        self.shape.contains(&Dim::Batch)
    }

    /// Product of the fixed dimensions; symbolic ones count as 1. Used for per-sample sizes.
    pub fn fixed_numel(&self) -> u64 {
        self.shape.iter().map(|d| d.fixed().unwrap_or(1)).product()
    }

    /// Element count for a given batch, `None` when a `?` dimension is present or it overflows.
    pub fn numel(&self, batch: u64) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(d.resolve(batch)?))
    }

    /// Concrete shape for a given batch.
    pub fn resolve(&self, batch: u64) -> Option<Vec<u64>> {
        self.shape.iter().map(|d| d.resolve(batch)).collect()
    }

    pub fn last_dim(&self) -> Option<Dim> {
        self.shape.last().copied()
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[", self.dtype)?;
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_numel() {
        let t = TensorType::batched(DType::F32, &[26, 128]);
        assert_eq!(t.to_string(), "f32[B, 26, 128]");
        assert_eq!(t.numel(4), Some(4 * 26 * 128));
        assert_eq!(t.fixed_numel(), 26 * 128);
        let s = TensorType::new(DType::I64, vec![Dim::Dyn]);
        assert_eq!(s.to_string(), "i64[?]");
        assert_eq!(s.numel(4), None);
        assert_eq!(TensorType::fixed(DType::F32, &[]).to_string(), "f32[]");
    }

    #[test]
    fn dtype_names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        assert_eq!(DType::from_name("f64"), None);
    }
}
