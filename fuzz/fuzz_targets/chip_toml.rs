//! Chip files are hand-edited, so loading must survive anything: parse, defaults, validation
//! and the located error messages either give a chip or an error, never a panic. A chip that
//! loads must also derive its figures (peaks, area, yield, cost), print as TOML and load back
//! to the same description.
//!
//! Run: `cargo fuzz run -s none chip_toml` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` copies the presets and `tests/bad-inputs/chip/*.toml` into the corpus.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(chip) = seedchip_chip::from_toml_str(text, "fuzz.toml") else {
        return;
    };
    let _ = seedchip_chip::derive(&chip);
    let printed = toml::to_string(&chip).expect("a loaded chip must print as TOML");
    let back = seedchip_chip::from_toml_str(&printed, "printed.toml")
        .unwrap_or_else(|e| panic!("a printed chip must load again: {e}\n{printed}"));
    assert_eq!(back, chip, "TOML round trip changed the chip");
});
