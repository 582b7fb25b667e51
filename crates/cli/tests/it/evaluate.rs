//! `seedchip evaluate` and `seedchip compare`, scaled down for debug builds: every plot and
//! table is in index.html, every number the page shows is (rounded) in report.json, ONNX models
//! flow through both commands, usage errors exit 2 and leave no files.
//!
//! The runs use `--memory detailed`: calibrating the fast memory model (evaluate's default)
//! takes about a minute of CPU in a debug build, the detailed model on these small batches under
//! a second. The release default run exercises the fast path (docs/evaluate.md).

use std::collections::BTreeSet;
use std::path::PathBuf;

use seedchip_report::num::{fmt_num, numbers_in_text};

use super::support::{json, repo_root, seedchip, stderr, stdout};

const ONNX: &str = "crates/onnx/tests/fixtures/pytorch/dlrm-v1-style/model.onnx";
const FIGURES: [&str; 5] = ["latency", "throughput", "roofline", "energy", "timeline"];
const TABLES: [&str; 2] = ["summary", "results"];
const ROW_FIELDS: [&str; 5] = [
    "latency_ms",
    "samples_per_s",
    "joules_per_sample",
    "samples_per_s_per_watt",
    "usd_per_million_samples",
];

fn out_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seedchip-eval-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Every number in a JSON document, as `fmt_num` shows it, plus numbers written inside strings
/// (layer and lane names such as `core 0 mxu`).
fn json_numbers(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Number(n) => {
            out.insert(fmt_num(n.as_f64().unwrap()));
        }
        serde_json::Value::String(s) => out.extend(numbers_in_text(s)),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_numbers(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.extend(numbers_in_text(k));
            json_numbers(x, out);
        }),
        _ => {}
    }
}

