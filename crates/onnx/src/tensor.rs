//! Constant tensors: decoding `TensorProto`s (inline or external data) and the small value type
//! constant folding works on.
//!
//! Integer elements are [`Sym`]s rather than plain `i64` so that shape computations
//! (`Shape` → `Gather` → `Concat` → `Reshape`, as PyTorch exports `x.view(x.size(0), -1)`) fold
//! even though the batch size is unknown: the batch travels through them as a symbol.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::proto::{DataLocation, DataType, TensorProto};

/// The most elements a folded constant may hold: folding runs on untrusted sizes (a `Range` to
/// 2^40), so it is bounded; real shape and index constants are far smaller.
pub(crate) const MAX_FOLD_ELEMENTS: usize = 1 << 26;

/// An integer element: a number, the batch size, or a run-time length unrelated to the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sym {
    Known(i64),
    Batch,
    Dyn,
}

impl Sym {
    pub(crate) fn known(self) -> Option<i64> {
        match self {
            Sym::Known(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    F32(Vec<f32>),
    /// Every integer type and bool.
    Int(Vec<Sym>),
}

/// A constant tensor (row-major).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Const {
    pub dims: Vec<usize>,
    pub data: Data,
}

impl Const {
    pub(crate) fn f32(dims: Vec<usize>, v: Vec<f32>) -> Self {
        debug_assert_eq!(dims.iter().product::<usize>(), v.len());
        Const {
            dims,
            data: Data::F32(v),
        }
    }

    pub(crate) fn int(dims: Vec<usize>, v: Vec<Sym>) -> Self {
        debug_assert_eq!(dims.iter().product::<usize>(), v.len());
        Const {
            dims,
            data: Data::Int(v),
        }
    }

    pub(crate) fn ints(dims: Vec<usize>, v: &[i64]) -> Self {
        Const::int(dims, v.iter().map(|&x| Sym::Known(x)).collect())
    }

    pub(crate) fn numel(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }

    pub(crate) fn is_float(&self) -> bool {
        matches!(self.data, Data::F32(_))
    }

    /// Integer elements that must all be known (axes, split sizes, gather indices).
    pub(crate) fn known_ints(&self) -> Result<Vec<i64>, String> {
        match &self.data {
            Data::Int(v) => v
                .iter()
                .map(|s| {
                    s.known()
                        .ok_or_else(|| "depends on the batch size or a run-time length".into())
                })
                .collect(),
            Data::F32(_) => Err("expected an integer tensor, got a float one".into()),
        }
    }

    /// Elements as f32 (integers converted; symbols are an error).
    pub(crate) fn to_f32(&self) -> Result<Vec<f32>, String> {
        match &self.data {
            Data::F32(v) => Ok(v.clone()),
            Data::Int(_) => Ok(self.known_ints()?.iter().map(|&x| x as f32).collect()),
        }
    }

    pub(crate) fn syms(&self) -> Result<Vec<Sym>, String> {
        match &self.data {
            Data::Int(v) => Ok(v.clone()),
            Data::F32(_) => Err("expected an integer tensor, got a float one".into()),
        }
    }
}

/// Where an externally stored tensor's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct External {
    /// As written in the model (relative to the model's directory).
    pub location: String,
    pub offset: u64,
    pub length: Option<u64>,
}

pub(crate) fn is_external(t: &TensorProto) -> bool {
    t.data_location == DataLocation::External as i32
}

pub(crate) fn external_of(t: &TensorProto) -> Result<External, Error> {
    let err = |message: String| Error::Tensor {
        name: t.name.clone(),
        message,
    };
    let mut location = None;
    let mut offset = 0;
    let mut length = None;
    for kv in &t.external_data {
        let num = || {
            kv.value.parse::<u64>().map_err(|_| {
                err(format!(
                    "external_data {} = {:?} is not a number",
                    kv.key, kv.value
                ))
            })
        };
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => offset = num()?,
            "length" => length = Some(num()?),
            _ => {}
        }
    }
    let location = location
        .filter(|l| !l.is_empty())
        .ok_or_else(|| err("external data without a location".into()))?;
    Ok(External {
        location,
        offset,
        length,
    })
}

/// Resolves an external-data location against the model's directory.
pub(crate) fn external_path(base_dir: Option<&Path>, location: &str) -> PathBuf {
    match base_dir {
        Some(d) => d.join(location),
        None => PathBuf::from(location),
    }
}

/// Bytes per element of the types we decode, `None` for the rest.
pub(crate) fn elem_size(data_type: i32) -> Option<usize> {
    let t = DataType::try_from(data_type).ok()?;
    Some(match t {
        DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
        DataType::Uint8 | DataType::Int8 | DataType::Bool => 1,
        DataType::Uint16 | DataType::Int16 | DataType::Float16 | DataType::Bfloat16 => 2,
        DataType::Int64 | DataType::Double | DataType::Uint64 => 8,
        _ => return None,
    })
}

