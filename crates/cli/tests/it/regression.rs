//! The regression corpus (`tests/regression/`): a fixed set of (model, chip, precision, batch)
//! whose compiled program, functional-simulator outputs and timing report are committed. Any
//! change to the compiler, funcsim, numerics, the timing model or the weight contract that
//! alters a program byte, an output bit or a simulated cycle shows up here as a readable diff,
//! so a refactoring commit shows that it changes nothing, and an intended change shows what it
//! changes. `cargo xtask bless` rewrites the files (with every other golden); review the diff
//! and commit it with the change. docs/robustness.md "Regression corpus".

use std::path::Path;

use serde_json::{Value, json};

use crate::support::*;

/// One corpus entry: `name model chip precision batch rows_cap` in `corpus.txt`.
struct Entry {
    name: String,
    model: String,
    chip: String,
    precision: String,
    batch: String,
    rows_cap: String,
}

fn entries(root: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(root.join("tests/regression/corpus.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [name, model, chip, precision, batch, rows_cap] = f[..] else {
                panic!("corpus.txt: bad line {l:?}");
            };
            Entry {
                name: name.into(),
                model: model.into(),
                chip: chip.into(),
                precision: precision.into(),
                batch: batch.into(),
                rows_cap: rows_cap.into(),
            }
        })
        .collect()
}

/// Drops wall-clock fields (they differ run to run) from a JSON document.
fn deterministic(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        for key in ["seconds", "samples_per_s"] {
            m.remove(key);
        }
    }
    v
}

/// Everything committed for one entry: `run --json` (the program's hash and size, outputs,
/// funcsim statistics) and `sim --json`. Each compiles the model again, so an entry costs two
/// compilations in a debug build; keep the corpus small.
fn observe(e: &Entry) -> Value {
    let common = [
        "--chip",
        &e.chip,
        "--precision",
        &e.precision,
        "--batch",
        &e.batch,
        "--rows-cap",
        &e.rows_cap,
        "--json",
    ];
    let mut args = vec!["run", &e.model];
    args.extend(common);
    let run = deterministic(json(&seedchip(&args)));

    let mut args = vec!["sim", &e.model];
    args.extend(common);
    let timing = json(&seedchip(&args));

    json!({
        "entry": {
            "model": e.model, "chip": e.chip, "precision": e.precision,
            "batch": e.batch, "rows_cap": e.rows_cap,
        },
        "program": run["program"],
        "funcsim": {
            "checksum": run["checksum"],
            "outputs": run["outputs"],
            "stats": run["stats"],
        },
        "timing": timing,
    })
}

/// A line diff (longest common subsequence) with two lines of context around each change.
fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let near = |k: usize| {
        ops[k.saturating_sub(2)..(k + 3).min(ops.len())]
            .iter()
            .any(|(c, _)| *c != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (c, line)) in ops.iter().enumerate() {
        if near(k) {
            if skipped {
                out.push_str("  ...\n");
                skipped = false;
            }
            out.push_str(&format!("{c} {line}\n"));
        } else {
            skipped = true;
        }
    }
    out
}

#[test]
fn regression_corpus_is_unchanged() {
    let root = repo_root();
    let bless = std::env::var("SEEDCHIP_BLESS").is_ok_and(|v| v == "1");
    let list = entries(&root);
    assert!(list.len() >= 6, "corpus.txt lists {} entries", list.len());
    let mut changed = Vec::new();
    for e in &list {
        let path = root.join(format!("tests/regression/{}.json", e.name));
        let fresh = format!("{}\n", serde_json::to_string_pretty(&observe(e)).unwrap());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if fresh == committed {
            continue;
        }
        if bless {
            std::fs::write(&path, &fresh).unwrap();
        } else {
            changed.push(format!(
                "tests/regression/{}.json:\n{}",
                e.name,
                diff(&committed, &fresh)
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "the regression corpus changed ({} of {} entries). If the change is intended, run \
         `cargo xtask bless` and review the diff in your commit; a refactoring must show none.\n\n{}",
        changed.len(),
        list.len(),
        changed.join("\n")
    );
}

#[test]
fn the_diff_shows_changed_lines_with_context() {
    let d = diff("a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nD\ne\nf\ng\nh\n");
    assert!(d.contains("- d\n+ D\n"), "{d}");
    assert!(
        d.contains("  c\n") && d.contains("  e\n") && !d.contains("  a\n"),
        "{d}"
    );
}
