//! `gemm` and `scalesim`: the systolic timing commands, checked against SCALE-Sim v3's own
//! report files for the same inputs (committed under crates/timing/tests/data/scalesim by
//! scripts/scalesim_oracle.py).

use std::path::{Path, PathBuf};

use crate::support::*;

fn fixtures() -> PathBuf {
    repo_root().join("crates/timing/tests/data/scalesim")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seedchip-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn gemm_json_reports_scalesim_cycles_and_utilization() {
    let doc = json(&seedchip(&[
        "gemm",
        "--array",
        "8x4",
        "--dataflow",
        "ws",
        "--m",
        "20",
        "--k",
        "13",
        "--n",
        "9",
        "--json",
    ]));
    assert_eq!(doc["schema_version"], 1);
    // SCALE-Sim v3 on this GEMM: Total Cycles 227, Overall Util 32.21 %, Mapping 60.94 %.
    assert_eq!(doc["compute_cycles"], 227);
    assert_eq!(doc["folds"], 6);
    assert_eq!(doc["cycles_per_fold"], 38);
    assert_eq!(doc["mapping_efficiency"], 0.609375);
    assert_eq!(doc["overall_utilization"], 0.32213656387665196);
    assert_eq!(doc["sram"]["ifmap_reads"], 780);
    let text = stdout(&seedchip(&[
        "gemm",
        "--array",
        "128x128",
        "--dataflow",
        "os",
        "--m",
        "64",
        "--k",
        "3456",
        "--n",
        "1024",
    ]));
    assert!(
        text.contains("compute cycles") && text.contains("29679"),
        "{text}"
    );
    assert!(
        text.contains("physical"),
        "os over-count is flagged: {text}"
    );
}

#[test]
fn gemm_rejects_bad_arguments_with_exit_2() {
    for args in [
        &[
            "gemm",
            "--array",
            "8y8",
            "--dataflow",
            "ws",
            "--m",
            "1",
            "--k",
            "1",
            "--n",
            "1",
        ][..],
        &[
            "gemm",
            "--array",
            "0x8",
            "--dataflow",
            "ws",
            "--m",
            "1",
            "--k",
            "1",
            "--n",
            "1",
        ],
        &[
            "gemm",
            "--array",
            "8x8",
            "--dataflow",
            "rs",
            "--m",
            "1",
            "--k",
            "1",
            "--n",
            "1",
        ],
        &[
            "gemm",
            "--array",
            "8x8",
            "--dataflow",
            "ws",
            "--m",
            "0",
            "--k",
            "1",
            "--n",
            "1",
        ],
        &[
            "gemm",
            "--array",
            "8x8",
            "--dataflow",
            "ws",
            "--m",
            "1",
            "--k",
            "1",
        ],
    ] {
        let o = seedchip(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{}", stderr(&o));
    }
}

/// The columns of a report file after the header, as text.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .map(|l| {
            l.trim_end_matches(',')
                .split(',')
                .map(|f| f.trim().to_string())
                .collect()
        })
        .collect()
}

/// The acceptance check: `seedchip scalesim` on SCALE-Sim's own inputs writes reports whose
/// cycle columns (and every other column) equal SCALE-Sim's.
#[test]
fn scalesim_command_matches_scalesim_reports() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("committed fixtures")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".cfg")
                .map(String::from)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    for name in &names {
        let dir = fixtures();
        let cfg = dir.join(format!("{name}.cfg"));
        let topo = dir.join(format!("{name}.csv"));
        let gemm = std::fs::read_to_string(&topo)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .split(',')
            .count()
            < 8;
        let out = scratch(name).join("nested/out");
        let mut args = vec!["scalesim", "-c", s(&cfg), "-t", s(&topo), "-o", s(&out)];
        if gemm {
            args.push("--gemm");
        }
        let o = seedchip(&args);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let ours = std::fs::read_to_string(out.join("COMPUTE_REPORT.csv")).unwrap();
        let theirs =
            std::fs::read_to_string(dir.join(format!("{name}.COMPUTE_REPORT.csv"))).unwrap();
        assert_eq!(ours.lines().next(), theirs.lines().next(), "{name}: header");
        let (a, b) = (rows(&ours), rows(&theirs));
        assert_eq!(a.len(), b.len(), "{name}: layer count");
        for (layer, (x, y)) in a.iter().zip(&b).enumerate() {
            // LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles.
            assert_eq!(x[..4], y[..4], "{name} layer {layer}: cycle columns");
        }
        assert_eq!(ours, theirs, "{name}: whole COMPUTE_REPORT.csv");
        let bw = std::fs::read_to_string(out.join("BANDWIDTH_REPORT.csv")).unwrap();
        let bw_theirs =
            std::fs::read_to_string(dir.join(format!("{name}.BANDWIDTH_REPORT.csv"))).unwrap();
        assert_eq!(bw, bw_theirs, "{name}: BANDWIDTH_REPORT.csv");
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        let _ = std::fs::remove_dir_all(scratch(name));
    }
}

