use std::io::Write;

use seedchip_ir::init::ParamValues;
use seedchip_ir::npy::{NpyDType, write_header};
use seedchip_ir::*;

fn table_graph(init: Init) -> Graph {
    let mut g = Graph::new("files");
    g.add_param("t", TensorType::fixed(DType::F32, &[5, 3]), init);
    g
}

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("seedchip-ir-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn npy_f32_and_f16_rows() {
    let dir = tmpdir("npy");
    let vals: Vec<f32> = (0..15).map(|i| i as f32 * 0.5 - 3.0).collect();
    let mut f = std::fs::File::create(dir.join("t32.npy")).unwrap();
    f.write_all(&write_header(NpyDType::F32, &[5, 3])).unwrap();
    for v in &vals {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
    drop(f);
    let g = table_graph(Init::File {
        path: "t32.npy".into(),
        format: FileFormat::Npy,
        offset_bytes: 0,
    });
    let pv = ParamValues::open(&g, ParamId(0), Some(&dir)).unwrap();
    let mut row = [0.0; 3];
    pv.fill_row(3, &mut row).unwrap();
    assert_eq!(row, [1.5, 2.0, 2.5]);
    assert_eq!(pv.materialize().unwrap(), vals);
    assert!(pv.fill_row(5, &mut row).is_err());

    // Raw f16 with a leading offset.
    let mut f = std::fs::File::create(dir.join("t16.bin")).unwrap();
    f.write_all(&[0xAA; 6]).unwrap();
    for v in &vals {
        f.write_all(&half::f16::from_f32(*v).to_le_bytes()).unwrap();
    }
    drop(f);
    let g = table_graph(Init::File {
        path: "t16.bin".into(),
        format: FileFormat::F16Le,
        offset_bytes: 6,
    });
    let pv = ParamValues::open(&g, ParamId(0), Some(&dir)).unwrap();
    assert_eq!(pv.materialize().unwrap(), vals);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn short_or_mismatched_files_are_errors() {
    let dir = tmpdir("bad");
    std::fs::write(dir.join("short.bin"), [0u8; 40]).unwrap();
    let g = table_graph(Init::File {
        path: "short.bin".into(),
        format: FileFormat::F32Le,
        offset_bytes: 0,
    });
    let e = ParamValues::open(&g, ParamId(0), Some(&dir))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("@t") && e.contains("40 bytes") && e.contains("needs 60"),
        "{e}"
    );

    let mut bytes = write_header(NpyDType::F32, &[4, 3]);
    bytes.extend(std::iter::repeat_n(0u8, 48));
    std::fs::write(dir.join("shape.npy"), bytes).unwrap();
    let g = table_graph(Init::File {
        path: "shape.npy".into(),
        format: FileFormat::Npy,
        offset_bytes: 0,
    });
    let e = ParamValues::open(&g, ParamId(0), Some(&dir))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[4, 3]"), "{e}");

    let g = table_graph(Init::File {
        path: "missing.npy".into(),
        format: FileFormat::Npy,
        offset_bytes: 0,
    });
    assert!(
        ParamValues::open(&g, ParamId(0), Some(&dir))
            .unwrap_err()
            .to_string()
            .contains("cannot open")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn procedural_rows_match_materialized() {
    let g = table_graph(Init::uniform(3, 0.25));
    let pv = ParamValues::open(&g, ParamId(0), None).unwrap();
    let all = pv.materialize().unwrap();
    let mut row = [0.0; 3];
    for r in 0..5 {
        pv.fill_row(r, &mut row).unwrap();
        assert_eq!(&all[r as usize * 3..][..3], &row);
    }
    // Renaming changes values, reseeding changes values.
    let mut g2 = g.clone();
    g2.reseed(4);
    assert_ne!(
        ParamValues::open(&g2, ParamId(0), None)
            .unwrap()
            .materialize()
            .unwrap(),
        all
    );
}

#[test]
fn huge_tables_cost_nothing_until_read() {
    let g = crate::graphs::dlrm_v2();
    let pid = g.find_param("cat20.table").unwrap();
    let pv = ParamValues::open(&g, pid, None).unwrap();
    assert_eq!(pv.rows(), 40_000_000);
    let mut row = vec![0.0; 128];
    pv.fill_row(39_999_999, &mut row).unwrap();
    let bound = init::embedding_bound(40_000_000);
    assert!(row.iter().all(|v| v.abs() <= bound) && row.iter().any(|&v| v != 0.0));
}

/// Found by the bad-input corpus (tests/bad-inputs/weights): a transposed .npy (same element
/// count, other shape), an .npy with bytes past its array, and a NaN weight all loaded
/// silently. Each is now an error naming the parameter and the file.
#[test]
fn transposed_padded_or_non_finite_weights_are_errors() {
    let dir = tmpdir("strict");
    let write_npy = |name: &str, shape: &[u64], vals: &[f32], extra: usize| {
        let mut bytes = write_header(NpyDType::F32, shape);
        for v in vals {
            bytes.extend(v.to_le_bytes());
        }
        bytes.extend(std::iter::repeat_n(0u8, extra));
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let vals: Vec<f32> = (0..15).map(|i| i as f32).collect();
    let open = |name: &str| {
        let g = table_graph(Init::File {
            path: name.into(),
            format: FileFormat::Npy,
            offset_bytes: 0,
        });
        ParamValues::open(&g, ParamId(0), Some(&dir)).and_then(|pv| pv.materialize())
    };

    write_npy("transposed.npy", &[3, 5], &vals, 0);
    let e = open("transposed.npy").unwrap_err().to_string();
    assert!(e.contains("@t") && e.contains("[3, 5]"), "{e}");

    write_npy("padded.npy", &[5, 3], &vals, 4);
    let e = open("padded.npy").unwrap_err().to_string();
    assert!(e.contains("padded.npy") && e.contains("bytes"), "{e}");

    let mut nan = vals.clone();
    nan[7] = f32::NAN;
    write_npy("nan.npy", &[5, 3], &nan, 0);
    let e = open("nan.npy").unwrap_err().to_string();
    assert!(e.contains("element 7 is NaN"), "{e}");

    write_npy("good.npy", &[5, 3], &vals, 0);
    assert_eq!(open("good.npy").unwrap(), vals);
    std::fs::remove_dir_all(&dir).unwrap();
}
