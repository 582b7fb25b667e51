//! `seedchip-measure`: one model on one simulated chip at one batch size — compile, the timing
//! model (cycles, memory, energy) and the figures derived from it — as a library, so `sim`,
//! `compare`/`evaluate` and `sweep` run the same path and cannot drift apart.
//!
//! [`Caches`] memoizes the expensive pieces that many design points share, without changing
//! any result:
//! - the fast memory model's calibrated curves, by off-chip memory configuration (calibration
//!   runs the detailed model for seconds; a sweep has few memory configurations);
//! - compiled programs, by everything the compiler reads from the chip (its
//!   [`Target`](seedchip_compiler::passes::Target) minus the description it carries for the
//!   program's name and fingerprint): two chips that differ only in, say, process node, TDP
//!   or cost inputs compile to the same instructions, so the second gets the first's program
//!   stamped with its own name and fingerprint (a test checks the bytes equal a fresh
//!   compile's);
//! - generated embedding ids, by (model, batch, seed, alpha).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use seedchip_chip::{Chip, Precision};
use seedchip_compiler::{CompileOptions, Compiled, compile};
use seedchip_ir::Graph;
use seedchip_timing::energy::EnergyOptions;
use seedchip_timing::mem::fast::CalibrationOptions;
use seedchip_timing::mem::{FastMemory, MemConfig};
use seedchip_timing::sim::report::SimReport;
use seedchip_timing::sim::{SimOptions, SimOutcome, simulate};
use seedchip_timing::units::memctl::MemoryMode;
use serde::Serialize;

pub mod cost;

pub use cost::{CostAssumptions, usd_per_million_samples};

/// Why a model could not be measured on a chip.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// User: the generated inputs cannot be made for this model (an input the generators do
    /// not know).
    #[error("cannot generate inputs: {0}")]
    Inputs(String),
    /// User: the compiler refuses the model on this chip (it does not fit the memory, a
    /// precision the chip lacks, a tile that fits no SRAM).
    #[error("cannot compile: {0}")]
    Compile(String),
    /// User: the chip's off-chip memory cannot be modelled (fast-mode calibration failed).
    #[error("memory model: {0}")]
    Memory(String),
    /// Internal or user: the timing model refused a compiled program.
    #[error("cannot time the program: {0}")]
    Timing(String),
}

/// How to measure.
#[derive(Debug, Clone)]
pub struct MeasureOptions {
    pub precision: Precision,
    pub batch: u32,
    /// Seed of procedural weights' calibration, the access profile and generated inputs.
    pub seed: u64,
    /// Zipf exponent of generated embedding ids (0 = uniform).
    pub alpha: f64,
    pub memory: MemoryMode,
    pub energy: EnergyOptions,
    /// Overrides of the compiler's sample counts (`None`: the compiler's defaults). Fewer
    /// samples compile faster and choose int8 ranges and hot rows from less evidence.
    pub calibration_samples: Option<u32>,
    pub profile_samples: Option<u32>,
    /// Collect a Perfetto trace.
    pub trace: bool,
}

impl MeasureOptions {
    pub fn new(precision: Precision, batch: u32) -> MeasureOptions {
        MeasureOptions {
            precision,
            batch,
            seed: 0,
            alpha: 1.0,
            memory: MemoryMode::Detailed,
            energy: EnergyOptions::default(),
            calibration_samples: None,
            profile_samples: None,
            trace: false,
        }
    }

    pub fn compile_options(&self) -> CompileOptions {
        let mut o = CompileOptions::new(self.precision, self.batch);
        o.seed = self.seed;
        if let Some(n) = self.calibration_samples {
            o.calibration_samples = n;
        }
        if let Some(n) = self.profile_samples {
            o.profile_samples = n;
        }
        o
    }
}

/// Instruction counts of a compiled program.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgramSummary {
    pub cores: usize,
    pub instructions: usize,
    pub gathers: usize,
    pub matmuls: usize,
    pub dmas: usize,
}

impl ProgramSummary {
    pub fn of(program: &seedchip_isa::Program) -> ProgramSummary {
        let count = |q: seedchip_isa::Queue| -> usize {
            program
                .code
                .values()
                .flat_map(|c| c.insts.iter())
                .filter(|i| i.inst.queue() == q)
                .count()
        };
        ProgramSummary {
            cores: program.code.len(),
            instructions: program.code.values().map(|c| c.insts.len()).sum(),
            gathers: count(seedchip_isa::Queue::Gather),
            matmuls: count(seedchip_isa::Queue::Mxu),
            dmas: count(seedchip_isa::Queue::Dma),
        }
    }
}

/// A measured run.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub compiled: Arc<Compiled>,
    pub outcome: SimOutcome,
    pub program: ProgramSummary,
    /// Wall seconds of each stage (zero for a stage served from a cache). Never part of
    /// deterministic output.
    pub timings: StageTimes,
}

