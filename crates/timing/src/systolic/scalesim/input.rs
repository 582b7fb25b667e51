//! SCALE-Sim's input files: the INI config (`configparser` syntax) and topology CSVs.

use std::collections::BTreeMap;

use seedchip_chip::Dataflow;

/// A problem in a SCALE-Sim input file (a user problem), at a 1-based line (0 when the file as
/// a whole is at fault, e.g. a missing key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if *line > 0 { format!("line {line}: ") } else { String::new() })]
pub struct InputError {
    pub line: usize,
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> InputError {
    InputError {
        line,
        message: message.into(),
    }
}

/// SCALE-Sim's `InterfaceBandwidth`: CALC (stall-free, bandwidth estimated) or USER (given
/// bandwidths, stalls modelled by SCALE-Sim, not by us).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BandwidthMode {
    Calc,
    User {
        words_per_cycle: Vec<u64>,
        line: usize,
    },
}

/// The parts of a SCALE-Sim config that decide its reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub run_name: String,
    pub array_rows: u64,
    pub array_cols: u64,
    pub ifmap_sram_kb: u64,
    pub filter_sram_kb: u64,
    pub ofmap_sram_kb: u64,
    pub dataflow: Dataflow,
    pub bandwidth: BandwidthMode,
    /// `UseRamulatorTrace: True`: only meaningful with USER bandwidth; noted, not modelled.
    pub ramulator_trace: bool,
    /// Custom SRAM layouts (bank conflicts): only meaningful with USER bandwidth.
    pub custom_layout: bool,
}

/// One `key = value` with the line it came from.
#[derive(Debug, Clone)]
struct Entry {
    value: String,
    line: usize,
}

/// Parses INI text the way Python's `configparser` reads SCALE-Sim configs: `[section]`
/// headers, `key = value` or `key: value`, `#`/`;` comment lines, case-insensitive keys,
/// indented continuation lines. Duplicate sections or keys are errors (as in `configparser`).
fn parse_ini(text: &str) -> Result<BTreeMap<String, BTreeMap<String, Entry>>, InputError> {
    let mut sections: BTreeMap<String, BTreeMap<String, Entry>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        if indented && let (Some(sec), Some(key)) = (&current, &last_key) {
            let entry = sections
                .get_mut(sec)
                .and_then(|s| s.get_mut(key))
                .expect("continuation follows a stored key");
            entry.value.push('\n');
            entry.value.push_str(trimmed);
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(err(
                    line_no,
                    format!("unterminated section header `{trimmed}`"),
                ));
            };
            let name = name.trim().to_string();
            if sections.contains_key(&name) {
                return Err(err(line_no, format!("section [{name}] appears twice")));
            }
            sections.insert(name.clone(), BTreeMap::new());
            current = Some(name);
            last_key = None;
            continue;
        }
        let Some(sec) = &current else {
            return Err(err(
                line_no,
                format!("`{trimmed}` comes before any [section] header"),
            ));
        };
        let split = trimmed.find(['=', ':']);
        let Some(pos) = split else {
            return Err(err(
                line_no,
                format!("expected `key = value` or `key: value`, found `{trimmed}`"),
            ));
        };
        let key = trimmed[..pos].trim().to_lowercase();
        let value = trimmed[pos + 1..].trim().to_string();
        if key.is_empty() {
            return Err(err(line_no, "empty key before `=`/`:`"));
        }
        let map = sections.get_mut(sec).expect("current section exists");
        if map.contains_key(&key) {
            return Err(err(
                line_no,
                format!("key `{key}` appears twice in [{sec}]"),
            ));
        }
        map.insert(
            key.clone(),
            Entry {
                value,
                line: line_no,
            },
        );
        last_key = Some(key);
    }
    Ok(sections)
}

struct Sections(BTreeMap<String, BTreeMap<String, Entry>>);

