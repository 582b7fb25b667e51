//! Chrome / Perfetto trace-event JSON: one track per unit, one slice per instruction.
//!
//! The format is the JSON "Trace Event Format" both chrome://tracing and ui.perfetto.dev load:
//! `{"traceEvents": [...]}` with complete events (`"ph": "X"`, `ts` and `dur` in microseconds)
//! and metadata events naming processes (a core, or the chip's shared engines) and threads
//! (a queue, or an engine).

use serde_json::{Value, json};

use crate::event::Cycle;

/// One slice: an instruction on a queue, or a job on an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub track: Track,
    pub name: String,
    pub start: Cycle,
    pub end: Cycle,
    /// Instruction index in its core's stream.
    pub index: u32,
}

/// Where a slice is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    Queue { core: u32, queue: u8 },
    Engine { engine: u32 },
}

/// Slices collected during a run.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub clock_mhz: f64,
    pub slices: Vec<Slice>,
    pub engine_names: Vec<String>,
    pub queue_names: Vec<&'static str>,
}

const ENGINE_PID: u32 = 1_000_000;

impl Trace {
    fn ids(&self, t: Track) -> (u32, u32) {
        match t {
            Track::Queue { core, queue } => (core, u32::from(queue)),
            Track::Engine { engine } => (ENGINE_PID, engine),
        }
    }

    /// The trace as JSON text.
    pub fn to_json(&self) -> String {
        let us = |c: Cycle| c as f64 / self.clock_mhz;
        let mut events: Vec<Value> = Vec::new();
        let mut tracks: Vec<Track> = self.slices.iter().map(|s| s.track).collect();
        tracks.sort();
        tracks.dedup();
        let mut pids: Vec<u32> = tracks.iter().map(|&t| self.ids(t).0).collect();
        pids.dedup();
        for pid in pids {
            let name = if pid == ENGINE_PID {
                "engines".to_string()
            } else {
                format!("core {pid}")
            };
            events.push(
                json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                "args": {"name": name}}),
            );
        }
        for &t in &tracks {
            let (pid, tid) = self.ids(t);
            let name = match t {
                Track::Queue { queue, .. } => self.queue_names[queue as usize].to_string(),
                Track::Engine { engine } => self.engine_names[engine as usize].clone(),
            };
            events.push(
                json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                "args": {"name": name}}),
            );
        }
        for s in &self.slices {
            let (pid, tid) = self.ids(s.track);
            events.push(json!({"ph": "X", "name": s.name, "pid": pid, "tid": tid,
                "ts": us(s.start), "dur": us(s.end - s.start),
                "args": {"index": s.index, "start_cycle": s.start, "end_cycle": s.end}}));
        }
        let doc = json!({"displayTimeUnit": "ns", "traceEvents": events});
        serde_json::to_string(&doc).expect("trace JSON serializes")
    }
}
