//! The program-level simulator in four layers (smoke, roofline/bandwidth sanity,
//! per-instruction timing, scheduling order), plus gathers, energy and determinism. Programs
//! are hand-assembled so each test controls exactly what runs.

use std::collections::BTreeMap;

use seedchip_chip::{Chip, Precision};
use seedchip_isa::{
    Binding, DType, DataSegment, Direction, Distribution, F32Imm, Program, Space, Table,
    TableSource, Target, assemble_code, chip_fingerprint,
};
use seedchip_timing::energy::EnergyOptions;
use seedchip_timing::mem::fast::{CalibrationOptions, FastMemory};
use seedchip_timing::mem::{MemConfig, RefreshMode};
use seedchip_timing::sim::perfetto::{Slice, Track};
use seedchip_timing::sim::{Error, SimOptions, SimOutcome, simulate};
use seedchip_timing::systolic::{self, ArrayShape, Gemm};
use seedchip_timing::units::memctl::MemoryMode;
use seedchip_timing::units::sram::ACCESS_LATENCY_CYCLES;

fn chip(name: &str) -> Chip {
    seedchip_chip::presets::get(name).unwrap()
}

fn program(chip: &Chip, precision: Precision, cores: &[(u32, String)]) -> Program {
    let mut p = Program::new(Target {
        chip: chip.name.clone(),
        fingerprint: chip_fingerprint(chip),
        precision,
        batch: 1,
    });
    for (c, text) in cores {
        p.code.insert(*c, assemble_code(text).unwrap());
    }
    p
}

fn traced() -> SimOptions {
    SimOptions {
        trace: true,
        ..SimOptions::default()
    }
}

fn run(chip: &Chip, p: &Program) -> SimOutcome {
    simulate(chip, p, &BTreeMap::new(), &traced()).unwrap()
}

fn slices(out: &SimOutcome, queue: u8) -> Vec<Slice> {
    out.trace
        .as_ref()
        .unwrap()
        .slices
        .iter()
        .filter(|s| matches!(s.track, Track::Queue { queue: q, .. } if q == queue))
        .cloned()
        .collect()
}

const DMA: u8 = 0;
const MXU: u8 = 2;
const VPU: u8 = 3;

/// Internal consistency every report must satisfy.
fn check_consistent(out: &SimOutcome) {
    let r = &out.report;
    for q in &r.queues {
        assert!(
            q.busy_cycles + q.stall_semaphore_cycles + q.stall_unit_cycles <= r.cycles,
            "{q:?} over {} cycles",
            r.cycles
        );
    }
    for e in &r.engines {
        assert!(e.busy_cycles <= r.cycles, "{e:?}");
    }
    let sum: f64 = r.energy.breakdown_pj.values().sum();
    assert_eq!(sum, r.energy.total_pj, "energy = sum of its parts");
    assert!(
        r.roofline.offchip_bytes >= r.roofline.min_offchip_bytes,
        "moved {} < minimum {}",
        r.roofline.offchip_bytes,
        r.roofline.min_offchip_bytes
    );
    assert!(
        r.roofline.roofline_fraction <= 1.0 + 1e-9,
        "{:?}",
        r.roofline
    );
    assert!(r.shared_sram.utilization <= 1.0 + 1e-9);
    assert!(r.memory.achieved_gbps <= r.memory.summary.peak_gbps * 1.000_001);
}

// ----- smoke -----

