//! Constant folding: ONNX ops evaluated on [`Const`]s.
//!
//! Exporters leave shape arithmetic, index lists and reshaped weights in the graph as ops; the
//! IR has no place for them, so they are computed here. Integer tensors carry [`Sym`]s, so a
//! shape computation that only moves the batch size around still folds. Every function
//! returns `Err(reason)` when it cannot fold, and the caller decides whether that is fatal.

use crate::tensor::{Const, Data, MAX_FOLD_ELEMENTS, Sym};

type R<T> = Result<T, String>;

/// Normalizes a possibly negative axis against `rank`.
pub(crate) fn axis(a: i64, rank: usize) -> R<usize> {
    let r = rank as i64;
    let n = if a < 0 { a + r } else { a };
    if (0..r).contains(&n) {
        Ok(n as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {rank}"))
    }
}

fn check_size(n: usize) -> R<()> {
    if n > MAX_FOLD_ELEMENTS {
        Err(format!(
            "folding would create {n} elements (limit {MAX_FOLD_ELEMENTS})"
        ))
    } else {
        Ok(())
    }
}

fn numel(dims: &[usize]) -> R<usize> {
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| "element count overflows".to_string())
}

fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// Picks elements by flat index into a new tensor of the same element kind.
fn pick(c: &Const, dims: Vec<usize>, idx: impl Iterator<Item = usize>) -> Const {
    match &c.data {
        Data::F32(v) => Const::f32(dims, idx.map(|i| v[i]).collect()),
        Data::Int(v) => Const::int(dims, idx.map(|i| v[i]).collect()),
    }
}

/// Numpy broadcasting of two shapes.
pub(crate) fn broadcast_dims(a: &[usize], b: &[usize]) -> R<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![1; rank];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    Ok(out)
}

