//! Compiles a zoo model and prints the report and, optionally, the listing (development aid).
//!
//! `cargo run --release -p seedchip-compiler --example compile_zoo -- rm1 seedchip-v1 int8 64 [listing.s]`

use seedchip_chip::{Precision, presets};
use seedchip_compiler::{CompileOptions, compile};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("rm1", String::as_str);
    let chip = presets::get(args.get(2).map_or("seedchip-v1", String::as_str)).expect("a preset");
    let p = Precision::parse(args.get(3).map_or("int8", String::as_str)).expect("a precision");
    let batch: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(64);
    let g = seedchip_zoo::get(
        model,
        &seedchip_zoo::ZooOptions {
            rows_cap: Some(10_000),
            seed: 1,
        },
    )
    .expect("a zoo model");
    let t = std::time::Instant::now();
    let c = compile(&g, &chip, &CompileOptions::new(p, batch)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("compiled in {:.2}s", t.elapsed().as_secs_f64());
    println!("{:#?}", c.report);
    if let Some(path) = args.get(5) {
        std::fs::write(
            path,
            c.program.disassemble_with(seedchip_isa::DataMode::Digest),
        )
        .expect("writable");
    }
}
