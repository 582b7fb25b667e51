//! Parameter initializers and their evaluation.
//!
//! Weights must be reproducible by every executor (the f32 reference, the bit-exact functional
//! simulator) without storing them, and an embedding row must be computable on its own: DLRM-v2
//! has 204 M rows × 128 (104 GB in f32). So procedural values are a pure function of
//! `(seed, parameter name, element index)` through a counter-based hash, never a sequential RNG.
//!
//! # The procedural contract (other executors must follow it bit for bit)
//! ```text
//! key    = mix64(seed ^ mix64(fnv1a64(name)))
//! h      = mix64(key + (index + 1) * 0x9E3779B97F4A7C15)       (wrapping u64 arithmetic)
//! i      = (h >> 40) as i32 - 2^23                             (uniform in [-2^23, 2^23))
//! value  = (i as f32) * (bound * 2^-23)                        (one f32 rounding)
//! ```
//! `mix64` is the SplitMix64 finalizer; `index` is the row-major element index. Keying on the
//! name (not the parameter's position) keeps weights stable when passes reorder parameters.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;
use crate::graph::{Graph, ParamId};
use crate::npy;
use crate::types::Dim;

/// Distribution of a procedural parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Distribution {
    /// Uniform on `[-bound, bound)` (24 bits of resolution).
    Uniform { bound: f32 },
}

/// Layout of an external weight file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Raw little-endian f32, row-major, starting at `offset_bytes`.
    F32Le,
    /// Raw little-endian IEEE f16, widened to f32 on load.
    F16Le,
    /// A `.npy` file holding `<f4` or `<f2` with the parameter's shape (or the same element
    /// count); `offset_bytes` must be 0.
    Npy,
}

impl FileFormat {
    pub const ALL: [FileFormat; 3] = [FileFormat::F32Le, FileFormat::F16Le, FileFormat::Npy];

    pub fn name(self) -> &'static str {
        match self {
            FileFormat::F32Le => "f32le",
            FileFormat::F16Le => "f16le",
            FileFormat::Npy => "npy",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        FileFormat::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// Where a parameter's values come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Init {
    /// Values computed on demand from the hash contract above.
    Procedural { seed: u64, dist: Distribution },
    /// Every element equals the constant (LayerNorm gains and biases).
    Fill { value: f32 },
    /// Small constants stored inline (ONNX initializers).
    Data { values: Vec<f32> },
    /// Real weights. A relative path is resolved against the directory given to
    /// [`ParamValues::open`] (the model file's directory).
    File {
        path: String,
        format: FileFormat,
        offset_bytes: u64,
    },
}

impl Init {
    pub fn uniform(seed: u64, bound: f32) -> Self {
        Init::Procedural {
            seed,
            dist: Distribution::Uniform { bound },
        }
    }
}

/// PyTorch's `nn.Linear` default range, `1/sqrt(fan_in)` (kaiming-uniform with a = √5 reduces
/// to this for weights, and it is the bias range).
pub fn linear_bound(fan_in: u64) -> f32 {
    (1.0 / (fan_in.max(1) as f64).sqrt()) as f32
}

/// torchrec's default embedding range, `sqrt(1/rows)`.
pub fn embedding_bound(rows: u64) -> f32 {
    (1.0 / rows.max(1) as f64).sqrt() as f32
}

/// SplitMix64 finalizer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, 64-bit, over the UTF-8 bytes of a name.
pub fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A procedural parameter ready to be sampled: the per-parameter stream key is hashed once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Procedural {
    key: u64,
    step: f32,
}

impl Procedural {
    pub fn new(seed: u64, name: &str, dist: Distribution) -> Self {
        let Distribution::Uniform { bound } = dist;
        Procedural {
            key: mix64(seed ^ mix64(fnv1a64(name))),
            step: bound * (1.0 / 8_388_608.0),
        }
    }

    #[inline]
    pub fn value(&self, index: u64) -> f32 {
        let h = mix64(
            self.key
                .wrapping_add(index.wrapping_add(1).wrapping_mul(GAMMA)),
        );
        let i = (h >> 40) as i32 - (1 << 23);
        i as f32 * self.step
    }