impl Measurement {
    pub fn report(&self) -> &SimReport {
        &self.outcome.report
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub inputs_s: f64,
    pub compile_s: f64,
    pub calibrate_s: f64,
    pub simulate_s: f64,
}

type Slot<T> = Arc<OnceLock<Result<T, Error>>>;
/// Integer inputs by binding name.
pub type Ids = BTreeMap<String, Vec<i64>>;

/// Memoized pieces shared by many measurements (see the crate documentation). Thread-safe: a
/// key being computed by one thread makes the others wait for it rather than redo it.
#[derive(Debug, Default)]
pub struct Caches {
    fast: Mutex<BTreeMap<String, Slot<FastMemory>>>,
    programs: Mutex<BTreeMap<String, Slot<Arc<Compiled>>>>,
    ids: Mutex<BTreeMap<String, Slot<Arc<Ids>>>>,
    /// Compiled programs kept at most (a program of a full-size model carries its dense
    /// weights, tens of MB).
    pub max_programs: usize,
    compile_hits: AtomicU64,
    compile_misses: AtomicU64,
}

/// Counts of cache use, for progress messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub compile_hits: u64,
    pub compile_misses: u64,
    pub memory_calibrations: u64,
}

impl Caches {
    pub fn new() -> Caches {
        Caches {
            max_programs: 64,
            ..Caches::default()
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            compile_hits: self.compile_hits.load(Ordering::Relaxed),
            compile_misses: self.compile_misses.load(Ordering::Relaxed),
            memory_calibrations: self.fast.lock().map(|m| m.len() as u64).unwrap_or(0),
        }
    }

    fn slot<T>(map: &Mutex<BTreeMap<String, Slot<T>>>, key: &str, cap: usize) -> Slot<T> {
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get(key) {
            return s.clone();
        }
        if cap > 0 && m.len() >= cap {
            m.clear();
        }
        let s: Slot<T> = Arc::default();
        m.insert(key.to_string(), s.clone());
        s
    }

    /// The calibrated fast-memory curves for a chip's memory.
    pub fn fast_memory(&self, chip: &Chip) -> Result<FastMemory, Error> {
        let cfg = MemConfig::from_chip(&chip.memory).map_err(|e| Error::Memory(e.to_string()))?;
        let key = serde_json::to_string(&cfg).expect("internal error: MemConfig serializes");
        let slot = Self::slot(&self.fast, &key, 0);
        slot.get_or_init(|| {
            FastMemory::calibrate(&cfg, &CalibrationOptions::standard(&cfg))
                .map_err(|e| Error::Memory(e.to_string()))
        })
        .clone()
    }

    /// Compiles, or reuses the program of a chip the compiler cannot tell apart from this one.
    /// `model_key` must identify the graph (name, rows cap, weight seed).
    pub fn compile(
        &self,
        model_key: &str,
        graph: &Graph,
        chip: &Chip,
        options: &CompileOptions,
    ) -> Result<(Arc<Compiled>, bool), Error> {
        let key = format!("{model_key}\u{1}{options:?}\u{1}{}", compiler_view(chip));
        let slot = Self::slot(&self.programs, &key, self.max_programs);
        let mut computed = false;
        let res = slot
            .get_or_init(|| {
                computed = true;
                compile(graph, chip, options)
                    .map(Arc::new)
                    .map_err(|e| Error::Compile(e.to_string()))
            })
            .clone();
        if computed {
            self.compile_misses.fetch_add(1, Ordering::Relaxed);
        } else {
            self.compile_hits.fetch_add(1, Ordering::Relaxed);
        }
        let compiled = res?;
        if compiled.program.target.fingerprint == seedchip_isa::chip_fingerprint(chip)
            && compiled.program.target.chip == chip.name
        {
            return Ok((compiled, computed));
        }
        Ok((Arc::new(restamp(&compiled, chip)), computed))
    }

    /// Generated ids, by (model, batch, seed, alpha).
    pub fn ids(
        &self,
        model_key: &str,
        graph: &Graph,
        batch: u32,
        seed: u64,
        alpha: f64,
    ) -> Result<Arc<Ids>, Error> {
        let key = format!("{model_key}\u{1}{batch}\u{1}{seed}\u{1}{alpha:?}");
        let slot = Self::slot(&self.ids, &key, 256);
        slot.get_or_init(|| generated_ids(graph, batch, seed, alpha).map(Arc::new))
            .clone()
    }
}

/// What the compiler reads from a chip, as a string: its target with the carried description
/// replaced by a fixed stand-in, so any field the compiler derives (now or later) is part of
/// the key, and the description itself (used only to name and fingerprint the program) is not.
fn compiler_view(chip: &Chip) -> String {
    static STAND_IN: OnceLock<Chip> = OnceLock::new();
    let stand_in = STAND_IN.get_or_init(|| {
        seedchip_chip::presets::get("seedchip-v1").expect("the seedchip-v1 preset exists")
    });
    let mut t = seedchip_compiler::passes::Target::from_chip(chip);
    t.chip = stand_in.clone();
    t.name = String::new();
    format!("{t:?}")
}