impl Sections {
    fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        self.0.get(section)?.get(&key.to_lowercase())
    }

    fn require(&self, section: &str, key: &str) -> Result<&Entry, InputError> {
        if !self.0.contains_key(section) {
            return Err(err(0, format!("missing section [{section}]")));
        }
        self.get(section, key)
            .ok_or_else(|| err(0, format!("missing key `{key}` in [{section}]")))
    }

    fn positive(&self, section: &str, key: &str) -> Result<u64, InputError> {
        let e = self.require(section, key)?;
        match e.value.parse::<u64>() {
            Ok(v) if v >= 1 => Ok(v),
            _ => Err(err(
                e.line,
                format!("`{key}` must be a positive integer, found `{}`", e.value),
            )),
        }
    }

    fn boolean(&self, section: &str, key: &str) -> Result<Option<bool>, InputError> {
        let Some(e) = self.get(section, key) else {
            return Ok(None);
        };
        // configparser's getboolean vocabulary.
        match e.value.to_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Ok(Some(true)),
            "0" | "no" | "false" | "off" => Ok(Some(false)),
            _ => Err(err(
                e.line,
                format!("`{key}` must be true or false, found `{}`", e.value),
            )),
        }
    }
}

/// Most array rows or columns accepted (SCALE-Sim itself allocates per-PE matrices).
const MAX_ARRAY_DIM: u64 = 1 << 16;
/// Largest SRAM accepted, in kB (1 TiB).
const MAX_SRAM_KB: u64 = 1 << 30;

/// Parses a SCALE-Sim config. Keys SCALE-Sim needs but that do not change its stall-free
/// reports (offsets, request buffers, layout banks) are accepted and only checked for type.
pub fn parse_config(text: &str) -> Result<Config, InputError> {
    let s = Sections(parse_ini(text)?);
    let run_name = s.require("general", "run_name")?.value.clone();
    let a = "architecture_presets";
    let array_rows = s.positive(a, "ArrayHeight")?;
    let array_cols = s.positive(a, "ArrayWidth")?;
    for (key, v) in [("ArrayHeight", array_rows), ("ArrayWidth", array_cols)] {
        if v > MAX_ARRAY_DIM {
            let line = s.require(a, key)?.line;
            return Err(err(line, format!("`{key}` = {v} exceeds {MAX_ARRAY_DIM}")));
        }
    }
    let mut kb = [0u64; 3];
    for (slot, key) in kb
        .iter_mut()
        .zip(["IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB"])
    {
        *slot = s.positive(a, key)?;
        if *slot > MAX_SRAM_KB {
            let line = s.require(a, key)?.line;
            return Err(err(line, format!("`{key}` exceeds {MAX_SRAM_KB} kB")));
        }
    }
    for key in [
        "IfmapOffset",
        "FilterOffset",
        "OfmapOffset",
        "ReadRequestBuffer",
        "WriteRequestBuffer",
    ] {
        if let Some(e) = s.get(a, key)
            && e.value.parse::<i64>().is_err()
        {
            return Err(err(
                e.line,
                format!("`{key}` must be an integer, found `{}`", e.value),
            ));
        }
    }
    let df = s.require(a, "Dataflow")?;
    let dataflow = match df.value.as_str() {
        "ws" => Dataflow::Ws,
        "os" => Dataflow::Os,
        "is" => Dataflow::Is,
        other => {
            return Err(err(
                df.line,
                format!("`Dataflow` must be ws, os or is, found `{other}`"),
            ));
        }
    };
    let r = "run_presets";
    let mode = s.require(r, "InterfaceBandwidth")?;
    let bandwidth = match mode.value.as_str() {
        "CALC" => BandwidthMode::Calc,
        "USER" => {
            let bw = s.require(a, "Bandwidth")?;
            let parsed: Result<Vec<u64>, _> = bw
                .value
                .split(',')
                .map(|x| x.trim().parse::<u64>())
                .collect();
            match parsed {
                Ok(v) if !v.is_empty() && v.iter().all(|&x| x > 0) => BandwidthMode::User {
                    words_per_cycle: v,
                    line: mode.line,
                },
                _ => {
                    return Err(err(
                        bw.line,
                        format!(
                            "`Bandwidth` must be positive integers separated by commas, found `{}`",
                            bw.value
                        ),
                    ));
                }
            }
        }
        other => {
            return Err(err(
                mode.line,
                format!("`InterfaceBandwidth` must be CALC or USER, found `{other}`"),
            ));
        }
    };
    let ramulator_trace = match s.get(r, "UseRamulatorTrace") {
        Some(e) => e.value == "True",
        None => false,
    };
    if let Some(true) = s.boolean("sparsity", "SparsitySupport")? {
        let line = s.require("sparsity", "SparsitySupport")?.line;
        return Err(err(
            line,
            "`SparsitySupport: true` is not supported: seedchip times dense GEMMs",
        ));
    }
    let custom_layout = s.boolean("layout", "IfmapCustomLayout")?.unwrap_or(false)
        || s.boolean("layout", "FilterCustomLayout")?.unwrap_or(false);
    Ok(Config {
        run_name,
        array_rows,
        array_cols,
        ifmap_sram_kb: kb[0],
        filter_sram_kb: kb[1],
        ofmap_sram_kb: kb[2],
        dataflow,
        bandwidth,
        ramulator_trace,
        custom_layout,
    })
}

