//! The memory model's configuration: a chip's `[memory]` table turned into cycle counts.
//!
//! The model's clock is the DRAM command clock, one cycle = tCK = 2 / data rate (two transfers
//! per clock on every kind; for LPDDR5 that is WCK/2, finer than the real CK, which only makes
//! command timing slightly more permissive). Nanosecond parameters become cycles by rounding up,
//! as JEDEC's tables do (`ceil(t / tCK)`, with a tolerance of 1e-6 so that 14 ns at 1 ns stays
//! 14).
//!
//! The chip format carries ten timing keys. The others a bank-level model needs are derived
//! here, with the rule stated next to each field of [`DramTiming`]; every one can be overridden
//! on a [`MemConfig`] after [`MemConfig::from_chip`] (the DRAMsim3 comparison does, to use the
//! exact values of DRAMsim3's HBM2 configuration).

use seedchip_chip::{Memory, MemoryKind, MemoryTiming, PagePolicy};
use serde::{Deserialize, Serialize};

use super::Error;
use super::mapping::AddressMapping;

/// Timing in command-clock cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DramTiming {
    /// Read latency RL (CAS latency; no additive latency): READ command to first data beat.
    pub tcl: u32,
    /// Write latency WL: WRITE command to first data beat. Not a chip key; derived per kind:
    /// HBM 4 cycles (JESD235's WL range starts there; DRAMsim3's HBM2 file uses 4), LPDDR5
    /// ceil(RL / 2) (WL is about half of RL in JESD209-5's tables), DDR3/4/5 RL − 2 (DDR5's
    /// CWL = CL − 2; DDR4/DDR3 are within a cycle or two of that).
    pub tcwl: u32,
    /// ACT to READ/WRITE.
    pub trcd: u32,
    /// PRE to ACT, same bank.
    pub trp: u32,
    /// ACT to PRE, same bank.
    pub tras: u32,
    /// ACT to ACT, same bank: tRAS + tRP (the JEDEC definition).
    pub trc: u32,
    /// ACT to ACT, different bank group (the chip's `trrd_ns`).
    pub trrd_s: u32,
    /// ACT to ACT, same bank group. Not a chip key; taken equal to `trrd_s` (tFAW, not tRRD_L,
    /// bounds activation rates for the kinds we model).
    pub trrd_l: u32,
    /// Four-activate window.
    pub tfaw: u32,
    /// Column to column, different bank group: the burst time (`BL / 2`), which is what JEDEC
    /// sets tCCD_S to for every kind here.
    pub tccd_s: u32,
    /// Column to column, same bank group: the chip's `tccd_ns`, at least `tccd_s`. (The chip
    /// format's single tCCD is read as tCCD_L: for HBM2 at 2.4 Gb/s its 2 ns is 3 cycles while a
    /// burst takes 2; for the other kinds the default equals the burst time.) With one bank
    /// group (DDR3) there is no long tCCD: it equals `tccd_s` (DDR3's tCCD is 4 tCK, one BL8
    /// burst, at every speed).
    pub tccd_l: u32,
    /// Data-bus cycles per burst: `BL / 2`.
    pub tburst: u32,
    /// Write recovery (end of write data to PRE). Derived per kind: HBM 16 ns, LPDDR5 34 ns,
    /// DDR5 30 ns, DDR4/DDR3 15 ns (JEDEC-class values).
    pub twr: u32,
    /// READ to PRE. Derived: 5 ns for HBM, 7.5 ns for the others.
    pub trtp: u32,
    /// End of write data to READ, different bank group. Derived: 2.5 ns.
    pub twtr_s: u32,
    /// End of write data to READ, same bank group. Derived: 7.5 ns.
    pub twtr_l: u32,
    /// Extra data-bus turnaround between a read burst and a write burst: 2 cycles (DRAMsim3's
    /// tRTRS default).
    pub trtrs: u32,
    /// All-bank refresh duration.
    pub trfc: u32,
    /// Per-bank refresh duration. Not a chip key; derived as tRFC / 2 (JEDEC tables: LPDDR5
    /// 8 Gb 280/140 ns, DDR5 16 Gb 295/130 ns, HBM2 8 Gb 260/160 ns).
    pub trfc_pb: u32,
    /// Average refresh interval.
    pub trefi: u32,
}

