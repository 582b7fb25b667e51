//! Quantization parameters, calibration, int32 accumulation, and an end-to-end int8 Linear layer
//! checked against f64.

use seedchip_numerics::{
    CalibrationMethod, Calibrator, QuantParams, QuantizedMultiplier, Requantizer, dot_i8,
    fold_zero_point, matmul_i8, quantize_bias, quantize_weights_per_channel,
};

use crate::Rng;

fn log_uniform(rng: &mut Rng, lo_exp: f32, hi_exp: f32) -> f32 {
    2f32.powf(rng.range_f32(lo_exp, hi_exp))
}

#[test]
fn every_code_round_trips_and_error_is_half_a_step() {
    let mut rng = Rng::new(10);
    for _ in 0..300 {
        let scale = log_uniform(&mut rng, -30.0, 30.0);
        let (qmin, qmax) = if rng.below(2) == 0 {
            (-128, 127)
        } else {
            (0, 255)
        };
        let zp = qmin + rng.below((qmax - qmin + 1) as u64) as i32;
        let p = QuantParams::new(scale, zp, qmin, qmax).unwrap();
        for q in qmin..=qmax {
            assert_eq!(
                p.quantize(p.dequantize(q)),
                q,
                "scale {scale} zp {zp} q {q}"
            );
        }
        let lo = p.dequantize(qmin);
        let hi = p.dequantize(qmax);
        for _ in 0..200 {
            let x = rng.range_f32(lo, hi);
            let err = (p.dequantize(p.quantize(x)) - x).abs();
            // Half a step, plus the f32 roundings of x·(1/scale) and (q - zp)·scale.
            let bound = 0.5 * scale + 4.0 * f32::EPSILON * x.abs().max(scale);
            assert!(
                err <= bound,
                "x {x} scale {scale} zp {zp}: err {err} > {bound}"
            );
        }
        // Outside the range: clamps to the ends.
        assert_eq!(p.quantize(hi + scale * 10.0), qmax);
        assert_eq!(p.quantize(lo - scale * 10.0), qmin);
    }
}

#[test]
fn asymmetric_params_cover_the_range_and_keep_zero_exact() {
    let mut rng = Rng::new(11);
    for _ in 0..2_000 {
        let a = rng.range_f32(-100.0, 100.0) * log_uniform(&mut rng, -10.0, 10.0);
        let b = rng.range_f32(-100.0, 100.0) * log_uniform(&mut rng, -10.0, 10.0);
        let (min, max) = (a.min(b), a.max(b));
        let p = QuantParams::asymmetric(min, max).unwrap();
        assert_eq!(p.dequantize(p.quantize(0.0)), 0.0);
        for x in [min, max] {
            let err = (p.dequantize(p.quantize(x)) - x).abs();
            // The zero point's rounding can shift the grid by up to half a step, so the ends
            // are within one step.
            assert!(
                err <= p.scale() * 1.0001,
                "[{min}, {max}] x {x}: {err} vs {}",
                p.scale()
            );
        }
    }
}

#[test]
fn percentile_calibration_matches_a_sorted_reference() {
    let mut rng = Rng::new(12);
    for &pct in &[50.0, 90.0, 99.0, 99.9, 99.99, 100.0] {
        let mut cal = Calibrator::new(CalibrationMethod::Percentile(pct)).unwrap();
        let mut all = Vec::new();
        for _ in 0..5 {
            let batch: Vec<f32> = (0..1_000)
                .map(|_| {
                    // Heavy-tailed: mostly small, a few outliers.
                    let v = rng.range_f32(-1.0, 1.0);
                    if rng.below(500) == 0 { v * 1000.0 } else { v }
                })
                .collect();
            cal.observe(&batch);
            all.extend(batch);
        }
        all.sort_by(f32::total_cmp);
        let n = all.len();
        let hi = ((pct * n as f64 / 100.0).ceil() as usize).clamp(1, n);
        let want = (all[n - hi], all[hi - 1]);
        assert_eq!(cal.range().unwrap(), want, "p{pct}");
        if pct == 100.0 {
            assert_eq!(want, (all[0], all[n - 1]));
        }
    }
    // Percentile clips outliers; min/max does not.
    let mut mm = Calibrator::new(CalibrationMethod::MinMax).unwrap();
    let mut pc = Calibrator::new(CalibrationMethod::Percentile(99.0)).unwrap();
    let mut xs: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
    xs.push(1e6);
    mm.observe(&xs);
    pc.observe(&xs);
    assert_eq!(mm.symmetric_params().unwrap().scale(), 1e6 / 127.0);
    assert!(pc.symmetric_params().unwrap().scale() < 1.0 / 127.0);
}

#[test]
fn per_channel_weights_error_bound() {
    let mut rng = Rng::new(13);
    let (channels, k) = (16, 37);
    let w: Vec<f32> = (0..channels * k)
        .map(|i| rng.range_f32(-1.0, 1.0) * (1.0 + (i / k) as f32 * 3.0))
        .collect();
    let q = quantize_weights_per_channel(&w, channels).unwrap();
    let deq = q.dequantize();
    for c in 0..channels {
        let row = &w[c * k..(c + 1) * k];
        let abs_max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_eq!(q.scales[c], abs_max / 127.0);
        let qs = &q.values[c * k..(c + 1) * k];
        assert!(qs.iter().all(|&v| v != -128));
        assert!(qs.iter().any(|&v| v.abs() == 127));
        for (x, y) in row.iter().zip(&deq[c * k..(c + 1) * k]) {
            assert!((x - y).abs() <= q.scales[c] * 0.5001, "{x} {y}");
        }
    }
}

