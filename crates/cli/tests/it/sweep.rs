//! `seedchip sweep`: broken sweep files, determinism across --jobs, resuming an interrupted
//! run, shards in separate processes merged, and the report.

use std::path::{Path, PathBuf};

use crate::support::{repo_root, seedchip, stderr};

const TINY: &str = "tests/sweeps/tiny.toml";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seedchip-sweep-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sweep(args: &[&str]) -> std::process::Output {
    let o = seedchip(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    o
}

fn run_tiny(out: &Path, extra: &[&str]) {
    let out = out.to_str().unwrap();
    let mut args = vec!["sweep", TINY, "-o", out, "--quiet"];
    args.extend_from_slice(extra);
    sweep(&args);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Each file in tests/bad-inputs/sweep names what it breaks in its first line and lists the
/// fragments its error must contain (`# expect: ...`, including `file:line`).
#[test]
fn broken_sweep_files_exit_2_with_line_and_key() {
    let dir = repo_root().join("tests/bad-inputs/sweep");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "only {} broken sweep files", files.len());
    let out_dir = temp_dir("bad");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expects: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expects.is_empty(),
            "{} has no expectations",
            path.display()
        );
        assert!(
            expects.iter().any(|e| e.contains(".toml:")),
            "{} does not pin a line",
            path.display()
        );
        let rel = path.strip_prefix(repo_root()).unwrap().to_str().unwrap();
        let out = out_dir.join("results.jsonl");
        let o = seedchip(&["sweep", rel, "-o", out.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{rel}: {err}");
        assert!(!err.contains("panicked"), "{rel}: {err}");
        assert!(err.starts_with("error: "), "{rel}: {err}");
        assert!(!out.exists(), "{rel}: wrote a results file");
        for e in expects {
            assert!(err.contains(e), "{rel}: expected {e:?} in:\n{err}");
        }
    }
}

#[test]
fn results_do_not_depend_on_jobs_and_are_sorted() {
    let dir = temp_dir("jobs");
    let one = dir.join("one.jsonl");
    let three = dir.join("three.jsonl");
    run_tiny(&one, &["--jobs", "1"]);
    run_tiny(&three, &["--jobs", "3"]);
    let a = read(&one);
    assert_eq!(a, read(&three));
    let ids: Vec<String> = a
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 16, "2 x 2 x 2 x 2 grid");
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted by point id, no duplicates");
    // Infeasible points carry their reason; feasible ones their objectives.
    let recs: Vec<serde_json::Value> = a
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(recs.iter().any(|r| {
        r["stage"] == "chip"
            && r["reason"]
                .as_str()
                .unwrap()
                .contains("memory.bandwidth_gbps")
    }));
    assert!(recs.iter().any(|r| r["stage"] == "constraints"));
    assert!(
        recs.iter()
            .filter(|r| r["feasible"] == true)
            .all(|r| r["objectives"]["perf_per_w"].as_f64().unwrap() > 0.0)
    );
    // Re-running a finished sweep evaluates nothing and changes nothing.
    let o = sweep(&["sweep", TINY, "-o", one.to_str().unwrap(), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["evaluated"], 0);
    assert_eq!(doc["skipped"], 16);
    assert_eq!(read(&one), a);
}

#[test]
fn interrupted_sweep_resumes_to_the_same_results() {
    let dir = temp_dir("resume");
    let full = dir.join("full.jsonl");
    run_tiny(&full, &[]);
    let part = dir.join("part.jsonl");
    // Interrupted after 5 points, the last line cut off mid-write.
    run_tiny(&part, &["--limit", "5", "--jobs", "2"]);
    let text = read(&part);
    assert_eq!(text.lines().count(), 5);
    let cut = format!("{text}{}", &text.lines().next().unwrap()[..40]);
    std::fs::write(&part, cut).unwrap();
    let o = sweep(&[
        "sweep",
        TINY,
        "-o",
        part.to_str().unwrap(),
        "--json",
        "--quiet",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["evaluated"], 11);
    assert_eq!(doc["complete"], true);
    assert_eq!(read(&part), read(&full));
}

#[test]
fn shards_in_separate_processes_merge_to_the_single_run() {
    let dir = temp_dir("shards");
    let full = dir.join("full.jsonl");
    run_tiny(&full, &[]);
    let mut parts = Vec::new();
    for k in 1..=3 {
        let p = dir.join(format!("shard-{k}.jsonl"));
        run_tiny(&p, &["--shard", &format!("{k}/3")]);
        parts.push(p);
    }
    let sizes: Vec<usize> = parts.iter().map(|p| read(p).lines().count()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 16, "{sizes:?}");
    let merged = dir.join("all.jsonl");
    let mut args = vec!["sweep", "merge"];
    let names: Vec<String> = parts
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    args.extend(names.iter().map(String::as_str));
    // A shard given twice is deduplicated.
    args.push(&names[0]);
    args.extend(["-o", merged.to_str().unwrap()]);
    sweep(&args);
    assert_eq!(read(&merged), read(&full));
}

#[test]
fn results_of_another_sweep_are_refused() {
    let dir = temp_dir("other");
    let out = dir.join("r.jsonl");
    run_tiny(&out, &["--limit", "2"]);
    let text = read(&repo_root().join(TINY))
        .replace("calibration_samples = 16", "calibration_samples = 17");
    let other = dir.join("other.toml");
    std::fs::write(&other, text).unwrap();
    let o = seedchip(&[
        "sweep",
        other.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("another sweep"), "{}", stderr(&o));
}

#[test]
fn report_names_the_limits_of_the_best_designs() {
    let dir = temp_dir("report");
    let out = dir.join("r.jsonl");
    run_tiny(&out, &[]);
    let rep = dir.join("report");
    let o = sweep(&[
        "sweep",
        "report",
        out.to_str().unwrap(),
        "--out",
        rep.to_str().unwrap(),
        "--json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["points"], 16);
    assert_eq!(doc["feasible"], 4);
    let limiters = [
        "compute",
        "vector",
        "memory_bandwidth",
        "gather",
        "shared_sram_bandwidth",
        "sram_capacity",
        "latency",
    ];
    for (_, d) in doc["best"].as_object().unwrap() {
        assert!(limiters.contains(&d["limiter"].as_str().unwrap()), "{d}");
    }
    assert!(
        doc["findings"][0]
            .as_str()
            .unwrap()
            .contains("is limited by")
    );
    let html = std::fs::read_to_string(rep.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("What limits the best designs"));
    let json = std::fs::read_to_string(rep.join("report.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap(),
        doc
    );
}

#[test]
fn bad_shard_and_jobs_exit_2() {
    for args in [
        vec![
            "sweep",
            TINY,
            "-o",
            "/nonexistent-dir/x.jsonl",
            "--shard",
            "0/3",
        ],
        vec![
            "sweep",
            TINY,
            "-o",
            "/nonexistent-dir/x.jsonl",
            "--shard",
            "4/3",
        ],
        vec![
            "sweep",
            TINY,
            "-o",
            "/nonexistent-dir/x.jsonl",
            "--shard",
            "a",
        ],
        vec![
            "sweep",
            TINY,
            "-o",
            "/nonexistent-dir/x.jsonl",
            "--jobs",
            "0",
        ],
    ] {
        let o = seedchip(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    }
}

/// Guided search: rounds of neighbours of the best designs; interrupted and resumed, it
/// reaches the same results; it refuses to be sharded.
#[test]
fn guided_search_resumes_to_the_same_results_and_is_not_sharded() {
    let dir = temp_dir("guided");
    let text = read(&repo_root().join(TINY))
        + "\n[search]\nmode = \"guided\"\npoints = 8\ninitial = 3\nbeam = 2\nseed = 3\n";
    let file = dir.join("guided.toml");
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let full = dir.join("full.jsonl");
    sweep(&["sweep", f, "-o", full.to_str().unwrap(), "--quiet"]);
    assert_eq!(read(&full).lines().count(), 8);
    let part = dir.join("part.jsonl");
    sweep(&[
        "sweep",
        f,
        "-o",
        part.to_str().unwrap(),
        "--quiet",
        "--limit",
        "4",
    ]);
    assert_eq!(read(&part).lines().count(), 4);
    sweep(&["sweep", f, "-o", part.to_str().unwrap(), "--quiet"]);
    assert_eq!(read(&part), read(&full));
    let o = seedchip(&["sweep", f, "-o", part.to_str().unwrap(), "--shard", "1/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be sharded"), "{}", stderr(&o));
}