impl DramTiming {
    /// READ to WRITE command spacing on a channel: the read data must clear the bus before the
    /// write data arrives, plus a turnaround gap.
    pub fn read_to_write(&self) -> u32 {
        (self.tcl + self.tburst + self.trtrs).saturating_sub(self.tcwl)
    }

    /// WRITE to READ command spacing, different / same bank group.
    pub fn write_to_read(&self, same_bank_group: bool) -> u32 {
        self.tcwl
            + self.tburst
            + if same_bank_group {
                self.twtr_l
            } else {
                self.twtr_s
            }
    }

    /// WRITE to PRE, same bank.
    pub fn write_to_precharge(&self) -> u32 {
        self.tcwl + self.tburst + self.twr
    }
}

/// How refresh is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshMode {
    /// No refresh (for experiments).
    Off,
    /// All-bank REF every tREFI per pseudo-channel: every bank is precharged, then unusable for
    /// tRFC. Bus time lost per refresh: about tRTP + tRP + tRFC + tRCD.
    AllBank,
    /// Per-bank REF: one bank at a time, round-robin, every tREFI / banks, each unusable for
    /// tRFCpb while the other banks keep working (HBM2 REFSB, HBM3 and LPDDR5 REFpb).
    PerBank,
}

impl RefreshMode {
    /// Per-bank refresh for HBM and LPDDR5, whose controllers refresh bank by bank to keep
    /// streaming near peak; all-bank refresh for DDR3/4/5.
    pub fn default_for(kind: MemoryKind) -> RefreshMode {
        if kind.is_hbm() || kind == MemoryKind::Lpddr5 {
            RefreshMode::PerBank
        } else {
            RefreshMode::AllBank
        }
    }
}

/// Everything the detailed model needs. Build with [`MemConfig::from_chip`]; all fields are
/// public so experiments can change one thing at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemConfig {
    pub kind: MemoryKind,
    /// Nanoseconds per model cycle (tCK).
    pub tck_ns: f64,
    /// Independent channels in the package (stacks × channels for HBM).
    pub channels: u32,
    /// Pseudo-channels per channel. Each is modelled as an independent channel with its own
    /// banks and data bus (their shared command pins are not modelled).
    pub pseudo_channels: u32,
    /// Data bits of one pseudo-channel.
    pub pch_width_bits: u32,
    pub bank_groups: u32,
    pub banks_per_group: u32,
    /// Row-buffer (page) size of one bank of one pseudo-channel.
    pub page_bytes: u32,
    /// Rows per bank, from the capacity; addresses beyond the capacity wrap.
    pub rows_per_bank: u32,
    /// Beats per burst (`BL`).
    pub burst_length: u32,
    pub page_policy: PagePolicy,
    pub timing: DramTiming,
    pub mapping: AddressMapping,
    /// Read-queue entries per pseudo-channel (the scheduler's look-ahead window for reads).
    pub read_queue_depth: u32,
    /// Write-queue entries per pseudo-channel.
    pub write_queue_depth: u32,
    /// Reads queued per bank, at most (per-bank command queues, as in DRAMsim3's `PER_BANK`
    /// structure, where writes wait in a write buffer until drained; `u32::MAX` for no limit).
    pub bank_queue_depth: u32,
    /// How many of the waiting accesses, oldest first, may enter the queues: 1 is a strict
    /// FIFO; more lets an access pass an older one whose queue is full (DRAMsim3's
    /// transaction queue feeding its per-bank command queues).
    pub admission_lookahead: u32,
    /// The controller switches to writes when this many are queued (or when no read is).
    pub write_high_watermark: u32,
    /// ... and back to reads when no more than this many remain.
    pub write_low_watermark: u32,
    /// FR-FCFS starvation cap: after this many row hits since an activation, a bank with a
    /// waiting request to another row is precharged even though hits remain.
    pub row_hit_cap: u32,
    /// Fixed controller + PHY latency added to every completion (not to queueing).
    pub controller_latency_cycles: u32,
    /// Separate row and column command buses (HBM has them; DDR/LPDDR share one bus).
    pub dual_command_bus: bool,
    pub refresh: RefreshMode,
}