pub(crate) fn type_name(data_type: i32) -> String {
    DataType::try_from(data_type)
        .map(|t| t.as_str_name().to_lowercase())
        .unwrap_or_else(|_| format!("type {data_type}"))
}

pub(crate) fn is_float_type(data_type: i32) -> bool {
    matches!(
        DataType::try_from(data_type),
        Ok(DataType::Float | DataType::Float16 | DataType::Bfloat16 | DataType::Double)
    )
}

/// Checked dims of a tensor proto.
pub(crate) fn dims_of(t: &TensorProto) -> Result<(Vec<usize>, usize), Error> {
    let err = |message: String| Error::Tensor {
        name: t.name.clone(),
        message,
    };
    let mut dims = Vec::with_capacity(t.dims.len());
    let mut numel: usize = 1;
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| err(format!("negative dimension {d}")))?;
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| err("element count overflows".into()))?;
        dims.push(d);
    }
    Ok((dims, numel))
}

/// Reads `len` bytes of an external-data file, checking it is long enough.
pub(crate) fn read_external(
    name: &str,
    ext: &External,
    base_dir: Option<&Path>,
    len: u64,
) -> Result<Vec<u8>, Error> {
    let path = external_path(base_dir, &ext.location);
    check_external(name, ext, base_dir, len)?;
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = File::open(&path).map_err(io)?;
    f.seek(SeekFrom::Start(ext.offset)).map_err(io)?;
    let n = usize::try_from(len).map_err(|_| Error::Tensor {
        name: name.into(),
        message: "external data too large for this machine".into(),
    })?;
    let mut buf = vec![0u8; n];
    f.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}

/// Checks that an external-data file exists and holds `len` bytes at the tensor's offset.
pub(crate) fn check_external(
    name: &str,
    ext: &External,
    base_dir: Option<&Path>,
    len: u64,
) -> Result<(), Error> {
    let path = external_path(base_dir, &ext.location);
    let err = |message: String| Error::Tensor {
        name: name.into(),
        message,
    };
    // As the ONNX specification requires (and onnxruntime enforces), external data lives in
    // the model's directory or below: an absolute path or a `..` would let a model file make
    // the importer read any file on the machine.
    let loc = Path::new(&ext.location);
    if loc.is_absolute()
        || loc.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        return Err(err(format!(
            "external data location `{}` must be a relative path inside the model's directory",
            ext.location
        )));
    }
    if let Some(l) = ext.length
        && l != len
    {
        return Err(err(format!(
            "external data length is {l} bytes but the shape and type need {len}"
        )));
    }
    let meta = std::fs::metadata(&path).map_err(|e| {
        err(format!(
            "external data file {} cannot be read: {e}",
            path.display()
        ))
    })?;
    let end = ext
        .offset
        .checked_add(len)
        .ok_or_else(|| err("external data offset overflows".into()))?;
    if meta.len() < end {
        return Err(err(format!(
            "external data file {} holds {} bytes, the tensor needs bytes {}..{end}",
            path.display(),
            meta.len(),
            ext.offset
        )));
    }
    Ok(())
}

