//! A plain tensor: a shape and a flat row-major buffer.
//!
//! Kept deliberately simple (no strides, no views) so data moves between the executor, `.npz`
//! files and other executors without hidden layout rules.

use seedchip_ir::DType;

#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

impl Tensor {
    /// `None` when the buffer length does not match the shape.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Option<Self> {
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        let len = match &data {
            TensorData::F32(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I64(v) => v.len(),
        };
        (n == len).then_some(Tensor { shape, data })
    }

    pub fn from_f32(shape: Vec<usize>, data: Vec<f32>) -> Option<Self> {
        Self::new(shape, TensorData::F32(data))
    }

    pub fn from_i64(shape: Vec<usize>, data: Vec<i64>) -> Option<Self> {
        Self::new(shape, TensorData::I64(data))
    }

    pub fn from_i32(shape: Vec<usize>, data: Vec<i32>) -> Option<Self> {
        Self::new(shape, TensorData::I32(data))
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn data(&self) -> &TensorData {
        &self.data
    }

    pub fn into_data(self) -> TensorData {
        self.data
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn dtype(&self) -> DType {
        match self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
        }
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }

    /// Element `i` of an integer tensor widened to i64.
    pub fn index_at(&self, i: usize) -> Option<i64> {
        match &self.data {
            TensorData::I32(v) => v.get(i).map(|&x| i64::from(x)),
            TensorData::I64(v) => v.get(i).copied(),
            TensorData::F32(_) => None,
        }
    }

    /// Integer contents widened to i64 (`None` for float tensors).
    pub fn indices(&self) -> Option<std::borrow::Cow<'_, [i64]>> {
        match &self.data {
            TensorData::I64(v) => Some(std::borrow::Cow::Borrowed(v)),
            TensorData::I32(v) => Some(std::borrow::Cow::Owned(
                v.iter().map(|&x| i64::from(x)).collect(),
            )),
            TensorData::F32(_) => None,
        }
    }

    /// Shape as text, numpy style: `[512, 13]`.
    pub fn shape_text(&self) -> String {
        format!("{:?}", self.shape)
    }

    /// A 64-bit FNV-1a hash over dtype, shape and the raw little-endian bytes: equal checksums
    /// mean bit-identical tensors, which is what determinism checks compare.
    pub fn checksum(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01B3);
            }
        };
        eat(self.dtype().name().as_bytes());
        for &d in &self.shape {
            eat(&(d as u64).to_le_bytes());
        }
        match &self.data {
            TensorData::F32(v) => v.iter().for_each(|x| eat(&x.to_le_bytes())),
            TensorData::I32(v) => v.iter().for_each(|x| eat(&x.to_le_bytes())),
            TensorData::I64(v) => v.iter().for_each(|x| eat(&x.to_le_bytes())),
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_checks_length() {
        assert!(Tensor::from_f32(vec![2, 3], vec![0.0; 6]).is_some());
        assert!(Tensor::from_f32(vec![2, 3], vec![0.0; 5]).is_none());
        assert!(Tensor::from_i64(vec![], vec![7]).is_some());
    }

    #[test]
    fn checksum_sees_bits_shape_and_dtype() {
        let a = Tensor::from_f32(vec![2], vec![0.0, 1.0]).unwrap();
        let b = Tensor::from_f32(vec![2], vec![-0.0, 1.0]).unwrap();
        let c = Tensor::from_f32(vec![1, 2], vec![0.0, 1.0]).unwrap();
        assert_ne!(a.checksum(), b.checksum());
        assert_ne!(a.checksum(), c.checksum());
        assert_eq!(a.checksum(), a.clone().checksum());
        let i = Tensor::from_i32(vec![2], vec![3, -1]).unwrap();
        assert_eq!(i.indices().unwrap().as_ref(), &[3, -1]);
    }
}
