//! Workload files (`seedchip plan workload.toml`) are hand-edited: parsing and validation give a
//! workload or an error with `file:line:col` and the key, never a panic, and a workload that
//! validates has finite, non-negative request rates (what `plan` sizes the fleet from).
//!
//! Run: `cargo fuzz run -s none workload_toml` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` copies the built-in workloads and `tests/bad-inputs/workload/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_serving::plan::Workload;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(w) = Workload::parse(text, "fuzz.toml") else {
        return;
    };
    for qps in [w.average_qps(), w.peak_qps()] {
        assert!(qps.is_finite() && qps >= 0.0, "request rate {qps}");
    }
});
