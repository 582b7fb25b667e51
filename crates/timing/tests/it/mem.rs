//! Off-chip memory model: acceptance tests in Ramulator 2's four layers (smoke, bandwidth
//! sanity, timing formulas, scheduling order), plus determinism and the fast model.
//! Traces are small so the tests stay fast in debug builds.

use seedchip_chip::{MemoryKind, PagePolicy};
use seedchip_timing::mem::{
    self, AddressMapping, DetailedMemory, MemConfig, RefreshMode, default_memory,
    fast::{CalibrationOptions, FastMemory, Pattern},
    trace::{self, Arrivals, Op, Request},
};

fn config(kind: MemoryKind) -> MemConfig {
    MemConfig::from_chip(&default_memory(kind, 1)).unwrap()
}

/// One channel (two pseudo-channels for HBM) with the kind's defaults.
fn one_channel(kind: MemoryKind) -> MemConfig {
    let mut m = default_memory(kind, 1);
    m.channels = Some(1);
    m.bandwidth_gbps = m.derived_bandwidth_gbps();
    MemConfig::from_chip(&m).unwrap()
}

/// One pseudo-channel-sized memory with every column of a row at consecutive addresses, no
/// refresh: a lab bench for exact timing.
fn bench(kind: MemoryKind) -> MemConfig {
    let mut m = default_memory(kind, 1);
    if kind.is_hbm() {
        m.channels = Some(1);
        m.pseudo_channels = Some(1);
    }
    m.bandwidth_gbps = m.derived_bandwidth_gbps();
    let mut c = MemConfig::from_chip(&m).unwrap();
    c.refresh = RefreshMode::Off;
    c.mapping = AddressMapping::parse("ro-ba-bg-ch-pc-co", c.page_bytes).unwrap();
    c
}

/// Bytes between two rows of the same bank (same pseudo-channel, bank and column), for any
/// mapping with the row on top.
fn row_stride(c: &MemConfig) -> u64 {
    u64::from(c.total_pchannels()) * u64::from(c.banks_per_pchannel()) * u64::from(c.page_bytes)
}

/// Bytes between the same column of bank 0 and of `bank` (mapping `ro-ba-bg-ch-pc-co`).
fn bank_offset(c: &MemConfig, bank_group: u32, bank: u32) -> u64 {
    let page = u64::from(c.page_bytes) * u64::from(c.total_pchannels());
    (u64::from(bank) * u64::from(c.bank_groups) + u64::from(bank_group)) * page
}

fn latency(c: &MemConfig, reqs: &[Request]) -> Vec<u64> {
    let out = mem::simulate(c, reqs).unwrap();
    out.completions
        .iter()
        .zip(reqs)
        .map(|(done, r)| done - r.arrival)
        .collect()
}

/// Activation-limited throughput of random single-row requests, per pseudo-channel per cycle:
/// one ACT per request, at most 4 per tFAW, one per tRRD, one per bank per tRC, and the data
/// bus busy `bursts × tBURST` per request.
fn activation_bound(c: &MemConfig, request_bytes: u32) -> f64 {
    let t = &c.timing;
    let bursts = f64::from(request_bytes.div_ceil(c.burst_bytes()));
    (4.0 / f64::from(t.tfaw))
        .min(1.0 / f64::from(t.trrd_s))
        .min(f64::from(c.banks_per_pchannel()) / f64::from(t.trc))
        .min(1.0 / (bursts * f64::from(t.tburst)))
}

// ---- smoke ----

#[test]
fn every_kind_and_preset_runs_and_moves_every_byte() {
    let mut cfgs: Vec<MemConfig> = MemoryKind::ALL.into_iter().map(config).collect();
    cfgs.push(MemConfig::from_preset("seedchip-v1").unwrap());
    for c in cfgs {
        let mut reqs = trace::random(300, 96, c.capacity_bytes(), Arrivals::Every(3.0), 0.3, 5);
        reqs.extend(trace::sequential(
            100,
            200,
            1 << 20,
            Arrivals::Every(2.0),
            Op::Read,
        ));
        reqs.sort_by_key(|r| r.arrival);
        let out = mem::simulate(&c, &reqs).unwrap();
        let s = &out.stats;
        assert_eq!(s.requests, 400);
        assert_eq!(s.bytes_read + s.bytes_written, 300 * 96 + 100 * 200);
        assert!(s.bytes_transferred >= s.bytes_read + s.bytes_written);
        for (done, r) in out.completions.iter().zip(&reqs) {
            assert!(*done > r.arrival, "{:?}: completion before arrival", c.kind);
        }
        assert!(
            s.achieved_gbps > 0.0 && s.achieved_gbps <= s.peak_gbps,
            "{:?}",
            c.kind
        );
    }
}