/// One topology row, as a convolution (a GEMM row becomes SCALE-Sim's equivalent conv:
/// IFMAP `M × K`, filter `1 × K`, one channel, `N` filters, stride 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    /// 1-based line of the topology file it came from.
    pub line: usize,
    pub ifmap_h: u64,
    pub ifmap_w: u64,
    pub filter_h: u64,
    pub filter_w: u64,
    pub channels: u64,
    pub num_filters: u64,
    pub stride_h: u64,
    pub stride_w: u64,
    /// Written as a GEMM row (`name, M, N, K,`).
    pub from_gemm: bool,
}

impl Layer {
    /// Output height and width: `⌈(H − Fh + s) / s⌉` (windows may hang over the edge).
    pub fn ofmap_hw(&self) -> (u64, u64) {
        (
            (self.ifmap_h - self.filter_h + self.stride_h).div_ceil(self.stride_h),
            (self.ifmap_w - self.filter_w + self.stride_w).div_ceil(self.stride_w),
        )
    }

    /// The GEMM SCALE-Sim runs: M = output pixels, K = window (Fh·Fw·C), N = filters.
    pub fn gemm(&self) -> crate::systolic::Gemm {
        let (eh, ew) = self.ofmap_hw();
        crate::systolic::Gemm {
            m: eh * ew,
            k: self.filter_h * self.filter_w * self.channels,
            n: self.num_filters,
        }
    }

    /// Distinct valid IFMAP addresses the layer reads.
    pub fn ifmap_unique(&self) -> u128 {
        let (eh, ew) = self.ofmap_hw();
        let covered = |len: u64, f: u64, s: u64, e: u64| -> u128 {
            if s <= f {
                len.min((e - 1) * s + f) as u128
            } else {
                let last = len.saturating_sub((e - 1) * s).min(f);
                ((e - 1) * f + last) as u128
            }
        };
        covered(self.ifmap_h, self.filter_h, self.stride_h, eh)
            * covered(self.ifmap_w, self.filter_w, self.stride_w, ew)
            * self.channels as u128
    }

    /// Whether the im2col IFMAP matrix holds each valid address once and no padding: windows
    /// do not overlap and none hangs over the edge.
    pub fn ifmap_distinct(&self) -> bool {
        let (eh, ew) = self.ofmap_hw();
        (eh == 1 || self.stride_h >= self.filter_h)
            && (ew == 1 || self.stride_w >= self.filter_w)
            && (eh - 1) * self.stride_h + self.filter_h <= self.ifmap_h
            && (ew - 1) * self.stride_w + self.filter_w <= self.ifmap_w
    }
}

/// Largest topology dimension accepted (2^31; SCALE-Sim's addresses are 32-bit).
const MAX_TOPO_DIM: u64 = 1 << 31;

fn field(fields: &[&str], i: usize, what: &str, line: usize) -> Result<u64, InputError> {
    let raw = fields
        .get(i)
        .ok_or_else(|| err(line, format!("missing column {} ({what})", i + 1)))?
        .trim();
    match raw.parse::<u64>() {
        Ok(v) if (1..=MAX_TOPO_DIM).contains(&v) => Ok(v),
        Ok(v) => Err(err(
            line,
            format!("{what} = {v} is out of range 1..={MAX_TOPO_DIM}"),
        )),
        Err(_) => Err(err(
            line,
            format!("{what} must be a positive integer, found `{raw}`"),
        )),
    }
}

