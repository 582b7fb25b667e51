use seedchip_funcsim::FaultKind;
use seedchip_numerics::math;

use crate::support::*;

/// f32 → bf16, round to nearest even, for finite values (an independent bit formula).
fn bf16(f: f32) -> f32 {
    let b = f.to_bits();
    let r = (b + 0x7fff + ((b >> 16) & 1)) >> 16;
    f32::from_bits(r << 16)
}

/// f32 → e4m3 → f32: round to nearest even on the e4m3 grid, saturating at ±448.
fn e4m3(v: f32) -> f32 {
    if v == 0.0 {
        return v;
    }
    let a = f64::from(v.abs());
    let r = if a > 464.0 {
        448.0
    } else {
        let e = a.log2().floor().max(-6.0);
        let q = 2f64.powf(e - 3.0);
        ((a / q).round_ties_even() * q).min(448.0)
    };
    (r as f32).copysign(v)
}

fn div_pow2_half_away(v: i128, shift: u32) -> i128 {
    if shift == 0 {
        return v;
    }
    let d = 1i128 << shift;
    let q = (v.abs() + d / 2) / d;
    if v < 0 { -q } else { q }
}

/// Fixed-point requantization per docs/numerics.md, in i128.
fn requant(acc: i32, m: i32, s: i32, zp: i32, lo: i32, hi: i32) -> i32 {
    let sat = |v: i128| v.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    let p = i128::from(acc) * i128::from(m);
    let z = if s >= 0 {
        div_pow2_half_away(sat(div_pow2_half_away(p, 31)), s as u32)
    } else {
        sat(div_pow2_half_away(p, (31 + s) as u32))
    };
    (z + i128::from(zp)).clamp(i128::from(lo), i128::from(hi)) as i32
}

fn ieee_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        if a.is_sign_positive() { a } else { b }
    } else if a > b {
        a
    } else {
        b
    }
}

fn ieee_min(a: f32, b: f32) -> f32 {
    -ieee_max(-a, -b)
}