#[test]
fn chips_must_be_resolved_and_settings_checked() {
    let mut m = default_memory(MemoryKind::Hbm3, 1);
    m.bank_groups = None;
    assert!(matches!(
        MemConfig::from_chip(&m),
        Err(mem::Error::Unresolved {
            key: "memory.bank_groups"
        })
    ));
    let mut c = config(MemoryKind::Hbm3);
    c.mapping.interleave_bytes = 3;
    assert!(DetailedMemory::new(c).is_err());
    assert!(AddressMapping::parse("ro-ba-bg-ch-co", 64).is_err());
}

// ---- bandwidth sanity ----

#[test]
fn streaming_reads_reach_90_percent_of_peak() {
    for kind in MemoryKind::ALL {
        let c = config(kind);
        // Long enough for several refresh intervals (all-bank refresh loses whole tRFCs, and a
        // per-bank refresh can stall a pseudo-channel's stream for up to tRFCpb; the run ends
        // with the slowest pseudo-channel).
        let interval = match c.refresh {
            RefreshMode::AllBank => 8 * u64::from(c.timing.trefi),
            _ => 24_000,
        };
        let bytes = interval as f64 * c.peak_bytes_per_cycle();
        let n = (bytes / 128.0) as u64;
        let out = mem::simulate(
            &c,
            &trace::sequential(n, 128, 0, Arrivals::AllAtOnce, Op::Read),
        )
        .unwrap();
        let s = &out.stats;
        assert!(
            s.efficiency >= 0.90,
            "{kind}: streaming reached {:.3} of {:.1} GB/s",
            s.efficiency,
            s.peak_gbps
        );
        assert!(
            s.row_hit_rate > 0.7,
            "{kind}: row hits {:.3}",
            s.row_hit_rate
        );
    }
}

/// Random 64-byte reads over the whole capacity open a row each. Documented band: between
/// 0.65× and 1× the activation bound (tFAW, tRRD, tRC × banks, data bus; `activation_bound`).
/// The bound is physics; the lower edge allows for what a 32-entry queue cannot avoid —
/// requests piling on busy banks (HBM3/3E need ~14 of 16 banks in flight to reach the tFAW
/// limit with tRC = 135–203 cycles) — and refresh. Measured on one channel with thousands of
/// requests per pseudo-channel, so the random imbalance between pseudo-channels of a short
/// trace does not count.
#[test]
fn random_64_byte_reads_land_in_the_activation_band() {
    for kind in MemoryKind::ALL {
        let c = one_channel(kind);
        let per_pch_bytes = activation_bound(&c, 64) * 64.0;
        let bound = per_pch_bytes / (c.peak_bytes_per_cycle() / f64::from(c.total_pchannels()));
        let n = 3000 * u64::from(c.total_pchannels());
        let reqs = trace::random(n, 64, c.capacity_bytes(), Arrivals::AllAtOnce, 0.0, 11);
        let s = mem::simulate(&c, &reqs).unwrap().stats;
        assert!(s.row_hit_rate < 0.02, "{kind}: random reads hit rows");
        assert!(
            s.efficiency <= bound * 1.01 && s.efficiency >= 0.65 * bound,
            "{kind}: random 64 B reads at {:.3} of peak, activation bound {bound:.3}",
            s.efficiency
        );
    }
}

