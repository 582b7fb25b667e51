//! Every built-in model (rows capped) through the executor and the oracle.

use seedchip_ref::{Executor, Options, synthetic_inputs};
use seedchip_zoo::ZooOptions;

#[test]
fn zoo_models_agree_with_the_oracle() {
    let opts = ZooOptions {
        rows_cap: Some(1000),
        seed: 3,
    };
    for m in seedchip_zoo::list() {
        let g = seedchip_zoo::get(m.name, &opts).unwrap();
        if m.name == "hstu-small" && cfg!(debug_assertions) {
            // ~1.3 G MACs per sample: too slow for the naive oracle in debug builds (release
            // test runs include it); its kernels are checked op by op in `ops`.
            let ex = Executor::new(&g, &Options::default()).unwrap();
            let out = ex.run(&synthetic_inputs(&g, 1, 1).unwrap()).unwrap();
            assert!(
                out["prob"]
                    .as_f32()
                    .unwrap()
                    .iter()
                    .all(|p| (0.0..=1.0).contains(p))
            );
            continue;
        }
        let worst = crate::check_against_oracle(&g, 3, 11);
        assert!(worst <= 1e-5, "{}: {worst}", m.name);
    }
}

#[test]
fn zoo_models_round_trip_through_text() {
    for m in seedchip_zoo::list() {
        // Full size: the text form never holds table contents, so this stays small.
        let g = seedchip_zoo::get(m.name, &ZooOptions::default()).unwrap();
        let text = seedchip_ir::print(&g);
        let back = seedchip_ir::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert_eq!(seedchip_ir::print(&back), text, "{}", m.name);
        assert_eq!(
            seedchip_ir::analysis::stats(&back),
            seedchip_ir::analysis::stats(&g),
            "{}",
            m.name
        );
    }
}
