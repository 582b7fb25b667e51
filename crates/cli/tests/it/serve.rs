//! `serve` and `plan`: JSON contracts, determinism, SLA exit codes, the broken-workload corpus.

use crate::support::*;

fn serve_peer(extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "serve",
        "dlrm-v2",
        "--chip",
        "h100-sxm",
        "--qps",
        "15000",
        "--max-batch",
        "4096",
        "--requests",
        "5000",
        "--json",
    ];
    args.extend_from_slice(extra);
    seedchip(&args)
}

#[test]
fn serve_peer_json_is_deterministic_and_complete() {
    let a = serve_peer(&[]);
    let doc = json(&a);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["kind"], "peer");
    let r = &doc["report"];
    assert_eq!(r["requests"], 5000);
    for k in ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms"] {
        assert!(r["latency"][k].as_f64().unwrap() > 0.0, "{k}: {r}");
    }
    let p = |k: &str| r["latency"][k].as_f64().unwrap();
    assert!(
        p("p50_ms") <= p("p90_ms") && p("p90_ms") <= p("p99_ms") && p("p99_ms") <= p("p999_ms")
    );
    let u = r["stages"][0]["utilization"].as_f64().unwrap();
    assert!(u > 0.0 && u < 1.0, "{u}");
    // Same seed, same bytes; another seed, other latencies.
    assert_eq!(a.stdout, serve_peer(&[]).stdout);
    assert_ne!(a.stdout, serve_peer(&["--seed", "7"]).stdout);
}