#[test]
fn all_bank_refresh_costs_trfc_over_trefi() {
    for kind in [MemoryKind::Ddr4, MemoryKind::Hbm2] {
        let mut c = bench(kind);
        c.mapping = AddressMapping::default_with_interleave(256);
        let t = c.timing;
        let n = (10.0 * f64::from(t.trefi) * c.peak_bytes_per_cycle() / 256.0) as u64;
        let reqs = trace::sequential(n, 256, 0, Arrivals::AllAtOnce, Op::Read);
        let off = mem::simulate(&c, &reqs).unwrap().stats;
        c.refresh = RefreshMode::AllBank;
        let on = mem::simulate(&c, &reqs).unwrap().stats;
        let loss = 1.0 - on.achieved_gbps / off.achieved_gbps;
        // Each refresh idles the bus for tRFC plus the precharge before it and the activation
        // after it: tRTP + tRP + tRFC + tRCD at most.
        let lo = f64::from(t.trfc) / f64::from(t.trefi);
        let hi = f64::from(t.trtp + t.trp + t.trfc + t.trcd) / f64::from(t.trefi);
        assert!(
            loss >= lo - 0.01 && loss <= hi + 0.01,
            "{kind}: refresh loss {loss:.4}, expected {lo:.4}..{hi:.4}"
        );
        assert!((on.refresh_fraction - loss).abs() < 0.015, "{kind}: {on:?}");
        assert!(on.refreshes >= 9, "{kind}: {} refreshes", on.refreshes);
    }
}

#[test]
fn per_bank_refresh_hides_behind_other_banks() {
    let mut c = bench(MemoryKind::Hbm3);
    c.mapping = AddressMapping::default_with_interleave(256);
    let t = c.timing;
    let n = (10.0 * f64::from(t.trefi) * c.peak_bytes_per_cycle() / 256.0) as u64;
    let reqs = trace::sequential(n, 256, 0, Arrivals::AllAtOnce, Op::Read);
    let off = mem::simulate(&c, &reqs).unwrap().stats;
    c.refresh = RefreshMode::PerBank;
    let on = mem::simulate(&c, &reqs).unwrap().stats;
    // Each bank spends tRFCpb of every tREFI refreshing, but streams use the other banks.
    let share = f64::from(t.trfc_pb) / f64::from(t.trefi);
    assert!(
        (on.refresh_fraction - share).abs() < 0.1 * share,
        "bank time refreshing {:.4}, expected {share:.4}",
        on.refresh_fraction
    );
    assert!(on.achieved_gbps > 0.97 * off.achieved_gbps, "{on:?}");
}

#[test]
fn open_page_wins_on_streams_and_closed_page_on_sparse_random_reads() {
    let mut open = bench(MemoryKind::Hbm2);
    open.mapping = AddressMapping::default_with_interleave(256);
    let mut closed = open.clone();
    closed.page_policy = PagePolicy::Closed;
    let seq = trace::sequential(4000, 64, 0, Arrivals::AllAtOnce, Op::Read);
    let (so, sc) = (
        mem::simulate(&open, &seq).unwrap().stats,
        mem::simulate(&closed, &seq).unwrap().stats,
    );
    assert!(so.row_hit_rate > 0.9 && sc.row_hit_rate == 0.0);
    assert!(so.achieved_gbps > 1.2 * sc.achieved_gbps, "{so:?}\n{sc:?}");
    // Sparse random reads: open page finds another row open (PRE first), closed page does not.
    let sparse = trace::random(
        400,
        64,
        open.capacity_bytes(),
        Arrivals::Every(300.0),
        0.0,
        3,
    );
    let (ro, rc) = (
        mem::simulate(&open, &sparse).unwrap().stats,
        mem::simulate(&closed, &sparse).unwrap().stats,
    );
    let t = open.timing;
    let gap = ro.read_latency.mean_cycles - rc.read_latency.mean_cycles;
    assert!(
        gap > 0.8 * f64::from(t.trp) && gap <= f64::from(t.trp) + 1.0,
        "open {} vs closed {} cycles",
        ro.read_latency.mean_cycles,
        rc.read_latency.mean_cycles
    );
    assert!((rc.read_latency.mean_cycles - f64::from(open.unloaded_read_latency(2, false))) < 1.0);
}

// ---- timing formulas ----

