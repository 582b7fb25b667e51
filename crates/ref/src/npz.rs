//! `.npy` / `.npz` reading and writing for model inputs and outputs.
//!
//! numpy's `np.savez` writes stored (uncompressed) zip entries named `<key>.npy`;
//! `np.savez_compressed` uses deflate. Both read here. We write stored entries with a fixed
//! timestamp and sorted keys, so the same tensors always produce the same bytes.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek, Write};
use std::path::Path;

use seedchip_ir::npy::{NpyDType, read_header, write_header};

use crate::Error;
use crate::tensor::{Tensor, TensorData};

fn npz_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Npz {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Serializes one tensor as `.npy` bytes.
pub fn npy_bytes(t: &Tensor) -> Vec<u8> {
    let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
    let (dtype, body): (NpyDType, Vec<u8>) = match t.data() {
        TensorData::F32(v) => (
            NpyDType::F32,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        TensorData::I32(v) => (
            NpyDType::I32,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        TensorData::I64(v) => (
            NpyDType::I64,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    };
    let mut out = write_header(dtype, &shape);
    out.extend_from_slice(&body);
    out
}

/// Parses `.npy` bytes. f16 arrays are widened to f32 (lossless); other dtypes are rejected by
/// the header reader with a message naming them.
pub fn parse_npy(mut bytes: &[u8]) -> Result<Tensor, String> {
    let h = read_header(&mut bytes)?;
    let shape: Vec<usize> = h
        .shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| "dimension too large".to_string()))
        .collect::<Result<_, _>>()?;
    let n = h
        .numel()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or("array too large")?;
    let need = n
        .checked_mul(h.dtype.size_bytes())
        .ok_or("array too large")?;
    if bytes.len() < need {
        return Err(format!(
            "array data is truncated: {} bytes for {n} elements of {}",
            bytes.len(),
            h.dtype.descr()
        ));
    }
    let body = &bytes[..need];
    let data = match h.dtype {
        NpyDType::F32 => TensorData::F32(
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        NpyDType::F16 => TensorData::F32(
            body.chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        ),
        NpyDType::I32 => TensorData::I32(
            body.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        NpyDType::I64 => TensorData::I64(
            body.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
    };
    Tensor::new(shape, data).ok_or_else(|| "shape and data disagree".to_string())
}

/// Reads every array of an `.npz` archive, keyed by name without the `.npy` suffix.
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, Tensor>, Error> {
    let file = std::fs::File::open(path).map_err(|e| npz_err(path, format!("cannot open: {e}")))?;
    read_npz_from(std::io::BufReader::new(file), path)
}

/// Like [`read_npz`] from any seekable reader; `path` is only used in messages.
pub fn read_npz_from<R: Read + Seek>(
    reader: R,
    path: &Path,
) -> Result<BTreeMap<String, Tensor>, Error> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| npz_err(path, format!("not a valid .npz (zip) file: {e}")))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| npz_err(path, format!("entry {i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 30));
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| npz_err(path, format!("reading '{name}': {e}")))?;
        let t = parse_npy(&bytes).map_err(|m| npz_err(path, format!("array '{key}': {m}")))?;
        if out.insert(key.clone(), t).is_some() {
            return Err(npz_err(path, format!("array '{key}' appears twice")));
        }
    }
    Ok(out)
}

/// `.npz` bytes for the given arrays (stored entries, fixed timestamps, sorted by key).
pub fn npz_bytes(arrays: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .large_file(false);
    for (name, t) in arrays {
        let bytes = npy_bytes(t);
        let opts = if bytes.len() as u64 >= u64::from(u32::MAX) {
            opts.large_file(true)
        } else {
            opts
        };
        zip.start_file(format!("{name}.npy"), opts)
            .map_err(|e| format!("array '{name}': {e}"))?;
        zip.write_all(&bytes)
            .map_err(|e| format!("array '{name}': {e}"))?;
    }
    let cursor = zip.finish().map_err(|e| e.to_string())?;
    Ok(cursor.into_inner())
}

pub fn write_npz(path: &Path, arrays: &BTreeMap<String, Tensor>) -> Result<(), Error> {
    let bytes = npz_bytes(arrays).map_err(|m| npz_err(path, m))?;
    std::fs::write(path, bytes).map_err(|e| npz_err(path, format!("cannot write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npz_round_trip_is_byte_stable() {
        let mut m = BTreeMap::new();
        m.insert(
            "dense".to_string(),
            Tensor::from_f32(vec![2, 3], vec![1.0, -2.5, 0.0, 3.25, 1e-8, -0.0]).unwrap(),
        );
        m.insert(
            "t0".to_string(),
            Tensor::from_i64(vec![2, 1], vec![5, 1 << 40]).unwrap(),
        );
        m.insert(
            "t1".to_string(),
            Tensor::from_i32(vec![3], vec![-1, 0, 7]).unwrap(),
        );
        m.insert(
            "s".to_string(),
            Tensor::from_f32(vec![], vec![4.0]).unwrap(),
        );
        let a = npz_bytes(&m).unwrap();
        let b = npz_bytes(&m).unwrap();
        assert_eq!(a, b);
        let back = read_npz_from(Cursor::new(a), Path::new("mem.npz")).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn garbage_is_an_error() {
        let e = read_npz_from(Cursor::new(b"not a zip".to_vec()), Path::new("x.npz")).unwrap_err();
        assert!(e.to_string().contains("x.npz"), "{e}");
        assert!(parse_npy(b"\x93NUMPY\x01\x00").is_err());
        let mut bytes = npy_bytes(&Tensor::from_f32(vec![4], vec![1.0; 4]).unwrap());
        bytes.truncate(bytes.len() - 1);
        assert!(parse_npy(&bytes).unwrap_err().contains("truncated"));
    }
}
