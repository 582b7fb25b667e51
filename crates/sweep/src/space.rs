//! The design space: parameters and their levels, points and their stable ids, grid and random
//! enumeration, guided-search neighbours, shards, and applying a point's dotted chip keys to
//! the base chip's TOML.

use std::collections::BTreeMap;
use std::ops::Range;

use seedchip_isa::hash::fnv1a64;

use crate::spec::{Mode, Spec};

/// One value of a parameter: the chip keys it sets (one for `key` parameters, several for
/// named bundles).
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub keys: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// Listed values, or a range with `step`/`factor`.
    Levels(Vec<Level>),
    /// A range without a step: random search draws uniformly in `[from, to]`.
    Uniform {
        key: String,
        from: f64,
        to: f64,
        integer: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The chip key, or the bundle's name.
    pub label: String,
    /// Where the `[[param]]` table is in the sweep file.
    pub span: Range<usize>,
    pub domain: Domain,
}

impl Param {
    /// The chip keys this parameter sets.
    pub fn keys(&self) -> Vec<String> {
        match &self.domain {
            Domain::Levels(levels) => {
                let mut keys: Vec<String> =
                    levels.iter().flat_map(|l| l.keys.keys().cloned()).collect();
                keys.sort();
                keys.dedup();
                keys
            }
            Domain::Uniform { key, .. } => vec![key.clone()],
        }
    }
}

/// A parameter's choice at a point.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Level(usize),
    Value(toml::Value),
}

/// One design: a choice per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: u64,
    pub choices: Vec<Choice>,
    /// The chip keys set, flattened (what the id hashes).
    pub keys: BTreeMap<String, toml::Value>,
}

impl Point {
    pub fn new(params: &[Param], choices: Vec<Choice>) -> Point {
        let mut keys = BTreeMap::new();
        for (p, c) in params.iter().zip(&choices) {
            match (&p.domain, c) {
                (Domain::Levels(levels), Choice::Level(i)) => {
                    for (k, v) in &levels[*i].keys {
                        keys.insert(k.clone(), v.clone());
                    }
                }
                (Domain::Uniform { key, .. }, Choice::Value(v)) => {
                    keys.insert(key.clone(), v.clone());
                }
                _ => panic!(
                    "internal error: choice {c:?} does not fit parameter {}",
                    p.label
                ),
            }
        }
        Point {
            id: point_id(&keys),
            choices,
            keys,
        }
    }

    /// The hexadecimal id written in results.
    pub fn id_hex(&self) -> String {
        id_hex(self.id)
    }

    /// Parameter label → value (a bundle's value is its table), for results and reports.
    pub fn values(&self, params: &[Param]) -> BTreeMap<String, serde_json::Value> {
        params
            .iter()
            .zip(&self.choices)
            .map(|(p, c)| {
                let v = match (&p.domain, c) {
                    (Domain::Levels(levels), Choice::Level(i)) => {
                        let l = &levels[*i];
                        if l.keys.len() == 1 && l.keys.contains_key(&p.label) {
                            to_json(&l.keys[&p.label])
                        } else {
                            serde_json::Value::Object(
                                l.keys
                                    .iter()
                                    .map(|(k, v)| (k.clone(), to_json(v)))
                                    .collect(),
                            )
                        }
                    }
                    (_, Choice::Value(v)) => to_json(v),
                    _ => serde_json::Value::Null,
                };
                (p.label.clone(), v)
            })
            .collect()
    }

    /// Parameter label → level index (parameters with levels only).
    pub fn levels(&self, params: &[Param]) -> BTreeMap<String, usize> {
        params
            .iter()
            .zip(&self.choices)
            .filter_map(|(p, c)| match c {
                Choice::Level(i) => Some((p.label.clone(), *i)),
                Choice::Value(_) => None,
            })
            .collect()
    }
}

pub fn id_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// A TOML value as JSON (integers stay integers).
pub fn to_json(v: &toml::Value) -> serde_json::Value {
    serde_json::to_value(v).expect("internal error: a TOML value converts to JSON")
}

/// The stable id of a point: FNV-1a 64 of the compact JSON of its chip keys (sorted), so the
/// same design has the same id in every run, shard and sweep file that reaches it.
pub fn point_id(keys: &BTreeMap<String, toml::Value>) -> u64 {
    let json: BTreeMap<&String, serde_json::Value> =
        keys.iter().map(|(k, v)| (k, to_json(v))).collect();
    fnv1a64(&serde_json::to_vec(&json).expect("internal error: JSON serializes"))
}

/// Whether a point belongs to shard `k` of `n` (1-based): a pure function of its id, so the
/// split depends on nothing but the space and (k, n), and the shards are disjoint and cover it.
pub fn in_shard(id: u64, k: u64, n: u64) -> bool {
    mix(id) % n == k - 1
}

/// SplitMix64's finalizer: spreads ids that differ in few bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A named, seeded stream (SplitMix64): the same (name, seed) gives the same numbers on any
/// machine, whatever the thread count.
#[derive(Debug, Clone)]
pub struct Stream {
    state: u64,
}