#[test]
fn smoke_every_queue() {
    let c = chip("seedchip-v1");
    let text = "\
        dma.copy dst=local:0x0 src=hbm:0x0 rows=128 row_bytes=128 dst_stride_bytes=128 src_stride_bytes=128 ; signal s0
        dma.copy dst=local:0x4000 src=hbm:0x4000 rows=256 row_bytes=128 dst_stride_bytes=128 src_stride_bytes=128 ; signal s0
        mxu.matmul.i8 acc=local:0x20000 a=local:0x4000 b=local:0x0 m=256 k=128 n=128 lda=128 ldb=128 ldacc=128 accumulate=0 transpose_b=0 ; wait s0>=2 ; signal s1
        vpu.relu.i32 dst=local:0x20000 a=local:0x20000 rows=256 cols=128 ldd=128 lda=128 ; wait s1>=1 ; signal s2
        dma.copy dst=hbm:0x100000 src=local:0x20000 rows=1 row_bytes=131072 dst_stride_bytes=131072 src_stride_bytes=131072 ; wait s2>=1
        ctl.halt"
        .to_string();
    let p = program(&c, Precision::Int8, &[(0, text)]);
    let out = run(&c, &p);
    let r = &out.report;
    check_consistent(&out);
    assert_eq!(r.instructions, 6);
    assert_eq!(r.matrix.macs["int8"], 256 * 128 * 128);
    assert_eq!(r.dma.bytes["hbm->local"], 128 * 128 + 256 * 128);
    assert_eq!(r.dma.bytes["local->hbm"], 131072);
    assert_eq!(r.memory.summary.bytes_read, 128 * 128 + 256 * 128);
    assert_eq!(r.memory.summary.bytes_written, 131072);
    assert!(r.cycles > 0 && r.energy.total_pj > 0.0);
    // The write-back waited for everything before it.
    let dma = slices(&out, DMA);
    let vpu = slices(&out, VPU);
    assert!(dma[2].start >= vpu[0].end);
    // The trace is valid JSON with a track per unit used.
    let json: serde_json::Value =
        serde_json::from_str(&out.trace.as_ref().unwrap().to_json()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "X" && e["name"] == "mxu.matmul.i8")
    );
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "M" && e["args"]["name"] == "dma0")
    );
}

// ----- per-instruction timing -----

#[test]
fn isolated_matmul_equals_the_closed_form() {
    for (name, m, k, n) in [
        ("seedchip-v1", 1024u64, 128u64, 128u64),
        ("seedchip-v1", 7, 100, 3),
        ("tpu-v1", 300, 256, 200),
        ("mtia-v2", 500, 32, 64),
    ] {
        let c = chip(name);
        let u = &c.cores.matrix_units[0];
        let arrays = u64::from(u.count.unwrap_or(1));
        let text = format!(
            "mxu.matmul.i8 acc=local:0x40000 a=local:0x0 b=local:0x30000 m={m} k={k} n={n} lda={k} ldb={n} ldacc={n} accumulate=0 transpose_b=0"
        );
        let p = program(&c, Precision::Int8, &[(0, text)]);
        let out = run(&c, &p);
        let closed = systolic::gemm(
            u.dataflow,
            ArrayShape {
                rows: u64::from(u.rows),
                cols: u64::from(u.cols),
            },
            Gemm {
                m: m.div_ceil(arrays),
                k,
                n,
            },
        )
        .unwrap();
        let pes = u64::from(u.rows * u.cols);
        let rate = u.macs_per_cycle[&Precision::Int8];
        assert_eq!(
            out.report.cycles,
            (closed.busy_cycles * pes).div_ceil(rate),
            "{name} {m}x{k}x{n}"
        );
    }
}

#[test]
fn isolated_sram_dma_is_bytes_over_bandwidth_plus_latency() {
    let c = chip("seedchip-v1");
    let bpc = c.dma.bytes_per_cycle.unwrap();
    for bytes in [64u64, 1000, 65536] {
        let text = format!(
            "dma.copy dst=local:0x100000 src=local:0x0 rows=1 row_bytes={bytes} dst_stride_bytes={bytes} src_stride_bytes={bytes}"
        );
        let out = run(&c, &program(&c, Precision::Int8, &[(0, text)]));
        assert_eq!(
            out.report.cycles,
            bytes.div_ceil(bpc) + ACCESS_LATENCY_CYCLES,
            "{bytes} bytes"
        );
    }
}

