//! `cargo xtask bench mem [REQUESTS] [--dramsim3 DIR] [--dramsim3-only]`: the memory model's
//! speed.
//!
//! 1. The `mem_bench` example (release): requests per second of the detailed model (one thread,
//!    CPU and wall time; all threads, wall time) and of the fast model, on HBM3, HBM2E, HBM2
//!    and LPDDR5 memories, random and streaming traces.
//! 2. With a DRAMsim3 checkout (`--dramsim3 DIR` or `DRAMSIM3_DIR`; see
//!    `scripts/dramsim3_compare.sh`, nothing of it is copied here): DRAMsim3 and the detailed
//!    model (one thread) on the same HBM2 trace files, in the same run: wall time, requests
//!    and simulated cycles per second, the speed-up, and the bandwidth difference.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Traces of the comparison (`mem_trace gen` patterns) and lines per trace.
const PATTERNS: [&str; 3] = ["stream", "random", "random-rw"];
const LINES: u32 = 200_000;

/// CPU seconds used by this process's finished children (Linux `/proc/self/stat` cutime +
/// cstime, 10 ms ticks; 0 elsewhere): a measure that the machine's other load does not
/// inflate as it does wall time.
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(13), tick(14)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => 0.0,
    }
}

/// Runs `cmd` to completion: its standard output and the CPU seconds it used.
fn timed_output(cmd: &mut Command) -> anyhow::Result<(String, f64)> {
    let before = children_cpu_seconds();
    let out = output(cmd)?;
    Ok((out, children_cpu_seconds() - before))
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The number after `"key":` in a one-line JSON object of numbers.
fn number(json: &str, key: &str) -> anyhow::Result<f64> {
    let pat = format!("\"{key}\":");
    let at = json
        .find(&pat)
        .with_context(|| format!("no `{key}` in {json}"))?;
    let rest = json[at + pat.len()..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .trim()
        .parse()
        .with_context(|| format!("`{key}` in {json}"))
}

struct Run {
    lines: f64,
    last_read_done: f64,
    tck_ns: f64,
    wall_s: f64,
}

impl Run {
    fn parse(json: &str) -> anyhow::Result<Run> {
        let json = json.lines().last().unwrap_or("");
        Ok(Run {
            lines: number(json, "lines")?,
            last_read_done: number(json, "last_read_done")?,
            tck_ns: number(json, "tck_ns")?,
            wall_s: number(json, "wall_s")?,
        })
    }

    fn gbps(&self) -> f64 {
        self.lines * 64.0 / (self.last_read_done * self.tck_ns)
    }
}

fn dramsim3(root: &Path, cargo: &str, ds: &Path) -> anyhow::Result<()> {
    let ds = ds
        .canonicalize()
        .with_context(|| format!("DRAMsim3 directory {}", ds.display()))?;
    if !ds.join("libdramsim3.so").exists() {
        output(
            Command::new("make")
                .args(["-C"])
                .arg(&ds)
                .args(["-j2", "libdramsim3.so"]),
        )?;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let work = target.join("dramsim3-bench");
    std::fs::create_dir_all(work.join("out"))?;
    let driver = work.join("driver");
    let inc = |p: &str| format!("-I{}", ds.join(p).display());
    output(
        Command::new("g++")
            .args(["-O2", "-std=c++11"])
            .args([inc("src"), inc("ext/headers"), inc("ext/fmt/include")])
            .arg("-DFMT_HEADER_ONLY=1")
            .arg(root.join("scripts/dramsim3/driver.cc"))
            .arg(format!("-L{}", ds.display()))
            .arg("-ldramsim3")
            .arg(format!("-Wl,-rpath,{}", ds.display()))
            .arg("-o")
            .arg(&driver),
    )?;
    output(Command::new(cargo).current_dir(root).args([
        "build",
        "--release",
        "-q",
        "-p",
        "seedchip-timing",
        "--example",
        "mem_trace",
    ]))?;
    let sc = target.join("release/examples/mem_trace");
    let ini = ds.join("configs/HBM2_8Gb_x128.ini");
    println!(
        "\nDRAMsim3 (configs/HBM2_8Gb_x128.ini, one thread) and the detailed model (its \
         equivalent configuration, one thread) on the same {LINES}-line trace files, same run:\n"
    );
    println!(
        "| trace | DRAMsim3 wall s | DRAMsim3 M req/s | DRAMsim3 M cycles/s | seedchip wall s \
         | seedchip M req/s | seedchip M cycles/s | speed-up (wall) | DRAMsim3 / seedchip \
         process CPU s | DRAMsim3 M cycles per CPU s | speed-up (CPU) | bandwidth difference |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for p in PATTERNS {
        let trace = work.join(format!("{p}.trace"));
        let text = output(Command::new(&sc).args(["gen", p, &LINES.to_string(), "7"]))?;
        std::fs::write(&trace, text)?;
        let (d, d_cpu) = timed_output(
            Command::new(&driver)
                .arg(&ini)
                .arg(&trace)
                .arg(format!("{}/", work.join("out").display())),
        )?;
        let d = Run::parse(&d)?;
        let (s, s_cpu) = timed_output(
            Command::new(&sc)
                .env("RAYON_NUM_THREADS", "1")
                .arg("run")
                .arg(&trace),
        )?;
        let s = Run::parse(&s)?;
        if d.lines != s.lines {
            bail!("{p}: DRAMsim3 read {} lines, seedchip {}", d.lines, s.lines);
        }
        println!(
            "| `{p}` | {:.2} | {:.2} | {:.2} | {:.3} | {:.1} | {:.1} | {:.0}× | {:.2} / {:.2} \
             | {:.2} | {:.0}× | {:+.1} % |",
            d.wall_s,
            d.lines / d.wall_s / 1e6,
            d.last_read_done / d.wall_s / 1e6,
            s.wall_s,
            s.lines / s.wall_s / 1e6,
            s.last_read_done / s.wall_s / 1e6,
            d.wall_s / s.wall_s,
            d_cpu,
            s_cpu,
            d.last_read_done / d_cpu.max(0.01) / 1e6,
            d_cpu / s_cpu.max(0.01),
            100.0 * (s.gbps() - d.gbps()) / d.gbps()
        );
    }
    Ok(())
}

pub fn bench_mem(root: &Path, cargo: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut requests = None;
    let mut model = true;
    let mut ds = std::env::var_os("DRAMSIM3_DIR").map(PathBuf::from);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--dramsim3" => {
                ds = Some(PathBuf::from(
                    it.next().context("--dramsim3 needs a directory")?,
                ));
            }
            "--dramsim3-only" => model = false,
            n if n.parse::<u64>().is_ok() => requests = Some(n.to_string()),
            other => bail!(
                "unknown argument `{other}`: cargo xtask bench mem [REQUESTS] [--dramsim3 DIR] [--dramsim3-only]"
            ),
        }
    }
    if model {
        run_model_bench(root, cargo, requests)?;
    }
    match ds {
        Some(ds) => dramsim3(root, cargo, &ds),
        None => {
            println!(
                "\n(No DRAMsim3 comparison: pass --dramsim3 DIR or set DRAMSIM3_DIR to a \
                 checkout of umd-memsys/DRAMsim3; see scripts/dramsim3_compare.sh.)"
            );
            Ok(())
        }
    }
}

fn run_model_bench(root: &Path, cargo: &str, requests: Option<String>) -> anyhow::Result<()> {
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "run",
            "--release",
            "-q",
            "-p",
            "seedchip-timing",
            "--example",
            "mem_bench",
            "--",
        ])
        .args(requests)
        .status()
        .context("running mem_bench")?;
    if !status.success() {
        bail!("mem_bench failed: {status}");
    }
    Ok(())
}
