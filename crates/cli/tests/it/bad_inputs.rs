//! Every file format the CLI reads, broken in many ways (`tests/bad-inputs/<format>/`): the
//! CLI must exit 2 with an `error:` naming what is wrong and where, print nothing on stdout,
//! never panic, and leave no output file behind (not even a temporary one).
//!
//! Each case says what it expects. Text formats carry `# expect: FRAGMENT` lines (and
//! optionally `# args: ...` lines) in the file itself; any file may instead have a sidecar
//! `<file>.expect` with `expect: FRAGMENT` and `args: ...` lines (binary formats need one).
//! `args` is a command line split on spaces, with `{file}` (the case, relative to the
//! repository root), `{support}` (`tests/bad-inputs/support`) and `{out}` (a fresh directory
//! the command may write to, which must stay empty); each `args` line is run and must meet
//! every expectation. Without `args`, the format's default command below is run.
//! docs/robustness.md describes the corpus.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The command each format's cases run when they give no `args`: one that would write an
/// output, so the no-partial-output rule is exercised.
fn default_args(format: &str, file: &Path) -> Vec<&'static str> {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    match (format, ext) {
        ("chip", _) => vec![
            "compile",
            "{support}/tiny.sir",
            "--chip",
            "{file}",
            "--batch",
            "2",
            "-o",
            "{out}/p.scp",
        ],
        ("ir", _) => vec![
            "compile",
            "{file}",
            "--chip",
            "seedchip-v1",
            "--batch",
            "2",
            "-o",
            "{out}/p.scp",
            "--asm",
            "{out}/p.s",
        ],
        ("program", _) => vec![
            "run",
            "{file}",
            "--chip",
            "seedchip-v1",
            "--inputs",
            "{support}/tiny-inputs.npz",
            "--save-outputs",
            "{out}/o.npz",
        ],
        ("listing", _) => vec![
            "run",
            "{file}",
            "--chip",
            "seedchip-v1",
            "--inputs",
            "{support}/tiny-inputs.npz",
            "--save-outputs",
            "{out}/o.npz",
        ],
        ("inputs", _) => vec![
            "run",
            "{support}/tiny.sir",
            "--chip",
            "seedchip-v1",
            "--inputs",
            "{file}",
            "--save-outputs",
            "{out}/o.npz",
        ],
        ("onnx", _) => vec![
            "infer",
            "{file}",
            "--batch",
            "2",
            "--save-outputs",
            "{out}/o.npz",
        ],
        ("scalesim", "cfg") => vec![
            "scalesim",
            "-c",
            "{file}",
            "-t",
            "{support}/conv.csv",
            "-o",
            "{out}/report",
        ],
        ("scalesim", _) => vec![
            "scalesim",
            "-c",
            "{support}/scalesim.cfg",
            "-t",
            "{file}",
            "-o",
            "{out}/report",
        ],
        ("trace", _) => vec![
            "serve", "dlrm-v2", "--chip", "a100-80g", "--qps", "5", "--trace", "{file}",
        ],
        _ => panic!("no default command for tests/bad-inputs/{format}; give `args:` lines"),
    }
}

struct Case {
    file: PathBuf,
    expects: Vec<String>,
    args: Vec<Vec<String>>,
}

/// Reads a case's expectations from its sidecar or from its own `# ` lines.
fn case(format: &str, file: &Path) -> Case {
    let sidecar = PathBuf::from(format!("{}.expect", file.display()));
    let (text, prefix) = if sidecar.exists() {
        (std::fs::read_to_string(&sidecar).unwrap(), "")
    } else {
        let bytes = std::fs::read(file).unwrap();
        (String::from_utf8_lossy(&bytes).into_owned(), "# ")
    };
    let mut expects = Vec::new();
    let mut args = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(prefix) else {
            continue;
        };
        if let Some(e) = rest.strip_prefix("expect: ") {
            expects.push(e.to_string());
        } else if let Some(a) = rest.strip_prefix("args: ") {
            args.push(a.split_whitespace().map(str::to_string).collect());
        }
    }
    if args.is_empty() {
        args.push(
            default_args(format, file)
                .into_iter()
                .map(str::to_string)
                .collect(),
        );
    }
    Case {
        file: file.to_path_buf(),
        expects,
        args,
    }
}

/// Runs every case of one format; returns how many command lines ran.
fn run_format(format: &str, min_cases: usize) -> usize {
    let root = repo_root();
    let dir = root.join("tests/bad-inputs").join(format);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "expect" && e != "md"))
        .collect();
    files.sort();
    assert!(
        files.len() >= min_cases,
        "tests/bad-inputs/{format}: only {} cases",
        files.len()
    );
    let mut failures = Vec::new();
    let mut runs = 0;
    for (i, file) in files.iter().enumerate() {
        let c = case(format, file);
        let rel = c.file.strip_prefix(&root).unwrap().display().to_string();
        if c.expects.is_empty() {
            failures.push(format!("{rel}: no `expect:` lines"));
            continue;
        }
        for (j, args) in c.args.iter().enumerate() {
            let out = std::env::temp_dir().join(format!(
                "seedchip-bad-{}-{format}-{i}-{j}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out).unwrap();
            let argv: Vec<String> = args
                .iter()
                .map(|a| {
                    a.replace("{file}", &rel)
                        .replace("{support}", "tests/bad-inputs/support")
                        .replace("{out}", out.to_str().unwrap())
                })
                .collect();
            let argv_ref: Vec<&str> = argv.iter().map(String::as_str).collect();
            let o = seedchip(&argv_ref);
            runs += 1;
            let err = stderr(&o);
            let cmd = format!("seedchip {}", argv.join(" "));
            let mut problems = Vec::new();
            if o.status.code() != Some(2) {
                problems.push(format!("exit {:?}, not 2", o.status.code()));
            }
            if err.contains("panicked") {
                problems.push("panicked".into());
            }
            if !err.starts_with("error: ") {
                problems.push("stderr does not start with `error: `".into());
            }
            if !o.stdout.is_empty() {
                problems.push(format!("printed on stdout: {}", stdout(&o)));
            }
            for e in &c.expects {
                if !err.contains(e.as_str()) {
                    problems.push(format!("expected {e:?}"));
                }
            }
            let left: Vec<String> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            if !left.is_empty() {
                problems.push(format!("left output behind: {left:?}"));
            }
            let _ = std::fs::remove_dir_all(&out);
            if !problems.is_empty() {
                failures.push(format!("{cmd}\n  {}\n  stderr: {err}", problems.join("; ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad-input case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    runs
}

#[test]
fn bad_chip_files() {
    run_format("chip", 20);
}

#[test]
fn bad_ir_files() {
    run_format("ir", 12);
}

#[test]
fn bad_scalesim_files() {
    run_format("scalesim", 10);
}

#[test]
fn bad_input_arrays() {
    run_format("inputs", 10);
}

#[test]
fn bad_weight_files() {
    run_format("weights", 8);
}

#[test]
fn bad_programs() {
    run_format("program", 8);
}

#[test]
fn bad_onnx_files() {
    run_format("onnx", 5);
}

#[test]
fn bad_traces() {
    run_format("trace", 8);
}

#[test]
fn bad_listings() {
    run_format("listing", 8);
}
