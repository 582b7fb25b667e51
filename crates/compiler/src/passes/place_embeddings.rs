//! `place_embeddings`: where and how embedding rows live.
//!
//! * **Row format**: `emb8` (FBGEMM int8 row-wise) for int8/fp8, `bf16` for bf16 unless the
//!   tables do not fit HBM (then `emb8`), or what the options force. Tables stay in HBM as
//!   procedural descriptors, so a 100 GB model costs nothing to ship.
//! * **Hot rows**: on chips with a hot-row cache (`gather.hot_row_cache_bytes`), rows are
//!   ranked by how often generated inputs touch them (per byte of cache), and the hottest fill
//!   the cache. Filling costs one `dma.copy` per run of consecutive rows, so the number of runs
//!   is capped ([`crate::CompileOptions::max_cache_fills`]).
//! * **Strategy**: gathers pool in the gather engines when the chip has them and supports the
//!   pooling mode. Otherwise rows are copied with singleton bags (`gather` with `offsets =
//!   0, 1, 2, ...`, which such chips execute on their DMA engines) into a scratch buffer and
//!   pooled by the vector unit (`vpu.add`/`vpu.max` chains, `vpu.scale` for the mean).

use std::collections::{BTreeMap, BTreeSet};

use seedchip_chip::Precision;
use seedchip_ir::{Graph, Pooling};
use seedchip_isa::DType;
use seedchip_zoo::{GraphWorkload, InputOptions, TensorData};

use crate::lir::{Base, ConstId, KOp, Lir};
use crate::passes::Target;
use crate::{CompileOptions, Error, TableFormat};

/// Bags per engine gather instruction (and the length of each offsets constant).
pub const GATHER_BAGS: u64 = 512;
/// Rows per singleton-bag (row copy) gather instruction.
pub const COPY_ROWS: u64 = 4096;

/// Batch index of the popularity profile (see [`crate::passes::quantize::CALIBRATION_BATCH_INDEX`]).
pub const PROFILE_BATCH_INDEX: u64 = (1 << 40) + (1 << 20);

/// What the schedule needs to emit gathers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbeddingPlan {
    /// Bag size (1 for row copies) → its offsets constant `0, h, 2h, ...`.
    pub offsets: BTreeMap<u64, ConstId>,
    /// Table → its cache map constant.
    pub cache_maps: BTreeMap<usize, ConstId>,
    /// Table → shared address of its first cache slot.
    pub cache_base: BTreeMap<usize, u64>,
    /// Bytes of the cache region used (from shared address 0).
    pub cache_bytes: u64,
    /// Cache fills: (table, first row, rows, shared address).
    pub fills: Vec<(usize, u64, u64, u64)>,
    /// Observed hit rate of the profile on the cached rows, per table.
    pub hit_rate: BTreeMap<usize, f64>,
}

impl EmbeddingPlan {
    /// Gives up the hot-row cache: no fills, no cache maps (their constants stay, unused).
    pub fn drop_cache(&mut self, lir: &mut Lir) {
        self.fills.clear();
        self.cache_maps.clear();
        self.cache_base.clear();
        self.cache_bytes = 0;
        self.hit_rate.clear();
        for t in &mut lir.tables {
            t.hot_rows.clear();
        }
    }
}

/// Whether a gather with `pooling` (`None`: a row copy) runs on the gather engines.
fn pools_in_engine(pooling: Option<Pooling>, target: &Target) -> bool {
    match pooling {
        None => true,
        Some(p) => target.gather_engines > 0 && target.gather_pooling.contains(&p),
    }
}

/// The hot-row profile: every id the engine gathers of each embedding input look up over
/// [`CompileOptions::profile_samples`] generated samples, sorted, by input name. It needs
/// only the lowered graph's gathers and the model, so [`crate::passes::run`] computes it
/// while calibration runs; [`run`] then only ranks rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// The inputs profiled.
    names: BTreeSet<String>,
    /// Their ids, ascending.
    ids: BTreeMap<String, Vec<u64>>,
}

/// Generates the hot-row profile for the gathers of `lir` (none on chips without a hot-row
/// cache).
pub fn profile(
    lir: &Lir,
    graph: &Graph,
    target: &Target,
    options: &CompileOptions,
) -> Result<Profile, Error> {
    if target.gather_engines == 0 || target.cache_bytes == 0 {
        return Ok(Profile::default());
    }
    let names: BTreeSet<String> = gather_inputs(lir, |pooling, _| pools_in_engine(pooling, target))
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    if names.is_empty() {
        return Ok(Profile::default());
    }
    generate(graph, names, options)
}