fn same(got: &[f32], want: impl IntoIterator<Item = f32>, what: &str) {
    let want: Vec<f32> = want.into_iter().collect();
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let ok = g.to_bits() == w.to_bits() || (w.is_nan() && g.to_bits() == 0x7fc0_0000);
        assert!(
            ok,
            "{what}[{i}]: got {g} ({:#x}), want {w} ({:#x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

struct Data {
    x: Vec<f32>,
    y: Vec<f32>,
    bias: Vec<f32>,
    rowv: Vec<f32>,
    xi: Vec<i32>,
    acc: Vec<i32>,
    mults: Vec<i32>,
    shifts: Vec<i32>,
}

fn data(seed: u64) -> Data {
    let mut rng = Rng::new(seed);
    let mut x: Vec<f32> = (0..32).map(|_| rng.unit() * 8.0).collect();
    x[..6].copy_from_slice(&[1000.0, -3.5, 2.5, 0.5, -0.0, -120.0]);
    let y: Vec<f32> = (0..32).map(|_| rng.unit() * 4.0).collect();
    let mut acc: Vec<i32> = (0..32).map(|_| rng.int(-1 << 20, 1 << 20) as i32).collect();
    acc[0] = i32::MAX;
    acc[1] = i32::MIN;
    Data {
        x,
        y,
        bias: (0..8).map(|_| rng.unit()).collect(),
        rowv: (0..4).map(|_| rng.unit()).collect(),
        xi: (0..32).map(|_| rng.int(-1 << 29, 1 << 29) as i32).collect(),
        acc,
        mults: (0..8)
            .map(|_| rng.int(1 << 30, i64::from(i32::MAX)) as i32)
            .collect(),
        shifts: (0..8).map(|_| rng.int(-2, 10) as i32).collect(),
    }
}

fn load(m: &mut seedchip_funcsim::Machine, d: &Data) {
    m.write_input("x", &f32s(&[4, 8], d.x.clone())).unwrap();
    m.write_input("y", &f32s(&[4, 8], d.y.clone())).unwrap();
    m.write_input("bias", &f32s(&[8], d.bias.clone())).unwrap();
    m.write_input("rowv", &f32s(&[4], d.rowv.clone())).unwrap();
    m.write_input("xb", &f32s(&[4, 8], d.x.clone())).unwrap();
    m.write_input("xi", &i32s(&[4, 8], d.xi.clone())).unwrap();
    m.write_input("acc", &i32s(&[4, 8], d.acc.clone())).unwrap();
    m.write_input("mults", &i32s(&[8], d.mults.clone()))
        .unwrap();
    m.write_input("shifts", &i32s(&[8], d.shifts.clone()))
        .unwrap();
}

#[test]
fn vector_ops_match_independent_formulas() {
    let d = data(3);
    let mut m = machine("vpu");
    load(&mut m, &d);
    run(&mut m);
    let (x, y) = (&d.x, &d.y);
    let ix = || (0..32usize).map(|i| (i / 8, i % 8));
    same(
        &out_f32(&m, "add"),
        ix().map(|(r, c)| x[r * 8 + c] + d.bias[c]),
        "add",
    );
    same(
        &out_f32(&m, "sub"),
        ix().map(|(r, c)| x[r * 8 + c] - d.rowv[r]),
        "sub",
    );
    same(&out_f32(&m, "mul"), (0..32).map(|i| x[i] * y[i]), "mul");
    same(
        &out_f32(&m, "max"),
        x.iter().map(|&v| ieee_max(v, d.rowv[0])),
        "max",
    );
    same(
        &out_f32(&m, "min"),
        (0..32).map(|i| ieee_min(x[i], y[i])),
        "min",
    );
    same(
        &out_f32(&m, "relu"),
        x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }),
        "relu",
    );
    same(
        &out_f32(&m, "sigmoid"),
        x.iter().map(|&v| math::sigmoid(v)),
        "sigmoid",
    );
    same(
        &out_f32(&m, "tanh"),
        x.iter().map(|&v| math::tanh(v)),
        "tanh",
    );
    same(
        &out_f32(&m, "gelu"),
        x.iter().map(|&v| math::gelu(v)),
        "gelu",
    );
    same(
        &out_f32(&m, "silu"),
        x.iter().map(|&v| math::silu(v)),
        "silu",
    );
    same(&out_f32(&m, "exp"), x.iter().map(|&v| math::exp(v)), "exp");
    same(
        &out_f32(&m, "rsqrt"),
        y.iter().map(|&v| math::rsqrt(v)),
        "rsqrt",
    );
    same(&out_f32(&m, "recip"), x.iter().map(|&v| 1.0 / v), "recip");
    same(&out_f32(&m, "neg"), x.iter().map(|&v| -v), "neg");
    same(
        &out_f32(&m, "scale"),
        x.iter().map(|&v| v * 0.3f32),
        "scale",
    );
    same(
        &out_f32(&m, "copy"),
        [10, 11, 12, 13, 18, 19, 20, 21].map(|i| x[i]),
        "copy",
    );
    same(
        &out_f32(&m, "sqbf"),
        x.iter().map(|&v| bf16(bf16(v) * bf16(v))),
        "sqbf",
    );
    same(&out_f32(&m, "fp8"), x.iter().map(|&v| e4m3(v)), "fp8");
    let toi8 = out_i32(&m, "toi8");
    assert_eq!(
        toi8,
        x.iter()
            .map(|v| v.round_ties_even().clamp(-128.0, 127.0) as i32)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        out_i32(&m, "sat"),
        d.acc
            .iter()
            .map(|&v| v.clamp(-128, 127))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        out_i32(&m, "req"),
        d.acc
            .iter()
            .map(|&v| requant(v, 1_518_500_250, 3, -5, -128, 127))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        out_i32(&m, "reqpc"),
        ix().map(|(r, c)| requant(d.acc[r * 8 + c], d.mults[c], d.shifts[c], 100, 0, 255))
            .collect::<Vec<_>>()
    );
    same(
        &out_f32(&m, "rsum"),
        (0..4).map(|r| x[r * 8..r * 8 + 8].iter().fold(0f32, |s, &v| s + v)),
        "rsum",
    );
    same(
        &out_f32(&m, "rmax"),
        (0..4).map(|r| {
            x[r * 8..r * 8 + 8]
                .iter()
                .fold(f32::NEG_INFINITY, |s, &v| ieee_max(s, v))
        }),
        "rmax",
    );
    assert_eq!(
        out_i32(&m, "addi"),
        d.xi.iter().map(|&v| 2 * v).collect::<Vec<_>>()
    );
    assert_eq!(
        out_i32(&m, "negi8"),
        toi8.iter().map(|&v| -v).collect::<Vec<_>>()
    );
}