impl Stream {
    pub fn new(name: &str, seed: u64) -> Stream {
        Stream {
            state: fnv1a64(format!("{name}:{seed}").as_bytes()),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// Every combination, first parameter slowest.
pub fn grid(params: &[Param]) -> Vec<Point> {
    let sizes: Vec<usize> = params
        .iter()
        .map(|p| match &p.domain {
            Domain::Levels(l) => l.len(),
            Domain::Uniform { .. } => panic!("internal error: grid over a continuous range"),
        })
        .collect();
    let total: usize = sizes.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; params.len()];
    for _ in 0..total {
        out.push(Point::new(
            params,
            idx.iter().map(|&i| Choice::Level(i)).collect(),
        ));
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < sizes[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Number of grid points (saturating).
pub fn grid_size(params: &[Param]) -> u64 {
    params
        .iter()
        .map(|p| match &p.domain {
            Domain::Levels(l) => l.len() as u64,
            Domain::Uniform { .. } => u64::MAX,
        })
        .fold(1u64, u64::saturating_mul)
}

/// `n` distinct random points from stream `name` (fewer if the space is smaller).
pub fn random(params: &[Param], n: u64, seed: u64, name: &str) -> Vec<Point> {
    let mut s = Stream::new(name, seed);
    let mut out: Vec<Point> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut attempts = 0u64;
    let limit = grid_size(params).min(n);
    while (out.len() as u64) < limit && attempts < n.saturating_mul(100).max(1000) {
        attempts += 1;
        let choices = params
            .iter()
            .map(|p| match &p.domain {
                Domain::Levels(l) => Choice::Level(s.below(l.len())),
                Domain::Uniform {
                    from, to, integer, ..
                } => {
                    let x = from + s.unit() * (to - from);
                    Choice::Value(if *integer {
                        toml::Value::Integer(x.round() as i64)
                    } else {
                        toml::Value::Float(x)
                    })
                }
            })
            .collect();
        let p = Point::new(params, choices);
        if seen.insert(p.id) {
            out.push(p);
        }
    }
    out
}

/// The points of a grid or random sweep, in enumeration order. Guided search generates its
/// points round by round ([`neighbours`]).
pub fn enumerate(spec: &Spec) -> Vec<Point> {
    match spec.search.mode {
        Mode::Grid => grid(&spec.params),
        Mode::Random => random(
            &spec.params,
            spec.search.points,
            spec.search.seed,
            "sweep.random",
        ),
        Mode::Guided => random(
            &spec.params,
            spec.search.initial.min(spec.search.points),
            spec.search.seed,
            "sweep.guided.initial",
        ),
    }
}

/// Points one level away from `p` along one parameter.
pub fn neighbours(params: &[Param], p: &Point) -> Vec<Point> {
    let mut out = Vec::new();
    for (i, (param, c)) in params.iter().zip(&p.choices).enumerate() {
        let (Domain::Levels(levels), Choice::Level(l)) = (&param.domain, c) else {
            continue;
        };
        for next in [l.checked_sub(1), Some(l + 1)].into_iter().flatten() {
            if next < levels.len() {
                let mut choices = p.choices.clone();
                choices[i] = Choice::Level(next);
                out.push(Point::new(params, choices));
            }
        }
    }
    out
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Result<Vec<Seg<'_>>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() && rest.is_empty() {
            return Err(format!("`{path}` has an empty key segment"));
        }
        if !name.is_empty() {
            out.push(Seg::Key(name));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let n = idx
                .strip_suffix(']')
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("`{path}`: `[{idx}` is not an index like [0]"))?;
            out.push(Seg::Index(n));
        }
    }
    Ok(out)
}

enum Cur<'a> {
    T(&'a mut toml::Table),
    V(&'a mut toml::Value),
}

/// Sets a dotted key (`cores.matrix_units[0].rows`), creating missing tables; array elements
/// must exist.
pub fn assign(doc: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let segs = segments(path)?;
    let Some((last, init)) = segs.split_last() else {
        return Err("empty key".into());
    };
    let mut cur = Cur::T(doc);
    for seg in init {
        cur = match (cur, seg) {
            (Cur::T(t), Seg::Key(k)) | (Cur::V(toml::Value::Table(t)), Seg::Key(k)) => Cur::V(
                t.entry(k.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            ),
            (Cur::V(toml::Value::Array(a)), Seg::Index(i)) => {
                let len = a.len();
                Cur::V(a.get_mut(*i).ok_or_else(|| {
                    format!("`{path}`: index {i} is past the array's {len} elements")
                })?)
            }
            _ => {
                return Err(format!(
                    "`{path}` does not lead through the base chip's tables and arrays"
                ));
            }
        };
    }
    match (cur, last) {
        (Cur::T(t), Seg::Key(k)) | (Cur::V(toml::Value::Table(t)), Seg::Key(k)) => {
            t.insert(k.to_string(), value);
            Ok(())
        }
        (Cur::V(toml::Value::Array(a)), Seg::Index(i)) if *i < a.len() => {
            a[*i] = value;
            Ok(())
        }
        _ => Err(format!(
            "`{path}` does not name a key of the base chip's tables"
        )),
    }
}

/// Removes a dotted key; false when it is not there.
pub fn remove(doc: &mut toml::Table, path: &str) -> bool {
    let Ok(segs) = segments(path) else {
        return false;
    };
    let Some((Seg::Key(last), init)) = segs.split_last() else {
        return false;
    };
    let mut cur = Cur::T(doc);
    for seg in init {
        let next = match (cur, seg) {
            (Cur::T(t), Seg::Key(k)) | (Cur::V(toml::Value::Table(t)), Seg::Key(k)) => {
                t.get_mut(*k).map(Cur::V)
            }
            (Cur::V(toml::Value::Array(a)), Seg::Index(i)) => a.get_mut(*i).map(Cur::V),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match cur {
        Cur::T(t) | Cur::V(toml::Value::Table(t)) => t.remove(*last).is_some(),
        Cur::V(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(k: &str, v: i64) -> Level {
        Level {
            keys: BTreeMap::from([(k.to_string(), toml::Value::Integer(v))]),
        }
    }

    fn params() -> Vec<Param> {
        vec![
            Param {
                label: "a".into(),
                span: 0..0,
                domain: Domain::Levels((0..5).map(|i| level("a", i)).collect()),
            },
            Param {
                label: "b.c".into(),
                span: 0..0,
                domain: Domain::Levels((0..7).map(|i| level("b.c", i)).collect()),
            },
        ]
    }

    #[test]
    fn point_ids_are_a_hash_of_the_keys_alone() {
        let keys = BTreeMap::from([
            ("clock_mhz".to_string(), toml::Value::Float(1400.0)),
            ("gather.engines".to_string(), toml::Value::Integer(8)),
        ]);
        // FNV-1a 64 of {"clock_mhz":1400.0,"gather.engines":8}: pinned, because results files
        // from earlier runs are resumed and merged by these ids.
        assert_eq!(
            point_id(&keys),
            fnv1a64(br#"{"clock_mhz":1400.0,"gather.engines":8}"#)
        );
        assert_eq!(id_hex(point_id(&keys)).len(), 16);
    }

    #[test]
    fn grid_covers_every_combination_once() {
        let g = grid(&params());
        assert_eq!(g.len(), 35);
        let ids: std::collections::BTreeSet<u64> = g.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), 35);
        assert_eq!(
            g[1].keys["b.c"],
            toml::Value::Integer(1),
            "last parameter fastest"
        );
    }

    #[test]
    fn shards_partition_the_space() {
        let g = grid(&params());
        for n in 1..=6 {
            let mut seen = 0;
            for k in 1..=n {
                seen += g.iter().filter(|p| in_shard(p.id, k, n)).count();
            }
            assert_eq!(seen, g.len(), "n = {n}");
            for p in &g {
                assert_eq!((1..=n).filter(|&k| in_shard(p.id, k, n)).count(), 1);
            }
        }
    }

    #[test]
    fn random_points_are_distinct_seeded_and_capped_by_the_space() {
        let a = random(&params(), 10, 7, "s");
        let b = random(&params(), 10, 7, "s");
        let c = random(&params(), 10, 8, "s");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(random(&params(), 1000, 7, "s").len(), 35);
    }

    #[test]
    fn neighbours_step_one_level_along_one_parameter() {
        let p = Point::new(&params(), vec![Choice::Level(0), Choice::Level(3)]);
        let n = neighbours(&params(), &p);
        assert_eq!(n.len(), 3); // a+1, b-1, b+1
    }

    #[test]
    fn dotted_keys_set_and_remove() {
        let mut doc: toml::Table = toml::from_str(
            "[cores]\ncount = 2\n[[cores.matrix_units]]\nrows = 128\n[memory]\nbandwidth_gbps = 1.0\n",
        )
        .unwrap();
        assign(
            &mut doc,
            "cores.matrix_units[0].rows",
            toml::Value::Integer(64),
        )
        .unwrap();
        assign(&mut doc, "cost.volume_units", toml::Value::Integer(5)).unwrap();
        assert!(
            assign(
                &mut doc,
                "cores.matrix_units[1].rows",
                toml::Value::Integer(1)
            )
            .is_err()
        );
        assert!(assign(&mut doc, "cores.count.x", toml::Value::Integer(1)).is_err());
        assert_eq!(
            doc["cores"]["matrix_units"][0]["rows"].as_integer(),
            Some(64)
        );
        assert_eq!(doc["cost"]["volume_units"].as_integer(), Some(5));
        assert!(remove(&mut doc, "memory.bandwidth_gbps"));
        assert!(!remove(&mut doc, "memory.bandwidth_gbps"));
        assert!(!remove(&mut doc, "nothing.here"));
    }
}
