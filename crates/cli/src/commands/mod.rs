//! One module per command (or command family). Each exposes its clap arguments and a `run`
//! returning `anyhow::Result<ExitCode>`; this file only lists and dispatches them.

use std::process::ExitCode;

mod chips;
mod compare;
mod compile;
mod evaluate;
mod export;
mod gemm;
mod infer;
mod inputs;
mod isa;
mod measure;
mod memory;
pub mod models;
mod onnx;
mod plan;
mod run;
mod scalesim;
mod serve;
mod sim;
mod sweep;
mod validate;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The main job: a chip against GPUs and other peers on recommendation models, every batch
    /// size; writes DIR/report.json and a self-contained DIR/index.html with plots.
    Evaluate(evaluate::EvaluateArgs),
    /// List simulated chip presets and peer devices with headline figures.
    Chips(chips::ChipsArgs),
    /// Inspect a chip description.
    #[command(subcommand)]
    Chip(chips::ChipCommand),
    /// List the built-in recommendation models.
    Models(models::ModelsArgs),
    /// Inspect a model.
    #[command(subcommand)]
    Model(models::ModelCommand),
    /// One dense GEMM's systolic timing: cycles, utilization, SRAM accesses (SCALE-Sim's).
    Gemm(gemm::GemmArgs),
    /// SCALE-Sim compatible run: its config and topology in, its report CSVs out.
    Scalesim(scalesim::ScaleSimArgs),
    /// Run a model on the f32 reference executor.
    Infer(infer::InferArgs),
    /// ONNX tooling: how much of a model imports.
    #[command(subcommand)]
    Onnx(onnx::OnnxCommand),
    /// Compile a model for a chip into a SCISA program (.scp), optionally with its listing.
    Compile(compile::CompileArgs),
    /// Compile a model and run it on the bit-exact functional simulator; --check compares
    /// with the f32 reference.
    Run(run::RunArgs),
    /// Compile a model and time it: latency, throughput, unit activity, memory, energy,
    /// roofline fraction; --trace writes a Perfetto trace.
    Sim(sim::SimArgs),
    /// Serving simulation of a model on a chip or peer: arrivals, batching, replicas, p50-p99.9
    /// latency; with --sla-p99-ms the largest rate that holds it (exit 1 if --qps misses it).
    Serve(serve::ServeArgs),
    /// Fleet sizing, power and TCO of a workload on seedchip-v1 and peers (default: a
    /// billion-user feed).
    Plan(plan::PlanArgs),
    /// Design-space exploration: run (or resume, or a shard of) a sweep file; `sweep merge`
    /// joins shards; `sweep report` writes Pareto fronts and the best designs.
    Sweep(sweep::SweepArgs),
    /// One model on several devices side by side (simulated chips and peers): latency,
    /// samples/s, energy, perf/W, unit cost and cost per million samples.
    Compare(compare::CompareArgs),
    /// The instruction set: every instruction's opcode, queue, dtypes and operand layout.
    Isa(isa::IsaArgs),
    /// Peer models' predictions against measurements (held-out H100 rows, MLPerf); exit 1 if a
    /// bound fails.
    Validate(validate::ValidateArgs),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Evaluate(args) => evaluate::run(args),
        Command::Chips(args) => chips::run_chips(args),
        Command::Chip(cmd) => chips::run_chip(cmd),
        Command::Models(args) => models::run_models(args),
        Command::Model(cmd) => models::run_model(cmd),
        Command::Gemm(args) => gemm::run(args),
        Command::Scalesim(args) => scalesim::run(args),
        Command::Infer(args) => infer::run(args),
        Command::Onnx(cmd) => onnx::run(cmd),
        Command::Compile(args) => compile::run(args),
        Command::Run(args) => run::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Isa(args) => isa::run(args),
        Command::Validate(args) => validate::run(args),
    }
}
