//! Refusing work that would not fit in memory, before allocating any of it.
//!
//! A batch of ten million, or real weights for a 100 GB table, would otherwise end in the
//! kernel's OOM killer (or an allocation abort) minutes in. Commands that materialize a batch
//! (`infer`, `run`, `sim`, `compile`) estimate the bytes they will hold from the model alone and
//! compare them with the memory available: `MemAvailable` in `/proc/meminfo`, or the
//! `SEEDCHIP_MEMORY_LIMIT` environment variable (bytes, with an optional K/M/G/T binary suffix;
//! `off` disables the check). Where neither exists (not Linux), nothing is checked.
//! docs/robustness.md "Resource limits" explains the estimate.

use seedchip_ir::{DType, Dim, Graph, Op, TensorType, ValueDef};

use crate::exit::user;

pub const ENV: &str = "SEEDCHIP_MEMORY_LIMIT";

/// What a command may use, and where that figure came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub bytes: u64,
    pub source: String,
}

/// `123`, `64K`, `1.5G`, `2T` (binary multiples) → bytes.
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        (i, 't' | 'T') => (&s[..i], 1 << 40),
        _ => (s, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * mult as f64) as u64)
}

/// The memory budget: the environment override, else `MemAvailable`, else none (no check).
pub fn budget() -> anyhow::Result<Option<Budget>> {
    if let Ok(v) = std::env::var(ENV) {
        if v.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bytes = parse_bytes(&v).ok_or_else(|| {
            user(
                format!("{ENV}={v}: not a size"),
                &["e.g. SEEDCHIP_MEMORY_LIMIT=8G, or `off` to disable the check"],
            )
        })?;
        return Ok(Some(Budget {
            bytes,
            source: format!("{ENV}={v}"),
        }));
    }
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else {
        return Ok(None);
    };
    let kib = info
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    Ok(kib.map(|k| Budget {
        bytes: k.saturating_mul(1024),
        source: "MemAvailable in /proc/meminfo".into(),
    }))
}

/// Bytes a command expects to hold at its peak, by part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    pub parts: Vec<(&'static str, u64)>,
}

impl Estimate {
    pub fn add(&mut self, what: &'static str, bytes: u64) {
        if bytes > 0 {
            self.parts.push((what, bytes));
        }
    }

    pub fn total(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |a, (_, b)| a.saturating_add(*b))
    }
}

/// A byte count for people: `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Refuses (exit 2) when the estimate exceeds the budget, naming both and the largest parts.
pub fn check(what: &str, estimate: &Estimate, hints: &[&str]) -> anyhow::Result<()> {
    let Some(budget) = budget()? else {
        return Ok(());
    };
    check_against(what, estimate, &budget, hints)
}

fn check_against(
    what: &str,
    estimate: &Estimate,
    budget: &Budget,
    hints: &[&str],
) -> anyhow::Result<()> {
    let total = estimate.total();
    if total <= budget.bytes {
        return Ok(());
    }
    let parts: Vec<String> = estimate
        .parts
        .iter()
        .map(|(name, b)| format!("{name} {}", human(*b)))
        .collect();
    let override_hint = format!(
        "{ENV}=SIZE (e.g. 64G) overrides the available-memory figure; {ENV}=off disables the check"
    );
    let mut all: Vec<&str> = hints.to_vec();
    all.push(&override_hint);
    Err(user(
        format!(
            "{what} needs an estimated {} ({}), more than the {} available ({})",
            human(total),
            parts.join(", "),
            human(budget.bytes),
            budget.source
        ),
        &all,
    ))
}

fn elements(t: &TensorType, batch: u64) -> u64 {
    // A ragged index list (`?`) holds as many ids as the batch has lookups; one per sample is a
    // floor, which keeps the estimate from refusing what might fit.
    t.shape.iter().fold(1u64, |acc, d| {
        acc.saturating_mul(match d {
            Dim::Batch | Dim::Dyn => batch,
            Dim::Fixed(n) => *n,
        })
    })
}

fn bytes(t: &TensorType, batch: u64) -> u64 {
    // The reference executor holds every float tensor in f32 and every integer one in i64 or
    // i32 as declared.
    let width = match t.dtype {
        DType::F16 | DType::BF16 => 4,
        d => d.size_bytes() as u64,
    };
    elements(t, batch).saturating_mul(width)
}