/// For each output element of a broadcast, the flat index into an operand of shape `dims`.
fn broadcast_index(out: &[usize], dims: &[usize]) -> Vec<usize> {
    let n: usize = out.iter().product();
    let rank = out.len();
    let st = strides(dims);
    let ostr = strides(out);
    (0..n)
        .map(|flat| {
            let mut src = 0;
            for d in 0..rank {
                let coord = (flat / ostr[d]) % out[d];
                if d + dims.len() >= rank {
                    let k = d + dims.len() - rank;
                    if dims[k] != 1 {
                        src += coord * st[k];
                    }
                }
            }
            src
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

fn int_arith(op: Arith, a: Sym, b: Sym) -> R<Sym> {
    Ok(match (a, b) {
        (Sym::Known(x), Sym::Known(y)) => Sym::Known(match op {
            Arith::Add => x.wrapping_add(y),
            Arith::Sub => x.wrapping_sub(y),
            Arith::Mul => x.wrapping_mul(y),
            Arith::Div => {
                if y == 0 {
                    return Err("integer division by zero".into());
                }
                x.wrapping_div(y)
            }
        }),
        // The batch passes through identities, so `B * 1` and `B + 0` stay the batch.
        (s, Sym::Known(1)) if matches!(op, Arith::Mul | Arith::Div) => s,
        (Sym::Known(1), s) if op == Arith::Mul => s,
        (s, Sym::Known(0)) if matches!(op, Arith::Add | Arith::Sub) => s,
        (Sym::Known(0), s) if op == Arith::Add => s,
        _ => Sym::Dyn,
    })
}

pub(crate) fn arith(op: Arith, a: &Const, b: &Const) -> R<Const> {
    let dims = broadcast_dims(&a.dims, &b.dims)?;
    check_size(numel(&dims)?)?;
    let ia = broadcast_index(&dims, &a.dims);
    let ib = broadcast_index(&dims, &b.dims);
    match (&a.data, &b.data) {
        (Data::Int(x), Data::Int(y)) => {
            let v = ia
                .iter()
                .zip(&ib)
                .map(|(&i, &j)| int_arith(op, x[i], y[j]))
                .collect::<R<Vec<_>>>()?;
            Ok(Const::int(dims, v))
        }
        _ => {
            let x = a.to_f32()?;
            let y = b.to_f32()?;
            let f = |p: f32, q: f32| match op {
                Arith::Add => p + q,
                Arith::Sub => p - q,
                Arith::Mul => p * q,
                Arith::Div => p / q,
            };
            Ok(Const::f32(
                dims,
                ia.iter().zip(&ib).map(|(&i, &j)| f(x[i], y[j])).collect(),
            ))
        }
    }
}

pub(crate) fn concat(parts: &[&Const], ax: i64) -> R<Const> {
    let first = parts.first().ok_or("concat of nothing")?;
    let rank = first.dims.len();
    let ax = axis(ax, rank)?;
    let float = parts.iter().any(|p| p.is_float());
    let mut dims = first.dims.clone();
    dims[ax] = 0;
    for p in parts {
        if p.dims.len() != rank
            || p.dims
                .iter()
                .zip(&first.dims)
                .enumerate()
                .any(|(d, (x, y))| d != ax && x != y)
        {
            return Err(format!(
                "concat operands {:?} and {:?} differ outside axis {ax}",
                p.dims, first.dims
            ));
        }
        dims[ax] += p.dims[ax];
    }
    check_size(numel(&dims)?)?;
    let outer: usize = dims[..ax].iter().product();
    let inner: usize = dims[ax + 1..].iter().product();
    if float {
        let vals: Vec<Vec<f32>> = parts.iter().map(|p| p.to_f32()).collect::<R<_>>()?;
        let mut out = Vec::with_capacity(numel(&dims)?);
        for o in 0..outer {
            for (p, v) in parts.iter().zip(&vals) {
                let chunk = p.dims[ax] * inner;
                out.extend_from_slice(&v[o * chunk..(o + 1) * chunk]);
            }
        }
        Ok(Const::f32(dims, out))
    } else {
        let vals: Vec<Vec<Sym>> = parts.iter().map(|p| p.syms()).collect::<R<_>>()?;
        let mut out = Vec::with_capacity(numel(&dims)?);
        for o in 0..outer {
            for (p, v) in parts.iter().zip(&vals) {
                let chunk = p.dims[ax] * inner;
                out.extend_from_slice(&v[o * chunk..(o + 1) * chunk]);
            }
        }
        Ok(Const::int(dims, out))
    }
}

/// ONNX `Gather` along `ax` with known indices (negative ones count from the end).
pub(crate) fn gather(data: &Const, indices: &Const, ax: i64) -> R<Const> {
    let rank = data.dims.len();
    let ax = axis(ax, rank)?;
    let idx = indices.known_ints()?;
    let n = data.dims[ax] as i64;
    let idx: Vec<usize> = idx
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + n } else { i };
            if (0..n).contains(&j) {
                Ok(j as usize)
            } else {
                Err(format!("index {i} is out of range for axis length {n}"))
            }
        })
        .collect::<R<_>>()?;
    let mut dims: Vec<usize> = data.dims[..ax].to_vec();
    dims.extend(&indices.dims);
    dims.extend(&data.dims[ax + 1..]);
    check_size(numel(&dims)?)?;
    let outer: usize = data.dims[..ax].iter().product();
    let inner: usize = data.dims[ax + 1..].iter().product();
    let mut flat = Vec::with_capacity(numel(&dims)?);
    for o in 0..outer {
        for &i in &idx {
            let base = (o * data.dims[ax] + i) * inner;
            flat.extend(base..base + inner);
        }
    }
    Ok(pick(data, dims, flat.into_iter()))
}

/// Clamped ONNX slice bounds for one axis with step 1 or more: `(start, end)`, possibly empty.
pub(crate) fn slice_bounds(start: i64, end: i64, len: i64) -> (i64, i64) {
    let norm = |x: i64| {
        let x = if x < 0 { x.saturating_add(len) } else { x };
        x.clamp(0, len)
    };
    (norm(start), norm(end))
}

pub(crate) fn slice(
    data: &Const,
    starts: &[i64],
    ends: &[i64],
    axes: &[i64],
    steps: &[i64],
) -> R<Const> {
    let rank = data.dims.len();
    let mut ranges: Vec<(usize, usize, usize)> = data.dims.iter().map(|&d| (0, d, 1)).collect();
    for (k, &a) in axes.iter().enumerate() {
        let ax = axis(a, rank)?;
        let step = steps.get(k).copied().unwrap_or(1);
        if step < 1 {
            return Err(format!(
                "slice step {step} is not supported (steps must be >= 1)"
            ));
        }
        let (s, e) = slice_bounds(starts[k], ends[k], data.dims[ax] as i64);
        ranges[ax] = (s as usize, e.max(s) as usize, step as usize);
    }
    let dims: Vec<usize> = ranges
        .iter()
        .map(|&(s, e, st)| (e - s).div_ceil(st))
        .collect();
    let st = strides(&data.dims);
    let ost = strides(&dims);
    let n = numel(&dims)?;
    let idx = (0..n).map(|flat| {
        (0..rank)
            .map(|d| {
                let c = (flat / ost[d]) % dims[d];
                (ranges[d].0 + c * ranges[d].2) * st[d]
            })
            .sum::<usize>()
    });
    Ok(pick(data, dims.clone(), idx))
}