/// Decodes any supported tensor proto into a [`Const`] (reading external data if needed).
pub(crate) fn decode(t: &TensorProto, base_dir: Option<&Path>) -> Result<Const, Error> {
    let err = |message: String| Error::Tensor {
        name: t.name.clone(),
        message,
    };
    let (dims, numel) = dims_of(t)?;
    let size = elem_size(t.data_type).ok_or_else(|| {
        err(format!(
            "element type {} is not supported (float, float16, bfloat16, double and integer types are)",
            type_name(t.data_type)
        ))
    })?;
    if numel > MAX_FOLD_ELEMENTS * 4 {
        return Err(err(format!(
            "{numel} elements is more than the importer handles"
        )));
    }
    let external;
    let raw: Option<&[u8]> = if is_external(t) {
        let ext = external_of(t)?;
        let len = (numel as u64)
            .checked_mul(size as u64)
            .ok_or_else(|| err("size overflows".into()))?;
        external = read_external(&t.name, &ext, base_dir, len)?;
        Some(&external)
    } else if !t.raw_data.is_empty() || numel == 0 {
        Some(&t.raw_data)
    } else {
        None
    };
    let dt = DataType::try_from(t.data_type).expect("elem_size accepted it");
    if let Some(raw) = raw {
        if raw.len() != numel * size {
            return Err(err(format!(
                "raw data holds {} bytes, the shape {:?} of {} needs {}",
                raw.len(),
                dims,
                type_name(t.data_type),
                numel * size
            )));
        }
        return Ok(match dt {
            DataType::Float => Const::f32(
                dims,
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DataType::Double => Const::f32(
                dims,
                raw.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect(),
            ),
            DataType::Float16 => Const::f32(
                dims,
                raw.chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
            ),
            DataType::Bfloat16 => Const::f32(
                dims,
                raw.chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
            ),
            _ => {
                let ints: Vec<i64> = raw
                    .chunks_exact(size)
                    .map(|c| match dt {
                        DataType::Uint8 | DataType::Bool => i64::from(c[0]),
                        DataType::Int8 => i64::from(c[0] as i8),
                        DataType::Uint16 => i64::from(u16::from_le_bytes([c[0], c[1]])),
                        DataType::Int16 => i64::from(i16::from_le_bytes([c[0], c[1]])),
                        DataType::Int32 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                        DataType::Uint32 => i64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                        // u64 above i64::MAX wraps; such values never index or shape anything.
                        _ => i64::from_le_bytes(c.try_into().expect("8 bytes")),
                    })
                    .collect();
                Const::ints(dims, &ints)
            }
        });
    }
    let check = |len: usize, field: &str| {
        if len == numel {
            Ok(())
        } else {
            Err(err(format!(
                "{field} holds {len} values, the shape {dims:?} needs {numel}"
            )))
        }
    };
    Ok(match dt {
        DataType::Float => {
            check(t.float_data.len(), "float_data")?;
            Const::f32(dims, t.float_data.clone())
        }
        DataType::Double => {
            check(t.double_data.len(), "double_data")?;
            Const::f32(dims, t.double_data.iter().map(|&x| x as f32).collect())
        }
        DataType::Float16 | DataType::Bfloat16 => {
            check(t.int32_data.len(), "int32_data")?;
            let bf = dt == DataType::Bfloat16;
            Const::f32(
                dims,
                t.int32_data
                    .iter()
                    .map(|&b| {
                        let bits = b as u16;
                        if bf {
                            half::bf16::from_bits(bits).to_f32()
                        } else {
                            half::f16::from_bits(bits).to_f32()
                        }
                    })
                    .collect(),
            )
        }
        DataType::Int64 => {
            check(t.int64_data.len(), "int64_data")?;
            Const::ints(dims, &t.int64_data)
        }
        DataType::Uint32 | DataType::Uint64 => {
            check(t.uint64_data.len(), "uint64_data")?;
            let v: Vec<i64> = t.uint64_data.iter().map(|&x| x as i64).collect();
            Const::ints(dims, &v)
        }
        _ => {
            check(t.int32_data.len(), "int32_data")?;
            let v: Vec<i64> = t.int32_data.iter().map(|&x| i64::from(x)).collect();
            Const::ints(dims, &v)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(dt: DataType, dims: &[i64]) -> TensorProto {
        TensorProto {
            name: "t".into(),
            data_type: dt as i32,
            dims: dims.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn decodes_raw_and_typed() {
        let mut t = proto(DataType::Float, &[2]);
        t.raw_data = [1.5f32, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(
            decode(&t, None).unwrap(),
            Const::f32(vec![2], vec![1.5, -2.0])
        );
        let mut t = proto(DataType::Int64, &[3]);
        t.int64_data = vec![1, -1, 7];
        assert_eq!(decode(&t, None).unwrap(), Const::ints(vec![3], &[1, -1, 7]));
        let mut t = proto(DataType::Int32, &[]);
        t.raw_data = (-3i32).to_le_bytes().to_vec();
        assert_eq!(decode(&t, None).unwrap(), Const::ints(vec![], &[-3]));
        let mut t = proto(DataType::Float16, &[1]);
        t.int32_data = vec![i32::from(half::f16::from_f32(0.5).to_bits())];
        assert_eq!(decode(&t, None).unwrap(), Const::f32(vec![1], vec![0.5]));
    }

    #[test]
    fn rejects_short_data_and_bad_types() {
        let mut t = proto(DataType::Float, &[4]);
        t.raw_data = vec![0; 12];
        assert!(
            decode(&t, None)
                .unwrap_err()
                .to_string()
                .contains("needs 16")
        );
        let t = proto(DataType::String, &[1]);
        assert!(
            decode(&t, None)
                .unwrap_err()
                .to_string()
                .contains("not supported")
        );
        let t = proto(DataType::Float, &[-1]);
        assert!(
            decode(&t, None)
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        let t = proto(DataType::Float, &[1 << 40, 1 << 40]);
        assert!(decode(&t, None).is_err());
    }

    #[test]
    fn missing_external_file_is_named() {
        let mut t = proto(DataType::Float, &[2]);
        t.data_location = DataLocation::External as i32;
        t.external_data = vec![crate::proto::StringStringEntryProto {
            key: "location".into(),
            value: "no-such-file.bin".into(),
        }];
        let e = decode(&t, Some(Path::new("/nonexistent")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no-such-file.bin"), "{e}");
    }
}
