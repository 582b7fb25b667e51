//! SCALE-Sim's stall-free memory model (`InterfaceBandwidth: CALC`), reproduced in closed form
//! per buffer event rather than per address, for its report columns: "Total Cycles (incl.
//! prefetch)" and the DRAM bandwidths.
//!
//! What SCALE-Sim does (v3.0.0, `memory/read_buffer_estimate_bw.py`, `memory/write_buffer.py`):
//! - Each read buffer (IFMAP, filter) of `S` words groups newly seen addresses into sets of
//!   `⌊S/100⌋`. Only the sets filled since the last "trigger" count as resident; a trigger fires
//!   each time 50 more sets fill, and the sets before it are forgotten (so an address re-read
//!   after a trigger is fetched again). Its DRAM trace starts `⌈50·set/10⌉` cycles before the
//!   first demand if a trigger fires, else `⌈sets·set/10⌉` cycles before cycle 0 (10 words per
//!   cycle); it ends one cycle after the last trigger (or at −1).
//! - The OFMAP buffer of `S` words drains `⌈(S/2)/C⌉` lines of `C` words to DRAM whenever more
//!   than `S/2` words are pending and no drain is in flight, and drains the rest, line by line,
//!   after the last compute cycle. A drain closes the partly filled line, and a closed partial
//!   line counts as full unless it is the last line of its drain (SCALE-Sim's over-count of
//!   DRAM writes, reproduced).
//!
//! "Total Cycles (incl. prefetch)" is the last OFMAP DRAM write cycle minus the earliest read
//! prefetch cycle.

use std::collections::VecDeque;

use super::super::stream::Stream;

/// How the folds of one operand revisit addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// Every fold reads its own addresses (ws filter, is IFMAP).
    Unique,
    /// Row folds read disjoint slices and the whole operand is re-read once per column fold
    /// (ws and os IFMAP, is filter).
    Cyclic,
    /// Consecutive row folds re-read the same slice (os filter).
    Repeated,
}

/// A DRAM access span as SCALE-Sim's detailed report gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DramSpan {
    pub start_cycle: i64,
    pub stop_cycle: i64,
    pub words: u64,
}

impl DramSpan {
    /// Average words per cycle over the span, as SCALE-Sim computes it.
    pub fn bandwidth(&self) -> f64 {
        let cycles = self.stop_cycle - self.start_cycle + 1;
        crate::systolic::ratio_f64(self.words as u128, cycles.max(1) as u128)
    }
}

/// The read side of one operand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadSide<'a> {
    pub stream: &'a Stream,
    pub sram_kb: u64,
    /// Distinct valid addresses the operand has.
    pub unique: u128,
    pub reuse: Reuse,
    /// Whether the stream's requests are all distinct valid addresses within a fold (false for
    /// convolutions whose windows overlap or hang over the edge).
    pub distinct: bool,
}

/// The result for one read buffer, and whether it is exactly SCALE-Sim's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadResult {
    pub span: DramSpan,
    pub exact: bool,
}

pub(crate) fn read_buffer(side: ReadSide<'_>) -> ReadResult {
    let set = (side.sram_kb * 1024 / 100) as u128;
    assert!(set > 0, "read buffer of {} kB has no sets", side.sram_kb);
    let trigger = 50 * set;
    if side.unique < trigger {
        // Everything fits in the first 50 sets: one prefetch before cycle 0, then all hits.
        let sets = side.unique.div_ceil(set);
        let cycles = (sets * set).div_ceil(10) as i64;
        return ReadResult {
            span: DramSpan {
                start_cycle: -cycles,
                stop_cycle: -1,
                words: side.unique as u64,
            },
            exact: true,
        };
    }
    let first = side.stream.first_line() as i64;
    let start_cycle = first - trigger.div_ceil(10) as i64;
    let (misses, last_trigger_line) = match side.reuse {
        // Re-reads come a whole pass (≥ 50 sets of insertions) later: always forgotten.
        Reuse::Unique | Reuse::Cyclic => {
            let total = side.stream.total();
            (total, side.stream.line_of(total / trigger * trigger))
        }
        Reuse::Repeated => repeated_misses(side.stream, trigger),
    };
    ReadResult {
        span: DramSpan {
            start_cycle,
            stop_cycle: last_trigger_line as i64 + 1,
            words: misses as u64,
        },
        exact: side.distinct,
    }
}

