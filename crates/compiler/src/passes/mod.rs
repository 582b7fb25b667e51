//! The passes, in pipeline order (see the crate documentation), and what they share: the
//! [`Target`] facts of the chip.

pub mod emit;
pub mod fuse;
pub mod legalize;
pub mod place_embeddings;
pub mod plan_memory;
pub mod quantize;
pub mod schedule;
pub mod tile;

use std::collections::BTreeMap;

use seedchip_chip::{Chip, Precision};
use seedchip_ir::{Graph, Pooling};

use crate::lir::MatPrecision;
use crate::report::Report;
use crate::{CompileOptions, Compiled, Error, verify};

/// The chip as the compiler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub chip: Chip,
    pub cores: u32,
    /// The logical array of a core (the smallest unit shape when units differ).
    pub rows: u64,
    pub cols: u64,
    /// Matrix units per core.
    pub units: u64,
    /// MACs per cycle per core, by precision (summed over the core's units).
    pub macs: BTreeMap<Precision, u64>,
    pub local_bytes: u64,
    pub shared_bytes: u64,
    /// Hot-row cache at the start of shared SRAM.
    pub cache_bytes: u64,
    pub gather_engines: u32,
    pub gather_pooling: Vec<Pooling>,
    pub hbm_bytes: u64,
    pub hbm_bytes_per_cycle: f64,
    /// One DMA engine's bytes per cycle.
    pub dma_bytes_per_cycle: f64,
    pub lanes: u64,
}

impl Target {
    pub fn from_chip(chip: &Chip) -> Target {
        let units = &chip.cores.matrix_units;
        let rows = units.iter().map(|u| u64::from(u.rows)).min().unwrap_or(1);
        let cols = units.iter().map(|u| u64::from(u.cols)).min().unwrap_or(1);
        let count: u64 = units.iter().map(|u| u64::from(u.count.unwrap_or(1))).sum();
        let mut macs = BTreeMap::new();
        for u in units {
            for (&p, &m) in &u.macs_per_cycle {
                *macs.entry(p).or_insert(0) += m * u64::from(u.count.unwrap_or(1));
            }
        }
        let derived = seedchip_chip::derive(chip);
        let hbm_bytes_per_cycle = derived.memory_bandwidth_gbps * 1e9 / (chip.clock_mhz * 1e6);
        let pooling = chip
            .gather
            .pooling
            .clone()
            .unwrap_or_else(|| {
                vec![
                    seedchip_chip::Pooling::Sum,
                    seedchip_chip::Pooling::Mean,
                    seedchip_chip::Pooling::Max,
                ]
            })
            .into_iter()
            .map(|p| match p {
                seedchip_chip::Pooling::Sum => Pooling::Sum,
                seedchip_chip::Pooling::Mean => Pooling::Mean,
                seedchip_chip::Pooling::Max => Pooling::Max,
            })
            .collect();
        Target {
            name: chip.name.clone(),
            chip: chip.clone(),
            cores: chip.cores.count.max(1),
            rows,
            cols,
            units: count.max(1),
            macs,
            local_bytes: chip.cores.local_sram_bytes,
            shared_bytes: chip.shared_sram.capacity_bytes,
            cache_bytes: if chip.gather.engines > 0 {
                chip.gather.hot_row_cache_bytes.unwrap_or(0)
            } else {
                0
            },
            gather_engines: chip.gather.engines,
            gather_pooling: pooling,
            hbm_bytes: chip.memory.capacity_bytes,
            hbm_bytes_per_cycle,
            dma_bytes_per_cycle: chip.dma.bytes_per_cycle.unwrap_or(64) as f64,
            lanes: u64::from(chip.cores.vector.lanes.max(1)),
        }
    }

    pub fn supports(&self, p: Precision) -> bool {
        self.macs.contains_key(&p)
    }

    /// MACs per cycle per core for operands in `p`.
    pub fn macs(&self, p: MatPrecision) -> u64 {
        let key = match p {
            MatPrecision::Bf16 => Precision::Bf16,
            MatPrecision::I8 => Precision::Int8,
            MatPrecision::E4m3 => Precision::Fp8,
        };
        self.macs.get(&key).copied().unwrap_or(1)
    }
}

/// Runs the verifier `issues` only when [`CompileOptions::verify`] is set: the program check
/// alone re-derives every happens-before edge of the program (about a fifth of compiling
/// DLRM-v2 at batch 2048), work a release `compile` or `sim` does not ask for.
fn check(
    options: &CompileOptions,
    pass: &'static str,
    issues: impl FnOnce() -> Vec<String>,
) -> Result<(), Error> {
    if options.verify {
        let issues = issues();
        if !issues.is_empty() {
            return Err(Error::Verify { pass, issues });
        }
    }
    Ok(())
}

/// Whether the gather engines need at most half the time the matrix units do per sample
/// (chip-wide: lookups over the engines' row rate against MACs over every core's peak).
/// Ragged bags have data-dependent lookup counts: never hidden.
fn gathers_hidden(
    lir: &crate::lir::Lir,
    t: &Target,
    p: crate::lir::MatPrecision,
    cores: u32,
) -> bool {
    use crate::lir::KOp;
    let mut lookups = 0u64;
    for k in &lir.kernels {
        match &k.op {
            KOp::Gather { hotness, .. } => lookups += hotness,
            KOp::GatherRagged { .. } => return false,
            _ => {}
        }
    }
    let (macs, _, _) = tile::model_costs(lir);
    let rate = f64::from(t.gather_engines.max(1))
        * f64::from(t.chip.gather.row_requests_per_cycle.unwrap_or(1).max(1));
    let gather = lookups as f64 / rate;
    let compute = macs as f64 / (f64::from(cores.max(1)) * t.macs(p) as f64);
    2.0 * gather <= compute
}

