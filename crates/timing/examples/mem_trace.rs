//! Trace generator and runner for the DRAMsim3 comparison (`scripts/dramsim3_compare.sh`).
//!
//! ```text
//! mem_trace gen PATTERN N SEED          # a DRAMsim3-format trace (64-byte lines) on stdout
//! mem_trace run [--window W] TRACE      # run it on the DRAMsim3-matched HBM2 configuration
//! mem_trace config                      # print that configuration
//! ```
//!
//! PATTERN: `stream`, `random`, `random-rw` (a third writes), `random256` (256-byte rows),
//! `streams8` (8 interleaved streams), `random-half` (random reads offered at half of
//! what the memory sustains for them), `stream-rw` (copy: read one array, write another).
//!
//! For experiments, `MEM_OVERRIDE=wq=64,high=48,low=8,bank=16,look=1,cap=16` changes the
//! controller of `run` (write queue, write watermarks, reads per bank, admission look-ahead,
//! row-hit cap).

use std::process::ExitCode;

use seedchip_chip::MemoryKind;
use seedchip_timing::mem::{
    self, AddressMapping, MemConfig, RefreshMode, default_memory,
    trace::{self, Arrivals, Op, Request},
};

/// seedchip's configuration for DRAMsim3's `configs/HBM2_8Gb_x128.ini`: 8 channels of 128 bits
/// (legacy mode, no pseudo-channels), tCK 1 ns, BL4 (64-byte bursts), 4 × 4 banks, 32768 rows
/// of 2 KB per bank, address mapping `rorabgbachco` (DRAMsim3 lists most significant first;
/// the column is lowest, so 2 KB stay in a row, then channel, bank, bank group, row), open
/// page, rank-level all-bank refresh, FR-FCFS with a cap of 4 hits. Queues: DRAMsim3 keeps a
/// 32-entry transaction queue per channel feeding 8-deep command queues per bank, where the
/// scheduler looks: here a window of up to 8 × 16 = 128 reads (`window`), at most 8 per bank,
/// filled from the oldest 32 waiting accesses; writes wait in a 32-entry buffer drained when
/// full (or when no read is left).
fn dramsim3_hbm2(window: u32) -> MemConfig {
    let mut m = default_memory(MemoryKind::Hbm2, 1);
    m.channels = Some(8);
    m.channel_width_bits = Some(128);
    m.pseudo_channels = Some(1);
    m.data_rate_mtps = Some(2000.0);
    m.capacity_bytes = 8 << 30;
    let t = &mut m.timing;
    t.tcl_ns = Some(14.0);
    t.trcd_ns = Some(14.0);
    t.trp_ns = Some(14.0);
    t.tras_ns = Some(34.0);
    t.trrd_ns = Some(4.0);
    t.tfaw_ns = Some(30.0);
    t.tccd_ns = Some(2.0);
    t.trfc_ns = Some(260.0);
    t.trefi_ns = Some(3900.0);
    t.burst_length = Some(4);
    m.bandwidth_gbps = m.derived_bandwidth_gbps();
    let mut c = MemConfig::from_chip(&m).expect("valid HBM2 configuration");
    // The ini's values for what the chip format does not carry.
    c.timing.tcwl = 4;
    c.timing.trrd_l = 6;
    c.timing.twr = 16;
    c.timing.trtp = 5;
    c.timing.twtr_s = 6;
    c.timing.twtr_l = 8;
    c.timing.trtrs = 2;
    c.refresh = RefreshMode::AllBank;
    c.row_hit_cap = 4;
    c.mapping = AddressMapping::parse("ro-bg-ba-co-ch-pc", 2048).expect("mapping");
    c.read_queue_depth = window;
    c.bank_queue_depth = 8;
    c.admission_lookahead = 32;
    c.write_queue_depth = 32;
    c.write_high_watermark = 32;
    c.write_low_watermark = 0;
    if let Ok(v) = std::env::var("MEM_OVERRIDE") {
        for kv in v.split(',') {
            let (k, x) = kv.split_once('=').expect("k=v");
            let x: u32 = x.parse().expect("number");
            match k {
                "wq" => c.write_queue_depth = x,
                "high" => c.write_high_watermark = x,
                "low" => c.write_low_watermark = x,
                "bank" => c.bank_queue_depth = x,
                "look" => c.admission_lookahead = x,
                "cap" => c.row_hit_cap = x,
                _ => panic!("unknown override {k}"),
            }
        }
    }
    c.check().expect("consistent");
    c
}