#[test]
fn isolated_hbm_dma_is_bytes_over_bandwidth_plus_memory_latency() {
    let c = chip("seedchip-v1");
    let bpc = c.dma.bytes_per_cycle.unwrap() as f64;
    // Refresh off: an unloaded memory, so the latency is the timing formula's.
    let mut cfg = MemConfig::from_chip(&c.memory).unwrap();
    cfg.refresh = RefreshMode::Off;
    let core_per_mem = c.clock_mhz / 1000.0 * cfg.tck_ns;
    // A 256-byte request: eight bursts in one row, from a precharged bank.
    let latency = f64::from(cfg.unloaded_read_latency(8, false)) * core_per_mem;
    let opts = SimOptions {
        memory_config: Some(cfg),
        ..SimOptions::default()
    };
    for bytes in [4096u64, 65536] {
        let text = format!(
            "dma.copy dst=local:0x0 src=hbm:0x0 rows=1 row_bytes={bytes} dst_stride_bytes={bytes} src_stride_bytes={bytes}"
        );
        let p = program(&c, Precision::Int8, &[(0, text)]);
        let out = simulate(&c, &p, &BTreeMap::new(), &opts).unwrap();
        let expect = bytes as f64 / bpc + latency;
        let got = out.report.cycles as f64;
        assert!(
            (got - expect).abs() <= 0.1 * expect + 8.0,
            "{bytes} bytes: {got} cycles, expected about {expect:.0}"
        );
    }
}

// ----- scheduling order -----

#[test]
fn consumers_never_start_before_their_producers_complete() {
    let c = chip("seedchip-v1");
    let mut text = String::new();
    // Double-buffered weight tiles: DMA i waits for matmul i-2 to free its buffer.
    for i in 0..12u32 {
        let buf = 0x100000 + (i % 2) * 0x4000;
        let wait = if i >= 2 {
            format!(" ; wait s1>={}", i - 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "dma.copy dst=local:{buf:#x} src=hbm:{:#x} rows=128 row_bytes=128 dst_stride_bytes=128 src_stride_bytes=128{wait} ; signal s0\n",
            0x10000 * i
        ));
        text.push_str(&format!(
            "mxu.matmul.i8 acc=local:0x200000 a=local:0x0 b=local:{buf:#x} m=512 k=128 n=128 lda=128 ldb=128 ldacc=128 accumulate=1 transpose_b=0 ; wait s0>={} ; signal s1\n",
            i + 1
        ));
    }
    let p = program(&c, Precision::Int8, &[(0, text)]);
    let out = run(&c, &p);
    check_consistent(&out);
    let dma = slices(&out, DMA);
    let mxu = slices(&out, MXU);
    assert_eq!((dma.len(), mxu.len()), (12, 12));
    for i in 0..12 {
        assert!(mxu[i].start >= dma[i].end, "matmul {i} before its tile");
        if i >= 2 {
            assert!(
                dma[i].start >= mxu[i - 2].end,
                "tile {i} overwrote a live buffer"
            );
        }
        if i >= 1 {
            assert!(
                mxu[i].end >= mxu[i - 1].end,
                "the mxu queue completes in order"
            );
        }
    }
    // DMA ran ahead of compute: some tile loads overlap matmuls.
    assert!(dma[3].start < mxu[2].end);
}

#[test]
fn barriers_join_cores() {
    let c = chip("seedchip-v1");
    let long =
        "vpu.exp.f32 dst=local:0x0 a=local:0x0 rows=512 cols=1024 ldd=1024 lda=1024 ; signal s3\n";
    let short = "vpu.relu.f32 dst=local:0x0 a=local:0x0 rows=1 cols=16 ldd=16 lda=16 ; signal s3\n";
    let tail = "ctl.barrier sem=g0 count=2 ; wait s3>=1 ; signal s4\n\
                vpu.relu.f32 dst=local:0x0 a=local:0x0 rows=1 cols=16 ldd=16 lda=16 ; wait s4>=1\n";
    let p = program(
        &c,
        Precision::Int8,
        &[(0, format!("{long}{tail}")), (1, format!("{short}{tail}"))],
    );
    let out = run(&c, &p);
    let vpu = slices(&out, VPU);
    let long_end = vpu
        .iter()
        .find(|s| s.name == "vpu.exp.f32")
        .map(|s| s.end)
        .unwrap();
    let after: Vec<_> = vpu.iter().filter(|s| s.index == 2).collect();
    assert_eq!(after.len(), 2);
    for s in after {
        assert!(s.start >= long_end, "a core left the barrier early");
    }
}

