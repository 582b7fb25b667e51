//! Sweep files (`seedchip sweep FILE`) are hand-edited: parsing and validation give a sweep or
//! an error located at `fuzz.toml:line:col` with the key, never a panic. A sweep that parses
//! must also enumerate: every point of a grid or random sweep (bounded here to keep runs fast)
//! has a distinct id, each of its chip keys applies to the base chip (the evaluator relies on
//! the spec having checked that), the resulting chip loads or is refused with an error, and
//! guided search's neighbours are points of the same space.
//!
//! Run: `cargo fuzz run -s none sweep_toml` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` copies `examples/sweeps/*.toml` and `tests/bad-inputs/sweep/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_sweep::Error;
use seedchip_sweep::spec::Mode;
use seedchip_sweep::space;

/// Points enumerated per input at most (the CLI allows 10^6; that many per input would slow
/// the fuzzer to a crawl without reaching new code).
const MAX_POINTS: u64 = 512;
/// Points whose chip is built and loaded per input.
const MAX_CHIPS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A directory with nothing in it: relative base-chip paths resolve there and fail cleanly.
    let dir = std::path::Path::new("/nonexistent-seedchip-fuzz");
    let spec = match seedchip_sweep::spec::parse(text, "fuzz.toml", Some(dir)) {
        Ok(s) => s,
        Err(Error::Spec { location, .. }) => {
            assert!(location.starts_with("fuzz.toml:"), "unlocated error at {location}");
            return;
        }
        Err(e) => panic!("a sweep file error must be a located spec error: {e}"),
    };
    let n = match spec.search.mode {
        Mode::Grid => space::grid_size(&spec.params),
        Mode::Random => spec.search.points.min(space::grid_size(&spec.params)),
        Mode::Guided => spec.search.initial.min(spec.search.points),
    };
    if n > MAX_POINTS {
        return;
    }
    let points = space::enumerate(&spec);
    assert!(points.len() as u64 <= n.max(1), "{} points for a space of {n}", points.len());
    let mut ids = std::collections::BTreeSet::new();
    for (i, p) in points.iter().enumerate() {
        assert!(ids.insert(p.id), "two points share id {}", p.id_hex());
        let mut doc = spec.base.doc.clone();
        for (k, v) in &p.keys {
            if let Err(e) = space::assign(&mut doc, k, v.clone()) {
                panic!("the spec accepted key `{k}` but it does not apply: {e}");
            }
        }
        let _ = p.values(&spec.params);
        let _ = p.levels(&spec.params);
        if i < MAX_CHIPS {
            let chip_text = toml::to_string(&doc).expect("a TOML table prints");
            let _ = seedchip_chip::from_toml_str(&chip_text, "point.toml");
        }
    }
    if spec.search.mode == Mode::Guided
        && let Some(p) = points.first()
    {
        for q in space::neighbours(&spec.params, p) {
            assert_ne!(q.id, p.id, "a neighbour is the point itself");
        }
    }
});
