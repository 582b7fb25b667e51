//! The systolic model against SCALE-Sim v3: every row of the committed oracle table (produced by
//! `scripts/scalesim_oracle.py`) and its multi-layer report files, verbatim.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use seedchip_chip::Dataflow;
use seedchip_timing::systolic::scalesim::{self as ss, BandwidthMode, Config};
use seedchip_timing::systolic::{self, ArrayShape, Gemm};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The oracle table as (column name → text) rows.
fn oracle_rows() -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(data_dir().join("scalesim_v3_cases.csv"))
        .expect("the committed oracle table");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.len(), header.len(), "row `{l}`");
            header
                .iter()
                .zip(fields)
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect()
        })
        .collect()
}

fn num(row: &std::collections::BTreeMap<String, String>, key: &str) -> u64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {row:?}"))
}

fn dataflow(s: &str) -> Dataflow {
    match s {
        "ws" => Dataflow::Ws,
        "os" => Dataflow::Os,
        "is" => Dataflow::Is,
        other => panic!("dataflow {other}"),
    }
}

#[test]
fn oracle_table_covers_the_acceptance_matrix() {
    let rows = oracle_rows();
    assert!(rows.len() >= 50, "{} cases", rows.len());
    let dataflows: BTreeSet<_> = rows.iter().map(|r| r["dataflow"].clone()).collect();
    assert_eq!(dataflows.len(), 3);
    let sizes: BTreeSet<(u64, u64)> = rows
        .iter()
        .map(|r| (num(r, "rows"), num(r, "cols")))
        .collect();
    assert!(
        sizes.contains(&(8, 8)) && sizes.contains(&(256, 256)),
        "{sizes:?}"
    );
    assert!(
        sizes.iter().filter(|(r, c)| r != c).count() >= 3,
        "{sizes:?}"
    );
    // DLRM-v2 MLP and DCN shapes at every batch.
    for batch in [1, 64, 512, 2048] {
        let at = |prefixes: &[&str]| {
            rows.iter().any(|r| {
                r["workload"].ends_with(&format!("_b{batch}"))
                    && prefixes.iter().any(|p| r["workload"].starts_with(p))
            })
        };
        assert!(at(&["dcn_u", "dcn_v"]), "no DCN layer at batch {batch}");
        assert!(
            at(&["bot"]) && at(&["top"]),
            "no MLP layer at batch {batch}"
        );
    }
}

/// The acceptance check: closed-form compute cycles equal SCALE-Sim's "Total Cycles" for every
/// committed case (and stall-free runs report zero stalls).
#[test]
fn compute_cycles_equal_scalesim_on_every_case() {
    let mut mismatches = Vec::new();
    let rows = oracle_rows();
    for r in &rows {
        let t = systolic::gemm(
            dataflow(&r["dataflow"]),
            ArrayShape {
                rows: num(r, "rows"),
                cols: num(r, "cols"),
            },
            Gemm {
                m: num(r, "m"),
                k: num(r, "k"),
                n: num(r, "n"),
            },
        )
        .unwrap();
        assert_eq!(num(r, "stall_cycles"), 0, "case {}", r["case"]);
        if t.compute_cycles != num(r, "total_cycles") {
            mismatches.push(format!(
                "case {} {} {} {}x{}: seedchip {} vs SCALE-Sim {}",
                r["case"],
                r["workload"],
                r["dataflow"],
                r["rows"],
                r["cols"],
                t.compute_cycles,
                r["total_cycles"]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        rows.len(),
        mismatches.join("\n")
    );
}

fn config_of(r: &std::collections::BTreeMap<String, String>) -> Config {
    Config {
        run_name: format!("case{}", r["case"]),
        array_rows: num(r, "rows"),
        array_cols: num(r, "cols"),
        ifmap_sram_kb: num(r, "ifmap_sram_kb"),
        filter_sram_kb: num(r, "filter_sram_kb"),
        ofmap_sram_kb: num(r, "ofmap_sram_kb"),
        dataflow: dataflow(&r["dataflow"]),
        bandwidth: BandwidthMode::Calc,
        ramulator_trace: false,
        custom_layout: false,
    }
}

/// Every report column, as text: cycles incl. prefetch, the Python-float percentages and the
/// SRAM/DRAM bandwidths.
#[test]
fn every_report_column_equals_scalesim_text() {
    let rows = oracle_rows();
    let mut mismatches = Vec::new();
    for r in &rows {
        let topo = format!(
            "h\n{}, {}, {}, {},\n",
            r["workload"], r["m"], r["n"], r["k"]
        );
        let layer = &ss::parse_topology(&topo, true).unwrap()[0];
        let rep = ss::layer_report(&config_of(r), layer).unwrap();
        let ours = [
            (
                "total_cycles_incl_prefetch",
                rep.total_cycles_incl_prefetch.to_string(),
            ),
            ("total_cycles", rep.total_cycles.to_string()),
            ("stall_cycles", rep.stall_cycles.to_string()),
            ("overall_util_pct", ss::py_repr(rep.overall_util_pct)),
            (
                "mapping_efficiency_pct",
                ss::py_repr(rep.mapping_efficiency_pct),
            ),
            ("compute_util_pct", ss::py_repr(rep.compute_util_pct)),
            ("avg_ifmap_sram_bw", ss::py_repr(rep.ifmap_sram_bw)),
            ("avg_filter_sram_bw", ss::py_repr(rep.filter_sram_bw)),
            ("avg_ofmap_sram_bw", ss::py_repr(rep.ofmap_sram_bw)),
            ("avg_ifmap_dram_bw", ss::py_repr(rep.ifmap_dram.bandwidth())),
            (
                "avg_filter_dram_bw",
                ss::py_repr(rep.filter_dram.bandwidth()),
            ),
            ("avg_ofmap_dram_bw", ss::py_repr(rep.ofmap_dram.bandwidth())),
        ];
        for (key, v) in ours {
            if r[key] != v {
                mismatches.push(format!(
                    "case {} {} {} {}x{} {key}: seedchip {v} vs SCALE-Sim {}",
                    r["case"], r["workload"], r["dataflow"], r["rows"], r["cols"], r[key]
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The multi-layer fixtures: the library writes SCALE-Sim's report files byte for byte.
#[test]
fn fixture_reports_are_byte_identical() {
    let dir = data_dir().join("scalesim");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".cfg").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    for name in names {
        let read =
            |suffix: &str| std::fs::read_to_string(dir.join(format!("{name}{suffix}"))).unwrap();
        let config = ss::parse_config(&read(".cfg")).unwrap();
        let topo = read(".csv");
        let gemm = topo.lines().next().unwrap().split(',').count() < 8;
        let layers = ss::parse_topology(&topo, gemm).unwrap();
        let reports: Vec<_> = layers
            .iter()
            .map(|l| ss::layer_report(&config, l).unwrap())
            .collect();
        assert_eq!(
            ss::compute_report_csv(&reports),
            read(".COMPUTE_REPORT.csv"),
            "{name}"
        );
        assert_eq!(
            ss::bandwidth_report_csv(&reports),
            read(".BANDWIDTH_REPORT.csv"),
            "{name}"
        );
    }
}
