//! The text IR (`.sir`) is read from user files, so the parser must be total: any string
//! parses to a graph the verifier accepts, or gives a located error, never a panic. Whatever
//! parses prints to text that parses back to the same text (print ∘ parse is idempotent).
//!
//! Run: `cargo fuzz run -s none ir_text` (stable toolchains need `-s none`). Seeds:
//! `scripts/fuzz_all.sh` writes every zoo model's text IR (`seedchip model show M --ir`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(g) = seedchip_ir::parse(text) else {
        return;
    };
    if let Err(e) = seedchip_ir::verify(&g) {
        panic!("a parsed graph must verify: {e}");
    }
    let printed = seedchip_ir::print(&g);
    let back = seedchip_ir::parse(&printed)
        .unwrap_or_else(|e| panic!("printed text must parse again: {e}\n{printed}"));
    assert_eq!(seedchip_ir::print(&back), printed, "print/parse is not idempotent");
});
