#!/usr/bin/env python3
"""Chebyshev coefficients for crates/numerics/src/math.rs (standard library only).

Each function is approximated on [a, b] by sum_k c_k T_k(t), t = (2v - (a + b)) / (b - a),
with coefficients from interpolation at Chebyshev nodes in double precision (the fitted functions
are entire, so the series converge fast), then rounded to f32. Prints the Rust constants and the
f64 fit error of the truncated, f32-rounded series. Rerun and paste if an interval or degree
changes; the Rust tests check the resulting accuracy.
"""
import math
import struct


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def cheb_coeffs(f, a, b, n_nodes=80):
    nodes = [math.cos(math.pi * (j + 0.5) / n_nodes) for j in range(n_nodes)]
    vals = [f(0.5 * (b - a) * t + 0.5 * (a + b)) for t in nodes]
    coeffs = []
    for k in range(n_nodes):
        s = sum(v * math.cos(math.pi * k * (j + 0.5) / n_nodes) for j, v in enumerate(vals))
        coeffs.append(2.0 * s / n_nodes)
    coeffs[0] /= 2.0
    return coeffs


def clenshaw(c, t):
    b1 = b2 = 0.0
    for ck in reversed(c[1:]):
        b1, b2 = 2.0 * t * b1 - b2 + ck, b1
    return t * b1 - b2 + c[0]


def fit(name, f, a, b, degree, rel):
    c = [f32(x) for x in cheb_coeffs(f, a, b)[: degree + 1]]
    worst = 0.0
    for i in range(4001):
        v = a + (b - a) * i / 4000
        t = (2 * v - (a + b)) / (b - a)
        exact = f(v)
        err = abs(clenshaw(c, t) - exact) / (abs(exact) if rel else 1.0)
        worst = max(worst, err)
    print(f"// {name}: Chebyshev degree {degree} on [{a}, {b}], max fit error {worst:.2e}"
          f" ({'relative' if rel else 'absolute'}, f32-rounded coefficients, f64 evaluation)")
    print(f"const {name}: [f32; {degree + 1}] = [")
    for x in c:
        print(f"    {x!r},")
    print("];")


def erf_over_x(u):
    x = math.sqrt(u)
    return 2.0 / math.sqrt(math.pi) if x == 0.0 else math.erf(x) / x


def tanh_over_x(u):
    x = math.sqrt(u)
    return 1.0 if x == 0.0 else math.tanh(x) / x


ERF_SPLIT = 0.84375
TANH_SPLIT = 0.625
fit("ERF_SMALL", erf_over_x, 0.0, ERF_SPLIT * ERF_SPLIT, 6, True)
fit("ERFCX_MID", lambda x: math.erfc(x) * math.exp(x * x), ERF_SPLIT, 4.0, 13, True)
fit("TANH_SMALL", tanh_over_x, 0.0, TANH_SPLIT * TANH_SPLIT, 6, True)