#[test]
fn unloaded_read_latency_equals_the_timing_formula() {
    for kind in MemoryKind::ALL {
        let mut c = bench(kind);
        let t = c.timing;
        let b = u64::from(c.burst_bytes());
        let other_row = row_stride(&c);
        let reqs = [
            // Idle, precharged bank: ACT, tRCD, READ, tCL, burst.
            Request::read(5, 0, c.burst_bytes()),
            // The row is open: a hit.
            Request::read(1_000, b, c.burst_bytes()),
            // Another row of the same bank: PRE, tRP, ACT, tRCD, READ.
            Request::read(2_000, other_row, c.burst_bytes()),
            // Four bursts in one row of an idle bank: tCCD_L apart.
            Request::read(3_000, bank_offset(&c, 1, 1), 4 * c.burst_bytes()),
        ];
        let lat = latency(&c, &reqs);
        let (rcd, cl, rp, bl, ccd) = (t.trcd, t.tcl, t.trp, t.tburst, t.tccd_l);
        assert_eq!(lat[0], u64::from(rcd + cl + bl), "{kind}: miss");
        assert_eq!(lat[0], u64::from(c.unloaded_read_latency(1, false)));
        assert_eq!(lat[1], u64::from(cl + bl), "{kind}: hit");
        assert_eq!(lat[1], u64::from(c.unloaded_read_latency(1, true)));
        assert_eq!(lat[2], u64::from(rp + rcd + cl + bl), "{kind}: conflict");
        assert_eq!(
            lat[3],
            u64::from(rcd + cl + 3 * ccd + bl),
            "{kind}: 4 bursts"
        );
        assert_eq!(lat[3], u64::from(c.unloaded_read_latency(4, false)));
        // A fixed controller latency adds to every completion.
        c.controller_latency_cycles = 7;
        assert_eq!(latency(&c, &reqs[..1])[0], u64::from(rcd + cl + bl + 7));
    }
}

#[test]
fn write_to_read_and_read_to_write_turnarounds() {
    for same_group in [false, true] {
        let c = bench(MemoryKind::Ddr4);
        let t = c.timing;
        let (bg, ba) = if same_group { (0, 1) } else { (1, 0) };
        let w_at = 1_000;
        let wr_issue = w_at + u64::from(t.trcd);
        let reqs = [
            Request::read(0, 0, 64),                           // opens row 0 of bank 0
            Request::write(w_at, bank_offset(&c, bg, ba), 64), // ACT at 1000, WRITE at +tRCD
            Request::read(wr_issue + 1, 64, 64),               // row hit, must wait for the write
        ];
        let done = mem::simulate(&c, &reqs).unwrap().completions;
        let rd_issue = wr_issue + u64::from(t.write_to_read(same_group));
        assert_eq!(
            done[2],
            rd_issue + u64::from(t.tcl + t.tburst),
            "write→read, same bank group: {same_group}"
        );
        assert_eq!(done[1], wr_issue + u64::from(t.tcwl + t.tburst));
    }
    // Read then write to another bank group: WRITE no earlier than RL + BL/2 + tRTRS − WL.
    let c = bench(MemoryKind::Ddr4);
    let t = c.timing;
    let reqs = [
        Request::read(0, 0, 64),
        Request::read(1_000, 64, 64), // hit: READ at 1000
        Request::write(1_001, bank_offset(&c, 1, 0), 64),
    ];
    let done = mem::simulate(&c, &reqs).unwrap().completions;
    let act = 1_001u64;
    let wr = (act + u64::from(t.trcd)).max(1_000 + u64::from(t.read_to_write()));
    assert_eq!(done[2], wr + u64::from(t.tcwl + t.tburst));
}

#[test]
fn four_activate_window_and_trrd_space_activations() {
    for kind in [MemoryKind::Hbm3, MemoryKind::Ddr4] {
        let c = bench(kind);
        let t = c.timing;
        // Eight reads to eight different idle banks at once, spread over bank groups.
        let reqs: Vec<Request> = (0..8)
            .map(|i| Request::read(0, bank_offset(&c, i % c.bank_groups, i / c.bank_groups), 32))
            .collect();
        let mut done = mem::simulate(&c, &reqs).unwrap().completions;
        done.sort_unstable();
        let tail = u64::from(t.trcd + t.tcl + t.tburst);
        // ACT i at max(i × tRRD, ACT(i−4) + tFAW); each READ follows its ACT by tRCD.
        let mut act = [0u64; 8];
        for i in 1..8 {
            act[i] = act[i - 1] + u64::from(t.trrd_s);
            if i >= 4 {
                act[i] = act[i].max(act[i - 4] + u64::from(t.tfaw));
            }
        }
        for i in 0..8 {
            assert!(
                done[i] >= act[i] + tail,
                "{kind}: read {i} done {} < {}",
                done[i],
                act[i] + tail
            );
        }
        assert_eq!(done[0], tail);
        assert_eq!(
            done[4],
            act[4] + tail,
            "{kind}: fifth activation waits for tFAW"
        );
    }
}

