use seedchip_funcsim::{FaultKind, Limits, Machine, Options};

use crate::support::*;

fn int_mat(rng: &mut Rng, n: usize) -> Vec<i32> {
    (0..n).map(|_| rng.int(-128, 127) as i32).collect()
}

/// Values with at most `bits` significant bits and small exponents, exact in the operand type
/// (so the test knows the operands without using the chip's conversions).
fn float_mat(rng: &mut Rng, n: usize, bits: u32, exp: (i32, i32)) -> Vec<f32> {
    let lim = (1i64 << bits) - 1;
    (0..n)
        .map(|_| rng.int(-lim, lim) as f32 * 2f32.powi(rng.int(exp.0.into(), exp.1.into()) as i32))
        .collect()
}

/// `acc (+)= a·b` the way docs/isa.md says: f32 product, one f32 addition per k, in order.
fn float_matmul(
    a: &[f32],
    b: &[f32],
    acc: Option<&[f32]>,
    m: usize,
    k: usize,
    n: usize,
) -> Vec<f32> {
    let mut out = acc.map_or_else(|| vec![0f32; m * n], <[f32]>::to_vec);
    for i in 0..m {
        for j in 0..n {
            let mut s = out[i * n + j];
            for kk in 0..k {
                s += a[i * k + kk] * b[kk * n + j];
            }
            out[i * n + j] = s;
        }
    }
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn inputs(m: &mut seedchip_funcsim::Machine, rng: &mut Rng, bias: Vec<i32>) -> Inputs {
    let a8 = int_mat(rng, 80);
    let b8 = int_mat(rng, 192);
    let bt8 = int_mat(rng, 192);
    let x8 = int_mat(rng, 192);
    m.write_input("a8", &i32s(&[5, 16], a8.clone())).unwrap();
    m.write_input("b8", &i32s(&[16, 12], b8.clone())).unwrap();
    m.write_input("bt8", &i32s(&[12, 16], bt8.clone())).unwrap();
    m.write_input("bias", &i32s(&[5, 12], bias.clone()))
        .unwrap();
    m.write_input("x8", &i32s(&[3, 4, 16], x8.clone())).unwrap();
    let mut fl = Vec::new();
    for (a, b, bits, exp) in [
        ("abf", "bbf", 8, (-6, 6)),
        ("ah", "bh", 11, (-4, 2)),
        ("a43", "b43", 4, (-4, 3)),
        ("a52", "b52", 3, (-6, 6)),
    ] {
        let av = float_mat(rng, 64, bits, exp);
        let bv = float_mat(rng, 128, bits, exp);
        m.write_input(a, &f32s(&[4, 16], av.clone())).unwrap();
        m.write_input(b, &f32s(&[16, 8], bv.clone())).unwrap();
        fl.push((av, bv));
    }
    Inputs {
        a8,
        b8,
        bt8,
        bias,
        x8,
        fl,
    }
}

struct Inputs {
    a8: Vec<i32>,
    b8: Vec<i32>,
    bt8: Vec<i32>,
    bias: Vec<i32>,
    x8: Vec<i32>,
    fl: Vec<(Vec<f32>, Vec<f32>)>,
}

#[test]
fn int8_is_exact_and_floats_accumulate_in_k_order() {
    let mut rng = Rng::new(11);
    let mut m = machine("mxu");
    let bias: Vec<i32> = (0..60).map(|_| rng.int(-1 << 30, 1 << 30) as i32).collect();
    let x = inputs(&mut m, &mut rng, bias);
    let stats = run(&mut m);

    let y8 = out_i32(&m, "y8");
    let yt8 = out_i32(&m, "yt8");
    for i in 0..5 {
        for j in 0..12 {
            let s: i64 = (0..16)
                .map(|k| i64::from(x.a8[i * 16 + k]) * i64::from(x.b8[k * 12 + j]))
                .sum();
            assert_eq!(i64::from(y8[i * 12 + j]), i64::from(x.bias[i * 12 + j]) + s);
            let t: i64 = (0..16)
                .map(|k| i64::from(x.a8[i * 16 + k]) * i64::from(x.bt8[j * 16 + k]))
                .sum();
            assert_eq!(i64::from(yt8[i * 12 + j]), t);
        }
    }
    let inter = out_i32(&m, "inter");
    for s in 0..3 {
        for i in 0..4 {
            for j in 0..4 {
                let d: i32 = (0..16)
                    .map(|k| x.x8[s * 64 + i * 16 + k] * x.x8[s * 64 + j * 16 + k])
                    .sum();
                assert_eq!(inter[s * 16 + i * 4 + j], d);
            }
        }
    }
    for ((name, (a, b)), bits_needed) in ["ybf", "yh", "y43", "y52"]
        .iter()
        .zip(&x.fl)
        .zip([8, 11, 4, 3])
    {
        let got = out_f32(&m, name);
        let want = float_matmul(a, b, None, 4, 16, 8);
        assert_eq!(bits(&got), bits(&want), "{name}");
        // And the specified order is within rounding of the exact product.
        for i in 0..4 {
            for j in 0..8 {
                let exact: f64 = (0..16)
                    .map(|k| f64::from(a[i * 16 + k]) * f64::from(b[k * 8 + j]))
                    .sum();
                let mag: f64 = (0..16)
                    .map(|k| (f64::from(a[i * 16 + k]) * f64::from(b[k * 8 + j])).abs())
                    .sum();
                assert!(
                    (f64::from(got[i * 8 + j]) - exact).abs() <= mag * 16.0 * 2f64.powi(-24),
                    "{name} {bits_needed}"
                );
            }
        }
    }
    let (a, b) = &x.fl[0];
    let once = float_matmul(a, b, None, 4, 16, 8);
    let twice = float_matmul(a, b, Some(&once), 4, 16, 8);
    assert_eq!(bits(&out_f32(&m, "ybf2")), bits(&twice));
    assert_eq!(
        stats.macs,
        2 * 5 * 16 * 12 + 3 * 4 * 16 * 4 + 6 * 4 * 16 * 8
    );
    assert_eq!(stats.per_mnemonic["mxu.matmul.bf16"], 3);
}

#[test]
fn int8_partial_sum_overflow_is_a_fault_with_its_position() {
    let mut rng = Rng::new(5);
    let mut m = machine("mxu");
    let mut bias = vec![0i32; 60];
    bias[2 * 12 + 7] = i32::MAX - 100;
    let x = inputs(&mut m, &mut rng, bias);
    // Make row 2's products toward column 7 all positive and large.
    let mut a8 = x.a8.clone();
    let mut b8 = x.b8.clone();
    for k in 0..16 {
        a8[2 * 16 + k] = 127;
        b8[k * 12 + 7] = 127;
    }
    m.write_input("a8", &i32s(&[5, 16], a8)).unwrap();
    m.write_input("b8", &i32s(&[16, 12], b8)).unwrap();
    let f = fault(&mut m);
    assert_eq!(f.site.as_ref().unwrap().pc, 96);
    match f.kind {
        FaultKind::AccumulatorOverflow { row, col, k, value } => {
            assert_eq!((row, col, k), (2, 7, 0));
            assert_eq!(value, i64::from(i32::MAX) - 100 + 127 * 127);
        }
        other => panic!("{other}"),
    }
    let text = f.to_string();
    assert!(
        text.contains("accumulator overflow") && text.contains("mxu.matmul.i8"),
        "{text}"
    );
}

fn chain_inputs(m: &mut Machine, a: &[i32], b: &[i32], bias: &[i32]) {
    m.write_input("a", &i32s(&[4, 64], a.to_vec())).unwrap();
    m.write_input("b", &i32s(&[64, 16], b.to_vec())).unwrap();
    m.write_input("bias", &i32s(&[4, 16], bias.to_vec()))
        .unwrap();
}

/// `bias + a · b` after the first `steps` k-steps of 16, in exact integers.
fn chain_sum(a: &[i32], b: &[i32], bias: &[i32], steps: usize) -> Vec<i64> {
    (0..64)
        .map(|e| {
            let (i, j) = (e / 16, e % 16);
            i64::from(bias[e])
                + (0..16 * steps)
                    .map(|p| i64::from(a[i * 64 + p]) * i64::from(b[p * 16 + j]))
                    .sum::<i64>()
        })
        .collect()
}

#[test]
fn queued_k_chains_are_exact_and_thread_independent() {
    let mut rng = Rng::new(21);
    let a = int_mat(&mut rng, 256);
    let b = int_mat(&mut rng, 1024);
    let bias: Vec<i32> = (0..64).map(|_| rng.int(-1 << 20, 1 << 20) as i32).collect();
    let want: Vec<i32> = chain_sum(&a, &b, &bias, 4)
        .into_iter()
        .map(|v| i32::try_from(v).unwrap())
        .collect();
    for threads in [1, 2] {
        for check_races in [false, true] {
            let options = Options {
                threads: Some(threads),
                ..Options::default()
            };
            let mut m = Machine::with_options(&chip(), &program("chain"), &options).unwrap();
            chain_inputs(&mut m, &a, &b, &bias);
            m.run(&Limits {
                check_races,
                ..Limits::default()
            })
            .unwrap_or_else(|f| panic!("{f}"));
            assert_eq!(out_i32(&m, "y"), want, "{threads} threads");
            // The DMA after the chain read the finished accumulators.
            assert_eq!(out_i32(&m, "copy"), want, "{threads} threads");
        }
    }
}

#[test]
fn an_overflow_after_queued_k_steps_faults_at_its_instruction_with_memory_as_left() {
    let mut rng = Rng::new(22);
    let mut a = int_mat(&mut rng, 256);
    // |b| ≤ 127, so row 1's bound grows by exactly one step's gain.
    let mut b: Vec<i32> = int_mat(&mut rng, 1024)
        .iter()
        .map(|&v| v.max(-127))
        .collect();
    // Row 1 against column 3 gains 16 · 127² per k-step: the third step overflows at its
    // first k. The first two steps' row bounds still clear, so the second is queued onto the
    // first.
    for p in 0..64 {
        a[64 + p] = 127;
        b[p * 16 + 3] = 127;
    }
    let step = 16 * 127 * 127;
    let mut bias = vec![0i32; 64];
    bias[16 + 3] = i32::MAX - 2 * step - 100;
    for threads in [1, 2] {
        let options = Options {
            threads: Some(threads),
            ..Options::default()
        };
        let mut m = Machine::with_options(&chip(), &program("chain"), &options).unwrap();
        chain_inputs(&mut m, &a, &b, &bias);
        let f = fault(&mut m);
        // dma, dma, then X0 Y0 X1 Y1, the DMA after step 1, X2.
        assert_eq!(f.site.as_ref().unwrap().index, 2 + 4 + 1);
        match f.kind {
            FaultKind::AccumulatorOverflow { row, col, k, value } => {
                assert_eq!((row, col, k), (1, 3, 0));
                assert_eq!(value, i64::from(i32::MAX) - 100 + 127 * 127);
            }
            other => panic!("{other}"),
        }
        // Memory holds exactly the first two steps of both accumulators.
        let want: Vec<i32> = chain_sum(&a, &b, &bias, 2)
            .into_iter()
            .map(|v| i32::try_from(v).unwrap())
            .collect();
        assert_eq!(out_i32(&m, "y"), want, "{threads} threads");
    }
}