/// Parses a topology CSV. The first line is a header; blank lines are skipped. Rows end with a
/// comma (SCALE-Sim drops the last field of each row, so a row without the trailing comma
/// loses its last value there; here it is an error).
///
/// - GEMM form (`gemm = true`): `name, M, N, K,` (note the order), optionally a sparsity
///   ratio `N:M` which must be dense (`1:1`).
/// - Conv form: `name, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter, Strides,`
///   (one stride for both directions). A layer whose name contains `DP` is depthwise:
///   SCALE-Sim runs it as one single-channel layer per channel, named `<name>Channel_<i>`.
pub fn parse_topology(text: &str, gemm: bool) -> Result<Vec<Layer>, InputError> {
    let mut layers = Vec::new();
    let mut lines = text.lines().enumerate();
    if lines.next().is_none() {
        return Err(err(0, "the file is empty (expected a header line)"));
    }
    for (i, raw) in lines {
        let line = i + 1;
        let row = raw.trim();
        if row.is_empty() {
            continue;
        }
        let Some(body) = row.strip_suffix(',') else {
            return Err(err(
                line,
                "the row must end with a comma (SCALE-Sim drops each row's last field)",
            ));
        };
        let fields: Vec<&str> = body.split(',').collect();
        let name = fields[0].trim().to_string();
        if name.is_empty() {
            return Err(err(line, "empty layer name"));
        }
        let expected = if gemm { 4 } else { 8 };
        let extra = fields.len().saturating_sub(expected);
        if fields.len() < expected {
            let form = if gemm {
                "name, M, N, K,"
            } else {
                "name, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter, Strides,"
            };
            return Err(err(
                line,
                format!(
                    "expected {expected} fields ({form}), found {}",
                    fields.len()
                ),
            ));
        }
        if extra > 1 {
            return Err(err(
                line,
                format!(
                    "{} fields: at most one extra (a sparsity ratio)",
                    fields.len()
                ),
            ));
        }
        if extra == 1 {
            let ratio = fields[expected].trim();
            let dense = ratio
                .split_once(':')
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
                })
                .is_some_and(|(a, b)| a >= 1 && a == b);
            if !dense {
                return Err(err(
                    line,
                    format!("sparsity ratio `{ratio}` is not supported (only dense, e.g. 1:1)"),
                ));
            }
        }
        if gemm {
            let m = field(&fields, 1, "M", line)?;
            let n = field(&fields, 2, "N", line)?;
            let k = field(&fields, 3, "K", line)?;
            layers.push(Layer {
                name,
                line,
                ifmap_h: m,
                ifmap_w: k,
                filter_h: 1,
                filter_w: k,
                channels: 1,
                num_filters: n,
                stride_h: 1,
                stride_w: 1,
                from_gemm: true,
            });
        } else {
            let ifmap_h = field(&fields, 1, "IFMAP height", line)?;
            let ifmap_w = field(&fields, 2, "IFMAP width", line)?;
            let filter_h = field(&fields, 3, "filter height", line)?;
            let filter_w = field(&fields, 4, "filter width", line)?;
            let channels = field(&fields, 5, "channels", line)?;
            let num_filters = field(&fields, 6, "number of filters", line)?;
            let stride = field(&fields, 7, "stride", line)?;
            if filter_h > ifmap_h || filter_w > ifmap_w {
                return Err(err(
                    line,
                    format!(
                        "filter {filter_h}x{filter_w} is larger than the IFMAP {ifmap_h}x{ifmap_w}"
                    ),
                ));
            }
            let layer = Layer {
                name,
                line,
                ifmap_h,
                ifmap_w,
                filter_h,
                filter_w,
                channels,
                num_filters,
                stride_h: stride,
                stride_w: stride,
                from_gemm: false,
            };
            if layer.name.contains("DP") {
                for ch in 0..channels {
                    layers.push(Layer {
                        name: format!("{}Channel_{ch}", layer.name),
                        channels: 1,
                        ..layer.clone()
                    });
                }
            } else {
                layers.push(layer);
            }
        }
    }
    if layers.is_empty() {
        return Err(err(0, "no layers (only a header line)"));
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "[general]\nrun_name = t1\n\n[architecture_presets]\nArrayHeight:    8\n\
        ArrayWidth:     4\nIfmapSramSzkB:    64\nFilterSramSzkB:   64\nOfmapSramSzkB:    32\n\
        IfmapOffset:    0\nFilterOffset:   10000000\nOfmapOffset:    20000000\nBandwidth : 10\n\
        Dataflow : ws\nReadRequestBuffer: 32\nWriteRequestBuffer: 32\n\n[layout]\n\
        IfmapCustomLayout: False\nFilterCustomLayout: False\n\n[sparsity]\nSparsitySupport : false\n\n\
        [run_presets]\nInterfaceBandwidth: CALC\nUseRamulatorTrace: False\n";

    #[test]
    fn reads_a_scalesim_config() {
        let c = parse_config(CFG).unwrap();
        assert_eq!((c.array_rows, c.array_cols), (8, 4));
        assert_eq!(
            (c.ifmap_sram_kb, c.filter_sram_kb, c.ofmap_sram_kb),
            (64, 64, 32)
        );
        assert_eq!(c.dataflow, Dataflow::Ws);
        assert_eq!(c.bandwidth, BandwidthMode::Calc);
        assert_eq!(c.run_name, "t1");
    }

    #[test]
    fn config_errors_name_the_line() {
        let bad = CFG.replace("Dataflow : ws", "Dataflow : rs");
        let e = parse_config(&bad).unwrap_err();
        assert_eq!(e.line, 14, "{e}");
        assert!(e.message.contains("ws, os or is"), "{e}");
        let bad = CFG.replace("ArrayWidth:     4", "ArrayWidth:     0");
        assert_eq!(parse_config(&bad).unwrap_err().line, 6);
        let missing = CFG.replace("ArrayHeight:    8\n", "");
        let e = parse_config(&missing).unwrap_err();
        assert!(e.message.contains("ArrayHeight"), "{e}");
        let dup = CFG.replace("ArrayWidth:     4", "ArrayWidth: 4\narraywidth: 5");
        assert!(parse_config(&dup).unwrap_err().message.contains("twice"));
        let sparse = CFG.replace("SparsitySupport : false", "SparsitySupport : true");
        assert!(parse_config(&sparse).unwrap_err().message.contains("dense"));
    }

    #[test]
    fn reads_gemm_and_conv_topologies() {
        let g = parse_topology("Layer,M,N,K,\ng1, 20, 9, 13,\n\ng2, 5, 3, 30,\n", true).unwrap();
        assert_eq!(g.len(), 2);
        let gm = g[0].gemm();
        assert_eq!((gm.m, gm.k, gm.n), (20, 13, 9));
        assert_eq!(g[1].line, 4);
        let c = parse_topology(
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n\
             Conv1, 224, 224, 7, 7, 3, 64, 2,\nCB2a_DP, 56, 56, 3, 3, 4, 1, 1,\n",
            false,
        )
        .unwrap();
        let cm = c[0].gemm();
        // ⌈(224 − 7 + 2)/2⌉ = 110 per side.
        assert_eq!((cm.m, cm.k, cm.n), (110 * 110, 7 * 7 * 3, 64));
        assert_eq!(c.len(), 1 + 4);
        assert_eq!(c[4].name, "CB2a_DPChannel_3");
        assert_eq!(c[4].channels, 1);
    }

    #[test]
    fn topology_errors_name_the_line() {
        let e = parse_topology("h\ng1, 20, 9, 13\n", true).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("comma"), "{e}");
        let e = parse_topology("h\ng1, 20, x, 13,\n", true).unwrap_err();
        assert!(e.message.contains("N must be"), "{e}");
        let e = parse_topology("h\ng1, 20, 9,\n", true).unwrap_err();
        assert!(e.message.contains("expected 4 fields"), "{e}");
        let e = parse_topology("h\nc, 3, 3, 5, 1, 1, 1, 1,\n", false).unwrap_err();
        assert!(e.message.contains("larger"), "{e}");
        assert!(parse_topology("h\n", true).is_err());
    }

    #[test]
    fn ifmap_coverage_of_strided_windows() {
        let mut l = parse_topology("h\nc, 10, 10, 3, 3, 2, 1, 1,\n", false).unwrap()[0].clone();
        assert_eq!(l.ifmap_unique(), 100 * 2);
        assert!(!l.ifmap_distinct());
        // Stride 4 > filter 3 on 10 pixels: windows at 0, 4, 8; the last covers 8..10.
        l.stride_h = 4;
        l.stride_w = 4;
        assert_eq!(l.ofmap_hw(), (3, 3));
        assert_eq!(l.ifmap_unique(), 8 * 8 * 2);
        // Exact tiling: 1x1 filters, stride 1.
        let g = parse_topology("h\ng, 7, 3, 5,\n", true).unwrap()[0].clone();
        assert!(g.ifmap_distinct());
        assert_eq!(g.ifmap_unique(), 35);
    }
}
