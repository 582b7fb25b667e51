//! Integration tests of the chip crate: published peaks, the cost formulas against hand-computed
//! values, the area model against published dies, and the resolved form's round trip.

use seedchip_chip::{self as chip, Precision, derived, presets};

fn within(actual: f64, expected: f64, rel: f64) -> bool {
    (actual - expected).abs() <= rel * expected.abs()
}

#[test]
fn derived_int8_peaks_match_published_figures() {
    // TPU v1: 92 TOPS (ISCA 2017); MTIA v1: 102.4 TOPS (Meta, 2023); TPU v4i: 138 TOPS;
    // MTIA v2: 354 TOPS dense (reference §A.2).
    for (name, published_tops) in [
        ("tpu-v1", 92.0),
        ("mtia-v1", 102.4),
        ("tpu-v4i", 138.0),
        ("mtia-v2", 354.0),
    ] {
        let c = presets::get(name).unwrap();
        let d = chip::derive(&c);
        let tops = d.peak_tops[&Precision::Int8];
        assert!(
            within(tops, published_tops, 0.01),
            "{name}: derived {tops:.2} TOPS vs published {published_tops}"
        );
    }
    let mtia_v1 = chip::derive(&presets::get("mtia-v1").unwrap());
    assert!(within(mtia_v1.peak_tops[&Precision::Fp16], 51.2, 0.01));
    let mtia_v2 = chip::derive(&presets::get("mtia-v2").unwrap());
    assert!(within(mtia_v2.peak_tops[&Precision::Bf16], 177.0, 0.01));
}

#[test]
fn memory_bandwidth_follows_the_organisation() {
    let d = chip::derive(&presets::get("tpu-v4i").unwrap());
    // 2 stacks x 8 channels x 128 bits x 2400 MT/s = 614.4 GB/s.
    assert!(within(d.memory_bandwidth_gbps, 614.0, 0.01));
    assert_eq!(d.memory_bus_width_bits, 2048);
    let d = chip::derive(&presets::get("mtia-v2").unwrap());
    assert!(within(d.memory_bandwidth_gbps, 204.8, 1e-9));
}

#[test]
fn dies_per_wafer_and_yield_match_hand_computation() {
    // 400 mm² on a 300 mm wafer: pi*150^2/400 - pi*300/sqrt(800)
    //   = 176.715 - 33.322 = 143.39 (reference §D.5 worked example: 143).
    let dpw = derived::dies_per_wafer(300.0, 400.0);
    assert!((dpw - 143.39).abs() < 0.01, "{dpw}");
    // 7 nm D0 = 0.15/cm², alpha = 3: (1 + 4 * 0.15 / 3)^-3 = 1.2^-3 = 0.5787.
    let y = derived::negative_binomial_yield(400.0, 0.15, 3.0);
    assert!((y - 0.578_70).abs() < 1e-5, "{y}");
    // 5 nm, 600 mm², D0 = 0.20: (1 + 6*0.2/3)^-3 = 1.4^-3 = 0.3644; DPW 90.6.
    assert!((derived::negative_binomial_yield(600.0, 0.20, 3.0) - 0.364_43).abs() < 1e-5);
    assert!((derived::dies_per_wafer(300.0, 600.0) - 90.6).abs() < 0.1);
    // 100 mm² at 7 nm: 640 dies, yield 0.864.
    assert!((derived::dies_per_wafer(300.0, 100.0) - 640.2).abs() < 0.1);
    assert!((derived::negative_binomial_yield(100.0, 0.15, 3.0) - 0.8638).abs() < 1e-4);
}

#[test]
fn die_cost_uses_the_formulas() {
    let mut c = presets::get("seedchip-v1").unwrap();
    c.process.die_area_mm2 = Some(400.0);
    let d = chip::derive(&c);
    assert_eq!(d.area_mm2, 400.0);
    assert!((d.dies_per_wafer - 143.39).abs() < 0.01);
    assert!((d.die_yield - 0.5787).abs() < 1e-4);
    // $9,346 / (143.39 * 0.5787) = $112.6 per good die (reference §D.5: $113).
    assert!(
        (d.cost.die_cost_usd - 112.6).abs() < 0.5,
        "{}",
        d.cost.die_cost_usd
    );
    let parts =
        d.cost.die_cost_usd + d.cost.memory_cost_usd + d.cost.package_usd + d.cost.nre_per_unit_usd;
    assert!((d.unit_cost_usd - parts).abs() < 1e-9);
    // 32 GiB of HBM at $7/GB.
    assert!((d.cost.memory_cost_usd - 34.359_738_368 * 7.0).abs() < 1e-6);
}

