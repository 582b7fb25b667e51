//! Export then import gives the same graph back, for every zoo model.

use seedchip_onnx::{ExportOptions, ImportOptions};
use seedchip_zoo::ZooOptions;

fn zoo(name: &str) -> seedchip_ir::Graph {
    seedchip_zoo::get(
        name,
        &ZooOptions {
            rows_cap: Some(16),
            seed: 7,
        },
    )
    .unwrap()
}

#[test]
fn every_zoo_model_round_trips_as_text() {
    for info in seedchip_zoo::list() {
        let g = zoo(info.name);
        let model = seedchip_onnx::export(&g, &ExportOptions::default()).unwrap();
        let back = seedchip_onnx::import_model(&model, None, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        let (want, got) = (seedchip_ir::print(&g), seedchip_ir::print(&back));
        if want != got {
            let diff: Vec<String> = want
                .lines()
                .zip(got.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("-{a}\n+{b}"))
                .collect();
            panic!("{}: text differs:\n{}", info.name, diff.join("\n"));
        }
    }
}