/// Profiles the id inputs `names` (see [`Profile`]).
fn generate(
    graph: &Graph,
    names: BTreeSet<String>,
    options: &CompileOptions,
) -> Result<Profile, Error> {
    let work = GraphWorkload::new(
        graph,
        &InputOptions {
            seed: options.seed,
            ..InputOptions::default()
        },
    )?;
    let mut ids: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut done = 0u32;
    let mut index = PROFILE_BATCH_INDEX;
    while done < options.profile_samples {
        let n = (options.profile_samples - done).min(1024);
        let inputs = work.batch(index, n as usize);
        index += 1;
        done += n;
        for name in &names {
            let Some(t) = inputs.iter().find(|t| &t.name == name) else {
                continue;
            };
            let v: &mut Vec<u64> = ids.entry(name.clone()).or_default();
            match &t.data {
                TensorData::I32(d) => v.extend(d.iter().map(|&x| x as u64)),
                TensorData::I64(d) => v.extend(d.iter().map(|&x| x as u64)),
                TensorData::F32(_) => continue,
            }
        }
    }
    for v in ids.values_mut() {
        v.sort_unstable();
    }
    Ok(Profile { names, ids })
}

/// Bytes of one stored row.
pub fn row_bytes(dtype: DType, dim: u64) -> u64 {
    dtype.row_bytes(dim).expect("table dtypes have row sizes")
}

fn weight_bytes(lir: &Lir) -> u64 {
    lir.consts.iter().map(|c| c.size_bytes()).sum()
}

/// Chooses row formats, hot rows and gather strategies; adds offsets and cache-map constants.
pub fn run(
    lir: &mut Lir,
    graph: &Graph,
    target: &Target,
    options: &CompileOptions,
    profiled: Result<Profile, Error>,
) -> Result<EmbeddingPlan, Error> {
    let table_bytes = |lir: &Lir, dt: DType| -> u64 {
        lir.tables
            .iter()
            .map(|t| t.rows * row_bytes(dt, t.dim))
            .sum()
    };
    let format = match options.table_format {
        TableFormat::F32 => DType::F32,
        TableFormat::Bf16 => DType::Bf16,
        TableFormat::Emb8 => DType::Emb8,
        TableFormat::Auto => match options.precision {
            Precision::Bf16 => {
                if table_bytes(lir, DType::Bf16) + weight_bytes(lir) <= target.hbm_bytes {
                    DType::Bf16
                } else {
                    DType::Emb8
                }
            }
            _ => DType::Emb8,
        },
    };
    for t in &mut lir.tables {
        t.dtype = format;
    }
    let need = table_bytes(lir, format) + weight_bytes(lir);
    if need > target.hbm_bytes {
        return Err(Error::DoesNotFit {
            chip: target.name.clone(),
            what: format!(
                "model `{}` ({} tables as {format})",
                lir.name,
                lir.tables.len()
            ),
            detail: format!(
                "needs {:.2} GB of off-chip memory, the chip has {:.2} GB; cap the tables{}",
                need as f64 / 1e9,
                target.hbm_bytes as f64 / 1e9,
                if format == DType::Emb8 {
                    ""
                } else {
                    " or store them as int8 row-wise (emb8)"
                }
            ),
        });
    }
    let mut plan = EmbeddingPlan::default();
    // Strategy per gather.
    for k in &mut lir.kernels {
        if let KOp::Gather {
            pooling, engine, ..
        } = &mut k.op
        {
            *engine = pools_in_engine(*pooling, target);
        }
    }
    // Offsets constants.
    let mut steps = BTreeSet::new();
    for k in &lir.kernels {
        if let KOp::Gather {
            hotness,
            pooling,
            engine,
            ..
        } = &k.op
        {
            steps.insert(if pooling.is_some() && *engine {
                *hotness
            } else {
                1
            });
        }
    }
    for step in steps {
        let n = if step == 1 { COPY_ROWS } else { GATHER_BAGS };
        let values: Vec<i32> = (0..=n).map(|i| (i * step) as i32).collect();
        let c = lir.vector_i32(format!("gather.offsets.{step}"), values);
        plan.offsets.insert(step, c);
    }
    if target.gather_engines > 0 && target.cache_bytes > 0 {
        hot_rows(lir, graph, target, options, profiled, &mut plan)?;
    }
    Ok(plan)
}