/// Published die areas (reference §A.2): the TPU v1 and v4i figures are upper bounds as
/// published ("≤ 331", "< 400"); MTIA v1 is 19.34 × 19.1 mm, MTIA v2 25.6 × 16.4 mm.
const PUBLISHED_DIE_MM2: [(&str, f64); 4] = [
    ("tpu-v1", 331.0),
    ("tpu-v4i", 400.0),
    ("mtia-v1", 373.0),
    ("mtia-v2", 421.0),
];

#[test]
fn area_model_within_25_percent_of_published_dies() {
    for (name, published) in PUBLISHED_DIE_MM2 {
        let d = chip::derive(&presets::get(name).unwrap());
        let err = (d.area.estimated_mm2 - published) / published;
        eprintln!(
            "{name}: estimated {:.1} mm², published {published} mm², error {:+.1} %",
            d.area.estimated_mm2,
            100.0 * err
        );
        assert!(err.abs() <= 0.25, "{name}: error {:+.1} %", 100.0 * err);
    }
}

#[test]
fn seedchip_v1_meets_its_design_envelope() {
    let c = presets::get("seedchip-v1").unwrap();
    let d = chip::derive(&c);
    assert_eq!(c.process.node_nm, 7);
    assert!(c.memory.kind.is_hbm());
    assert!(d.tdp_w <= 150.0);
    assert!(d.area_mm2 <= 400.0, "{}", d.area_mm2);
    assert!(c.gather.engines > 0);
    // TPU v4i-like balance: within 10 % of its 225 int8 ops/byte.
    let balance = d.machine_balance_ops_per_byte[&Precision::Int8];
    assert!(within(balance, 225.0, 0.10), "{balance}");
}

#[test]
fn resolved_presets_round_trip_through_json_and_toml() {
    for c in presets::all() {
        let json = serde_json::to_value(&c).unwrap();
        let toml_text = toml::to_string(&json).unwrap();
        let back = chip::from_toml_str(&toml_text, "roundtrip").unwrap();
        assert_eq!(back, c, "{}", c.name);
        let mut again = back.clone();
        again.resolve();
        assert_eq!(again, c, "resolve is not idempotent for {}", c.name);
    }
}

#[test]
fn lists_enough_presets_and_peers() {
    assert!(presets::names().len() >= 5);
    assert!(chip::peers::all().len() >= 8);
    for name in [
        "h100-sxm",
        "h200",
        "h20",
        "a100-80g",
        "l4",
        "b200",
        "ascend-910b",
        "inferentia2",
    ] {
        assert!(chip::peers::get(name).is_some(), "{name}");
    }
    assert!(chip::peers::get("h20").unwrap().contested);
    assert!(chip::peers::get("ascend-910b").unwrap().contested);
    let h100 = chip::peers::get("h100-sxm").unwrap();
    // Reference §A.3: H100 SXM 591 int8 ops per byte.
    assert!(within(
        h100.machine_balance_ops_per_byte(Precision::Int8).unwrap(),
        591.0,
        0.01
    ));
}

const MINIMAL: &str = r#"
name = "tiny"
clock_mhz = 1000.0
[cores]
count = 1
local_sram_bytes = 1048576
[[cores.matrix_units]]
rows = 8
cols = 8
dataflow = "os"
macs_per_cycle = { int8 = 64 }
[cores.vector]
lanes = 8
[shared_sram]
capacity_bytes = 4194304
banks = 4
bytes_per_cycle = 64
[memory]
kind = "lpddr5"
channels = 4
capacity_bytes = 8589934592
[process]
node_nm = 7
tdp_w = 5.0
"#;

