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

const USAGE: &str = "usage: cargo xtask bench ref [MODELS [BATCHES]] | cargo xtask bench funcsim [MODEL [PRECISION [BATCH [CHIP]]]] | cargo xtask bench serve [REQUESTS] | cargo xtask bench mem [REQUESTS] [--dramsim3 DIR] | cargo xtask ci | cargo xtask gen-proto [--check]";

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
        ["ci"] => run(&mut Command::new(repo_root().join(".ci/run"))),
        ["gen-proto"] => proto::gen_proto(&repo_root(), &cargo, false),
        ["gen-proto", "--check"] => proto::gen_proto(&repo_root(), &cargo, true),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}