pub(crate) fn transpose(data: &Const, perm: &[usize]) -> R<Const> {
    let rank = data.dims.len();
    let mut seen = vec![false; rank];
    if perm.len() != rank
        || perm
            .iter()
            .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
    {
        return Err(format!("perm {perm:?} is not a permutation of rank {rank}"));
    }
    let dims: Vec<usize> = perm.iter().map(|&p| data.dims[p]).collect();
    let st = strides(&data.dims);
    let ost = strides(&dims);
    let n = numel(&dims)?;
    let idx = (0..n).map(|flat| {
        (0..rank)
            .map(|d| ((flat / ost[d]) % dims[d]) * st[perm[d]])
            .sum::<usize>()
    });
    Ok(pick(data, dims.clone(), idx))
}

/// Reshape of a constant: `0` copies the input dimension (unless `allowzero`), `-1` is inferred.
pub(crate) fn reshape(data: &Const, target: &[i64], allowzero: bool) -> R<Const> {
    let total = data.numel();
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            0 if !allowzero => dims.push(
                *data
                    .dims
                    .get(i)
                    .ok_or_else(|| format!("reshape copies dimension {i} the input lacks"))?,
            ),
            t if t >= 0 => dims.push(t as usize),
            _ => return Err(format!("invalid reshape target {target:?}")),
        }
    }
    let known = numel(&dims)?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {:?} to {target:?}", data.dims));
        }
        dims[i] = total / known;
    } else if known != total {
        return Err(format!("cannot reshape {:?} to {target:?}", data.dims));
    }
    Ok(Const {
        dims,
        data: data.data.clone(),
    })
}

pub(crate) fn unsqueeze(data: &Const, axes: &[i64]) -> R<Const> {
    let rank = data.dims.len() + axes.len();
    let mut norm: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<R<_>>()?;
    norm.sort_unstable();
    if norm.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("repeated unsqueeze axes {axes:?}"));
    }
    let mut dims = data.dims.clone();
    for a in norm {
        dims.insert(a, 1);
    }
    Ok(Const {
        dims,
        data: data.data.clone(),
    })
}

/// Output dims of an ONNX `Squeeze` (`None` axes: every size-1 dimension).
pub(crate) fn squeeze_dims<D: Copy + PartialEq>(
    dims: &[D],
    axes: Option<&[i64]>,
    one: D,
) -> R<Vec<D>> {
    let rank = dims.len();
    let drop: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&x| axis(x, rank)).collect::<R<_>>()?,
        None => (0..rank).filter(|&i| dims[i] == one).collect(),
    };
    for &d in &drop {
        if dims[d] != one {
            return Err(format!("cannot squeeze axis {d}: its size is not 1"));
        }
    }
    Ok((0..rank)
        .filter(|i| !drop.contains(i))
        .map(|i| dims[i])
        .collect())
}

pub(crate) fn cast(c: &Const, to_float: bool) -> Const {
    match (&c.data, to_float) {
        (Data::F32(v), false) => Const::int(
            c.dims.clone(),
            v.iter().map(|&x| Sym::Known(x as i64)).collect(),
        ),
        (Data::Int(v), true) if v.iter().all(|s| s.known().is_some()) => Const::f32(
            c.dims.clone(),
            v.iter().map(|s| s.known().unwrap_or(0) as f32).collect(),
        ),
        _ => c.clone(),
    }
}