/// The text a reader sees: the body without the script, without axis tick labels (scale
/// marks, not data), without tags; entities decoded.
fn visible_text(html: &str) -> String {
    let body = html.split("<body>").nth(1).expect("a body");
    let body = body.split("<script>").next().unwrap();
    let mut no_ticks = String::new();
    for (i, part) in body.split("<text class=\"tick\"").enumerate() {
        if i == 0 {
            no_ticks.push_str(part);
        } else {
            no_ticks.push_str(part.split_once("</text>").expect("closed tick").1);
        }
    }
    let mut text = String::new();
    for part in no_ticks.split('<') {
        if let Some((_, t)) = part.split_once('>') {
            text.push_str(t);
            text.push(' ');
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn check_report(dir: &std::path::Path, models: usize) -> serde_json::Value {
    let html = std::fs::read_to_string(dir.join("index.html")).expect("index.html written");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["models"].as_array().unwrap().len(), models);
    for i in 0..models {
        for f in FIGURES {
            let at = html
                .find(&format!("<figure id=\"{f}-{i}\">"))
                .unwrap_or_else(|| panic!("figure {f}-{i} missing"));
            let fig = &html[at..at + html[at..].find("</figure>").unwrap()];
            assert!(fig.contains("<svg class=\"plot\""), "{f}-{i} has no svg");
            assert!(fig.contains("class=\"mark\""), "{f}-{i} draws nothing");
            assert!(!fig.contains("no data"), "{f}-{i} is empty");
        }
        for t in TABLES {
            assert!(
                html.contains(&format!("<table id=\"{t}-{i}\">")),
                "table {t}-{i} missing"
            );
        }
    }
    // Self-contained: nothing fetched from elsewhere.
    for bad in ["src=", "<link", "@import", "url(", "http://", "https://"] {
        let hits: Vec<_> = html.match_indices(bad).collect();
        // The SVG namespace URI is an identifier, not a fetch.
        let real = hits
            .iter()
            .filter(|(at, _)| !html[*at..].starts_with("http://www.w3.org/2000/svg"))
            .count();
        assert_eq!(real, 0, "index.html references `{bad}`");
    }
    let mut known = BTreeSet::new();
    json_numbers(&doc, &mut known);
    let shown = numbers_in_text(&visible_text(&html));
    assert!(shown.len() > 50, "the page shows numbers ({})", shown.len());
    for n in &shown {
        assert!(
            known.contains(n),
            "index.html shows {n}, which report.json does not have"
        );
    }
    doc
}

#[test]
fn evaluate_writes_a_complete_report_whose_numbers_are_in_the_json() {
    let dir = out_dir("zoo");
    let out = seedchip(&[
        "evaluate",
        "--model",
        "deepfm",
        "--rows-cap",
        "1000",
        "--batches",
        "1,8",
        "--peers",
        "h100-sxm",
        "--memory",
        "detailed",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("seedchip-v1") && text.contains("h100-sxm"),
        "{text}"
    );
    assert!(stderr(&out).contains("[2/2]"), "progress on stderr");
    let doc = check_report(&dir, 1);
    let m = &doc["models"][0];
    assert_eq!(
        m["results"].as_array().unwrap().len(),
        4,
        "2 devices × 2 batches"
    );
    assert_eq!(doc["detail_batch"], 8);
    for r in m["summary"].as_array().unwrap() {
        for f in ROW_FIELDS {
            assert!(r[f].is_number(), "{f} of {r}");
        }
    }
    let lanes = m["timeline"]["lanes"].as_array().unwrap();
    assert!(!lanes.is_empty());
    let latency = m["timeline"]["latency_us"].as_f64().unwrap();
    for l in lanes {
        let u = l["utilization"].as_f64().unwrap();
        assert!(u > 0.0 && u <= 1.0 + 1e-9, "{l}");
        for iv in l["intervals_us"].as_array().unwrap() {
            let (a, b) = (iv[0].as_f64().unwrap(), iv[1].as_f64().unwrap());
            assert!(0.0 <= a && a < b && b <= latency * (1.0 + 1e-9), "{iv}");
        }
    }
    let layers = m["roofline"]["layers"].as_array().unwrap();
    assert!(layers.iter().any(|l| l["device"] == "seedchip-v1"));
    assert!(layers.iter().any(|l| l["device"] == "h100-sxm"));
    // The same run again gives the same bytes (no clocks, no hash order) even with one thread.
    let again = out_dir("zoo-again");
    let o2 = std::process::Command::new(env!("CARGO_BIN_EXE_seedchip"))
        .args([
            "evaluate",
            "--model",
            "deepfm",
            "--rows-cap",
            "1000",
            "--batches",
            "1,8",
            "--peers",
            "h100-sxm",
            "--json",
            "--memory",
            "detailed",
            "--out",
            again.to_str().unwrap(),
        ])
        .env("RAYON_NUM_THREADS", "1")
        .current_dir(repo_root())
        .output()
        .unwrap();
    let printed = json(&o2);
    for f in ["report.json", "index.html"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    assert_eq!(printed, doc, "--json prints report.json");
    assert!(
        !stdout(&o2).contains("evaluate:"),
        "progress stays off stdout"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&again).unwrap();
}

#[test]
fn onnx_models_go_through_evaluate_and_compare() {
    let dir = out_dir("onnx");
    let out = seedchip(&[
        "evaluate",
        "--model",
        ONNX,
        "--batches",
        "4",
        "--peers",
        "a100-80g",
        "--memory",
        "detailed",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let doc = check_report(&dir, 1);
    assert_eq!(doc["models"][0]["model"], ONNX);
    std::fs::remove_dir_all(&dir).unwrap();

    let doc = json(&seedchip(&[
        "compare",
        ONNX,
        "--devices",
        "seedchip-v1,h100-sxm,h20",
        "--batch",
        "4",
        "--json",
    ]));
    assert_eq!(doc["schema_version"], 1);
    let rows = doc["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (r, d) in rows.iter().zip(["seedchip-v1", "h100-sxm", "h20"]) {
        assert_eq!(r["device"], d);
        assert_eq!(r["batch"], 4);
        for f in &ROW_FIELDS[..4] {
            assert!(r[*f].as_f64().unwrap() > 0.0, "{f} of {r}");
        }
        let lat = r["latency_ms"].as_f64().unwrap();
        let sps = r["samples_per_s"].as_f64().unwrap();
        assert!(sps > 0.0 && lat > 0.0);
    }
    // Every default device is priced: the chip by its cost model, the H100 by its street price,
    // the H20 by press reports (flagged as uncertain in its source note).
    for r in rows {
        assert!(r["usd_per_million_samples"].as_f64().unwrap() > 0.0, "{r}");
        assert!(
            r["energy_usd_per_million_samples"].as_f64().unwrap() > 0.0,
            "{r}"
        );
    }
    assert!(
        rows[2]["unit_cost_source"]
            .as_str()
            .unwrap()
            .contains("(U)")
    );
}

#[test]
fn compare_costs_follow_the_documented_formula_and_prices_can_be_given() {
    let doc = json(&seedchip(&[
        "compare",
        "deepfm",
        "--rows-cap",
        "1000",
        "--devices",
        "h20,h100-sxm",
        "--batches",
        "1,64",
        "--price",
        "h20=13000",
        "--json",
    ]));
    let a = &doc["cost_assumptions"];
    let years = a["lifetime_years"].as_f64().unwrap();
    let pue = a["pue"].as_f64().unwrap();
    let kwh = a["usd_per_kwh"].as_f64().unwrap();
    let rows = doc["results"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for r in rows {
        let unit = r["unit_cost_usd"].as_f64().unwrap();
        let sps = r["samples_per_s"].as_f64().unwrap();
        let j = r["joules_per_sample"].as_f64().unwrap();
        let want = 1e6 * unit / (sps * years * 365.25 * 86400.0) + 1e6 * j * pue / 3.6e6 * kwh;
        let got = r["usd_per_million_samples"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
        let w = r["avg_power_w"].as_f64().unwrap();
        let ppw = r["samples_per_s_per_watt"].as_f64().unwrap();
        assert!((ppw - sps / w).abs() <= 1e-6 * ppw, "{ppw} vs {sps}/{w}");
    }
    assert_eq!(rows[0]["unit_cost_usd"], 13000.0);
    assert_eq!(rows[0]["unit_cost_source"], "given with --price");
}

#[test]
fn usage_errors_exit_2_without_output_files() {
    let dir = out_dir("bad");
    for args in [
        vec![
            "compare",
            "deepfm",
            "--devices",
            "seedchip-v1,h900",
            "--batch",
            "8",
        ],
        vec![
            "compare",
            "deepfm",
            "--devices",
            "a100-80g",
            "--batch",
            "8",
            "--precision",
            "fp8",
        ],
        vec!["compare", "deepfm", "--devices", "h20"],
        vec!["compare", "deepfm", "--devices", "h20", "--batches", "1,0"],
        vec![
            "compare",
            "deepfm",
            "--devices",
            "h20",
            "--batch",
            "8",
            "--stack",
            "turbo",
        ],
        vec![
            "evaluate",
            "--model",
            "nope",
            "--out",
            dir.to_str().unwrap(),
        ],
        vec![
            "evaluate",
            "--chip",
            "h100-sxm",
            "--out",
            dir.to_str().unwrap(),
        ],
        vec![
            "evaluate",
            "--peers",
            "seedchip-v1",
            "--out",
            dir.to_str().unwrap(),
        ],
        vec![
            "evaluate",
            "--batches",
            "1,8",
            "--detail-batch",
            "4",
            "--out",
            dir.to_str().unwrap(),
        ],
    ] {
        let out = seedchip(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error:"), "{args:?}");
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
    assert!(!dir.exists(), "no output directory after a usage error");
}