#[test]
fn a_semaphore_that_never_arrives_is_a_deadlock() {
    let c = chip("seedchip-v1");
    let text = "vpu.relu.f32 dst=local:0x0 a=local:0x0 rows=1 cols=16 ldd=16 lda=16 ; wait s5>=1\nctl.halt".to_string();
    let p = program(&c, Precision::Int8, &[(0, text)]);
    let err = simulate(&c, &p, &BTreeMap::new(), &SimOptions::default()).unwrap_err();
    match err {
        Error::Deadlock { blocked } => {
            assert_eq!(blocked.len(), 1);
            assert!(blocked[0].contains("s5>=1"), "{blocked:?}");
        }
        e => panic!("expected a deadlock, got {e}"),
    }
}

#[test]
fn equal_time_ties_and_thread_counts_do_not_change_results() {
    let c = chip("seedchip-v1");
    // Four cores' worth of identical work racing for the same engines and memory.
    let text = |core: u32| {
        let mut t = String::new();
        for i in 0..8u64 {
            t.push_str(&format!(
                "dma.copy dst=local:{:#x} src=hbm:{:#x} rows=64 row_bytes=1024 dst_stride_bytes=1024 src_stride_bytes=4096 ; signal s0\n",
                i * 0x10000,
                u64::from(core) * 0x1000 + i * 0x40000
            ));
        }
        t
    };
    let p = program(&c, Precision::Int8, &[(0, text(0)), (1, text(1))]);
    let json = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| serde_json::to_string(&run(&c, &p).report).unwrap())
    };
    let a = json(1);
    assert_eq!(a, json(2));
    assert_eq!(a, json(1));
}

// ----- gathers -----

const ROW_BYTES: u64 = 64 + 8;

