//! Compilation of the zoo across presets and precisions: every program passes the compiler's
//! verifier, its listing reassembles to the same program and its container round-trips.

use seedchip_chip::{Precision, presets};
use seedchip_compiler::{CompileOptions, Error, compile};
use seedchip_zoo::ZooOptions;

fn zoo(name: &str, rows_cap: u64) -> seedchip_ir::Graph {
    seedchip_zoo::get(
        name,
        &ZooOptions {
            rows_cap: Some(rows_cap),
            seed: 7,
        },
    )
    .unwrap()
}

fn options(p: Precision, batch: u32) -> CompileOptions {
    let mut o = CompileOptions::new(p, batch);
    o.verify = true;
    o.calibration_samples = 4;
    o.profile_samples = 64;
    o
}

/// Compiles `model` for seedchip-v1 in bf16 and int8 and checks the listing round trip.
fn round_trip(model: &str) {
    let chip = presets::get("seedchip-v1").unwrap();
    for p in [Precision::Bf16, Precision::Int8] {
        let g = zoo(model, 1000);
        let c = compile(&g, &chip, &options(p, 8)).unwrap_or_else(|e| panic!("{model} {p}: {e}"));
        let prog = &c.program;
        let text = prog.disassemble();
        assert_eq!(&seedchip_isa::assemble(&text).unwrap(), prog, "{model} {p}");
        assert_eq!(
            &seedchip_isa::Program::decode(&prog.encode().unwrap()).unwrap(),
            prog
        );
        // Every instruction names the IR node it serves.
        for code in prog.code.values() {
            assert_eq!(code.symbols.len(), code.insts.len(), "{model} {p}");
        }
    }
}

macro_rules! zoo_tests {
    ($($(#[$m:meta])* $test:ident: $model:literal,)*) => {
        $(
            #[test]
            $(#[$m])*
            fn $test() {
                round_trip($model);
            }
        )*
    };
}

// Models with tens of megabytes of dense weights write listings of as many hex bytes: in
// debug builds that takes minutes, so they run with `--release -- --ignored`.
zoo_tests! {
    #[ignore = "64 MB listing; run with --release -- --ignored"]
    listing_dlrm_v2: "dlrm-v2",
    listing_dlrm_v1: "dlrm-v1",
    listing_dlrm_paper: "dlrm-paper",
    listing_rm1: "rm1",
    listing_rm2: "rm2",
    listing_rm3: "rm3",
    #[ignore = "large listing; run with --release -- --ignored"]
    listing_wide_and_deep: "wide-and-deep",
    listing_deepfm: "deepfm",
    listing_din: "din",
    listing_two_tower: "two-tower",
    #[ignore = "large listing; run with --release -- --ignored"]
    listing_mmoe: "mmoe",
    #[ignore = "large listing; run with --release -- --ignored"]
    listing_hstu_small: "hstu-small",
}

#[test]
fn zoo_compiles_on_other_presets() {
    // The models with small dense parts (the rest run end to end in release, see e2e.rs), on
    // the chips that differ most from seedchip-v1: one core with no gather engines, 64 cores
    // with 128 KiB of local SRAM, and an int8-only 256×256 array.
    for (chip_name, p) in [
        ("tpu-v4i", Precision::Bf16),
        ("mtia-v1", Precision::Int8),
        ("tpu-v1", Precision::Int8),
    ] {
        let chip = presets::get(chip_name).unwrap();
        for model in ["dlrm-v1", "rm1", "rm2", "deepfm", "din", "two-tower"] {
            let g = zoo(model, 1000);
            {
                let m = seedchip_zoo::info(model).unwrap();
                match compile(&g, &chip, &options(p, 16)) {
                    Ok(c) => assert!(c.report.instructions_total > 0),
                    Err(Error::Precision { .. })
                        if chip_name == "tpu-v1" && p == Precision::Bf16 => {}
                    Err(e) => panic!("{} on {chip_name} {p}: {e}", m.name),
                }
            }
        }
    }
}

#[test]
fn unsupported_precision_names_the_chip_and_what_it_supports() {
    let chip = presets::get("tpu-v1").unwrap();
    let err = compile(&zoo("rm1", 100), &chip, &options(Precision::Bf16, 4))
        .unwrap_err()
        .to_string();
    assert!(err.contains("tpu-v1") && err.contains("int8"), "{err}");
    let err = compile(&zoo("rm1", 100), &chip, &options(Precision::Fp16, 4))
        .unwrap_err()
        .to_string();
    assert!(err.contains("fp16"), "{err}");
}

#[test]
fn tables_beyond_hbm_are_a_clear_error() {
    let chip = presets::get("tpu-v4i").unwrap();
    let g = seedchip_zoo::get("dlrm-v2", &ZooOptions::default()).unwrap();
    let err = compile(&g, &chip, &options(Precision::Int8, 4)).unwrap_err();
    assert!(matches!(err, Error::DoesNotFit { .. }), "{err}");
    assert!(err.to_string().contains("GB"), "{err}");
}

/// DCN-v2's `wu` product, read only by the gate's column run, is split into one GEMM per run
/// slice (docs/compiler.md, "Split GEMMs"): the slices cover its 3,456 columns once, and the
/// verified program (every conflicting access ordered) still compiles.
#[test]
fn dcn_wu_is_split_into_column_slices() {
    let chip = presets::get("seedchip-v1").unwrap();
    let g = zoo("dlrm-v2", 1000);
    let c = compile(&g, &chip, &options(Precision::Int8, 8)).unwrap();
    for layer in 0..3 {
        let node = format!("%cross.{layer}.wu (linear)");
        let slices: Vec<u64> = c
            .report
            .gemms
            .iter()
            .filter(|r| r.node == node)
            .map(|r| r.n)
            .collect();
        assert!(slices.len() > 1, "{node}: {slices:?}");
        assert_eq!(slices.iter().sum::<u64>(), 3456, "{node}: {slices:?}");
    }
    // The vx product (its result feeds a whole-width GEMM, not a run) stays whole.
    let vx: Vec<_> = c
        .report
        .gemms
        .iter()
        .filter(|r| r.node == "%cross.0.vx (linear)")
        .collect();
    assert_eq!(vx.len(), 1);
    assert_eq!(vx[0].n, 512);
}