fn generate(pattern: &str, n: u64, seed: u64) -> Result<Vec<Request>, String> {
    let cap = 8u64 << 30;
    let all = Arrivals::AllAtOnce;
    Ok(match pattern {
        "stream" => trace::sequential(n, 64, 0, all, Op::Read),
        "random" => trace::random(n, 64, cap, all, 0.0, seed),
        "random-rw" => trace::random(n, 64, cap, all, 1.0 / 3.0, seed),
        "random256" => trace::random(n / 4, 256, cap, all, 0.0, seed),
        "streams8" => trace::interleaved_streams(n, 64, 8, 1 << 30, all),
        // Random 64-byte reads sustain about one request per cycle here (tFAW-bound); offer
        // half of that.
        "random-half" => trace::random(n, 64, cap, Arrivals::Every(2.0), 0.0, seed),
        "stream-rw" => {
            let mut v = Vec::with_capacity(n as usize);
            for i in 0..n {
                let op = if i % 2 == 0 { Op::Read } else { Op::Write };
                let base = if op == Op::Read { 0 } else { 1 << 32 };
                v.push(Request {
                    arrival: 0,
                    addr: base + (i / 2) * 64,
                    bytes: 64,
                    op,
                });
            }
            v
        }
        _ => return Err(format!("unknown pattern `{pattern}`")),
    })
}

fn run(path: &str, window: u32) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let reqs = trace::parse_dramsim3(&text, 64).map_err(|e| format!("{path}: {e}"))?;
    let cfg = dramsim3_hbm2(window);
    let start = std::time::Instant::now();
    let out = mem::simulate(&cfg, &reqs).map_err(|e| e.to_string())?;
    let wall = start.elapsed().as_secs_f64();
    let (mut last_read, mut sum, mut reads) = (0u64, 0.0, 0u64);
    for (done, r) in out.completions.iter().zip(&reqs) {
        if r.op == Op::Read {
            last_read = last_read.max(*done);
            sum += (done - r.arrival) as f64;
            reads += 1;
        }
    }
    Ok(format!(
        "{{\"lines\": {}, \"reads\": {reads}, \"last_read_done\": {last_read}, \
         \"read_latency_mean\": {:.3}, \"tck_ns\": {:.4}, \"row_hit_rate\": {:.4}, \
         \"activates\": {}, \"wall_s\": {wall:.4}}}",
        reqs.len(),
        if reads > 0 { sum / reads as f64 } else { 0.0 },
        cfg.tck_ns,
        out.stats.row_hit_rate,
        out.stats.activates
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: mem_trace gen PATTERN N SEED | run [--window W] TRACE | config";
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["gen", pattern, n, seed] => {
            let n = n.parse().map_err(|_| format!("bad count `{n}`"));
            let seed = seed.parse().map_err(|_| format!("bad seed `{seed}`"));
            n.and_then(|n| seed.and_then(|s| generate(pattern, n, s)))
                .map(|reqs| trace::to_dramsim3(&reqs, 64))
        }
        ["run", "--window", w, path] => match w.parse() {
            Ok(w) => run(path, w),
            Err(_) => Err(format!("bad window `{w}`")),
        },
        ["run", path] => run(path, 128),
        ["config"] => Ok(format!("{:#?}", dramsim3_hbm2(128))),
        _ => Err(usage.to_string()),
    };
    match result {
        Ok(s) => {
            print!("{s}");
            if !s.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