#[test]
fn minimal_file_gets_kind_defaults() {
    let c = chip::from_toml_str(MINIMAL, "tiny.toml").unwrap();
    assert_eq!(c.memory.channel_width_bits, Some(16));
    assert_eq!(c.memory.data_rate_mtps, Some(6400.0));
    assert_eq!(c.memory.timing.burst_length, Some(16));
    // 4 x 16 bits x 6400 MT/s = 51.2 GB/s.
    assert!(within(c.memory.bandwidth_gbps.unwrap(), 51.2, 1e-9));
    assert_eq!(c.precisions, Some(vec![Precision::Int8]));
    assert_eq!(c.dma.engines, Some(2));
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

fn expect_err(text: &str) -> chip::Error {
    chip::from_toml_str(text, "t.toml").expect_err("should be rejected")
}

#[test]
fn validation_errors_name_line_and_key() {
    let bad = MINIMAL.replace("channels = 4\n", "channels = 4\nbandwidth_gbps = 100.0\n");
    let e = expect_err(&bad).to_string();
    let at = format!("t.toml:{}:1", line_of(&bad, "bandwidth_gbps"));
    assert!(
        e.contains("memory.bandwidth_gbps") && e.contains(&at),
        "{e}"
    );
    assert!(e.contains("51.2 GB/s"), "{e}");

    let bad = MINIMAL.replace("rows = 8", "rows = 0");
    let e = expect_err(&bad).to_string();
    let at = format!("t.toml:{}:1", line_of(&bad, "rows = 0"));
    assert!(
        e.contains("cores.matrix_units[0].rows") && e.contains(&at),
        "{e}"
    );

    let bad = MINIMAL.replace("lanes = 8", "lanes = 8\nbogus = 1");
    let e = expect_err(&bad).to_string();
    let at = format!("t.toml:{}:1", line_of(&bad, "bogus"));
    assert!(e.contains("cores.vector.bogus") && e.contains(&at), "{e}");

    let bad = MINIMAL.replace("rows = 8", "rows = \"eight\"");
    let e = expect_err(&bad).to_string();
    let at = format!("t.toml:{}:", line_of(&bad, "eight"));
    assert!(
        e.contains("cores.matrix_units.rows") && e.contains(&at),
        "{e}"
    );

    let e = expect_err(&MINIMAL.replace("node_nm = 7", "node_nm = 6")).to_string();
    assert!(
        e.contains("process.node_nm") && e.contains("known: 28, 16, 10, 7, 5"),
        "{e}"
    );
}

#[test]
fn every_precision_must_be_served() {
    let bad = MINIMAL.replace(
        "clock_mhz = 1000.0",
        "clock_mhz = 1000.0\nprecisions = [\"int8\", \"bf16\"]",
    );
    let e = expect_err(&bad).to_string();
    assert!(e.contains("bf16 is not served"), "{e}");
}

/// Dotted key paths of every property in the chip schema (arrays of tables drop the index),
/// with whether each is a table (has properties of its own).
fn schema_keys() -> Vec<(String, bool)> {
    let schema = serde_json::to_value(schemars::schema_for!(chip::Chip)).unwrap();
    let defs = schema["$defs"].clone();
    fn resolve<'a>(v: &'a serde_json::Value, defs: &'a serde_json::Value) -> &'a serde_json::Value {
        if let Some(r) = v["$ref"].as_str() {
            return &defs[r.trim_start_matches("#/$defs/")];
        }
        for alt in ["anyOf", "oneOf", "allOf"] {
            if let Some(list) = v[alt].as_array()
                && let Some(inner) = list.iter().find(|x| x["$ref"].is_string())
            {
                return resolve(inner, defs);
            }
        }
        if let Some(items) = v.get("items") {
            return resolve(items, defs);
        }
        v
    }
    fn walk(
        v: &serde_json::Value,
        defs: &serde_json::Value,
        prefix: &str,
        out: &mut Vec<(String, bool)>,
    ) {
        let v = resolve(v, defs);
        if let Some(props) = v["properties"].as_object() {
            for (k, sub) in props {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                let is_table = resolve(sub, defs)["properties"].is_object();
                out.push((path.clone(), is_table));
                walk(sub, defs, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&schema, &defs, "", &mut out);
    out
}

#[test]
fn chip_format_doc_covers_every_key() {
    let doc_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/chip-format.md");
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let keys = schema_keys();
    assert!(
        keys.len() > 60,
        "schema walk found only {} keys",
        keys.len()
    );
    for (key, _) in keys.iter().filter(|(_, is_table)| !is_table) {
        assert!(
            doc.contains(&format!("| `{key}` |")),
            "docs/chip-format.md lacks a row for `{key}`"
        );
    }
    // And the doc documents no key the code lacks.
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let key = line.trim_start_matches("| `").split('`').next().unwrap();
        assert!(
            keys.iter().any(|(k, _)| k == key),
            "docs/chip-format.md documents unknown key `{key}`"
        );
    }
}