/// Broken inputs exit 2 with `file:line: what`, and leave no report behind.
#[test]
fn scalesim_bad_inputs_exit_2_with_location() {
    let dir = scratch("scalesim-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let good_cfg = std::fs::read_to_string(fixtures().join("convs_ws_16x16.cfg")).unwrap();
    let cfg_path = dir.join("run.cfg");
    let topo_path = dir.join("topo.csv");
    let out = dir.join("out");
    let run = |cfg: &str, topo: &str, gemm: bool| {
        std::fs::write(&cfg_path, cfg).unwrap();
        std::fs::write(&topo_path, topo).unwrap();
        let mut args = vec![
            "scalesim",
            "-c",
            s(&cfg_path),
            "-t",
            s(&topo_path),
            "-o",
            s(&out),
        ];
        if gemm {
            args.push("--gemm");
        }
        seedchip(&args)
    };
    let good_topo = "Layer, M, N, K,\ng, 10, 10, 10,\n";
    let cases: Vec<(String, String, bool, String)> = vec![
        (
            good_cfg.replace("Dataflow : ws", "Dataflow : rs"),
            good_topo.into(),
            true,
            "run.cfg:14:".into(),
        ),
        (
            good_cfg.replace("ArrayHeight:    16", "ArrayHeight:    -3"),
            good_topo.into(),
            true,
            "run.cfg:5:".into(),
        ),
        (
            good_cfg.replace("[run_presets]", "[run_presetz]"),
            good_topo.into(),
            true,
            "run_presets".into(),
        ),
        (
            good_cfg.clone(),
            "Layer, M, N, K,\ng, 10, 10, 10\n".into(),
            true,
            "topo.csv:2:".into(),
        ),
        (
            good_cfg.clone(),
            "Layer, M, N, K,\ng, 10, 10, 10,\nh, 1, zero, 3,\n".into(),
            true,
            "topo.csv:3:".into(),
        ),
        (
            good_cfg.clone(),
            "Layer, M, N, K,\ng, 10, 10, 10,\n".into(),
            false,
            "topo.csv:2:".into(),
        ),
        (
            good_cfg.clone(),
            "Layer, M, N, K,\nbig, 4000000000, 40, 40,\n".into(),
            true,
            "topo.csv:2: M = 4000000000".into(),
        ),
    ];
    for (cfg, topo, gemm, want) in cases {
        let o = run(&cfg, &topo, gemm);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{want}: {err}");
        assert!(err.contains(&want), "want `{want}` in: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !out.join("COMPUTE_REPORT.csv").exists(),
            "a report was written for a bad input"
        );
    }
    let o = run(&good_cfg, good_topo, true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("COMPUTE_REPORT.csv").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `seedchip scalesim` on the inputs of every case of the committed SCALE-Sim table (one
/// config and one-layer GEMM topology each, as scripts/scalesim_oracle.py gave SCALE-Sim):
/// every COMPUTE_REPORT.csv and BANDWIDTH_REPORT.csv column equals SCALE-Sim's text.
#[test]
fn scalesim_command_matches_every_oracle_case() {
    let table =
        std::fs::read_to_string(repo_root().join("crates/timing/tests/data/scalesim_v3_cases.csv"))
            .unwrap();
    let mut lines = table.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let dir = scratch("scalesim-oracle");
    std::fs::create_dir_all(&dir).unwrap();
    let mut checked = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let get = |name: &str| f[col(name)];
        let cfg = format!(
            "[general]\nrun_name = case{}\n\n[architecture_presets]\nArrayHeight: {}\nArrayWidth: {}\n\
             IfmapSramSzkB: {}\nFilterSramSzkB: {}\nOfmapSramSzkB: {}\nIfmapOffset: 0\n\
             FilterOffset: 10000000\nOfmapOffset: 20000000\nBandwidth : 10\nDataflow : {}\n\
             ReadRequestBuffer: 32\nWriteRequestBuffer: 32\n\n[layout]\nIfmapCustomLayout: False\n\
             FilterCustomLayout: False\n\n[sparsity]\nSparsitySupport : false\n\n[run_presets]\n\
             InterfaceBandwidth: CALC\nUseRamulatorTrace: False\n",
            get("case"),
            get("rows"),
            get("cols"),
            get("ifmap_sram_kb"),
            get("filter_sram_kb"),
            get("ofmap_sram_kb"),
            get("dataflow"),
        );
        let topo = format!(
            "Layer, M, N, K,\n{}, {}, {}, {},\n",
            get("workload"),
            get("m"),
            get("n"),
            get("k")
        );
        let (cfg_path, topo_path, out) =
            (dir.join("run.cfg"), dir.join("topo.csv"), dir.join("out"));
        std::fs::write(&cfg_path, cfg).unwrap();
        std::fs::write(&topo_path, topo).unwrap();
        let o = seedchip(&[
            "scalesim",
            "-c",
            s(&cfg_path),
            "-t",
            s(&topo_path),
            "--gemm",
            "-o",
            s(&out),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "case {}: {}",
            get("case"),
            stderr(&o)
        );
        let compute = rows(&std::fs::read_to_string(out.join("COMPUTE_REPORT.csv")).unwrap());
        let bandwidth = rows(&std::fs::read_to_string(out.join("BANDWIDTH_REPORT.csv")).unwrap());
        let want_compute = [
            "total_cycles_incl_prefetch",
            "total_cycles",
            "stall_cycles",
            "overall_util_pct",
            "mapping_efficiency_pct",
            "compute_util_pct",
        ];
        let want_bandwidth = [
            "avg_ifmap_sram_bw",
            "avg_filter_sram_bw",
            "avg_ofmap_sram_bw",
            "avg_ifmap_dram_bw",
            "avg_filter_dram_bw",
            "avg_ofmap_dram_bw",
        ];
        for (i, name) in want_compute.iter().enumerate() {
            assert_eq!(compute[0][i + 1], get(name), "case {} {name}", get("case"));
        }
        for (i, name) in want_bandwidth.iter().enumerate() {
            assert_eq!(
                bandwidth[0][i + 1],
                get(name),
                "case {} {name}",
                get("case")
            );
        }
        checked += 1;
    }
    assert!(checked >= 50, "{checked} cases");
    let _ = std::fs::remove_dir_all(&dir);
}
