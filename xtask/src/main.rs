//! `cargo xtask <task>`: project automation that is not part of the product.
//!
//! - `cargo xtask bench ref [MODELS [BATCHES]]`: f32 reference samples/s (release build),
//!   default dlrm-v2, rm2, dlrm-v1 at batches 1, 64, 512, 4096.
//! - `cargo xtask bench funcsim [MODEL [PRECISION [BATCH [CHIP]]]]`: bit-exact funcsim samples/s
//!   next to the f32 reference in the same process, with their ratio (release build); default
//!   dlrm-v2 int8 batch 512 on seedchip-v1.
//! - `cargo xtask bench serve [REQUESTS]`: serving simulator, simulated requests per second of
//!   wall time and of CPU time (target 5 M/s).
//! - `cargo xtask bench mem [REQUESTS] [--dramsim3 DIR] [--dramsim3-only]`: memory-model req/s, detailed
//!   and fast modes, and DRAMsim3 on the same traces when a checkout is given (`mem_bench.rs`).
//! - `cargo xtask bless`: rewrites every committed golden from the current code (the regression
//!   corpus in `tests/regression/`, the `run` output checksums, docs/isa.md's generated table,
//!   the reference fixtures' inputs, and any test that honours `SEEDCHIP_BLESS=1`), then lists
//!   what changed for review.
//! - `cargo xtask ci`: the CI entry point, `.ci/run`.
//! - `cargo xtask gen-proto [--check]`: regenerates (or checks) the ONNX protobuf bindings.
//!
//! Benchmarks live here rather than in timed unit tests: these machines are shared and noisy.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

mod mem_bench;
mod proto;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the repository root")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd
        .current_dir(repo_root())
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

const USAGE: &str = "usage: cargo xtask bench ref [MODELS [BATCHES]] | cargo xtask bench funcsim [MODEL [PRECISION [BATCH [CHIP]]]] | cargo xtask bench serve [REQUESTS] | cargo xtask bench mem [REQUESTS] [--dramsim3 DIR] | cargo xtask bless | cargo xtask ci | cargo xtask gen-proto [--check]";

/// Every golden test reads `SEEDCHIP_BLESS=1` as "rewrite what you compare against", so one
/// workspace test run with it set regenerates them all, whoever added them. The reference
/// fixtures' expected outputs come from numpy, so they are regenerated when their inputs moved.
fn bless(cargo: &str) -> anyhow::Result<()> {
    let status = Command::new(cargo)
        .args(["test", "--workspace"])
        .env("SEEDCHIP_BLESS", "1")
        .current_dir(repo_root())
        .status()
        .context("running cargo test")?;
    let fixtures = "crates/ref/tests/fixtures";
    let moved = Command::new("git")
        .args(["status", "--porcelain", "--", fixtures])
        .current_dir(repo_root())
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if moved {
        eprintln!("reference fixture inputs changed: regenerating expected outputs with numpy");
        run(Command::new("python3").arg(format!("{fixtures}/numpy_ref.py")))?;
    }
    let _ = Command::new("git")
        .args(["status", "--short", "--", "."])
        .current_dir(repo_root())
        .status();
    if !status.success() {
        bail!(
            "some tests failed with SEEDCHIP_BLESS=1 (goldens were rewritten; the failures are \
             something else): {status}"
        );
    }
    eprintln!("blessed; review the diff (`git diff`) and commit it with the change");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bench", "ref", rest @ ..] => run(Command::new(&cargo)
            .args([
                "run",
                "--release",
                "-p",
                "seedchip-ref",
                "--example",
                "bench",
                "--",
            ])
            .args(rest)),
        ["bench", "funcsim", rest @ ..] => run(Command::new(&cargo)
            .args([
                "run",
                "--release",
                "-p",
                "seedchip-funcsim",
                "--features",
                "bench",
                "--example",
                "bench",
                "--",
            ])
            .args(rest)),
        ["bench", "serve", rest @ ..] => run(Command::new(&cargo)
            .args([
                "run",
                "--release",
                "-p",
                "seedchip-serving",
                "--example",
                "bench",
                "--",
            ])
            .args(rest)),
        ["bench", "mem", rest @ ..] => mem_bench::bench_mem(&repo_root(), &cargo, rest),
        ["bless"] => bless(&cargo),
        ["ci"] => run(&mut Command::new(repo_root().join(".ci/run"))),
        ["gen-proto"] => proto::gen_proto(&repo_root(), &cargo, false),
        ["gen-proto", "--check"] => proto::gen_proto(&repo_root(), &cargo, true),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}