/// Bytes parameters hold once materialized in f32: every dense parameter, and embedding
/// tables up to `table_bytes` (larger ones stay procedural: rows are computed on demand).
pub fn materialized_param_bytes(graph: &Graph, table_bytes: u64) -> u64 {
    let users = graph.users();
    graph.params.iter().fold(0u64, |acc, p| {
        let b = bytes(graph.ty(p.value), 1);
        let u = &users[p.value.index()];
        let table_only = !u.is_empty()
            && u.iter().all(|&nid| {
                let n = graph.node(nid);
                matches!(n.op, Op::EmbeddingBag { .. } | Op::Embedding)
                    && n.inputs.iter().skip(1).all(|&v| v != p.value)
            });
        if table_only && b > table_bytes {
            acc
        } else {
            acc.saturating_add(b)
        }
    })
}

/// Bytes of one batch of the model's inputs.
pub fn input_bytes(graph: &Graph, batch: u64) -> u64 {
    graph
        .inputs
        .iter()
        .fold(0u64, |a, &v| a.saturating_add(bytes(graph.ty(v), batch)))
}

/// Peak bytes of intermediate tensors when nodes run in topological order and each value is
/// freed after its last use (outputs are kept), as the reference executor does.
pub fn activation_peak_bytes(graph: &Graph, batch: u64) -> u64 {
    let Ok(order) = graph.topo_order() else {
        return 0;
    };
    let mut last_use = vec![None; graph.values.len()];
    for (step, &nid) in order.iter().enumerate() {
        for &v in &graph.node(nid).inputs {
            last_use[v.index()] = Some(step);
        }
    }
    let kept: Vec<bool> = (0..graph.values.len())
        .map(|i| graph.outputs.iter().any(|o| o.value.index() == i))
        .collect();
    let (mut live, mut peak) = (0u64, 0u64);
    for (step, &nid) in order.iter().enumerate() {
        for &o in &graph.node(nid).outputs {
            live = live.saturating_add(bytes(graph.ty(o), batch));
        }
        peak = peak.max(live);
        for &v in &graph.node(nid).inputs {
            let freed = last_use[v.index()] == Some(step)
                && !kept[v.index()]
                && matches!(graph.value(v).def, ValueDef::Node(..));
            if freed {
                live = live.saturating_sub(bytes(graph.ty(v), batch));
            }
        }
    }
    peak
}

/// What the f32 reference holds for one batch: parameters, inputs, intermediate tensors.
pub fn reference_estimate(graph: &Graph, batch: u64) -> Estimate {
    let mut e = Estimate::default();
    e.add(
        "parameters",
        materialized_param_bytes(
            graph,
            seedchip_ref::Options::default().materialize_table_bytes,
        ),
    );
    e.add("inputs", input_bytes(graph, batch));
    e.add("activations", activation_peak_bytes(graph, batch));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("64K"), Some(64 << 10));
        assert_eq!(parse_bytes("1.5g"), Some(3 << 29));
        assert_eq!(parse_bytes("2T"), Some(2 << 40));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1"), None);
    }

    #[test]
    fn an_estimate_over_budget_names_both_and_the_parts() {
        let mut e = Estimate::default();
        e.add("inputs", 3 << 30);
        e.add("activations", 1 << 30);
        let budget = Budget {
            bytes: 2 << 30,
            source: "test".into(),
        };
        let err = check_against("infer m batch 9", &e, &budget, &["smaller --batch"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("4.0 GiB") && err.contains("inputs 3.0 GiB") && err.contains("2.0 GiB"),
            "{err}"
        );
        let roomy = Budget {
            bytes: 8 << 30,
            source: "test".into(),
        };
        assert!(check_against("x", &e, &roomy, &[]).is_ok());
    }

    #[test]
    fn estimates_scale_with_the_batch_and_never_overflow() {
        let g = seedchip_zoo::get("dlrm-v1", &seedchip_zoo::ZooOptions::default()).unwrap();
        let small = reference_estimate(&g, 16).total();
        let large = reference_estimate(&g, 16_000).total();
        assert!(large > small && small > 0, "{small} {large}");
        assert_eq!(reference_estimate(&g, u64::MAX).total(), u64::MAX);
    }
}