    /// Elements `start..start + out.len()`.
    #[inline]
    pub fn fill(&self, start: u64, out: &mut [f32]) {
        for (o, idx) in out.iter_mut().zip(start..) {
            *o = self.value(idx);
        }
    }
}

/// A parameter's values, accessible row by row without materializing the whole tensor.
///
/// A "row" is one slice along the first axis (`row_len` = product of the other axes); a scalar
/// or 1-D parameter has rows of length 1 and `numel` rows respectively.
#[derive(Debug)]
pub struct ParamValues {
    name: String,
    rows: u64,
    row_len: usize,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Procedural(Procedural),
    Fill(f32),
    Dense(Vec<f32>),
    File {
        file: File,
        path: PathBuf,
        data_offset: u64,
        half: bool,
    },
}

impl ParamValues {
    /// Prepares a parameter for reading. For files this opens the file and checks its size and
    /// header against the parameter's shape, so later row reads can only fail on I/O errors.
    pub fn open(graph: &Graph, id: ParamId, base_dir: Option<&Path>) -> Result<Self, Error> {
        let param = graph.params.get(id.index()).ok_or_else(|| Error::Init {
            param: format!("#{}", id.0),
            message: "no such parameter".into(),
        })?;
        let value = graph
            .values
            .get(param.value.index())
            .ok_or_else(|| Error::Init {
                param: format!("#{}", id.0),
                message: "parameter value is dangling".into(),
            })?;
        let name = value.name.clone();
        let err = |message: String| Error::Init {
            param: name.clone(),
            message,
        };
        let mut dims = Vec::with_capacity(value.ty.shape.len());
        for d in &value.ty.shape {
            match d {
                Dim::Fixed(n) => dims.push(*n),
                other => {
                    return Err(err(format!(
                        "parameter shapes must be fixed, found {other}"
                    )));
                }
            }
        }
        let numel = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| err("too many elements".into()))?;
        let (rows, row_len) = match dims.as_slice() {
            [] => (1, 1),
            [first, rest @ ..] => {
                let rl = rest.iter().product::<u64>();
                (
                    *first,
                    usize::try_from(rl).map_err(|_| err("row too long".into()))?,
                )
            }
        };
        let source = match &param.init {
            Init::Procedural { seed, dist } => {
                let Distribution::Uniform { bound } = dist;
                if !bound.is_finite() || *bound < 0.0 {
                    return Err(err(format!(
                        "uniform bound must be finite and >= 0, got {bound}"
                    )));
                }
                Source::Procedural(Procedural::new(*seed, &name, *dist))
            }
            Init::Fill { value } => Source::Fill(*value),
            Init::Data { values } => {
                if values.len() as u64 != numel {
                    return Err(err(format!(
                        "inline data has {} values but the shape {} holds {numel}",
                        values.len(),
                        value.ty
                    )));
                }
                Source::Dense(values.clone())
            }
            Init::File {
                path,
                format,
                offset_bytes,
            } => {
                let full = match base_dir {
                    Some(dir) if Path::new(path).is_relative() => dir.join(path),
                    _ => PathBuf::from(path),
                };
                let mut file = File::open(&full)
                    .map_err(|e| err(format!("cannot open {}: {e}", full.display())))?;
                let (data_offset, half) = match format {
                    FileFormat::F32Le => (*offset_bytes, false),
                    FileFormat::F16Le => (*offset_bytes, true),
                    FileFormat::Npy => {
                        if *offset_bytes != 0 {
                            return Err(err("offset_bytes must be 0 for npy files".into()));
                        }
                        let h = npy::read_header(&mut file)
                            .map_err(|e| err(format!("{}: {e}", full.display())))?;
                        let half = match h.dtype {
                            npy::NpyDType::F32 => false,
                            npy::NpyDType::F16 => true,
                            other => {
                                return Err(err(format!(
                                    "{}: weights must be <f4 or <f2, found {}",
                                    full.display(),
                                    other.descr()
                                )));
                            }
                        };
                        // The same number of elements in another shape (a transposed matrix)
                        // would load silently as garbage, so the shape must match exactly.
                        if h.shape != dims || h.numel() != Some(numel) {
                            return Err(err(format!(
                                "{}: array shape {:?} does not match parameter shape {}",
                                full.display(),
                                h.shape,
                                value.ty
                            )));
                        }
                        (h.data_offset, half)
                    }
                };
                let elem = if half { 2 } else { 4 };
                let need = numel
                    .checked_mul(elem)
                    .and_then(|b| b.checked_add(data_offset))
                    .ok_or_else(|| err("file size overflows".into()))?;
                let have = file
                    .metadata()
                    .map_err(|e| err(format!("cannot stat {}: {e}", full.display())))?
                    .len();
                // An .npy file holds one array: bytes past it mean the header and the data
                // disagree. Raw files may be larger (a blob with parameters at offsets).
                let mismatch = match format {
                    FileFormat::Npy => have != need,
                    _ => have < need,
                };
                if mismatch {
                    return Err(err(format!(
                        "{} holds {have} bytes but the parameter needs {need} (shape {}, {})",
                        full.display(),
                        value.ty,
                        format.name()
                    )));
                }
                Source::File {
                    file,
                    path: full,
                    data_offset,
                    half,
                }
            }
        };
        Ok(ParamValues {
            name,
            rows,
            row_len,
            source,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn row_len(&self) -> usize {
        self.row_len
    }

    pub fn numel(&self) -> u64 {
        self.rows * self.row_len as u64
    }

    /// The procedural sampler, when values need no storage (lets hot loops skip the match).
    pub fn procedural(&self) -> Option<&Procedural> {
        match &self.source {
            Source::Procedural(p) => Some(p),
            _ => None,
        }
    }

    /// Elements `start..start + out.len()` in row-major order.
    pub fn fill_range(&self, start: u64, out: &mut [f32]) -> Result<(), Error> {
        let end = start
            .checked_add(out.len() as u64)
            .filter(|&e| e <= self.numel());
        if end.is_none() {
            return Err(Error::Init {
                param: self.name.clone(),
                message: format!(
                    "elements {start}..{} are out of range (the parameter has {})",
                    start.saturating_add(out.len() as u64),
                    self.numel()
                ),
            });
        }
        match &self.source {
            Source::Procedural(p) => p.fill(start, out),
            Source::Fill(v) => out.fill(*v),
            Source::Dense(d) => {
                let s = start as usize;
                out.copy_from_slice(&d[s..s + out.len()]);
            }
            Source::File {
                file,
                path,
                data_offset,
                half,
            } => {
                let elem = if *half { 2 } else { 4 };
                let mut buf = vec![0u8; out.len() * elem];
                read_at(file, &mut buf, data_offset + start * elem as u64).map_err(|e| {
                    Error::Init {
                        param: self.name.clone(),
                        message: format!("reading {}: {e}", path.display()),
                    }
                })?;
                if *half {
                    for (o, c) in out.iter_mut().zip(buf.chunks_exact(2)) {
                        *o = half::f16::from_le_bytes([c[0], c[1]]).to_f32();
                    }
                } else {
                    for (o, c) in out.iter_mut().zip(buf.chunks_exact(4)) {
                        *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    }
                }
                // A NaN or infinite weight poisons every output it reaches; name it instead.
                if let Some(i) = out.iter().position(|v| !v.is_finite()) {
                    return Err(Error::Init {
                        param: self.name.clone(),
                        message: format!(
                            "{}: element {} is {}; weights must be finite",
                            path.display(),
                            start + i as u64,
                            out[i]
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// One row (`out.len()` must equal `row_len`).
    pub fn fill_row(&self, row: u64, out: &mut [f32]) -> Result<(), Error> {
        if out.len() != self.row_len || row >= self.rows {
            return Err(Error::Init {
                param: self.name.clone(),
                message: format!(
                    "row {row} with a buffer of {} requested; the parameter has {} rows of {}",
                    out.len(),
                    self.rows,
                    self.row_len
                ),
            });
        }
        self.fill_range(row * self.row_len as u64, out)
    }

    /// All values. Callers decide what is small enough; this refuses nothing but what cannot be
    /// addressed.
    pub fn materialize(&self) -> Result<Vec<f32>, Error> {
        let n = usize::try_from(self.numel()).map_err(|_| Error::Init {
            param: self.name.clone(),
            message: "too large to materialize on this machine".into(),
        })?;
        let mut out = vec![0.0f32; n];
        self.fill_range(0, &mut out)?;
        Ok(out)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    // `&File` implements Read + Seek; a private handle avoids racing other readers' positions.
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedural_is_pure_and_bounded() {
        let p = Procedural::new(7, "t0", Distribution::Uniform { bound: 0.5 });
        let mut a = vec![0.0; 1000];
        p.fill(0, &mut a);
        let mut b = vec![0.0; 10];
        p.fill(500, &mut b);
        assert_eq!(&a[500..510], &b[..]);
        assert!(a.iter().all(|v| (-0.5..0.5).contains(v)));
        let mean: f64 = a.iter().map(|&v| f64::from(v)).sum::<f64>() / 1000.0;
        assert!(mean.abs() < 0.05, "mean {mean}");
        // Roughly uniform: variance of U(-b, b) is b^2/3.
        let var: f64 = a.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 1000.0;
        assert!((var - 0.25 / 3.0).abs() < 0.01, "var {var}");
    }

    #[test]
    fn procedural_depends_on_seed_and_name() {
        let d = Distribution::Uniform { bound: 1.0 };
        let a = Procedural::new(1, "w", d).value(3);
        assert_ne!(a, Procedural::new(2, "w", d).value(3));
        assert_ne!(a, Procedural::new(1, "w2", d).value(3));
        assert_ne!(a, Procedural::new(1, "w", d).value(4));
    }

    #[test]
    fn contract_values_are_pinned() {
        // Other executors reimplement the contract; these values must never change.
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(mix64(0), 0);
        let p = Procedural::new(0, "w", Distribution::Uniform { bound: 1.0 });
        let key = mix64(mix64(fnv1a64("w")));
        let h = mix64(key.wrapping_add(GAMMA));
        let expect = ((h >> 40) as i32 - (1 << 23)) as f32 / 8_388_608.0;
        assert_eq!(p.value(0).to_bits(), expect.to_bits());
    }

    #[test]
    fn default_bounds() {
        assert!((linear_bound(16) - 0.25).abs() < 1e-7);
        assert!((embedding_bound(4) - 0.5).abs() < 1e-7);
        assert_eq!(linear_bound(0), 1.0);
    }
}