/// A program compiled for a chip the compiler sees identically, renamed for `chip`.
fn restamp(compiled: &Compiled, chip: &Chip) -> Compiled {
    let mut c = compiled.clone();
    c.program.target.chip = chip.name.clone();
    c.program.target.fingerprint = seedchip_isa::chip_fingerprint(chip);
    c.report.chip = chip.name.clone();
    c
}

/// The integer inputs (embedding ids) the timing model needs, generated as `seedchip run`
/// generates them: the serving crate's generator (`seedchip sim`'s path), so every command
/// times the same ids.
pub fn generated_ids(
    graph: &Graph,
    batch: u32,
    seed: u64,
    alpha: f64,
) -> Result<BTreeMap<String, Vec<i64>>, Error> {
    seedchip_serving::chipsim::generated_ids(graph, batch, seed, alpha)
        .map_err(|e| Error::Inputs(e.to_string()))
}

/// Compiles `graph` for `chip` and times it. `model_key` identifies the graph in the caches.
pub fn measure(
    caches: &Caches,
    model_key: &str,
    graph: &Graph,
    chip: &Chip,
    options: &MeasureOptions,
) -> Result<Measurement, Error> {
    let mut times = StageTimes::default();
    let t0 = Instant::now();
    let ids = caches.ids(model_key, graph, options.batch, options.seed, options.alpha)?;
    let t1 = Instant::now();
    times.inputs_s = (t1 - t0).as_secs_f64();
    let (compiled, _) = caches.compile(model_key, graph, chip, &options.compile_options())?;
    let t2 = Instant::now();
    times.compile_s = (t2 - t1).as_secs_f64();
    let fast_memory = match options.memory {
        MemoryMode::Fast => Some(caches.fast_memory(chip)?),
        MemoryMode::Detailed => None,
    };
    let t3 = Instant::now();
    times.calibrate_s = (t3 - t2).as_secs_f64();
    let sim_options = SimOptions {
        memory: options.memory,
        fast_memory,
        energy: options.energy.clone(),
        trace: options.trace,
        ..SimOptions::default()
    };
    // Ragged id lists and offsets in the program's fixed-size form.
    let ids = compiled
        .program_int_inputs(&ids)
        .map_err(|e| Error::Inputs(e.to_string()))?;
    let outcome = simulate(chip, &compiled.program, &ids, &sim_options)
        .map_err(|e| Error::Timing(e.to_string()))?;
    times.simulate_s = t3.elapsed().as_secs_f64();
    Ok(Measurement {
        program: ProgramSummary::of(&compiled.program),
        compiled,
        outcome,
        timings: times,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Graph {
        seedchip_zoo::get(
            "rm1",
            &seedchip_zoo::ZooOptions {
                rows_cap: Some(1000),
                seed: 0,
            },
        )
        .unwrap()
    }

    fn options() -> CompileOptions {
        let mut o = CompileOptions::new(Precision::Int8, 8);
        o.profile_samples = 128;
        o.calibration_samples = 16;
        o
    }

    /// A chip that differs only where the compiler does not look reuses the program, and the
    /// reused program is byte for byte what a fresh compile for that chip gives.
    #[test]
    fn reused_programs_equal_fresh_compiles() {
        let g = tiny();
        let base = seedchip_chip::presets::get("seedchip-v1").unwrap();
        let mut other = base.clone();
        other.name = "other".into();
        other.process.node_nm = 5;
        other.process.tdp_w = 100.0;
        other.process.wafer_cost_usd = None;
        other.process.defect_density_per_cm2 = None;
        other.cost.nre_usd = None;
        other.resolve();
        assert!(other.validate().is_empty());
        let caches = Caches::new();
        let (a, fresh_a) = caches.compile("rm1", &g, &base, &options()).unwrap();
        let (b, fresh_b) = caches.compile("rm1", &g, &other, &options()).unwrap();
        assert!(
            fresh_a && !fresh_b,
            "the second chip reuses the first's program"
        );
        let direct = compile(&g, &other, &options()).unwrap();
        assert_eq!(
            b.program.encode().unwrap(),
            direct.program.encode().unwrap()
        );
        assert_eq!(b.report, direct.report);
        assert_ne!(a.program.target.fingerprint, b.program.target.fingerprint);
        // A change the compiler sees is a new compile.
        let mut more = base.clone();
        more.gather.engines = 4;
        let (_, fresh_c) = caches.compile("rm1", &g, &more, &options()).unwrap();
        assert!(fresh_c);
        assert_eq!(caches.stats().compile_hits, 1);
    }
}
