//! Sweep results files (JSON Lines, read back by `seedchip sweep` to resume, by `sweep merge`
//! and by `sweep report`) may be cut off, hand-edited or another sweep's: reading gives the
//! records or an error at `file:line`, never a panic; a cut-off last line is reported, not
//! read. The records that read must make a report (Pareto fronts, sensitivities, best designs)
//! and its HTML page, and the sorted text written back must read again to the same records.
//!
//! Run: `cargo fuzz run -s none sweep_results` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` copies the results files under `examples/sweeps/` and the CLI tests.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_sweep::Error;
use seedchip_sweep::spec::Objective;

fuzz_target!(|data: &[u8]| {
    let lines = match seedchip_sweep::results::parse(data, "fuzz.jsonl", None) {
        Ok(l) => l,
        Err(Error::Results { location, .. }) => {
            assert!(location.starts_with("fuzz.jsonl:"), "unlocated error at {location}");
            return;
        }
        Err(e) => panic!("a results file error must be located: {e}"),
    };
    let text = seedchip_sweep::results::sorted_text(&lines.by_id);
    let back = seedchip_sweep::results::parse(text.as_bytes(), "sorted.jsonl", None)
        .unwrap_or_else(|e| panic!("sorted results must read again: {e}\n{text}"));
    assert!(!back.truncated, "sorted text ends in a partial line");
    assert_eq!(
        back.by_id.keys().collect::<Vec<_>>(),
        lines.by_id.keys().collect::<Vec<_>>(),
        "sorted text changed the points"
    );
    let records: Vec<seedchip_sweep::Record> =
        lines.by_id.into_values().map(|(r, _)| r).collect();
    for objs in [
        &[Objective::PerfPerW, Objective::UsdPerMillionSamples][..],
        &seedchip_sweep::spec::OBJECTIVES[..],
    ] {
        let rep = seedchip_sweep::report::build(&records, objs);
        let _ = seedchip_sweep::report::html(&rep, &records);
        serde_json::to_string(&rep).expect("a report serializes");
    }
});