/// The whole pipeline.
pub fn run(graph: &Graph, chip: &Chip, options: &CompileOptions) -> Result<Compiled, Error> {
    if options.batch == 0 {
        return Err(Error::Options("batch must be at least 1".into()));
    }
    seedchip_ir::verify(graph)?;
    let target = Target::from_chip(chip);
    let precision = options.precision;
    let gp = quantize::gemm_precision(precision).ok_or_else(|| Error::Precision {
        chip: chip.name.clone(),
        precision,
        supported: "the compiler compiles int8, bf16 and fp8".into(),
    })?;
    if !target.supports(precision) {
        return Err(Error::Precision {
            chip: chip.name.clone(),
            precision,
            supported: target
                .macs
                .keys()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }

    let mut plain = legalize::decompose(graph)?;
    // Ragged bags without a pooling hint: calibration and the access profile generate inputs
    // with the default bag size.
    for n in &mut plain.nodes {
        if let seedchip_ir::Op::EmbeddingBag { mean_pooling, .. } = &mut n.op
            && n.inputs.len() == 3
            && mean_pooling.is_none()
        {
            *mean_pooling = Some(legalize::DEFAULT_MEAN_POOLING);
        }
    }
    let mut lir = legalize::lower(&plain)?;
    legalize::set_ragged_capacity(&mut lir, &plain, options)?;
    check(options, "legalize", || verify::lir(&lir))?;

    let names = quantize::needed_ranges(&lir, precision, &target);
    let (macs, _, _) = tile::model_costs(&lir);
    let samples = ((1u64 << 32) / macs.max(1))
        .max(64)
        .min(u64::from(options.calibration_samples.max(1)));
    // Calibration runs the reference on the plain graph; encoding the weights and the
    // hot-row profile need neither its ranges nor each other, so all three run side by side
    // (each result is the same on any number of threads).
    let (ranges, (encoded, profiled)) = rayon::join(
        || {
            quantize::calibrate(
                &plain,
                &names,
                options.seed,
                samples as u32,
                options.calibration_inputs.as_ref(),
            )
        },
        || {
            rayon::join(
                || quantize::encode_weights(&lir, precision),
                || place_embeddings::profile(&lir, &plain, &target, options),
            )
        },
    );
    let ranges = ranges?;
    quantize::run(&mut lir, precision, &target, &ranges, encoded)?;
    check(options, "quantize", || verify::lir(&lir))?;

    let folded = fuse::run(&mut lir)?;
    check(options, "fuse", || verify::lir(&lir))?;

    let emb = place_embeddings::run(&mut lir, &plain, &target, options, profiled)?;
    check(options, "place_embeddings", || verify::lir(&lir))?;

    schedule::order(&mut lir);
    schedule::slice_runs(&mut lir, &target);
    check(options, "schedule (order)", || verify::lir(&lir))?;

    let batch = u64::from(options.batch);
    let cores = tile::choose_cores(&lir, &target, batch, gp, options.max_cores);
    let mut emb = emb;
    let hidden = gathers_hidden(&lir, &target, gp, cores);
    let mut mem = plan_memory::run(&mut lir, &target, &emb, cores, batch, hidden)?;
    if mem.pipelined && !emb.fills.is_empty() && hidden {
        // The gathers of micro-batch `i + 1` run behind micro-batch `i`'s compute, which takes
        // well over twice as long: the cache could only save memory traffic nobody waits for,
        // while its fills (one latency-bound row copy each) take DMA engine time from the
        // weight stream. DLRM-v2 at batch 2048: 332 k cycles without, 342 k with the fills
        // between the first micro-batch's weight tiles.
        emb.drop_cache(&mut lir);
        mem = plan_memory::run(&mut lir, &target, &emb, cores, batch, hidden)?;
    }
    check(options, "tile", || verify::tiles(&lir, &target))?;
    check(options, "plan_memory", || {
        verify::memory(&lir, &mem, &target)
    })?;

    let hbm = emit::layout(&lir, &target, &mem, batch)?;
    let streams = schedule::emit(&lir, &target, &emb, &mem, &hbm)?;
    let (program, hints) = emit::run(&lir, &plain, &target, options, &emb, &mem, &hbm, streams)?;
    check(options, "emit", || {
        verify::program(&program, &target, &hints)
    })?;

    let report = Report::new(
        &lir, &target, options, &emb, &mem, &program, folded, &ranges,
    );
    let mut ragged: Vec<crate::RaggedBinding> = Vec::new();
    for k in &lir.kernels {
        if let crate::lir::KOp::GatherRagged { ids, offsets, .. } = k.op {
            let (io, off) = (&lir.inputs[ids], &lir.inputs[offsets]);
            let crate::lir::IoLayout::RaggedIds { capacity } = io.layout else {
                unreachable!("verified: ragged ids input")
            };
            let r = crate::RaggedBinding {
                ids: io.name.clone(),
                offsets: off.name.clone(),
                capacity,
            };
            if !ragged.contains(&r) {
                ragged.push(r);
            }
        }
    }
    Ok(Compiled {
        program,
        report,
        hints,
        ragged,
    })
}
