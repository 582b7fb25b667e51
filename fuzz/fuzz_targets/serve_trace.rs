//! Arrival traces (`seedchip serve --trace FILE`, one `time_s [candidates]` per line) are
//! recorded or hand-made: parsing gives arrivals or an error naming the line, never a panic.
//! A trace that parses validates, has a finite non-negative mean rate, and rescaled to a rate
//! (what `serve --qps` does) still gives finite, non-decreasing arrival times, since the
//! serving simulator orders its events by them.
//!
//! Run: `cargo fuzz run -s none serve_trace` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` copies the trace files in the repository.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_serving::Arrivals;
use seedchip_serving::arrivals::ArrivalGen;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let a = match Arrivals::parse_trace(text, "fuzz.trace") {
        Ok(a) => a,
        Err(e) => {
            assert!(e.to_string().contains("fuzz.trace"), "unlocated error: {e}");
            return;
        }
    };
    a.validate().expect("a parsed trace must validate");
    let mean = a.mean_qps();
    assert!(mean.is_finite() && mean >= 0.0, "mean rate {mean}");
    for qps in [1.0, 1000.0, 1e6] {
        let scaled = a.with_qps(qps);
        let mut g = ArrivalGen::new(&scaled, 1);
        let mut last = 0.0f64;
        while let Some((t, _)) = g.next_arrival() {
            assert!(t.is_finite() && t >= last, "arrival at {t} after {last} (qps {qps})");
            last = t;
        }
    }
});
