//! Results files: JSON Lines, one [`Record`](crate::eval::Record) per point, appended as points
//! finish and rewritten sorted by point id when a run completes. Reading tolerates a truncated
//! last line (a run killed mid-write): it is dropped and that point is evaluated again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::eval::Record;

/// The lines of a results file by point id, and how many bytes of it are whole lines.
#[derive(Debug, Default)]
pub struct Lines {
    pub by_id: BTreeMap<String, (Record, String)>,
    pub valid_bytes: u64,
    /// A partial last line was found (and is not in `by_id`).
    pub truncated: bool,
    pub sweep: Option<String>,
}

/// Reads a results file. `expect_sweep`: refuse lines of another sweep.
pub fn read(path: &Path, expect_sweep: Option<&str>) -> Result<Lines, Error> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && expect_sweep.is_some() => {
            return Ok(Lines::default());
        }
        Err(source) => {
            return Err(Error::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    parse(&bytes, &path.display().to_string(), expect_sweep)
}

/// Parses the bytes of a results file (see [`read`]); `origin` names it in messages. Kept apart
/// from the file read so the parser can be fuzzed in memory.
pub fn parse(bytes: &[u8], origin: &str, expect_sweep: Option<&str>) -> Result<Lines, Error> {
    let mut out = Lines::default();
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < bytes.len() {
        line_no += 1;
        let Some(len) = bytes[start..].iter().position(|&b| b == b'\n') else {
            out.truncated = true;
            break;
        };
        let raw = &bytes[start..start + len];
        let bad = |message: String| Error::Results {
            location: format!("{origin}:{line_no}"),
            message,
        };
        let text = std::str::from_utf8(raw).map_err(|_| bad("not UTF-8".into()))?;
        if text.trim().is_empty() {
            start += len + 1;
            out.valid_bytes = start as u64;
            continue;
        }
        let rec: Record =
            serde_json::from_str(text).map_err(|e| bad(format!("not a sweep result line: {e}")))?;
        if rec.schema_version != crate::SCHEMA_VERSION {
            return Err(bad(format!(
                "schema_version {} (this seedchip writes {})",
                rec.schema_version,
                crate::SCHEMA_VERSION
            )));
        }
        let sweep = expect_sweep
            .map(str::to_string)
            .or_else(|| out.sweep.clone())
            .unwrap_or_else(|| rec.sweep.clone());
        if rec.sweep != sweep {
            return Err(bad(format!(
                "written by another sweep (sweep hash {}, expected {sweep}): the base chip, \
                 models, evaluation settings or constraints differ",
                rec.sweep
            )));
        }
        out.sweep = Some(sweep);
        match out.by_id.get(&rec.id) {
            Some((_, prev)) if prev != text => {
                return Err(bad(format!(
                    "point {} appears twice with different results",
                    rec.id
                )));
            }
            Some(_) => {}
            None => {
                out.by_id.insert(rec.id.clone(), (rec, text.to_string()));
            }
        }
        start += len + 1;
        out.valid_bytes = start as u64;
    }
    Ok(out)
}

/// Writes next to the target and renames, so a reader never sees a half-written file.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = temp_path(path);
    let res = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, path));
    res.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    })
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or("results".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The sorted text of a set of lines: one per point, by id.
pub fn sorted_text(by_id: &BTreeMap<String, (Record, String)>) -> String {
    let mut s = String::new();
    for (_, line) in by_id.values() {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// An open results file that lines are appended to.
#[derive(Debug)]
pub struct Appender {
    file: std::fs::File,
    path: PathBuf,
}

impl Appender {
    /// Opens for appending after cutting the file to its whole lines.
    pub fn open(path: &Path, valid_bytes: u64) -> Result<Appender, Error> {
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if file.metadata().map_err(io)?.len() != valid_bytes {
            file.set_len(valid_bytes).map_err(io)?;
        }
        Ok(Appender {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one line in one write.
    pub fn push(&mut self, line: &str) -> Result<(), Error> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.file
            .write_all(&buf)
            .and_then(|_| self.file.flush())
            .map_err(|source| Error::Io {
                path: self.path.display().to_string(),
                source,
            })
    }
}

/// `sweep merge`: the union of results files, deduplicated, sorted by point id.
pub fn merge(inputs: &[PathBuf]) -> Result<(String, MergeStats), Error> {
    let mut all: BTreeMap<String, (Record, String)> = BTreeMap::new();
    let mut sweep: Option<String> = None;
    let mut stats = MergeStats::default();
    for path in inputs {
        let lines = read(path, None)?;
        if lines.truncated {
            stats.truncated.push(path.display().to_string());
        }
        if let (Some(a), Some(b)) = (&sweep, &lines.sweep)
            && a != b
        {
            return Err(Error::Results {
                location: path.display().to_string(),
                message: format!(
                    "written by another sweep (sweep hash {b}, the files before it have {a})"
                ),
            });
        }
        if sweep.is_none() {
            sweep = lines.sweep.clone();
        }
        for (id, (rec, line)) in lines.by_id {
            stats.lines += 1;
            match all.get(&id) {
                Some((_, prev)) if *prev != line => {
                    return Err(Error::Results {
                        location: path.display().to_string(),
                        message: format!(
                            "point {id} has different results than in an earlier file"
                        ),
                    });
                }
                Some(_) => stats.duplicates += 1,
                None => {
                    all.insert(id, (rec, line));
                }
            }
        }
    }
    stats.points = all.len();
    Ok((sorted_text(&all), stats))
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeStats {
    pub lines: usize,
    pub duplicates: usize,
    pub points: usize,
    /// Inputs whose last line was cut off (dropped).
    pub truncated: Vec<String>,
}
