//! Embedding row formats: layout, error bounds on random rows, and agreement with the float
//! conversions.

use seedchip_numerics::embedding::dequantize_code;
use seedchip_numerics::{BF16, F16, Overflow, RowFormat};

use crate::Rng;

fn random_row(rng: &mut Rng, dim: usize) -> Vec<f32> {
    let center = rng.range_f32(-5.0, 5.0) * 2f32.powf(rng.range_f32(-8.0, 8.0));
    let spread = 2f32.powf(rng.range_f32(-12.0, 6.0));
    (0..dim)
        .map(|_| center + spread * rng.range_f32(-1.0, 1.0))
        .collect()
}

fn minmax(row: &[f32]) -> (f32, f32) {
    row.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

#[test]
fn int8_rowwise_f32_error_bound_and_exact_minimum() {
    let mut rng = Rng::new(20);
    let f = RowFormat::Int8Rowwise;
    for i in 0..3_000 {
        let dim = 1 + (i % 130);
        let row = random_row(&mut rng, dim);
        let mut bytes = vec![0u8; f.row_bytes(dim)];
        assert_eq!(bytes.len(), dim + 8);
        f.encode_row(&row, &mut bytes).unwrap();
        let p = f.row_params(&bytes).unwrap().unwrap();
        let (min, max) = minmax(&row);
        assert_eq!(p.bias, min);
        assert_eq!(p.scale, ((f64::from(max) - f64::from(min)) / 255.0) as f32);
        let mut back = vec![0f32; dim];
        f.decode_row(&bytes, &mut back).unwrap();
        for ((x, y), &q) in row.iter().zip(&back).zip(&bytes[..dim]) {
            if *x == min {
                assert_eq!(q, 0);
                assert_eq!(*y, min, "row minimum decodes exactly");
            }
            if *x == max && max > min {
                assert_eq!(q, 255);
            }
            // Half a step, plus f32 rounding of q·scale and of the sum.
            let bound = 0.5 * p.scale + 2.0 * f32::EPSILON * (x.abs() + 255.0 * p.scale);
            assert!((x - y).abs() <= bound, "{x} vs {y} (scale {})", p.scale);
            assert_eq!(*y, dequantize_code(q, p));
        }
    }
}

#[test]
fn int8_rowwise_f16_error_bound() {
    let mut rng = Rng::new(21);
    let f = RowFormat::Int8RowwiseF16;
    for i in 0..3_000 {
        let dim = 1 + (i % 97);
        let row = random_row(&mut rng, dim);
        let mut bytes = vec![0u8; f.row_bytes(dim)];
        assert_eq!(bytes.len(), dim + 4);
        f.encode_row(&row, &mut bytes).unwrap();
        let p = f.row_params(&bytes).unwrap().unwrap();
        let (min, max) = minmax(&row);
        // The stored bias is fp16(min); the stored scale fp16((max - bias)/255).
        assert_eq!(p.bias, F16.decode(F16.encode(min, Overflow::NonSaturating)));
        let ideal = ((f64::from(max) - f64::from(p.bias)).max(0.0) / 255.0) as f32;
        assert_eq!(
            p.scale,
            F16.decode(F16.encode(ideal, Overflow::NonSaturating))
        );
        let mut back = vec![0f32; dim];
        f.decode_row(&bytes, &mut back).unwrap();
        // Error sources: half a step inside the grid; below the grid when fp16(min) > min;
        // above it when 255·scale < max - bias (scale rounded down) — each bounded by the stored
        // parameters — plus f32 rounding.
        let below = (p.bias - min).max(0.0);
        let above = (max - (255.0 * p.scale + p.bias)).max(0.0);
        for (x, y) in row.iter().zip(&back) {
            let bound = (0.5 * p.scale).max(below).max(above)
                + 2.0 * f32::EPSILON * (x.abs() + 255.0 * p.scale);
            assert!(
                (x - y).abs() <= bound,
                "{x} vs {y} (scale {}, bias {})",
                p.scale,
                p.bias
            );
        }
        // And those parameter errors are themselves small: fp16 rounding of min and scale.
        assert!(below <= min.abs() * 2f32.powi(-11) + 2f32.powi(-25));
        assert!(above <= max.abs() * 2f32.powi(-9) + 255.0 * 2f32.powi(-25) + 2.0 * p.scale);
    }
}

#[test]
fn half_tables_agree_with_float_conversions_and_oracles() {
    let mut rng = Rng::new(22);
    for _ in 0..500 {
        let row = random_row(&mut rng, 33);
        for (f, fmt) in [(RowFormat::F16, F16), (RowFormat::Bf16, BF16)] {
            let mut bytes = vec![0u8; f.row_bytes(33)];
            f.encode_row(&row, &mut bytes).unwrap();
            for (x, c) in row.iter().zip(bytes.chunks_exact(2)) {
                let code = u16::from_le_bytes([c[0], c[1]]);
                assert_eq!(u32::from(code), fmt.encode(*x, Overflow::Saturate));
                let oracle = if f == RowFormat::F16 {
                    half::f16::from_f32(*x).to_bits()
                } else {
                    half::bf16::from_f32(*x).to_bits()
                };
                assert_eq!(code, oracle);
            }
            let mut back = vec![0f32; 33];
            f.decode_row(&bytes, &mut back).unwrap();
            for (x, y) in row.iter().zip(&back) {
                let rel = if f == RowFormat::F16 {
                    2f32.powi(-11)
                } else {
                    2f32.powi(-8)
                };
                assert!((x - y).abs() <= x.abs() * rel + 2f32.powi(-25), "{x} {y}");
            }
        }
        let mut bytes = vec![0u8; RowFormat::F32.row_bytes(33)];
        RowFormat::F32.encode_row(&row, &mut bytes).unwrap();
        let mut back = vec![0f32; 33];
        RowFormat::F32.decode_row(&bytes, &mut back).unwrap();
        assert_eq!(back, row);
    }
}

#[test]
fn int8_rows_are_deterministic_bytes() {
    // A fixed row gives fixed bytes: the layout is a file format.
    let row = [-1.0f32, 0.0, 0.5, 1.0];
    let mut bytes = vec![0u8; 12];
    RowFormat::Int8Rowwise.encode_row(&row, &mut bytes).unwrap();
    let scale = (2.0f64 / 255.0) as f32;
    // 1/scale = 127.4999925 (scale is rounded up in f32), so 0.0 lands on code 127.
    let mut want = vec![0u8, 127, 191, 255];
    want.extend_from_slice(&scale.to_le_bytes());
    want.extend_from_slice(&(-1.0f32).to_le_bytes());
    assert_eq!(bytes, want);
    let mut h = vec![0u8; 8];
    RowFormat::Int8RowwiseF16.encode_row(&row, &mut h).unwrap();
    assert_eq!(&h[6..8], &0xbc00u16.to_le_bytes()); // f16 -1.0
    assert_eq!(
        u16::from_le_bytes([h[4], h[5]]),
        F16.encode(scale, Overflow::NonSaturating) as u16
    );
}
