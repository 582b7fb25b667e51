//! Running a sweep: the points of this shard not yet in the results file, evaluated on `jobs`
//! threads, each record appended as it finishes; when every point is done the file is
//! rewritten sorted by point id, so a finished run's bytes depend only on the sweep and the
//! shard, never on thread count, timing or interruptions.

use std::collections::{BTreeMap, BTreeSet};

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::Error;
use crate::eval::{Evaluator, Record};
use crate::results::{self, Appender};
use crate::space::{self, Point};
use crate::spec::Mode;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub output: PathBuf,
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// Shard `k` of `n`, 1-based.
    pub shard: Option<(u64, u64)>,
    /// Evaluate at most this many new points in this invocation, then stop (re-run to go on).
    pub limit: Option<u64>,
}

/// Progress events, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A batch of `todo` points starts; `done_before` were already in the results file.
    Start { todo: u64, done_before: u64 },
    /// One more point finished.
    Point { feasible: bool },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Points in this shard's space (guided: points the search visited).
    pub points: u64,
    pub evaluated: u64,
    pub skipped: u64,
    pub feasible: u64,
    pub infeasible: u64,
    /// Every point is done and the file was rewritten sorted.
    pub complete: bool,
}

/// Runs (or resumes) a sweep into `opts.output`.
pub fn run(
    ev: &Evaluator,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<Summary, Error> {
    let spec = &ev.spec;
    if let Some((k, n)) = opts.shard
        && (n == 0 || k == 0 || k > n)
    {
        return Err(Error::Usage(format!("--shard {k}/{n}: K must be 1..=N")));
    }
    if spec.search.mode == Mode::Guided && opts.shard.is_some_and(|(_, n)| n > 1) {
        return Err(Error::Usage(
            "guided search is sequential (each round follows the best designs so far) and \
             cannot be sharded; shard a grid or random sweep, or run guided search in one process"
                .into(),
        ));
    }
    let lines = results::read(&opts.output, Some(&ev.sweep_hash))?;
    let mut known: BTreeMap<String, (Record, String)> = lines.by_id;
    let mut appender = Appender::open(&opts.output, lines.valid_bytes)?;
    let in_shard = |p: &Point| opts.shard.is_none_or(|(k, n)| space::in_shard(p.id, k, n));
    let mut summary = Summary::default();
    let mut budget = opts.limit.unwrap_or(u64::MAX);

    let mut visited: Vec<Point> = Vec::new();
    let mut round: Vec<Point> = space::enumerate(spec)
        .into_iter()
        .filter(|p| in_shard(p))
        .collect();
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    loop {
        round.retain(|p| seen.insert(p.id));
        if spec.search.mode == Mode::Guided {
            let room = spec.search.points.saturating_sub(visited.len() as u64) as usize;
            round.truncate(room);
        }
        if round.is_empty() {
            break;
        }
        let pending: Vec<&Point> = round
            .iter()
            .filter(|p| !known.contains_key(&p.id_hex()))
            .collect();
        let take = pending
            .len()
            .min(usize::try_from(budget).unwrap_or(usize::MAX));
        let stopped = take < pending.len();
        let todo = &pending[..take];
        summary.skipped += (round.len() - pending.len()) as u64;
        progress(Event::Start {
            todo: todo.len() as u64,
            done_before: (round.len() - pending.len()) as u64,
        });
        evaluate_all(ev, todo, opts.jobs.max(1), |rec, line| {
            appender.push(&line)?;
            progress(Event::Point {
                feasible: rec.feasible,
            });
            summary.evaluated += 1;
            known.insert(rec.id.clone(), (rec, line));
            Ok(())
        })?;
        budget -= todo.len() as u64;
        visited.append(&mut round);
        if stopped {
            summary.points = visited.len() as u64;
            tally(&mut summary, &visited, &known);
            return Ok(summary);
        }
        if spec.search.mode != Mode::Guided {
            break;
        }
        round = next_round(ev, &visited, &known);
    }
    summary.points = visited.len() as u64;
    tally(&mut summary, &visited, &known);
    summary.complete = true;
    drop(appender);
    results::write_atomically(&opts.output, &results::sorted_text(&known))?;
    Ok(summary)
}

fn tally(s: &mut Summary, visited: &[Point], known: &BTreeMap<String, (Record, String)>) {
    for p in visited {
        if let Some((r, _)) = known.get(&p.id_hex()) {
            if r.feasible {
                s.feasible += 1;
            } else {
                s.infeasible += 1;
            }
        }
    }
}

/// Guided search: the neighbours (one level away along one parameter) of the `beam` best
/// feasible designs visited so far, toward the search objective, in id order.
fn next_round(
    ev: &Evaluator,
    visited: &[Point],
    known: &BTreeMap<String, (Record, String)>,
) -> Vec<Point> {
    let obj = ev.spec.search.objective;
    let mut scored: Vec<(f64, u64, &Point)> = visited
        .iter()
        .filter_map(|p| {
            let (r, _) = known.get(&p.id_hex())?;
            let v = *r.objectives.get(obj.name())?;
            r.feasible
                .then_some((if obj.maximize() { -v } else { v }, p.id, p))
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let visited_ids: BTreeSet<u64> = visited.iter().map(|p| p.id).collect();
    let mut next: BTreeMap<u64, Point> = BTreeMap::new();
    for (_, _, p) in scored.iter().take(ev.spec.search.beam as usize) {
        for n in space::neighbours(&ev.spec.params, p) {
            if !visited_ids.contains(&n.id) {
                next.insert(n.id, n);
            }
        }
    }
    next.into_values().collect()
}

/// Evaluates points on `jobs` threads and hands each (record, line) to `on_done` as it
/// finishes; an error from `on_done` stops the workers.
fn evaluate_all(
    ev: &Evaluator,
    points: &[&Point],
    jobs: usize,
    mut on_done: impl FnMut(Record, String) -> Result<(), Error>,
) -> Result<(), Error> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<(Record, String)>();
        for _ in 0..jobs.min(points.len().max(1)) {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = points.get(i) else { break };
                    let rec = evaluate_caught(ev, p);
                    let line =
                        serde_json::to_string(&rec).expect("internal error: a record serializes");
                    if tx.send((rec, line)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (rec, line) in rx.iter() {
            if let Err(e) = on_done(rec, line) {
                // Stop handing out work; running evaluations finish and are dropped.
                next.store(points.len(), Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    })
}

/// A panic inside the compiler or timing model is a bug, but one design must not end a sweep
/// of thousands: it becomes an infeasible record naming the bug.
fn evaluate_caught(ev: &Evaluator, p: &Point) -> Record {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.evaluate(p))) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            let mut r = ev.skeleton(p);
            r.stage = Some("internal".into());
            r.reason = Some(format!("internal error (a seedchip bug): {msg}"));
            r
        }
    }
}