/// Which graph input feeds each engine gather's ids, by table (`engine` decides for pooled
/// gathers from their pooling mode).
fn gather_inputs(
    lir: &Lir,
    engine: impl Fn(Option<Pooling>, bool) -> bool,
) -> Vec<(usize, String)> {
    let mut loads = BTreeMap::new();
    for k in &lir.kernels {
        if let KOp::Load { input, dst } = &k.op
            && let Base::Tensor(t) = dst.base
        {
            loads.insert(t, lir.inputs[*input].name.clone());
        }
    }
    let mut out = Vec::new();
    for k in &lir.kernels {
        if let KOp::Gather {
            table,
            idx,
            pooling,
            engine: flag,
            ..
        } = &k.op
        {
            if !engine(*pooling, *flag) {
                continue;
            }
            if let Some(name) = idx.tensor().and_then(|t| loads.get(&t)) {
                out.push((*table, name.clone()));
            }
        }
        if let KOp::GatherRagged { table, ids, .. } = &k.op {
            out.push((*table, lir.inputs[*ids].name.clone()));
        }
    }
    out
}

fn hot_rows(
    lir: &mut Lir,
    graph: &Graph,
    target: &Target,
    options: &CompileOptions,
    profiled: Result<Profile, Error>,
    plan: &mut EmbeddingPlan,
) -> Result<(), Error> {
    let users = gather_inputs(lir, |_, engine| engine);
    if users.is_empty() {
        return Ok(());
    }
    let profiled = profiled?;
    // The profile was generated for the gathers the engines were predicted to run; should a
    // pass since have changed that, profile the inputs actually used.
    let profiled = if users.iter().all(|(_, name)| profiled.names.contains(name)) {
        profiled
    } else {
        generate(
            graph,
            users.iter().map(|(_, n)| n.clone()).collect(),
            options,
        )?
    };
    // Every id each table's gathers look up in the profile. Sorting them and counting runs
    // gives the (table, row) → lookups counts in key order; a map updated per lookup (about
    // 900 k for DLRM-v2) cost more than the rest of the compiler's embedding work.
    let mut seen: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for (table, name) in &users {
        if let Some(ids) = profiled.ids.get(name) {
            seen.entry(*table).or_default().extend_from_slice(ids);
        }
    }
    let lookups: BTreeMap<usize, u64> = seen.iter().map(|(&t, v)| (t, v.len() as u64)).collect();
    // Per table: (row, lookups), rows ascending.
    let counts: BTreeMap<usize, Vec<(u64, u64)>> = seen
        .into_iter()
        .map(|(t, mut ids)| {
            ids.sort_unstable();
            let mut runs: Vec<(u64, u64)> = Vec::new();
            for id in ids {
                match runs.last_mut() {
                    Some(last) if last.0 == id => last.1 += 1,
                    _ => runs.push((id, 1)),
                }
            }
            (t, runs)
        })
        .collect();
    let count_of = |t: usize, r: u64| -> u64 {
        counts.get(&t).map_or(0, |c| {
            c.binary_search_by_key(&r, |&(row, _)| row)
                .map_or(0, |i| c[i].1)
        })
    };
    // Hottest per byte first; ties by table and row for determinism.
    let costs: Vec<u64> = lir
        .tables
        .iter()
        .map(|t| row_bytes(t.dtype, t.dim))
        .collect();
    let row_cost = |t: usize| costs[t];
    let mut ranked: Vec<(usize, u64, u64)> = counts
        .iter()
        .flat_map(|(&t, c)| c.iter().map(move |&(r, n)| (t, r, n)))
        .collect();
    ranked.sort_unstable_by(|a, b| {
        (b.2 * row_cost(a.0))
            .cmp(&(a.2 * row_cost(b.0)))
            .then((a.0, a.1).cmp(&(b.0, b.1)))
    });
    // 1. The hottest rows per byte, within the budget. (Chosen rows per table, kept
    //    ascending and distinct.)
    let mut chosen: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut used = 0u64;
    for (table, row, _) in ranked {
        let rb = row_cost(table);
        if used + rb > target.cache_bytes {
            continue;
        }
        chosen.entry(table).or_default().push(row);
        used += rb;
    }
    for set in chosen.values_mut() {
        set.sort_unstable();
    }
    // 2. Runs of consecutive rows are one fill each. Close the smallest gaps first while the
    //    budget allows (gap rows come along, with whatever hits they have): fewer fills, and
    //    cache space nothing else would use.
    let runs_of = |set: &[u64]| -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &r in set {
            match runs.last_mut() {
                Some(last) if last.1 == r => last.1 = r + 1,
                _ => runs.push((r, r + 1)),
            }
        }
        runs
    };
    let cap = u64::from(options.max_cache_fills).max(1);
    let mut gaps: Vec<(u64, usize, u64, u64)> = Vec::new();
    let mut total_runs = 0u64;
    for (&t, set) in &chosen {
        let runs = runs_of(set);
        total_runs += runs.len() as u64;
        for w in runs.windows(2) {
            gaps.push(((w[1].0 - w[0].1) * row_cost(t), t, w[0].1, w[1].0));
        }
    }
    gaps.sort_unstable();
    let mut closed: BTreeSet<usize> = BTreeSet::new();
    for (bytes, t, lo, hi) in gaps {
        if used + bytes > target.cache_bytes {
            break;
        }
        // Gap rows lie between two runs: none of them is chosen yet.
        chosen
            .get_mut(&t)
            .expect("gap of a chosen table")
            .extend(lo..hi);
        closed.insert(t);
        used += bytes;
        total_runs -= 1;
    }
    for t in closed {
        chosen.get_mut(&t).expect("closed").sort_unstable();
    }
    // 3. Still too many fills: drop the runs with the fewest hits per byte.
    if total_runs > cap {
        let mut all: Vec<(u64, usize, u64, u64)> = Vec::new();
        for (&t, set) in &chosen {
            for (lo, hi) in runs_of(set) {
                let hits: u64 = (lo..hi).map(|r| count_of(t, r)).sum();
                all.push((
                    hits * 1_000_000 / ((hi - lo) * row_cost(t)).max(1),
                    t,
                    lo,
                    hi,
                ));
            }
        }
        all.sort_unstable();
        let drop = (total_runs - cap) as usize;
        let mut dropped: BTreeMap<usize, Vec<(u64, u64)>> = BTreeMap::new();
        for &(_, t, lo, hi) in &all[..drop] {
            dropped.entry(t).or_default().push((lo, hi));
        }
        for (t, mut runs) in dropped {
            runs.sort_unstable();
            let set = chosen.get_mut(&t).expect("chosen");
            // Runs are disjoint and cover whole runs of `set`: one merge pass.
            let mut i = 0;
            set.retain(|&r| {
                while i < runs.len() && runs[i].1 <= r {
                    i += 1;
                }
                !(i < runs.len() && runs[i].0 <= r)
            });
        }
    }
    chosen.retain(|_, set| !set.is_empty());
    let mut hits: BTreeMap<usize, u64> = BTreeMap::new();
    for (&t, set) in &chosen {
        let h: u64 = set.iter().map(|&r| count_of(t, r)).sum();
        hits.insert(t, h);
    }
    // Lay out slots table by table, rows ascending; record fills (runs) and maps.
    let mut addr = 0u64;
    for (table, rows) in chosen {
        let t = &lir.tables[table];
        let rb = row_bytes(t.dtype, t.dim);
        addr = addr.div_ceil(64) * 64;
        plan.cache_base.insert(table, addr);
        let ids: Vec<u64> = rows;
        let mut slots = Vec::with_capacity(ids.len());
        let mut i = 0;
        while i < ids.len() {
            let mut j = i + 1;
            while j < ids.len() && ids[j] == ids[j - 1] + 1 {
                j += 1;
            }
            plan.fills
                .push((table, ids[i], (j - i) as u64, addr + i as u64 * rb));
            i = j;
        }
        for (k, _) in ids.iter().enumerate() {
            slots.push((addr + k as u64 * rb) as u32 as i32);
        }
        let mut map = Vec::with_capacity(1 + 2 * ids.len());
        map.push(ids.len() as i32);
        map.extend(ids.iter().map(|&r| r as i32));
        map.extend(slots);
        let c = lir.vector_i32(format!("{}.cache_map", t.name), map);
        plan.cache_maps.insert(table, c);
        plan.hit_rate.insert(
            table,
            hits.get(&table).copied().unwrap_or(0) as f64
                / lookups.get(&table).copied().unwrap_or(1).max(1) as f64,
        );
        addr += ids.len() as u64 * rb;
        lir.tables[table].hot_rows = ids;
    }
    plan.cache_bytes = addr;
    let _ = Pooling::Sum;
    Ok(())
}