pub(crate) fn range(start: &Const, limit: &Const, delta: &Const) -> R<Const> {
    if start.is_float() || limit.is_float() || delta.is_float() {
        let (s, l, d) = (start.to_f32()?, limit.to_f32()?, delta.to_f32()?);
        let (s, l, d) = (s[0] as f64, l[0] as f64, d[0] as f64);
        if d == 0.0 {
            return Err("range with delta 0".into());
        }
        let n = ((l - s) / d).ceil().max(0.0);
        if n > MAX_FOLD_ELEMENTS as f64 {
            return Err("range too long to fold".into());
        }
        let n = n as usize;
        return Ok(Const::f32(
            vec![n],
            (0..n).map(|i| (s + i as f64 * d) as f32).collect(),
        ));
    }
    let one = |c: &Const| -> R<i64> {
        c.known_ints()?
            .first()
            .copied()
            .ok_or_else(|| "empty range operand".to_string())
    };
    let (s, l, d) = (one(start)?, one(limit)?, one(delta)?);
    if d == 0 {
        return Err("range with delta 0".into());
    }
    let n = ((l as i128 - s as i128) + d as i128 - d.signum() as i128) / d as i128;
    let n = n.max(0);
    if n > MAX_FOLD_ELEMENTS as i128 {
        return Err("range too long to fold".into());
    }
    let v: Vec<i64> = (0..n as i64).map(|i| s + i * d).collect();
    Ok(Const::ints(vec![v.len()], &v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(dims: &[usize], v: &[f32]) -> Const {
        Const::f32(dims.to_vec(), v.to_vec())
    }

    #[test]
    fn broadcasting_arith() {
        let a = f(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let b = f(&[3], &[10., 20., 30.]);
        assert_eq!(
            arith(Arith::Add, &a, &b).unwrap(),
            f(&[2, 3], &[11., 22., 33., 14., 25., 36.])
        );
        let c = f(&[2, 1], &[1., 2.]);
        assert_eq!(
            arith(Arith::Mul, &a, &c).unwrap(),
            f(&[2, 3], &[1., 2., 3., 8., 10., 12.])
        );
        let bat = Const::int(vec![2], vec![Sym::Batch, Sym::Known(3)]);
        let one = Const::ints(vec![], &[1]);
        assert_eq!(arith(Arith::Mul, &bat, &one).unwrap(), bat);
    }

    #[test]
    fn gather_slice_transpose() {
        let a = f(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let g = gather(&a, &Const::ints(vec![2], &[2, -3]), 1).unwrap();
        assert_eq!(g, f(&[2, 2], &[3., 1., 6., 4.]));
        let g = gather(&a, &Const::ints(vec![], &[1]), 0).unwrap();
        assert_eq!(g, f(&[3], &[4., 5., 6.]));
        let s = slice(&a, &[1], &[i64::MAX], &[1], &[1]).unwrap();
        assert_eq!(s, f(&[2, 2], &[2., 3., 5., 6.]));
        let s = slice(&a, &[0], &[-1], &[-1], &[2]).unwrap();
        assert_eq!(s, f(&[2, 1], &[1., 4.]));
        let t = transpose(&a, &[1, 0]).unwrap();
        assert_eq!(t, f(&[3, 2], &[1., 4., 2., 5., 3., 6.]));
        let c = concat(&[&a, &f(&[2, 1], &[7., 8.])], -1).unwrap();
        assert_eq!(c, f(&[2, 4], &[1., 2., 3., 7., 4., 5., 6., 8.]));
    }

    #[test]
    fn reshape_and_range() {
        let a = f(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        assert_eq!(reshape(&a, &[0, -1], false).unwrap().dims, vec![2, 3]);
        assert_eq!(reshape(&a, &[-1], false).unwrap().dims, vec![6]);
        assert!(reshape(&a, &[4, -1], false).is_err());
        let r = range(
            &Const::ints(vec![], &[0]),
            &Const::ints(vec![], &[7]),
            &Const::ints(vec![], &[3]),
        )
        .unwrap();
        assert_eq!(r, Const::ints(vec![3], &[0, 3, 6]));
        let r = range(
            &Const::ints(vec![], &[5]),
            &Const::ints(vec![], &[0]),
            &Const::ints(vec![], &[-2]),
        )
        .unwrap();
        assert_eq!(r, Const::ints(vec![3], &[5, 3, 1]));
        assert!(
            range(
                &Const::ints(vec![], &[0]),
                &Const::ints(vec![], &[i64::MAX]),
                &Const::ints(vec![], &[1]),
            )
            .is_err()
        );
    }
}