// ---- scheduling order ----

#[test]
fn fr_fcfs_serves_row_hits_first_up_to_the_cap() {
    for cap in [4u32, 16] {
        let mut c = bench(MemoryKind::Ddr4);
        c.row_hit_cap = cap;
        let b = u64::from(c.burst_bytes());
        let mut reqs = vec![Request::read(0, 0, 64)]; // opens row 0 of bank 0
        reqs.push(Request::read(1, row_stride(&c), 64)); // older access to another row
        for i in 1..=24 {
            reqs.push(Request::read(1, i * b, 64)); // younger hits to row 0
        }
        let done = mem::simulate(&c, &reqs).unwrap().completions;
        let conflict = done[1];
        let hits_before = done[2..].iter().filter(|&&d| d < conflict).count();
        assert_eq!(
            hits_before, cap as usize,
            "cap {cap}: hits served before the conflict"
        );
        // Hits are served in age order.
        assert!(done[2..].windows(2).all(|w| w[0] < w[1]));
    }
}

#[test]
fn writes_are_drained_in_batches() {
    let mut c = bench(MemoryKind::Hbm2);
    c.mapping = AddressMapping::default_with_interleave(256);
    let reqs = trace::random(3000, 64, c.capacity_bytes(), Arrivals::AllAtOnce, 0.5, 9);
    let mixed = mem::simulate(&c, &reqs).unwrap().stats;
    c.write_high_watermark = 1;
    c.write_low_watermark = 0;
    let eager = mem::simulate(&c, &reqs).unwrap().stats;
    // Switching direction on every write pays the turnaround each time.
    assert!(
        mixed.achieved_gbps > 1.05 * eager.achieved_gbps,
        "{mixed:?}\n{eager:?}"
    );
}

// ---- mapping ----

#[test]
fn default_mapping_spreads_blocks_over_channels_then_bank_groups() {
    let c = MemConfig::from_preset("seedchip-v1").unwrap();
    let d = mem::Decoder::new(&c);
    let il = u64::from(c.mapping.interleave_bytes);
    let (first, last) = (d.decode(0), d.decode(il - 1));
    assert_eq!(
        (first.pch, first.bank, first.row),
        (last.pch, last.bank, last.row)
    );
    assert_eq!(
        last.column - first.column,
        (il - 1) as u32 / c.burst_bytes()
    );
    let pchs: Vec<u32> = (0..u64::from(c.total_pchannels()))
        .map(|i| d.decode(i * il).pch)
        .collect();
    assert_eq!(pchs, (0..c.total_pchannels()).collect::<Vec<_>>());
    let next = d.decode(u64::from(c.total_pchannels()) * il);
    assert_eq!((next.pch, next.bank_group, next.row), (0, 1, 0));
    // Three stacks: 48 channels, not a power of two; every pseudo-channel gets equal traffic.
    let mut m = default_memory(MemoryKind::Hbm3, 3);
    m.bandwidth_gbps = m.derived_bandwidth_gbps();
    let c3 = MemConfig::from_chip(&m).unwrap();
    let d3 = mem::Decoder::new(&c3);
    let mut count = vec![0u32; c3.total_pchannels() as usize];
    for i in 0..(10 * u64::from(c3.total_pchannels())) {
        count[d3.decode(i * 256).pch as usize] += 1;
    }
    assert!(count.iter().all(|&n| n == 10));
    let n = 200 * u64::from(c3.total_pchannels());
    let reqs = trace::sequential(n, 256, 0, Arrivals::AllAtOnce, Op::Read);
    let out = mem::simulate(&c3, &reqs).unwrap();
    assert!(out.stats.efficiency > 0.8, "{:?}", out.stats);
}

#[test]
fn a_request_spanning_blocks_completes_with_its_last_part() {
    let c = config(MemoryKind::Hbm3);
    let il = u64::from(c.mapping.interleave_bytes);
    let reqs = [
        Request::read(0, 0, 64),
        Request::read(0, il, 64),
        Request::read(0, il - 64, 128),
    ];
    let mut cc = c.clone();
    cc.refresh = RefreshMode::Off;
    let done = mem::simulate(&cc, &reqs).unwrap().completions;
    assert!(done[2] >= done[0].min(done[1]));
    let alone = mem::simulate(&cc, &reqs[2..]).unwrap().completions[0];
    // Its two halves go to two pseudo-channels that work in parallel.
    assert_eq!(alone, u64::from(c.unloaded_read_latency(2, false)));
}