#[test]
fn int32_accumulation_is_exact_or_faults() {
    // 131 072 · 16384 = 2^31: the last product overflows.
    let n = 131_072;
    let a = vec![-128i8; n];
    assert_eq!(
        dot_i8(&a[..n - 1], &a[..n - 1]),
        Some(((n - 1) * 16_384) as i32)
    );
    assert_eq!(dot_i8(&a, &a), None);

    let mut rng = Rng::new(14);
    let a: Vec<i8> = (0..50_000).map(|_| rng.next_u32() as i8).collect();
    let b: Vec<i8> = (0..50_000).map(|_| rng.next_u32() as i8).collect();
    let exact: i64 = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| i64::from(x) * i64::from(y))
        .sum();
    assert_eq!(dot_i8(&a, &b), Some(exact as i32));
    let (ra, rb): (Vec<i8>, Vec<i8>) = a.iter().rev().zip(b.iter().rev()).unzip();
    assert_eq!(dot_i8(&ra, &rb), dot_i8(&a, &b));
}

#[test]
fn matmul_matches_i64_reference_and_zero_point_folding() {
    let mut rng = Rng::new(15);
    let (m, k, n) = (5, 300, 4);
    let a: Vec<i8> = (0..m * k).map(|_| rng.next_u32() as i8).collect();
    let w: Vec<i8> = (0..n * k).map(|_| rng.next_u32() as i8).collect();
    let bias: Vec<i32> = (0..n).map(|_| (rng.next_u32() as i32) >> 8).collect();
    let za = -37;
    let acc = matmul_i8(&a, za, &w, Some(&bias), m, k, n).unwrap();
    for i in 0..m {
        for j in 0..n {
            let exact: i64 = i64::from(bias[j])
                + (0..k)
                    .map(|t| (i64::from(a[i * k + t]) - i64::from(za)) * i64::from(w[j * k + t]))
                    .sum::<i64>();
            assert_eq!(i64::from(acc[i * n + j]), exact);
        }
    }
    // What the matrix unit runs: raw codes with the zero point folded into the bias.
    let folded = fold_zero_point(&bias, za, &w, k).unwrap();
    assert_eq!(matmul_i8(&a, 0, &w, Some(&folded), m, k, n).unwrap(), acc);
}

/// The whole integer-only path of one Linear layer (what the compiler will emit): calibrate,
/// quantize, int32 GEMM with int32 bias, per-channel fixed-point requantization. The result,
/// dequantized, must track the f64 layer within a few output steps.
#[test]
fn int8_linear_layer_end_to_end() {
    let mut rng = Rng::new(16);
    let (batch, k, n) = (32, 64, 24);
    let x: Vec<f32> = (0..batch * k).map(|_| rng.range_f32(-0.5, 2.0)).collect();
    let w: Vec<f32> = (0..n * k).map(|_| rng.range_f32(-0.3, 0.3)).collect();
    let bias: Vec<f32> = (0..n).map(|_| rng.range_f32(-0.5, 0.5)).collect();
    let reference: Vec<f64> = (0..batch * n)
        .map(|o| {
            let (i, j) = (o / n, o % n);
            f64::from(bias[j])
                + (0..k)
                    .map(|t| f64::from(x[i * k + t]) * f64::from(w[j * k + t]))
                    .sum::<f64>()
        })
        .collect();

    let mut cal_in = Calibrator::new(CalibrationMethod::MinMax).unwrap();
    cal_in.observe(&x);
    let p_in = cal_in.asymmetric_params().unwrap();
    let mut cal_out = Calibrator::new(CalibrationMethod::MinMax).unwrap();
    cal_out.observe(&reference.iter().map(|&v| v as f32).collect::<Vec<_>>());
    let p_out = cal_out.asymmetric_params().unwrap();

    let qw = quantize_weights_per_channel(&w, n).unwrap();
    let mut qx = vec![0u8; x.len()];
    p_in.quantize_to_bytes(&x, &mut qx).unwrap();
    let qx: Vec<i8> = qx.into_iter().map(|b| b as i8).collect();
    let qb: Vec<i32> = (0..n)
        .map(|j| quantize_bias(bias[j], p_in.scale(), qw.scales[j]).unwrap())
        .collect();
    let acc = matmul_i8(&qx, p_in.zero_point(), &qw.values, Some(&qb), batch, k, n).unwrap();
    let mults: Vec<QuantizedMultiplier> = qw
        .scales
        .iter()
        .map(|&sw| {
            let m = f64::from(p_in.scale()) * f64::from(sw) / f64::from(p_out.scale());
            QuantizedMultiplier::from_real(m).unwrap()
        })
        .collect();
    let (qmin, qmax) = p_out.range();
    let rq = Requantizer::new(mults, p_out.zero_point(), qmin, qmax).unwrap();
    let mut out = vec![0u8; acc.len()];
    rq.apply_to_bytes(&acc, &mut out).unwrap();

    let mut err2 = 0.0;
    let mut ref2 = 0.0;
    for (o, r) in out.iter().zip(&reference) {
        let y = f64::from(p_out.dequantize(i32::from(*o as i8)));
        assert!(
            (y - r).abs() <= 4.0 * f64::from(p_out.scale()),
            "{y} vs {r}"
        );
        err2 += (y - r) * (y - r);
        ref2 += r * r;
    }
    let rel_l2 = (err2 / ref2).sqrt();
    assert!(rel_l2 < 0.03, "relative L2 {rel_l2}");
}