/// os filter: each column fold's slice is read by `rf` consecutive folds. The resident part of
/// the slice is always a suffix of its read order: a pass misses the prefix, and a trigger in a
/// pass forgets everything before it, so the rest of that pass misses too.
fn repeated_misses(stream: &Stream, trigger: u128) -> (u128, u64) {
    let (rf, cf) = (stream.grid.rf, stream.grid.cf);
    let mut inserted: u128 = 0;
    let mut last_line = 0u64;
    for fc in 0..cf {
        let b = stream.pattern(0, fc).count() as u128;
        let mut missing = b; // reads of the prefix [0, missing) miss
        for fr in 0..rf {
            if missing == 0 {
                break;
            }
            let next = (inserted / trigger + 1) * trigger;
            if inserted + missing < next {
                inserted += missing;
                missing = 0;
                continue;
            }
            let end = inserted + b;
            let last = end / trigger * trigger;
            let pos = (last - inserted - 1) as u64;
            last_line = stream.line_in_fold(fc * rf + fr, pos);
            inserted = end;
            missing = pos as u128 + 1;
        }
    }
    (inserted, last_line)
}

/// The OFMAP buffer could fill up while a drain is in flight: SCALE-Sim would stall the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {sram_kb} kB OFMAP SRAM fills while draining at cycle {cycle}: SCALE-Sim would stall \
     here, and memory stalls are not modelled"
)]
pub struct OfmapStall {
    pub sram_kb: u64,
    pub cycle: u64,
}

/// Lines written to the OFMAP buffer's trace and not yet drained: runs of equal-size lines.
#[derive(Debug, Default)]
struct Lines {
    runs: VecDeque<(u64, u64)>, // (count, words per line)
}

impl Lines {
    fn push(&mut self, words: u64, width: u64) {
        if words / width > 0 {
            self.runs.push_back((words / width, width));
        }
        if !words.is_multiple_of(width) {
            self.runs.push_back((1, words % width));
        }
    }

    fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Takes up to `n` lines; returns (lines taken, words SCALE-Sim counts for them).
    fn take(&mut self, n: u64, width: u64) -> (u64, u64) {
        let (mut taken, mut last_words) = (0u64, 0u64);
        while taken < n {
            let Some(front) = self.runs.front_mut() else {
                break;
            };
            let k = front.0.min(n - taken);
            taken += k;
            last_words = front.1;
            front.0 -= k;
            if front.0 == 0 {
                self.runs.pop_front();
            }
        }
        // Every line counts `width` words except the unused slots of the last one.
        let words = if taken == 0 {
            0
        } else {
            (taken - 1) * width + last_words
        };
        (taken, words)
    }
}

pub(crate) fn ofmap_buffer(stream: &Stream, sram_kb: u64) -> Result<DramSpan, OfmapStall> {
    let size = (sram_kb * 1024) as u128;
    let drain_words = size - size.div_ceil(2);
    let width = stream.grid.cols;
    let drain_lines = (drain_words as u64).div_ceil(width);
    let total = stream.total();

    let mut lines = Lines::default();
    let (mut stored, mut credited) = (0u128, 0u128);
    let mut drain_end: u64 = 0; // SCALE-Sim starts with drain_end_cycle = 0
    let mut first_start: Option<u64> = None;
    let mut last_end: u64 = 0;
    let mut words: u64 = 0;
    loop {
        // Words written on cycles before drain_end wait for the drain in flight; the buffer must
        // not fill meanwhile.
        let waiting = if drain_end == 0 {
            0
        } else {
            stream.cum(drain_end - 1)
        };
        if waiting > stored && waiting - credited >= size {
            return Err(OfmapStall {
                sram_kb,
                cycle: stream.line_of(size + credited),
            });
        }
        let e = (stored + 1)
            .max(drain_words + credited + 1)
            .max(waiting + 1);
        if e > total {
            break;
        }
        let t = stream.line_of(e);
        lines.push((e - stored) as u64, width);
        let (n, w) = lines.take(drain_lines, width);
        words += w;
        credited += w as u128;
        first_start.get_or_insert(t);
        drain_end = t + n - 1;
        last_end = drain_end;
        stored = e;
    }
    // After the last compute cycle the rest drains back to back.
    lines.push((total - stored) as u64, width);
    let mut cycle = stream.total_lines() - 1;
    while !lines.is_empty() {
        let (n, w) = lines.take(drain_lines, width);
        words += w;
        first_start.get_or_insert(cycle);
        // A drain started during the run may still end later: the span ends at the latest.
        last_end = last_end.max(cycle + n - 1);
        cycle += n;
    }
    Ok(DramSpan {
        start_cycle: first_start.unwrap_or(cycle) as i64,
        stop_cycle: last_end as i64,
        words,
    })
}