// ---- determinism and the incremental interface ----

fn mixed_trace(c: &MemConfig, n: u64) -> Vec<Request> {
    let mut reqs = trace::random(n, 64, c.capacity_bytes(), Arrivals::Every(0.5), 0.25, 21);
    reqs.extend(trace::sequential(
        n / 2,
        256,
        1 << 24,
        Arrivals::Every(1.0),
        Op::Read,
    ));
    reqs.sort_by_key(|r| r.arrival);
    reqs
}

#[test]
fn runs_are_deterministic_whatever_the_thread_count() {
    let c = config(MemoryKind::Hbm2e);
    let reqs = mixed_trace(&c, 3000);
    let a = mem::simulate(&c, &reqs).unwrap();
    let b = mem::simulate(&c, &reqs).unwrap();
    assert_eq!(a, b);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let c1 = one.install(|| mem::simulate(&c, &reqs).unwrap());
    assert_eq!(a, c1);
}

#[test]
fn incremental_runs_match_batch_runs() {
    let c = config(MemoryKind::Hbm3);
    let reqs = mixed_trace(&c, 2000);
    let batch = mem::simulate(&c, &reqs).unwrap();
    let mut m = DetailedMemory::new(c.clone()).unwrap();
    let mut got = vec![None; reqs.len()];
    let mut next = 0;
    let mut t = 0;
    let mut bound = 0;
    while got.iter().any(Option::is_none) {
        while next < reqs.len() && reqs[next].arrival < t + 37 {
            let id = m.submit(reqs[next]);
            assert_eq!(id.0 as usize, next);
            next += 1;
        }
        t += 37;
        m.advance_to(t);
        for done in m.completions_until(t) {
            assert!(done.cycle >= bound, "completion before the promised bound");
            assert!(got[done.id.0 as usize].replace(done.cycle).is_none());
        }
        bound = m.completion_lower_bound().min(t + 1);
        assert!(t < 10_000_000, "never finished");
    }
    let got: Vec<u64> = got.into_iter().map(Option::unwrap).collect();
    assert_eq!(got, batch.completions);
    assert_eq!(m.stats(), batch.stats);
}

#[test]
#[should_panic(expected = "submitted after")]
fn submitting_into_the_past_is_a_bug() {
    let mut m = DetailedMemory::new(config(MemoryKind::Ddr5)).unwrap();
    m.advance_to(100);
    m.submit(Request::read(50, 0, 64));
}

// ---- fast model ----

#[test]
fn fast_model_follows_the_detailed_one() {
    let c = one_channel(MemoryKind::Hbm2);
    let fast = FastMemory::calibrate(&c, &CalibrationOptions::quick()).unwrap();
    let seq = fast.bandwidth_gbps(&Pattern::sequential_reads(64));
    let rnd = fast.bandwidth_gbps(&Pattern::random_reads(64));
    assert!(seq > 0.85 * c.peak_gbps() && rnd < seq, "{seq} {rnd}");
    // Latency grows with load; interpolation in size sits between the grid points.
    let p = Pattern::random_reads(64);
    assert!(fast.latency_cycles(&p, 0.9) > fast.latency_cycles(&p, 0.1));
    let mid = fast.bandwidth_gbps(&Pattern::random_reads(181));
    let (lo, hi) = (rnd, fast.bandwidth_gbps(&Pattern::random_reads(512)));
    assert!(mid > lo.min(hi) && mid < lo.max(hi));
    for (name, reqs, tol) in [
        (
            "stream",
            trace::sequential(6000, 64, 0, Arrivals::AllAtOnce, Op::Read),
            0.05,
        ),
        (
            "random",
            trace::random(6000, 64, c.capacity_bytes(), Arrivals::AllAtOnce, 0.0, 77),
            0.10,
        ),
    ] {
        let d = mem::simulate(&c, &reqs).unwrap().stats;
        let f = fast.simulate(&reqs).stats;
        let err = (f.achieved_gbps - d.achieved_gbps).abs() / d.achieved_gbps;
        assert!(
            err < tol,
            "{name}: fast {} vs detailed {} GB/s",
            f.achieved_gbps,
            d.achieved_gbps
        );
    }
}
