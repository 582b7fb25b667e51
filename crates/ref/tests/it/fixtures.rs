//! Committed fixtures: zoo models (rows capped) whose expected outputs come from an independent
//! numpy implementation (`tests/fixtures/numpy_ref.py`).
//!
//! Regenerate: `SEEDCHIP_BLESS=1 cargo test -p seedchip-ref --test it fixtures` rewrites
//! `model.sir` and `inputs.npz` from the zoo, then `python3 crates/ref/tests/fixtures/numpy_ref.py`
//! writes `expected.npz`. Each fixture keeps its graph as text, so later zoo changes do not
//! invalidate it.

use std::path::{Path, PathBuf};

use seedchip_ir::init::ParamValues;
use seedchip_ref::npz::{read_npz, write_npz};
use seedchip_ref::oracle::{F64Tensor, compare};
use seedchip_ref::{Executor, Options, synthetic_inputs};
use seedchip_zoo::ZooOptions;

const MODELS: &[(&str, usize)] = &[
    ("dlrm-v2", 4),
    ("dlrm-v1", 4),
    ("dlrm-paper", 3),
    ("rm1", 4),
    ("rm2", 2),
    ("rm3", 4),
    ("wide-and-deep", 4),
    ("deepfm", 4),
    ("din", 4),
    ("two-tower", 4),
    ("mmoe", 4),
    ("hstu-small", 2),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bless() {
    for &(name, batch) in MODELS {
        let g = seedchip_zoo::get(
            name,
            &ZooOptions {
                rows_cap: Some(1000),
                seed: 7,
            },
        )
        .unwrap();
        let dir = root().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.sir"), seedchip_ir::print(&g)).unwrap();
        write_npz(
            &dir.join("inputs.npz"),
            &synthetic_inputs(&g, batch, 7).unwrap(),
        )
        .unwrap();
    }
    eprintln!("fixtures rewritten; now run: python3 crates/ref/tests/fixtures/numpy_ref.py");
}

#[test]
fn fixtures_match_numpy() {
    if std::env::var("SEEDCHIP_BLESS").as_deref() == Ok("1") {
        bless();
    }
    let mut checked = 0;
    for &(name, _) in MODELS {
        let dir = root().join(name);
        let text = std::fs::read_to_string(dir.join("model.sir"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let g = seedchip_ir::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let inputs = read_npz(&dir.join("inputs.npz")).unwrap();
        let expected = read_npz(&dir.join("expected.npz"))
            .unwrap_or_else(|e| panic!("{name}: {e} (run numpy_ref.py after blessing)"));
        let ex = Executor::new(
            &g,
            &Options {
                threads: Some(2),
                ..Options::default()
            },
        )
        .unwrap();
        let got = ex.run(&inputs).unwrap();
        for (out, t) in &got {
            let want = &expected[out];
            let want = F64Tensor {
                shape: want.shape().to_vec(),
                data: want
                    .as_f32()
                    .unwrap()
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect(),
            };
            let c = compare(t, &want).unwrap_or_else(|| {
                panic!("{name}/{out}: shape {:?} vs {:?}", t.shape(), want.shape)
            });
            assert!(c.max_rel <= 1e-5, "{name}/{out}: {c:?}");
        }
        // The weight contract, bit for bit, as numpy recomputed it.
        let mut probes = 0;
        for (key, probe) in &expected {
            let Some(pname) = key.strip_prefix("param:") else {
                continue;
            };
            let pid = g
                .find_param(pname)
                .unwrap_or_else(|| panic!("{name}: no param {pname}"));
            let pv = ParamValues::open(&g, pid, None).unwrap();
            let probe = probe.as_f32().unwrap();
            let mut mine = vec![0.0f32; probe.len()];
            pv.fill_range(0, &mut mine).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&mine), bits(probe), "{name}: weights of @{pname}");
            probes += 1;
        }
        assert!(probes > 0, "{name}: expected.npz has no weight probes");
        checked += 1;
    }
    assert_eq!(checked, MODELS.len());
}
