//! `seedchip sweep`: design-space exploration (docs/sweep.md). `sweep FILE -o results.jsonl`
//! runs or resumes a sweep (a shard of it with `--shard K/N`), `sweep merge` joins shards, and
//! `sweep report` writes Pareto fronts, sensitivities and the best designs.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use seedchip_sweep::spec::Objective;
use seedchip_sweep::{Error, Event, RunOptions};
use serde::Serialize;

use crate::exit::{print_json, print_text, user};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    command: Option<SweepCommand>,
    /// The sweep file (docs/sweep.md).
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Results file (JSON Lines); points already in it are skipped.
    #[arg(short = 'o', long = "output", required = true)]
    output: Option<PathBuf>,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard K of N (1-based), e.g. --shard 3/8.
    #[arg(long)]
    shard: Option<String>,
    /// Evaluate at most this many new points, then stop (run again to continue).
    #[arg(long)]
    limit: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum SweepCommand {
    /// Join results files (shards): deduplicated, sorted by point id.
    Merge {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Pareto fronts, sensitivities and the best designs, as report.json and report.html.
    Report {
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Objectives, comma-separated (default: perf_per_w,usd_per_million_samples).
        #[arg(long)]
        objectives: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn sweep_err(e: Error) -> anyhow::Error {
    let hints = e.hints();
    let refs: Vec<&str> = hints.iter().map(String::as_str).collect();
    user(e.to_string(), &refs)
}

pub fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(SweepCommand::Merge { inputs, output }) => merge(&inputs, &output),
        Some(SweepCommand::Report {
            input,
            out,
            objectives,
            json,
        }) => report(&input, &out, objectives.as_deref(), json),
        None => run_sweep(args),
    }
}

fn parse_shard(s: &str) -> anyhow::Result<(u64, u64)> {
    let bad = || {
        user(
            format!("--shard {s}: expected K/N with 1 <= K <= N"),
            &["e.g. --shard 1/4 ... --shard 4/4 cover the sweep"],
        )
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: u64 = k.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

#[derive(Serialize)]
struct RunDoc<'a> {
    schema_version: u32,
    sweep: &'a str,
    output: String,
    shard: Option<String>,
    points: u64,
    evaluated: u64,
    skipped: u64,
    feasible: u64,
    infeasible: u64,
    complete: bool,
}

/// Draws `[====>   ] done/total` with elapsed time and ETA on stderr: redrawn in place on a
/// terminal, a line every ~5 % otherwise (logs of cluster jobs).
struct Bar {
    tty: bool,
    quiet: bool,
    start: Instant,
    total: u64,
    done: u64,
    new: u64,
    new_start: Instant,
    infeasible: u64,
    last_pct: u64,
}

fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl Bar {
    fn event(&mut self, e: Event) {
        match e {
            Event::Start { todo, done_before } => {
                self.total += todo + done_before;
                self.done += done_before;
                self.new_start = Instant::now();
                self.new = 0;
            }
            Event::Point { feasible } => {
                self.done += 1;
                self.new += 1;
                if !feasible {
                    self.infeasible += 1;
                }
            }
        }
        self.draw();
    }

    fn draw(&mut self) {
        if self.quiet || self.total == 0 {
            return;
        }
        let pct = 100 * self.done / self.total;
        if !self.tty && pct < self.last_pct + 5 && self.done < self.total {
            return;
        }
        self.last_pct = pct;
        let width = 30u64;
        let filled = (width * self.done / self.total) as usize;
        let rate = self.new as f64 / self.new_start.elapsed().as_secs_f64().max(1e-9);
        let eta = if self.new > 0 {
            hms((self.total - self.done) as f64 / rate)
        } else {
            "?".into()
        };
        let line = format!(
            "[{}{}] {}/{} points ({} infeasible), {} elapsed, ETA {}",
            "=".repeat(filled),
            " ".repeat(width as usize - filled),
            self.done,
            self.total,
            self.infeasible,
            hms(self.start.elapsed().as_secs_f64()),
            eta
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r{line}\x1b[K");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.tty && !self.quiet && self.total > 0 {
            eprintln!();
        }
    }
}

fn run_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let file = args.file.expect("clap requires the sweep file");
    let output = args.output.expect("clap requires -o");
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let jobs = match args.jobs {
        Some(0) => return Err(user("--jobs must be at least 1", &[])),
        Some(j) => j,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let spec = seedchip_sweep::load(&file).map_err(sweep_err)?;
    let ev = seedchip_sweep::Evaluator::new(spec).map_err(sweep_err)?;
    let opts = RunOptions {
        output: output.clone(),
        jobs,
        shard,
        limit: args.limit,
    };
    let mut bar = Bar {
        tty: std::io::stderr().is_terminal(),
        quiet: args.quiet,
        start: Instant::now(),
        total: 0,
        done: 0,
        new: 0,
        new_start: Instant::now(),
        infeasible: 0,
        last_pct: 0,
    };
    let summary = seedchip_sweep::run(&ev, &opts, &mut |e| bar.event(e)).map_err(sweep_err)?;
    bar.finish();
    if !args.quiet {
        let stats = ev.caches.stats();
        eprintln!(
            "{} points ({} evaluated now, {} already done; {} feasible, {} infeasible) in {:.1} s; \
             compiles {} (+{} reused), memory calibrations {}{}",
            summary.points,
            summary.evaluated,
            summary.skipped,
            summary.feasible,
            summary.infeasible,
            bar.start.elapsed().as_secs_f64(),
            stats.compile_misses,
            stats.compile_hits,
            stats.memory_calibrations,
            if summary.complete {
                String::new()
            } else {
                format!(
                    "; stopped by --limit, run again to continue into {}",
                    output.display()
                )
            }
        );
    }
    if args.json {
        print_json(&RunDoc {
            schema_version: seedchip_sweep::SCHEMA_VERSION,
            sweep: &ev.sweep_hash,
            output: output.display().to_string(),
            shard: shard.map(|(k, n)| format!("{k}/{n}")),
            points: summary.points,
            evaluated: summary.evaluated,
            skipped: summary.skipped,
            feasible: summary.feasible,
            infeasible: summary.infeasible,
            complete: summary.complete,
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

fn merge(inputs: &[PathBuf], output: &Path) -> anyhow::Result<ExitCode> {
    let (text, stats) = seedchip_sweep::results::merge(inputs).map_err(sweep_err)?;
    for t in &stats.truncated {
        eprintln!("warning: {t}: its last line is cut off (an interrupted run) and was left out");
    }
    seedchip_sweep::results::write_atomically(output, &text).map_err(sweep_err)?;
    eprintln!(
        "{} points from {} lines ({} duplicates) into {}",
        stats.points,
        stats.lines,
        stats.duplicates,
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn report(
    input: &Path,
    out: &Path,
    objectives: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let objs: Vec<Objective> = match objectives {
        None => vec![Objective::PerfPerW, Objective::UsdPerMillionSamples],
        Some(list) => list
            .split(',')
            .map(|s| {
                Objective::parse(s.trim()).ok_or_else(|| {
                    user(
                        format!("unknown objective `{}`", s.trim()),
                        &[&format!(
                            "objectives: {}",
                            seedchip_sweep::spec::OBJECTIVES
                                .map(Objective::name)
                                .join(", ")
                        )],
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?,
    };
    if objs.is_empty() {
        return Err(user("--objectives lists no objective", &[]));
    }
    let lines = seedchip_sweep::results::read(input, None).map_err(sweep_err)?;
    if lines.by_id.is_empty() {
        return Err(user(
            format!("{}: no results", input.display()),
            &["run `seedchip sweep FILE -o RESULTS` first"],
        ));
    }
    let records: Vec<seedchip_sweep::Record> = lines.by_id.into_values().map(|(r, _)| r).collect();
    let rep = seedchip_sweep::report::build(&records, &objs);
    let html = seedchip_sweep::report::html(&rep, &records);
    std::fs::create_dir_all(out)
        .map_err(|e| user(format!("cannot create {}: {e}", out.display()), &[]))?;
    let json_text = serde_json::to_string_pretty(&rep)? + "\n";
    seedchip_sweep::results::write_atomically(&out.join("report.json"), &json_text)
        .map_err(sweep_err)?;
    seedchip_sweep::results::write_atomically(&out.join("report.html"), &html)
        .map_err(sweep_err)?;
    if json {
        print_json(&rep)?;
    } else {
        let mut s = format!(
            "{} points, {} feasible; {} Pareto-optimal designs\n",
            rep.points,
            rep.feasible,
            rep.pareto.len()
        );
        for f in &rep.findings {
            s.push_str(f);
            s.push('\n');
        }
        s.push_str(&format!(
            "wrote {} and {}\n",
            out.join("report.json").display(),
            out.join("report.html").display()
        ));
        print_text(&s)?;
    }
    Ok(ExitCode::SUCCESS)
}
