//! `--check-races`: verifies that a program is well synchronised (docs/isa.md "Semaphores").
//!
//! Funcsim runs one legal schedule; hardware (and the timing model) may run another. The two
//! agree exactly when every pair of conflicting accesses (same byte, different queue or core,
//! at least one a write) is ordered by a chain of signal→wait edges. This module checks that
//! with vector clocks:
//! * an *agent* is one queue of one core: instructions of a queue complete in order, different
//!   queues are unordered;
//! * each instruction ticks its agent's clock; waiting for `sem ≥ v` joins the clocks of the
//!   first `v` signals of `sem` (the counter only reached `v` after all of them);
//! * memory keeps, per byte range, the last write and the last read of each agent since; an
//!   access that is not ordered after a conflicting one is a race.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use seedchip_isa::{Queue, Sem, Wait};

use crate::fault::{FaultKind, Region, Site};

#[derive(Debug, Clone)]
struct Access {
    agent: usize,
    epoch: u32,
    site: Arc<Site>,
}

#[derive(Debug, Clone)]
struct Cell {
    end: u64,
    write: Option<Access>,
    reads: Vec<Access>,
}

/// Semaphores are keyed by owning core (`None` for chip semaphores) and index.
type SemKey = (Option<u32>, u8);

#[derive(Debug)]
pub(crate) struct Races {
    cores: Vec<u32>,
    clocks: Vec<Vec<u32>>,
    current: usize,
    site: Arc<Site>,
    /// `prefix[v - 1]`: join of the clocks of the first `v` signals.
    prefix: HashMap<SemKey, Vec<Vec<u32>>>,
    cells: BTreeMap<(Region, u64), Cell>,
    fault: Option<FaultKind>,
}

fn queue_index(q: Queue) -> usize {
    Queue::ALL.iter().position(|&x| x == q).unwrap_or(0)
}

fn join(into: &mut [u32], from: &[u32]) {
    for (a, &b) in into.iter_mut().zip(from) {
        *a = (*a).max(b);
    }
}

impl Races {
    pub(crate) fn new(cores: impl Iterator<Item = u32>) -> Races {
        let cores: Vec<u32> = cores.collect();
        let agents = cores.len() * Queue::ALL.len();
        Races {
            cores,
            clocks: vec![vec![0; agents]; agents],
            current: 0,
            site: Arc::new(Site {
                core: 0,
                pc: 0,
                index: 0,
                inst: String::new(),
            }),
            prefix: HashMap::new(),
            cells: BTreeMap::new(),
            fault: None,
        }
    }

    fn agent(&self, core: u32, queue: Queue) -> usize {
        let c = self.cores.iter().position(|&x| x == core).unwrap_or(0);
        c * Queue::ALL.len() + queue_index(queue)
    }

    fn key(core: u32, sem: Sem) -> SemKey {
        (if sem.is_chip() { None } else { Some(core) }, sem.code())
    }

    /// An instruction of `(core, queue)` starts after its waits are satisfied.
    pub(crate) fn begin(
        &mut self,
        core: u32,
        queue: Queue,
        wait: Option<Wait>,
        extra: &[(Sem, u32)],
    ) {
        let a = self.agent(core, queue);
        self.current = a;
        self.clocks[a][a] += 1;
        let waits = wait
            .map(|w| (w.sem, w.value))
            .into_iter()
            .chain(extra.iter().copied());
        self.join_all(core, a, waits);
    }

    /// A barrier finishing its wait (its tick happened at arrival).
    pub(crate) fn join_waits(&mut self, core: u32, queue: Queue, extra: &[(Sem, u32)]) {
        let a = self.agent(core, queue);
        self.current = a;
        self.join_all(core, a, extra.iter().copied());
    }

    fn join_all(&mut self, core: u32, a: usize, waits: impl Iterator<Item = (Sem, u32)>) {
        for (sem, value) in waits {
            if value == 0 {
                continue;
            }
            if let Some(c) = self
                .prefix
                .get(&Races::key(core, sem))
                .and_then(|p| p.get(value as usize - 1))
            {
                let c = c.clone();
                join(&mut self.clocks[a], &c);
            }
        }
    }

    pub(crate) fn set_site(&mut self, site: Site) {
        self.site = Arc::new(site);
    }

    /// The current agent signals `sem`, which now holds `value`.
    pub(crate) fn signal(&mut self, core: u32, sem: Sem, value: u32) {
        let clock = self.clocks[self.current].clone();
        let list = self.prefix.entry(Races::key(core, sem)).or_default();
        let mut joined = list.last().cloned().unwrap_or_else(|| vec![0; clock.len()]);
        join(&mut joined, &clock);
        debug_assert_eq!(list.len() + 1, value as usize);
        list.push(joined);
    }

    /// The current instruction accesses `rows` rows of `len` bytes, `stride` bytes apart.
    pub(crate) fn tile(
        &mut self,
        region: Region,
        addr: u64,
        rows: u64,
        len: u64,
        stride: u64,
        write: bool,
    ) {
        if rows == 0 || len == 0 || self.fault.is_some() {
            return;
        }
        if rows == 1 || stride <= len {
            let end = addr + (rows - 1) * stride + len;
            self.access(region, addr, end, write);
        } else {
            for r in 0..rows {
                let s = addr + r * stride;
                self.access(region, s, s + len, write);
            }
        }
    }

    fn split(&mut self, region: Region, at: u64) {
        if let Some((&(r, s), cell)) = self.cells.range(..(region, at)).next_back()
            && r == region
            && cell.end > at
        {
            let mut right = cell.clone();
            right.end = cell.end;
            if let Some(c) = self.cells.get_mut(&(r, s)) {
                c.end = at;
            }
            self.cells.insert((region, at), right);
        }
    }

    fn access(&mut self, region: Region, start: u64, end: u64, write: bool) {
        self.split(region, start);
        self.split(region, end);
        let a = self.current;
        let clock = &self.clocks[a];
        let me = Access {
            agent: a,
            epoch: clock[a],
            site: self.site.clone(),
        };
        let unordered = |x: &Access| x.agent != a && clock[x.agent] < x.epoch;
        let mut gaps = Vec::new();
        let mut pos = start;
        for (&(_, s), cell) in self.cells.range_mut((region, start)..(region, end)) {
            if s > pos {
                gaps.push((pos, s));
            }
            pos = cell.end;
            if self.fault.is_none() {
                let conflict = match &cell.write {
                    Some(w) if unordered(w) => Some((w, true)),
                    _ if write => cell.reads.iter().find(|r| unordered(r)).map(|r| (r, false)),
                    _ => None,
                };
                if let Some((first, first_writes)) = conflict {
                    self.fault = Some(FaultKind::Race {
                        region,
                        addr: s,
                        first: Box::new((*first.site).clone()),
                        first_writes,
                        second_writes: write,
                    });
                }
            }
            if write {
                cell.write = Some(me.clone());
                cell.reads.clear();
            } else if let Some(r) = cell.reads.iter_mut().find(|r| r.agent == a) {
                *r = me.clone();
            } else {
                cell.reads.push(me.clone());
            }
        }
        if pos < end {
            gaps.push((pos, end));
        }
        for (s, e) in gaps {
            let cell = if write {
                Cell {
                    end: e,
                    write: Some(me.clone()),
                    reads: Vec::new(),
                }
            } else {
                Cell {
                    end: e,
                    write: None,
                    reads: vec![me.clone()],
                }
            };
            self.cells.insert((region, s), cell);
        }
    }

    pub(crate) fn take_fault(&self) -> Option<FaultKind> {
        self.fault.clone()
    }
}