#[test]
fn integer_overflow_faults_at_the_element() {
    let mut d = data(4);
    d.xi[13] = i32::MAX - 1;
    let mut m = machine("vpu");
    load(&mut m, &d);
    let f = fault(&mut m);
    assert!(
        f.site.as_ref().unwrap().inst.starts_with("vpu.add.i32"),
        "{f}"
    );
    assert_eq!(
        f.kind,
        FaultKind::IntegerOverflow {
            op: "vpu.add",
            row: 1,
            col: 5,
            value: 2 * (i64::from(i32::MAX) - 1),
        }
    );
}

/// Destinations that alias their sources in every way the vector unit allows give the bytes
/// of "read every source, then write the destination", and never touch the gaps between a
/// strided destination's rows.
#[test]
fn aliased_and_strided_destinations_keep_their_semantics() {
    use seedchip_isa::{Addr, Space};
    let d = data(11);
    let mut m = machine("alias");
    m.write_input("x", &f32s(&[4, 8], d.x.clone())).unwrap();
    m.write_input("acc", &i32s(&[4, 8], d.acc.clone())).unwrap();
    // Canvases under the strided destinations: their gaps must survive.
    m.write_bytes(0, Addr::new(Space::Shared, 0x400), &[0xab; 256])
        .unwrap();
    m.write_bytes(0, Addr::new(Space::Local, 0x100), &[0xcd; 64])
        .unwrap();
    m.write_bytes(0, Addr::new(Space::Local, 0x200), &[0xef; 48])
        .unwrap();
    run(&mut m);
    let f32_at = |space, addr, n: usize| -> Vec<f32> {
        m.read_bytes(0, Addr::new(space, addr), n as u64 * 4)
            .unwrap()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let x = &d.x;
    // In place: 2x at 0x100; then rows 1.. of it negated one row further on (overlap shifted
    // by a row): the source is read whole before any of it is overwritten.
    same(
        &f32_at(Space::Shared, 0x100, 8),
        x[..8].iter().map(|&v| v + v),
        "in place",
    );
    same(
        &f32_at(Space::Shared, 0x120, 32),
        x.iter().map(|&v| -(v + v)),
        "shifted overlap",
    );
    // Source after its destination.
    same(
        &f32_at(Space::Shared, 0x280, 32),
        x.iter().map(|&v| v * 3.0),
        "source after destination",
    );
    // Strided destination: rows of 8 values, 16 apart; the gaps keep the canvas.
    let strided = f32_at(Space::Shared, 0x400, 64);
    for r in 0..4 {
        same(
            &strided[r * 16..r * 16 + 8],
            x[r * 8..r * 8 + 8].iter().map(|&v| v * 2.0),
            "strided rows",
        );
        assert!(
            strided[r * 16 + 8..r * 16 + 16]
                .iter()
                .all(|v| v.to_bits() == 0xabab_abab),
            "gap of row {r}"
        );
    }
    // Another SRAM: i32 -> f32 in local memory.
    same(
        &f32_at(Space::Local, 0x0, 32),
        d.acc.iter().map(|&v| v as f32),
        "cvt i32 -> f32 across SRAMs",
    );
    let bytes = m.read_bytes(0, Addr::new(Space::Local, 0x100), 64).unwrap();
    for r in 0..4 {
        for c in 0..16 {
            let got = bytes[r * 16 + c];
            if c < 8 {
                let v = x[r * 8 + c];
                let want = if v.is_nan() {
                    0
                } else {
                    v.clamp(-128.0, 127.0).round_ties_even() as i8 as u8
                };
                assert_eq!(got, want, "cvt f32 -> i8 ({r}, {c})");
            } else {
                assert_eq!(got, 0xcd, "gap ({r}, {c})");
            }
        }
    }
    let want_req: Vec<u8> = d
        .acc
        .iter()
        .map(|&a| requant(a, 1_518_500_250, 3, -5, -128, 127) as i8 as u8)
        .collect();
    let local = m.read_bytes(0, Addr::new(Space::Local, 0x200), 48).unwrap();
    for r in 0..4 {
        assert_eq!(
            &local[r * 12..r * 12 + 8],
            &want_req[r * 8..r * 8 + 8],
            "requant row {r}"
        );
        assert!(
            local[r * 12 + 8..r * 12 + 12].iter().all(|&b| b == 0xef),
            "requant gap {r}"
        );
    }
    // Requantized onto its own accumulator (rows 32 bytes apart): each row's bytes land on
    // the start of the i32 row they came from.
    let own = m
        .read_bytes(0, Addr::new(Space::Shared, 0x800), 128)
        .unwrap();
    for r in 0..4 {
        assert_eq!(
            &own[r * 32..r * 32 + 8],
            &want_req[r * 8..r * 8 + 8],
            "in-place requant row {r}"
        );
    }
}
