//! `chips`, `chip show`, `chip schema`, and the broken-chip-file corpus.

use crate::support::*;

#[test]
fn chips_lists_presets_and_peers() {
    let doc = json(&seedchip(&["chips", "--json"]));
    assert_eq!(doc["schema_version"], 1);
    let simulated = doc["simulated"].as_array().unwrap();
    let peers = doc["peers"].as_array().unwrap();
    assert!(simulated.len() >= 5, "{} presets", simulated.len());
    assert!(peers.len() >= 8, "{} peers", peers.len());
    for name in ["seedchip-v1", "tpu-v1", "tpu-v4i", "mtia-v1", "mtia-v2"] {
        assert!(simulated.iter().any(|c| c["name"] == name), "{name}");
    }
    let text = stdout(&seedchip(&["chips"]));
    assert!(
        text.contains("seedchip-v1") && text.contains("h100-sxm"),
        "{text}"
    );
    assert!(text.contains("contested"), "{text}");
}

fn assert_show_fields(doc: &serde_json::Value) {
    let d = &doc["derived"];
    assert!(d["peak_ops_per_s"]["int8"].as_f64().unwrap() > 0.0, "{d}");
    for key in [
        "memory_bandwidth_gbps",
        "area_mm2",
        "die_yield",
        "dies_per_wafer",
        "unit_cost_usd",
    ] {
        assert!(
            d[key].as_f64().is_some_and(|v| v > 0.0),
            "{key} missing in {d}"
        );
    }
}

#[test]
fn chip_show_json_has_derived_figures() {
    let doc = json(&seedchip(&["chip", "show", "seedchip-v1", "--json"]));
    assert_eq!(doc["chip"]["name"], "seedchip-v1");
    assert_show_fields(&doc);
    // Every default is filled in the resolved description.
    assert_eq!(doc["chip"]["memory"]["timing"]["burst_length"], 8);
    let text = stdout(&seedchip(&["chip", "show", "tpu-v1"]));
    assert!(
        text.contains("peak int8") && text.contains("dies/wafer"),
        "{text}"
    );
}

/// Every preset's `chip show --json`, written back as TOML, loads to the same description, and
/// a user's file gets the same derived fields as a preset.
#[test]
fn chip_show_round_trips_through_a_user_file() {
    let dir = std::env::temp_dir().join(format!("seedchip-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let presets = json(&seedchip(&["chips", "--json"]));
    for preset in presets["simulated"].as_array().unwrap() {
        let name = preset["name"].as_str().unwrap();
        let shown = json(&seedchip(&["chip", "show", name, "--json"]));
        let toml_text = toml::to_string(&shown["chip"]).unwrap();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml_text).unwrap();
        let reloaded = json(&seedchip(&[
            "chip",
            "show",
            path.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(reloaded["chip"], shown["chip"], "{name}");
        assert_eq!(reloaded["derived"], shown["derived"], "{name}");
        assert_show_fields(&reloaded);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn chip_schema_is_a_json_schema() {
    let doc = json(&seedchip(&["chip", "schema"]));
    assert_eq!(doc["title"], "Chip");
    assert!(doc["properties"]["clock_mhz"].is_object(), "{doc}");
    assert!(doc.to_string().contains("capacity_bytes"));
}

#[test]
fn unknown_chip_is_a_usage_error() {
    let o = seedchip(&["chip", "show", "no-such-chip"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("unknown chip `no-such-chip`") && err.contains("hint: presets: seedchip-v1"),
        "{err}"
    );
    let o = seedchip(&["chip", "frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Each file in tests/bad-inputs/chip names what it breaks in its first line and lists the
/// fragments its error must contain (`# expect: ...`, including `file:line`).
#[test]
fn broken_chip_files_exit_2_with_line_and_key() {
    let dir = repo_root().join("tests/bad-inputs/chip");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "only {} broken chip files", files.len());
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
        let rel = path
            .strip_prefix(repo_root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let o = seedchip(&["chip", "show", &rel, "--json"]);
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
