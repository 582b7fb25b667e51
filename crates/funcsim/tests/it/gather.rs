use seedchip_ir::init::{Distribution, Procedural};
use seedchip_numerics::RowFormat;

use crate::support::*;

/// Row `r` of the procedural emb8 table as the gather unit decodes it: the stored codes,
/// scale and bias (FBGEMM row layout), then `code * scale` and `+ bias`, each one f32 rounding.
fn emb8_row(r: u64) -> Vec<f32> {
    let g = Procedural::new(42, "emb.weight", Distribution::Uniform { bound: 0.5 });
    let mut vals = vec![0f32; 8];
    g.fill(r * 8, &mut vals);
    let mut bytes = vec![0u8; 16];
    RowFormat::Int8Rowwise
        .encode_row(&vals, &mut bytes)
        .unwrap();
    let scale = f32::from_le_bytes(bytes[8..12].try_into().unwrap());
    let bias = f32::from_le_bytes(bytes[12..16].try_into().unwrap());
    bytes[..8]
        .iter()
        .map(|&q| {
            let p = f32::from(q) * scale;
            p + bias
        })
        .collect()
}

fn small_row(r: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..4).map(|c| (r * 4 + c) as f32 * 0.375 - 3.0).collect();
    if r == 1 {
        v[1] = -0.0;
    }
    v
}

fn pool(rows: &[Vec<f32>], how: &str, dim: usize) -> Vec<f32> {
    let mut acc = vec![0f32; dim];
    match how {
        "max" => {
            if let Some(first) = rows.first() {
                acc = first.clone();
                for r in &rows[1..] {
                    for (a, &v) in acc.iter_mut().zip(r) {
                        if v > *a || (v == 0.0 && *a == 0.0 && v.is_sign_positive()) {
                            *a = v;
                        }
                    }
                }
            }
        }
        _ => {
            for r in rows {
                for (a, &v) in acc.iter_mut().zip(r) {
                    *a += v;
                }
            }
            if how == "mean" && !rows.is_empty() {
                for a in &mut acc {
                    *a /= rows.len() as f32;
                }
            }
        }
    }
    acc
}

#[test]
fn pooling_matches_an_independent_loop_bit_for_bit() {
    let mut m = machine("gather");
    let idx = vec![2, 0, 5, 1, 4, 4, 3, 1, 0, 5];
    let idx_big = vec![99, 0, 37, 5, 64, 64, 12, 1, 98, 50];
    let offsets = vec![0, 3, 3, 10];
    m.write_input("idx", &i32s(&[10], idx.clone())).unwrap();
    m.write_input("idx_big", &i32s(&[10], idx_big.clone()))
        .unwrap();
    m.write_input("offsets", &i32s(&[4], offsets.clone()))
        .unwrap();
    // Cache rows 1 and 4 in slots holding different values than the table, to see them used.
    m.write_input("cache", &i32s(&[5], vec![2, 1, 4, 0x3000, 0x3010]))
        .unwrap();
    let slot = |r: usize| -> Vec<f32> { (0..4).map(|c| 100.0 + (r * 4 + c) as f32).collect() };
    let slots: Vec<f32> = slot(1).into_iter().chain(slot(4)).collect();
    m.write_input("slots", &f32s(&[2, 4], slots)).unwrap();
    let stats = run(&mut m);

    let bags: Vec<std::ops::Range<usize>> = (0..3)
        .map(|b| offsets[b] as usize..offsets[b + 1] as usize)
        .collect();
    let sum8 = out_f32(&m, "sum8");
    let pools = out_f32(&m, "pools");
    for (b, range) in bags.iter().enumerate() {
        let rows8: Vec<Vec<f32>> = idx_big[range.clone()]
            .iter()
            .map(|&r| emb8_row(r as u64))
            .collect();
        let want8 = pool(&rows8, "sum", 8);
        assert_eq!(
            bits(&sum8[b * 8..b * 8 + 8]),
            bits(&want8),
            "emb8 sum bag {b}"
        );
        let rows: Vec<Vec<f32>> = idx[range.clone()]
            .iter()
            .map(|&r| small_row(r as usize))
            .collect();
        let cached: Vec<Vec<f32>> = idx[range.clone()]
            .iter()
            .map(|&r| {
                if r == 1 || r == 4 {
                    slot(r as usize)
                } else {
                    small_row(r as usize)
                }
            })
            .collect();
        let row = &pools[b * 12..b * 12 + 12];
        assert_eq!(
            bits(&row[0..4]),
            bits(&pool(&rows, "mean", 4)),
            "mean bag {b}"
        );
        assert_eq!(
            bits(&row[4..8]),
            bits(&pool(&rows, "max", 4)),
            "max bag {b}"
        );
        assert_eq!(
            bits(&row[8..12]),
            bits(&pool(&cached, "sum", 4)),
            "cached sum bag {b}"
        );
    }
    // The empty bag pools to +0.
    assert!(pools[12..24].iter().all(|v| v.to_bits() == 0));
    assert_eq!(stats.gather_rows, 40);
    assert_eq!(stats.gather_cached_rows, 4);
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn emb8_pooling_is_close_to_the_f32_weights() {
    // The quantized table differs from the f32 weights by at most half a step per element.
    let mut m = machine("gather");
    let idx_big: Vec<i32> = (0..10).map(|i| i * 9).collect();
    m.write_input("idx", &i32s(&[10], vec![0; 10])).unwrap();
    m.write_input("idx_big", &i32s(&[10], idx_big.clone()))
        .unwrap();
    m.write_input("offsets", &i32s(&[4], vec![0, 1, 5, 10]))
        .unwrap();
    m.write_input("cache", &i32s(&[5], vec![0; 5])).unwrap();
    run(&mut m);
    let sum8 = out_f32(&m, "sum8");
    let g = Procedural::new(42, "emb.weight", Distribution::Uniform { bound: 0.5 });
    for (b, range) in [0..1usize, 1..5, 5..10].into_iter().enumerate() {
        for j in 0..8 {
            let exact: f64 = idx_big[range.clone()]
                .iter()
                .map(|&r| f64::from(g.value(r as u64 * 8 + j as u64)))
                .sum();
            let steps = range.len() as f64 * 0.5 / 255.0;
            assert!(
                (f64::from(sum8[b * 8 + j]) - exact).abs() <= steps + 1e-6,
                "bag {b} col {j}: {} vs {exact}",
                sum8[b * 8 + j]
            );
        }
    }
}
