//! `seedchip sim`: the JSON contract, internal consistency, the Perfetto trace, determinism
//! across runs and thread counts, and usage errors.

use super::support::{json, repo_root, seedchip, stderr, stdout};

const MODEL: [&str; 8] = [
    "sim",
    "deepfm",
    "--chip",
    "seedchip-v1",
    "--batch",
    "8",
    "--rows-cap",
    "1000",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = MODEL.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn json_report_is_consistent_and_the_trace_loads() {
    let dir = std::env::temp_dir().join(format!("seedchip-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.json");
    let _ = std::fs::remove_file(&trace);
    let out = seedchip(&args(&["--json", "--trace", trace.to_str().unwrap()]));
    let doc = json(&out);
    let sim = &doc["sim"];
    let cycles = sim["cycles"].as_u64().unwrap();
    assert!(cycles > 0);
    assert_eq!(doc["batch"], 8);
    let f = doc["roofline_fraction"].as_f64().unwrap();
    assert!(f > 0.0 && f <= 1.0, "roofline fraction {f}");
    assert_eq!(f, sim["roofline"]["roofline_fraction"].as_f64().unwrap());
    for q in sim["queues"].as_array().unwrap() {
        let busy = q["busy_cycles"].as_u64().unwrap();
        let stalls = q["stall_semaphore_cycles"].as_u64().unwrap()
            + q["stall_unit_cycles"].as_u64().unwrap();
        assert!(busy + stalls <= cycles, "{q}");
    }
    for e in sim["engines"].as_array().unwrap() {
        assert!(e["busy_cycles"].as_u64().unwrap() <= cycles, "{e}");
    }
    let energy = &sim["energy"];
    let parts: f64 = energy["breakdown_pj"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    let total = energy["total_pj"].as_f64().unwrap();
    assert!((parts - total).abs() <= 1e-9 * total, "{parts} vs {total}");
    let r = &sim["roofline"];
    assert!(r["offchip_bytes"].as_u64().unwrap() >= r["min_offchip_bytes"].as_u64().unwrap());
    let g = &sim["gather"];
    assert!(g["lookups"].as_u64().unwrap() > 0, "deepfm gathers");
    assert_eq!(
        g["coalesced"].as_u64().unwrap(),
        g["lookups"].as_u64().unwrap() - g["rows_fetched"].as_u64().unwrap()
    );
    assert!(sim["memory"]["row_hit_rate"].as_f64().is_some());

    // The trace: trace-event JSON, a named track per unit that ran something.
    let text = std::fs::read_to_string(&trace).unwrap();
    let t: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = t["traceEvents"].as_array().unwrap();
    let slices: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(
        slices.iter().filter(|e| e["pid"] != 1_000_000).count() as u64,
        doc["program"]["instructions"].as_u64().unwrap(),
        "one slice per instruction"
    );
    for e in &slices {
        assert!(e["ts"].as_f64().unwrap() >= 0.0 && e["dur"].as_f64().unwrap() >= 0.0);
    }
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    for unit in ["dma", "gather", "mxu", "vpu", "gather0", "dma0"] {
        assert!(names.contains(&unit), "no track {unit} in {names:?}");
    }
    // Written atomically: no temporary file left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_is_identical_across_runs_and_thread_counts() {
    let run = |threads: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_seedchip"))
            .args(args(&["--json"]))
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out.stdout
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    assert_eq!(one, run("1"));
}

#[test]
fn text_report_names_the_figures() {
    let out = seedchip(&args(&["--precision", "bf16"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = stdout(&out);
    for needle in [
        "latency",
        "throughput",
        "roofline",
        "energy",
        "memory",
        "gathers",
        "mxu",
    ] {
        assert!(s.contains(needle), "no `{needle}` in:\n{s}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for (extra, needle) in [
        (&["--precision", "int4"][..], "unknown precision"),
        (&["--memory", "magic"][..], "unknown memory model"),
        (&["--logic-energy", "guess"][..], "unknown logic energy"),
    ] {
        let out = seedchip(&args(extra));
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{extra:?}: {}", stderr(&out));
    }
    let out = seedchip(&["sim", "deepfm", "--chip", "seedchip-v1", "--batch", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at least 1"), "{}", stderr(&out));
    let out = seedchip(&["sim", "deepfm", "--chip", "no-such-chip", "--batch", "8"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The timing model takes gather ids from its data-movement shadow, not from funcsim: the two
/// must see the same lookups, the same cache hits and the same MACs.
#[test]
fn timing_sees_what_funcsim_executes() {
    let sim = json(&seedchip(&args(&["--json"])));
    let mut run_args: Vec<&str> = args(&["--json"]);
    run_args[0] = "run";
    let run = json(&seedchip(&run_args));
    let stats = &run["stats"];
    let g = &sim["sim"]["gather"];
    assert!(g["lookups"].as_u64().unwrap() > 0);
    assert_eq!(g["lookups"], stats["gather_rows"]);
    assert_eq!(g["cached_lookups"], stats["gather_cached_rows"]);
    let macs: u64 = sim["sim"]["matrix"]["macs"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(macs, stats["macs"].as_u64().unwrap());
    assert_eq!(sim["program"]["instructions"], stats["instructions"]);
}