#[test]
fn serve_sla_search_and_exit_codes() {
    let doc = json(&serve_peer(&["--sla-p99-ms", "20"]));
    let m = &doc["max_qps"];
    let max = m["max_qps"].as_f64().unwrap();
    assert!(
        max > 0.0 && max <= m["saturation_qps"].as_f64().unwrap(),
        "{m}"
    );
    assert!(m["p99_ms_at_max"].as_f64().unwrap() <= 20.0);
    assert_eq!(doc["report"]["sla_met"], true);
    // A bound below one batch's service time: ran, SLA missed, exit 1.
    let o = serve_peer(&["--sla-p99-ms", "0.01"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["report"]["sla_met"], false);
    assert_eq!(doc["report"]["late_requests"], 5000);
}

#[test]
fn serve_arrival_processes_and_bad_flags() {
    for a in ["diurnal", "bursty"] {
        let doc = json(&serve_peer(&["--arrivals", a, "--period-s", "1"]));
        assert_eq!(doc["arrivals"], a);
    }
    let bad = |args: &[&str], want: &str| {
        let mut all = vec!["serve", "dlrm-v2", "--chip", "h100-sxm", "--qps", "1000"];
        all.extend_from_slice(args);
        let o = seedchip(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    };
    bad(&["--candidates", "0"], "--candidates");
    bad(&["--arrivals", "weekly"], "weekly");
    bad(&["--precision", "int4"], "int4");
    bad(&["--shard", "diagonal"], "diagonal");
    let o = seedchip(&["serve", "dlrm-v2", "--chip", "h900", "--qps", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("h100-sxm"), "{}", stderr(&o));
}

#[test]
fn serve_trace_file() {
    let dir = std::env::temp_dir().join(format!("seedchip-serve-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.txt");
    let lines: String = (0..400)
        .map(|i| format!("{:.6} {}\n", i as f64 * 1e-4, 100 + i % 5 * 100))
        .collect();
    std::fs::write(&path, lines).unwrap();
    let doc = json(&seedchip(&[
        "serve",
        "dlrm-v2",
        "--chip",
        "a100-80g",
        "--qps",
        "5000",
        "--trace",
        path.to_str().unwrap(),
        "--requests",
        "300",
        "--warmup",
        "50",
        "--json",
    ]));
    assert_eq!(doc["report"]["requests"], 300);
    assert_eq!(doc["report"]["mean_candidates"], 300.0);
    std::fs::write(&path, "0.1\n0.05\n").unwrap();
    let o = seedchip(&[
        "serve",
        "dlrm-v2",
        "--chip",
        "a100-80g",
        "--qps",
        "5",
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("trace.txt:2:"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The acceptance command: DLRM-v2 on seedchip-v1 through compile + the timing simulator
/// (one timed batch size to keep the debug build quick).
#[test]
fn serve_dlrm_v2_on_seedchip_v1() {
    let doc = json(&seedchip(&[
        "serve",
        "dlrm-v2",
        "--chip",
        "seedchip-v1",
        "--qps",
        "3000",
        "--max-batch",
        "256",
        "--batch-points",
        "256",
        "--requests",
        "3000",
        "--json",
    ]));
    assert_eq!(doc["kind"], "simulated");
    assert_eq!(doc["chips"], 1);
    let us = doc["service"]["points"][0]["latency_us"].as_f64().unwrap();
    assert!(us > 10.0 && us < 100_000.0, "{us}");
    assert!(
        doc["service"]["source"]
            .as_str()
            .unwrap()
            .contains("timing simulator")
    );
    assert!(doc["report"]["latency"]["p99_ms"].as_f64().unwrap() > us / 1e3);
}

/// Tables larger than the chip's memory shard: DLRM-v2's 27.8 GB on TPU v4i's 8.6 GB.
#[test]
fn serve_shards_tables_that_do_not_fit() {
    let run = |shard: &str| {
        json(&seedchip(&[
            "serve",
            "dlrm-v2",
            "--chip",
            "tpu-v4i",
            "--qps",
            "200",
            "--max-batch",
            "64",
            "--batch-points",
            "64",
            "--requests",
            "500",
            "--shard",
            shard,
            "--json",
        ]))
    };
    let row = run("row");
    let sh = &row["service"]["shard"];
    assert_eq!(sh["layout"], "row-wise");
    assert!(row["chips_per_replica"].as_u64().unwrap() >= 4, "{sh}");
    assert!(sh["remote_bytes_per_sample"].as_f64().unwrap() > 0.0);
    let table = run("table");
    assert_eq!(table["service"]["shard"]["layout"], "table-wise");
    // Row-wise moves partial sums from every shard: more bytes per sample than table-wise.
    assert!(
        sh["remote_bytes_per_sample"].as_f64().unwrap()
            > table["service"]["shard"]["remote_bytes_per_sample"]
                .as_f64()
                .unwrap()
    );
}

#[test]
fn plan_small_pipeline_json() {
    let doc = json(&seedchip(&[
        "plan",
        "tests/workloads/pipeline-small.toml",
        "--json",
    ]));
    assert_eq!(doc["schema_version"], 1);
    let devices = doc["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    for d in devices {
        for k in [
            "chips",
            "megawatts",
            "capex_usd",
            "opex_usd_per_year",
            "usd_per_million_requests",
        ] {
            assert!(d[k].as_f64().unwrap() > 0.0, "{k}: {d}");
        }
        assert_eq!(d["stages"].as_array().unwrap().len(), 3);
        assert!(d["p99_ms_at_max"].as_f64().unwrap() <= 60.0);
    }
    assert_eq!(devices[0]["device"], "seedchip-v1");
    assert_eq!(devices[0]["kind"], "simulated");
}

/// Release only (it compiles full DLRM-v2 three times): the default plan.
#[test]
#[ignore]
fn plan_default_json() {
    let doc = json(&seedchip(&["plan", "--json"]));
    let names: Vec<&str> = doc["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["seedchip-v1", "h100-sxm", "h20", "a100-80g", "ascend-910b"]
    );
}

/// Each file in tests/bad-inputs/workload names what it breaks in its first line and lists the
/// fragments its error must contain (`# expect: ...`, including `file:line:col`).
#[test]
fn broken_workload_files_exit_2_with_line_and_key() {
    let dir = repo_root().join("tests/bad-inputs/workload");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "only {} broken workload files",
        files.len()
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expects: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            expects.iter().any(|e| e.contains(".toml:")),
            "{} does not pin a line",
            path.display()
        );
        let rel = path
            .strip_prefix(repo_root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let o = seedchip(&["plan", &rel, "--json"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{rel}: {err}");
        assert!(o.stdout.is_empty(), "{rel}: printed on stdout");
        assert!(!err.contains("panicked"), "{rel}: {err}");
        assert!(err.starts_with("error: "), "{rel}: {err}");
        for e in expects {
            assert!(err.contains(e), "{rel}: expected {e:?} in:\n{err}");
        }
    }
}