fn gather_program(c: &Chip, ids_from_compute: bool) -> Program {
    let offsets: Vec<u8> = [0i32, 4, 8].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut map = 2u32.to_le_bytes().to_vec();
    for v in [3i32, 7] {
        map.extend_from_slice(&v.to_le_bytes());
    }
    for v in [0u32, ROW_BYTES as u32] {
        map.extend_from_slice(&v.to_le_bytes());
    }
    let clobber = if ids_from_compute {
        "vpu.relu.i32 dst=local:0x0 a=local:0x0 rows=1 cols=8 ldd=8 lda=8 ; wait s0>=3 ; signal s0\n"
    } else {
        ""
    };
    let need = if ids_from_compute { 6 } else { 5 };
    let text = format!(
        "dma.copy dst=local:0x0 src=hbm:0x0 rows=1 row_bytes=32 dst_stride_bytes=32 src_stride_bytes=32 ; signal s0
dma.copy dst=local:0x100 src=hbm:0x1000 rows=1 row_bytes=12 dst_stride_bytes=12 src_stride_bytes=12 ; signal s0
dma.copy dst=local:0x200 src=hbm:0x2000 rows=1 row_bytes=20 dst_stride_bytes=20 src_stride_bytes=20 ; signal s0
{clobber}dma.copy dst=shared:0x0 src=hbm:{:#x} rows=1 row_bytes={ROW_BYTES} dst_stride_bytes={ROW_BYTES} src_stride_bytes={ROW_BYTES} ; signal s0
dma.copy dst=shared:{ROW_BYTES:#x} src=hbm:{:#x} rows=1 row_bytes={ROW_BYTES} dst_stride_bytes={ROW_BYTES} src_stride_bytes={ROW_BYTES} ; signal s0
gather.sum.emb8 dst=local:0x1000 table=hbm:0x100000 rows=1000 dim=64 idx=local:0x0 offsets=local:0x100 bags=2 ldd=64 cache_map=local:0x200 ; wait s0>={need}
ctl.halt",
        0x100000 + 3 * ROW_BYTES,
        0x100000 + 7 * ROW_BYTES
    );
    let mut p = program(c, Precision::Int8, &[(0, text)]);
    p.data.push(DataSegment {
        label: "offsets".into(),
        hbm: 0x1000,
        bytes: offsets,
    });
    p.data.push(DataSegment {
        label: "cache_map".into(),
        hbm: 0x2000,
        bytes: map,
    });
    p.tables.push(Table {
        name: "t".into(),
        hbm: 0x100000,
        rows: 1000,
        dim: 64,
        dtype: DType::Emb8,
        source: TableSource::Procedural {
            seed: 1,
            param: "t.weight".into(),
            dist: Distribution::Uniform {
                bound: F32Imm::new(0.1),
            },
        },
    });
    p.bindings.push(Binding {
        direction: Direction::Input,
        name: "ids".into(),
        dtype: DType::I32,
        shape: vec![8],
        addr: seedchip_isa::Addr::new(Space::Hbm, 0),
    });
    p
}

fn ids() -> BTreeMap<String, Vec<i64>> {
    [("ids".to_string(), vec![3, 5, 5, 9, 7, 9, 100, 3])]
        .into_iter()
        .collect()
}

#[test]
fn gathers_coalesce_duplicates_and_hit_the_cache() {
    let c = chip("seedchip-v1");
    let p = gather_program(&c, false);
    let out = simulate(&c, &p, &ids(), &traced()).unwrap();
    check_consistent(&out);
    let g = &out.report.gather;
    assert_eq!((g.instructions, g.bags, g.lookups), (1, 2, 8));
    assert_eq!(g.rows_fetched, 5, "ids 3, 5, 7, 9, 100");
    assert_eq!(g.coalesced, 3);
    assert_eq!(g.cache_hits, 2, "rows 3 and 7 are in the map");
    assert_eq!(g.rows_from_memory, 3);
    assert_eq!(g.bytes_from_memory, 3 * ROW_BYTES);
    assert!((g.cache_hit_rate_lookups - 3.0 / 8.0).abs() < 1e-12);
    assert_eq!(g.distinct_rows, 5);
    assert!(
        out.report
            .engines
            .iter()
            .any(|e| e.kind == "gather" && e.rows == 5)
    );
}

#[test]
fn gathers_refuse_computed_ids() {
    let c = chip("seedchip-v1");
    let p = gather_program(&c, true);
    let err = simulate(&c, &p, &ids(), &SimOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::OpaqueIndices { what: "ids", .. }),
        "{err}"
    );
}

#[test]
fn gathers_check_their_ids() {
    let c = chip("seedchip-v1");
    let p = gather_program(&c, false);
    let mut bad = ids();
    bad.get_mut("ids").unwrap()[6] = 1000;
    let err = simulate(&c, &p, &bad, &SimOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("bag 1, position 2, id 1000"),
        "{err}"
    );
    let err = simulate(&c, &p, &BTreeMap::new(), &SimOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Input { .. }), "{err}");
}

#[test]
fn chips_without_gather_engines_gather_on_dma_engines() {
    let c = chip("tpu-v4i");
    let p = gather_program(&c, false);
    let out = simulate(&c, &p, &ids(), &SimOptions::default()).unwrap();
    let g = &out.report.gather;
    assert!(g.on_dma_engines);
    assert_eq!(g.rows_fetched, 5);
    assert!(out.report.engines.iter().all(|e| e.kind == "dma"));
}

// ----- roofline and bandwidth sanity -----

