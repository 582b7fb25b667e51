//! The ONNX importer never panics, whatever the bytes: decoding, constant folding, pattern
//! matching and lowering either produce a graph the IR verifier accepts or return an error.
//! Whatever imports must also print, parse back, and export.
//!
//! Run: `cargo fuzz run -s none onnx_import` (stable toolchains need `-s none`). Seed the
//! corpus with the small fixtures for speed:
//! `mkdir -p corpus/onnx_import && cp ../crates/onnx/tests/fixtures/pytorch/ops-*/model.onnx corpus/onnx_import/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_onnx::{ExportOptions, ImportOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = seedchip_onnx::decode(data, "fuzz") else {
        return;
    };
    // No base directory: external data cannot be read, which must be an error, not a panic.
    let Ok(g) = seedchip_onnx::import_model(&model, None, &ImportOptions::default()) else {
        return;
    };
    let text = seedchip_ir::print(&g);
    let back = seedchip_ir::parse(&text).expect("an imported graph's text must parse");
    assert_eq!(seedchip_ir::print(&back), text, "text round trip changed the graph");
    let _ = seedchip_onnx::export(&g, &ExportOptions::default());
});