/// Defaults chosen for the controller (not properties of the DRAM).
pub const DEFAULT_QUEUE_DEPTH: u32 = 32;
pub const DEFAULT_ROW_HIT_CAP: u32 = 16;

/// Interleaving granularity of the default mapping: 256 B stays in one bank row, so a gathered
/// embedding row of up to 256 B costs one activation, while a sequential stream still spreads
/// over all channels after 256 B × channels.
pub const DEFAULT_INTERLEAVE_BYTES: u32 = 256;

impl MemConfig {
    /// The model for a resolved, validated chip memory description (see
    /// [`seedchip_chip::Chip::resolve`]).
    pub fn from_chip(mem: &Memory) -> Result<MemConfig, Error> {
        let kind = mem.kind;
        let need = |v: Option<u32>, key: &'static str| v.ok_or(Error::Unresolved { key });
        let channels_each = need(mem.channels, "memory.channels")?;
        let channels = if kind.is_hbm() {
            need(mem.stacks, "memory.stacks")? * channels_each
        } else {
            channels_each
        };
        let width = need(mem.channel_width_bits, "memory.channel_width_bits")?;
        let pcs = need(mem.pseudo_channels, "memory.pseudo_channels")?;
        let bank_groups = need(mem.bank_groups, "memory.bank_groups")?;
        let banks_per_group = need(mem.banks_per_group, "memory.banks_per_group")?;
        let rate = mem.data_rate_mtps.ok_or(Error::Unresolved {
            key: "memory.data_rate_mtps",
        })?;
        let page_policy = mem.page_policy.unwrap_or(PagePolicy::Open);
        let t = &mem.timing;
        let ns = |v: Option<f64>, key: &'static str| v.ok_or(Error::Unresolved { key });
        let bl = t.burst_length.ok_or(Error::Unresolved {
            key: "memory.timing.burst_length",
        })?;

        if channels == 0 || pcs == 0 || width % pcs != 0 || !(width / pcs).is_power_of_two() {
            return Err(Error::Unsupported(format!(
                "{channels} channels of {width} bits split in {pcs} pseudo-channels"
            )));
        }
        if bl < 2 || bl % 2 != 0 {
            return Err(Error::Unsupported(format!(
                "burst length {bl}: must be even"
            )));
        }
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::Unsupported(format!("data rate {rate} MT/s")));
        }
        let pch_width_bits = width / pcs;
        let tck_ns = 2000.0 / rate;
        let cyc = |v: f64| ns_to_cycles(v, tck_ns);
        let tburst = bl / 2;

        let tcl = cyc(ns(t.tcl_ns, "memory.timing.tcl_ns")?);
        let trcd = cyc(ns(t.trcd_ns, "memory.timing.trcd_ns")?);
        let trp = cyc(ns(t.trp_ns, "memory.timing.trp_ns")?);
        let tras = cyc(ns(t.tras_ns, "memory.timing.tras_ns")?);
        let trrd = cyc(ns(t.trrd_ns, "memory.timing.trrd_ns")?);
        let tfaw = cyc(ns(t.tfaw_ns, "memory.timing.tfaw_ns")?);
        let tccd = cyc(ns(t.tccd_ns, "memory.timing.tccd_ns")?);
        let trfc = cyc(ns(t.trfc_ns, "memory.timing.trfc_ns")?);
        let trefi = cyc(ns(t.trefi_ns, "memory.timing.trefi_ns")?);
        let (tcwl, twr_ns, trtp_ns) = match kind {
            MemoryKind::Hbm2 | MemoryKind::Hbm2e | MemoryKind::Hbm3 | MemoryKind::Hbm3e => {
                (4, 16.0, 5.0)
            }
            MemoryKind::Lpddr5 => (tcl.div_ceil(2), 34.0, 7.5),
            MemoryKind::Ddr5 => (tcl.saturating_sub(2).max(1), 30.0, 7.5),
            MemoryKind::Ddr4 | MemoryKind::Ddr3 => (tcl.saturating_sub(2).max(1), 15.0, 7.5),
        };
        if trefi <= trfc {
            return Err(Error::Unsupported(format!(
                "tREFI ({trefi} cycles) must exceed tRFC ({trfc} cycles)"
            )));
        }
        let timing = DramTiming {
            tcl,
            tcwl,
            trcd,
            trp,
            tras,
            trc: tras + trp,
            trrd_s: trrd,
            trrd_l: trrd,
            tfaw,
            tccd_s: tburst,
            tccd_l: if bank_groups == 1 {
                tburst
            } else {
                tccd.max(tburst)
            },
            tburst,
            twr: cyc(twr_ns),
            trtp: cyc(trtp_ns),
            twtr_s: cyc(2.5),
            twtr_l: cyc(7.5),
            trtrs: 2,
            trfc,
            trfc_pb: trfc.div_ceil(2),
            trefi,
        };

        // Page size per pseudo-channel bank: HBM2/2E 1 KB per 64-bit pseudo-channel (2 KB for
        // a 128-bit legacy channel), HBM3/3E 1 KB per 32-bit pseudo-channel, LPDDR5 2 KB per
        // x16 channel, DDR 1 KB per x8 device (8 KB for 64 bits).
        let bytes_per_bit = match kind {
            MemoryKind::Hbm2 | MemoryKind::Hbm2e => 16,
            MemoryKind::Hbm3 | MemoryKind::Hbm3e => 32,
            _ => 128,
        };
        let burst_bytes = pch_width_bits / 8 * bl;
        let page_bytes = (pch_width_bits * bytes_per_bit).max(burst_bytes);
        let banks = u64::from(bank_groups * banks_per_group);
        let pchs = u64::from(channels * pcs);
        let rows = (mem.capacity_bytes / (pchs * banks * u64::from(page_bytes))).max(1);
        let rows_per_bank = u32::try_from(rows).unwrap_or(u32::MAX);
        let interleave = DEFAULT_INTERLEAVE_BYTES.clamp(burst_bytes, page_bytes);
        let cfg = MemConfig {
            kind,
            tck_ns,
            channels,
            pseudo_channels: pcs,
            pch_width_bits,
            bank_groups,
            banks_per_group,
            page_bytes,
            rows_per_bank,
            burst_length: bl,
            page_policy,
            timing,
            mapping: AddressMapping::default_with_interleave(interleave),
            read_queue_depth: DEFAULT_QUEUE_DEPTH,
            write_queue_depth: DEFAULT_QUEUE_DEPTH,
            bank_queue_depth: u32::MAX,
            admission_lookahead: 1,
            // Measured on HBM3 random and copy mixes: draining from 7/8 down to 1/4 of the
            // queue beat 3/4→1/4, 15/16→1/16 and full→empty (a full write queue blocks the
            // input).
            write_high_watermark: DEFAULT_QUEUE_DEPTH * 7 / 8,
            write_low_watermark: DEFAULT_QUEUE_DEPTH / 4,
            row_hit_cap: DEFAULT_ROW_HIT_CAP,
            controller_latency_cycles: 0,
            dual_command_bus: kind.is_hbm(),
            refresh: RefreshMode::default_for(kind),
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// The memory of a built-in chip preset.
    pub fn from_preset(name: &str) -> Result<MemConfig, Error> {
        let chip = seedchip_chip::presets::get(name)
            .ok_or_else(|| Error::Unsupported(format!("no chip preset named `{name}`")))?;
        MemConfig::from_chip(&chip.memory)
    }

    /// Checks the invariants the model relies on (after hand edits of the public fields).
    pub fn check(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Unsupported(m));
        if self.burst_bytes() == 0 || !self.burst_bytes().is_power_of_two() {
            return bad(format!("burst of {} bytes", self.burst_bytes()));
        }
        if !self.page_bytes.is_power_of_two() || self.page_bytes < self.burst_bytes() {
            return bad(format!(
                "page of {} bytes with {}-byte bursts",
                self.page_bytes,
                self.burst_bytes()
            ));
        }
        let il = self.mapping.interleave_bytes;
        if !il.is_power_of_two() || il < self.burst_bytes() || il > self.page_bytes {
            return bad(format!(
                "interleave of {il} bytes: must be a power of two from one burst ({} B) to one \
                 page ({} B)",
                self.burst_bytes(),
                self.page_bytes
            ));
        }
        if self.read_queue_depth == 0
            || self.write_queue_depth == 0
            || self.bank_queue_depth == 0
            || self.admission_lookahead == 0
        {
            return bad("queue depths and the admission look-ahead must be at least 1".into());
        }
        if self.write_low_watermark >= self.write_high_watermark.max(1)
            || self.write_high_watermark > self.write_queue_depth
        {
            return bad(format!(
                "write watermarks {}..{} with a queue of {}",
                self.write_low_watermark, self.write_high_watermark, self.write_queue_depth
            ));
        }
        if self.bank_groups * self.banks_per_group > 64 {
            return bad("more than 64 banks per pseudo-channel".into());
        }
        if self.rows_per_bank == 0 || self.channels == 0 || self.pseudo_channels == 0 {
            return bad("empty geometry".into());
        }
        let t = &self.timing;
        if t.tburst == 0 || t.tccd_s < t.tburst || t.tccd_l < t.tccd_s {
            return bad("need tBURST >= 1 and tCCD_L >= tCCD_S >= tBURST".into());
        }
        match self.refresh {
            RefreshMode::AllBank if t.trefi <= t.trfc => {
                return bad("tREFI must exceed tRFC".into());
            }
            RefreshMode::PerBank
                if t.trefi / self.banks_per_pchannel() == 0 || t.trefi <= t.trfc_pb =>
            {
                return bad("tREFI must exceed tRFCpb and leave a cycle per bank".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// Bytes moved by one burst of one pseudo-channel.
    pub fn burst_bytes(&self) -> u32 {
        self.pch_width_bits / 8 * self.burst_length
    }

    /// Independent pseudo-channels in the package.
    pub fn total_pchannels(&self) -> u32 {
        self.channels * self.pseudo_channels
    }

    pub fn banks_per_pchannel(&self) -> u32 {
        self.bank_groups * self.banks_per_group
    }

    /// Peak bandwidth in GB/s: every pseudo-channel's data bus busy all the time.
    pub fn peak_gbps(&self) -> f64 {
        f64::from(self.total_pchannels()) * f64::from(self.burst_bytes())
            / (f64::from(self.timing.tburst) * self.tck_ns)
    }

    /// Peak bytes per cycle.
    pub fn peak_bytes_per_cycle(&self) -> f64 {
        f64::from(self.total_pchannels()) * f64::from(self.burst_bytes())
            / f64::from(self.timing.tburst)
    }

    /// Addressable bytes (the mapping wraps above this).
    pub fn capacity_bytes(&self) -> u64 {
        u64::from(self.total_pchannels())
            * u64::from(self.banks_per_pchannel())
            * u64::from(self.rows_per_bank)
            * u64::from(self.page_bytes)
    }

    /// Unloaded latency of a read of `bursts` consecutive bursts in one row, from arrival to
    /// the last data beat, when the bank is precharged (`row_open = false`: ACT, tRCD, READs)
    /// or already has the row open (a row hit):
    /// `[tRCD] + tCL + (bursts − 1) × tCCD_L + tBURST + controller latency`.
    pub fn unloaded_read_latency(&self, bursts: u32, row_open: bool) -> u32 {
        let t = &self.timing;
        let act = if row_open { 0 } else { t.trcd };
        act + t.tcl + (bursts.max(1) - 1) * t.tccd_l + t.tburst + self.controller_latency_cycles
    }

    pub fn cycles_to_ns(&self, cycles: u64) -> f64 {
        cycles as f64 * self.tck_ns
    }

    /// Nanoseconds to cycles, rounding up.
    pub fn ns_to_cycles(&self, ns: f64) -> u64 {
        let c = (ns / self.tck_ns - 1e-6).ceil();
        if c <= 0.0 { 0 } else { c as u64 }
    }
}

/// A resolved memory description of `kind` with every default filled in: `count` stacks (HBM)
/// or channels (the others), 8 GiB per stack or 2 GiB per channel. For tests and experiments;
/// chips come from `seedchip_chip` with their own values.
pub fn default_memory(kind: MemoryKind, count: u32) -> Memory {
    let d = kind.defaults();
    let t = d.timing;
    let (stacks, channels, capacity) = if kind.is_hbm() {
        (Some(count), d.channels_per_stack, u64::from(count) << 33)
    } else {
        (None, count, u64::from(count) << 31)
    };
    let mut m = Memory {
        kind,
        stacks,
        channels: Some(channels),
        channel_width_bits: Some(d.channel_width_bits),
        pseudo_channels: Some(d.pseudo_channels),
        data_rate_mtps: Some(d.data_rate_mtps),
        capacity_bytes: capacity,
        bandwidth_gbps: None,
        bank_groups: Some(d.bank_groups),
        banks_per_group: Some(d.banks_per_group),
        page_policy: Some(PagePolicy::Open),
        timing: MemoryTiming {
            trcd_ns: Some(t.trcd_ns),
            trp_ns: Some(t.trp_ns),
            tcl_ns: Some(t.tcl_ns),
            tras_ns: Some(t.tras_ns),
            trrd_ns: Some(t.trrd_ns),
            tfaw_ns: Some(t.tfaw_ns),
            tccd_ns: Some(t.tccd_ns),
            trfc_ns: Some(t.trfc_ns),
            trefi_ns: Some(t.trefi_ns),
            burst_length: Some(t.burst_length),
        },
    };
    m.bandwidth_gbps = m.derived_bandwidth_gbps();
    m
}

/// `ceil(t / tck)` with a small tolerance, at least 1.
pub(crate) fn ns_to_cycles(t_ns: f64, tck_ns: f64) -> u32 {
    let c = (t_ns / tck_ns - 1e-6).ceil();
    if c.is_finite() && c >= 1.0 {
        c.min(f64::from(u32::MAX)) as u32
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_jedec_ceil() {
        assert_eq!(ns_to_cycles(14.0, 1.0), 14);
        assert_eq!(ns_to_cycles(14.0, 2000.0 / 2400.0), 17);
        assert_eq!(ns_to_cycles(2.0, 2000.0 / 2400.0), 3);
        assert_eq!(ns_to_cycles(0.1, 1.0), 1);
    }

    #[test]
    fn every_kind_converts() {
        for kind in MemoryKind::ALL {
            let cfg = MemConfig::from_chip(&default_memory(kind, 2)).unwrap();
            let given = default_memory(kind, 2).bandwidth_gbps.unwrap();
            assert!((cfg.peak_gbps() - given).abs() < 1e-6 * given, "{kind}");
            assert!(cfg.capacity_bytes() <= default_memory(kind, 2).capacity_bytes);
        }
    }

    #[test]
    fn every_preset_converts_and_keeps_its_peak() {
        for chip in seedchip_chip::presets::all() {
            let cfg = MemConfig::from_chip(&chip.memory).unwrap();
            let given = chip.memory.bandwidth_gbps.unwrap();
            assert!(
                (cfg.peak_gbps() - given).abs() < 0.02 * given,
                "{}: model peak {} vs chip {given}",
                chip.name,
                cfg.peak_gbps()
            );
        }
    }
}