#[test]
fn streaming_dma_is_bounded_by_the_engines_and_the_memory() {
    let c = chip("seedchip-v1");
    let mut text = String::new();
    for i in 0..8u64 {
        text.push_str(&format!(
            "dma.copy dst=local:{:#x} src=hbm:{:#x} rows=1 row_bytes=262144 dst_stride_bytes=262144 src_stride_bytes=262144\n",
            i * 0x40000,
            i * 0x40000
        ));
    }
    let mut p = program(&c, Precision::Int8, &[(0, text)]);
    // The source is initialised data, so it counts in the minimum off-chip bytes.
    p.data.push(DataSegment {
        label: "src".into(),
        hbm: 0,
        bytes: vec![1; 8 * 0x40000],
    });
    let out = run(&c, &p);
    check_consistent(&out);
    let r = &out.report;
    let engines = f64::from(c.dma.engines.unwrap());
    let dma_gbps = engines * c.dma.bytes_per_cycle.unwrap() as f64 * c.clock_mhz / 1000.0;
    let peak = dma_gbps.min(c.memory.bandwidth_gbps.unwrap());
    assert!(
        r.memory.achieved_gbps <= peak * 1.001 && r.memory.achieved_gbps >= 0.8 * peak,
        "achieved {} GB/s, bound {peak}",
        r.memory.achieved_gbps
    );
    assert_eq!(r.roofline.bound, "memory");
    for e in r.engines.iter().filter(|e| e.kind == "dma") {
        assert_eq!(e.jobs, 2);
    }
}

/// `n` back-to-back matmuls per core on resident operands: a compute-bound GEMM at full load.
fn gemm_program(
    c: &Chip,
    precision: Precision,
    cores: u32,
    n: u32,
    (m, k, nn): (u32, u32, u32),
) -> Program {
    let dt = match precision {
        Precision::Int8 => "i8",
        Precision::Bf16 => "bf16",
        _ => unreachable!(),
    };
    let es = if precision == Precision::Int8 { 1 } else { 2 };
    let b_at = m * k * es;
    let acc_at = (b_at + k * nn * es).next_multiple_of(64);
    let mut text = String::new();
    for i in 0..n {
        let acc = u32::from(i > 0);
        text.push_str(&format!(
            "mxu.matmul.{dt} acc=local:{acc_at:#x} a=local:0x0 b=local:{b_at:#x} m={m} k={k} n={nn} lda={k} ldb={nn} ldacc={nn} accumulate={acc} transpose_b=0\n"
        ));
    }
    let per_core: Vec<(u32, String)> = (0..cores).map(|i| (i, text.clone())).collect();
    program(c, precision, &per_core)
}

#[test]
fn back_to_back_gemms_reach_the_compute_roofline() {
    let c = chip("seedchip-v1");
    let p = gemm_program(&c, Precision::Int8, 2, 64, (1024, 128, 128));
    let out = simulate(&c, &p, &BTreeMap::new(), &SimOptions::default()).unwrap();
    check_consistent(&out);
    let r = &out.report;
    assert_eq!(r.roofline.bound, "compute");
    assert!(
        r.roofline.roofline_fraction > 0.95,
        "{}",
        r.roofline.roofline_fraction
    );
    assert!((r.matrix.utilization - r.roofline.roofline_fraction).abs() < 1e-12);
    for q in r.queues.iter().filter(|q| q.queue == "mxu") {
        assert!(q.utilization > 0.95);
    }
}

// ----- energy -----

/// Published power of three chips running GEMMs at full load: TPU v1 ~40 W busy (Jouppi et
/// al. 2017), MTIA v1 25 W TDP, TPU v4i 175 W TDP (reference §A.2). The model must land within
/// 30 % of each with one set of parameters.
#[test]
fn energy_power_matches_published_chips() {
    let cases = [
        ("tpu-v1", Precision::Int8, 1, 32, (2048, 256, 256), 40.0),
        ("mtia-v1", Precision::Int8, 64, 400, (32, 32, 32), 25.0),
        ("tpu-v4i", Precision::Bf16, 1, 128, (1024, 128, 128), 175.0),
    ];
    let mut seen = Vec::new();
    for (name, prec, cores, n, shape, watts) in cases {
        let c = chip(name);
        let p = gemm_program(&c, prec, cores, n, shape);
        let out = simulate(&c, &p, &BTreeMap::new(), &SimOptions::default()).unwrap();
        check_consistent(&out);
        let r = &out.report;
        assert!(
            r.matrix.utilization > 0.9,
            "{name} is not at full load: {}",
            r.matrix.utilization
        );
        let w = r.energy.average_power_w;
        seen.push(format!("{name}: {w:.1} W (published {watts} W)"));
        assert!(
            (w - watts).abs() <= 0.3 * watts,
            "{name}: {w:.1} W against {watts} W; breakdown {:?}",
            r.energy.breakdown_pj
        );
    }
    eprintln!("{}", seen.join("\n"));
}

#[test]
fn optimistic_logic_scaling_lowers_energy() {
    let c = chip("seedchip-v1");
    let p = gemm_program(&c, Precision::Int8, 1, 8, (1024, 128, 128));
    let base = simulate(&c, &p, &BTreeMap::new(), &SimOptions::default()).unwrap();
    let opts = SimOptions {
        energy: EnergyOptions {
            logic: seedchip_timing::energy::LogicEnergy::StillmakerBaas,
            ..EnergyOptions::default()
        },
        ..SimOptions::default()
    };
    let opt = simulate(&c, &p, &BTreeMap::new(), &opts).unwrap();
    assert_eq!(base.report.cycles, opt.report.cycles);
    assert!(
        opt.report.energy.breakdown_pj["matrix"] < base.report.energy.breakdown_pj["matrix"] / 2.0
    );
}

// ----- memory modes -----

#[test]
fn fast_memory_mode_agrees_roughly_with_detailed() {
    let c = chip("seedchip-v1");
    let p = gather_program(&c, false);
    let cfg = MemConfig::from_chip(&c.memory).unwrap();
    let fast = FastMemory::calibrate(&cfg, &CalibrationOptions::quick()).unwrap();
    let opts = SimOptions {
        memory: MemoryMode::Fast,
        fast_memory: Some(fast),
        ..SimOptions::default()
    };
    let f = simulate(&c, &p, &ids(), &opts).unwrap();
    let d = simulate(&c, &p, &ids(), &SimOptions::default()).unwrap();
    assert_eq!(f.report.memory.summary.mode, "fast");
    assert_eq!(
        f.report.memory.summary.bytes_read,
        d.report.memory.summary.bytes_read
    );
    let (a, b) = (f.report.cycles as f64, d.report.cycles as f64);
    assert!((a - b).abs() < 0.5 * b, "fast {a} vs detailed {b} cycles");
    assert!(f.report.memory.summary.row_hit_rate.is_none());
    assert!(d.report.memory.summary.row_hit_rate.is_some());
}

/// A runaway simulation stops at the event limit with an error saying so, and a limit just
/// above what the program needs changes nothing.
#[test]
fn the_event_limit_bounds_a_run() {
    let c = chip("seedchip-v1");
    let p = gemm_program(&c, Precision::Int8, 1, 8, (256, 128, 128));
    let full = simulate(&c, &p, &BTreeMap::new(), &SimOptions::default()).unwrap();
    let needed = full.report.events;
    let capped = SimOptions {
        max_events: needed / 2,
        ..SimOptions::default()
    };
    match simulate(&c, &p, &BTreeMap::new(), &capped) {
        Err(e @ Error::EventLimit { .. }) => {
            assert!(e.to_string().contains("event limit"), "{e}");
        }
        other => panic!("expected the event limit, got {other:?}"),
    }
    let enough = SimOptions {
        max_events: needed,
        ..SimOptions::default()
    };
    let again = simulate(&c, &p, &BTreeMap::new(), &enough).unwrap();
    assert_eq!(again.report.cycles, full.report.cycles);
}
