//! `seedchip compile`: a model and a chip in, a SCISA program (`.scp`) and optionally its
//! annotated listing out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use seedchip_chip::Precision;
use seedchip_compiler::{CompileOptions, Error as CompileError, compile};
use serde::Serialize;

use super::chips::load_chip;
use super::models::{DEFAULT_SEED, load_model};
use crate::exit::{print_json, print_text, user};

const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// A zoo name, a text-IR (.sir) file or an ONNX (.onnx) file.
    model: String,
    /// A chip preset or chip TOML file.
    #[arg(long)]
    chip: String,
    /// Operand precision of the matrix units: int8, bf16 or fp8.
    #[arg(long, default_value = "int8")]
    precision: String,
    /// Samples per program run.
    #[arg(long, default_value_t = 64)]
    batch: u32,
    /// Cap every embedding table at this many rows.
    #[arg(long)]
    rows_cap: Option<u64>,
    /// Most ids per batch of every ragged (offsets-style) embedding input; default
    /// batch × max(1, round(2 × the bag's mean pooling hint, 1 without one)).
    #[arg(long)]
    ragged_ids: Option<u64>,
    /// Seed of procedural weights and of calibration/profiling inputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// The program file to write.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Also write the annotated assembly listing (reassembles to the same program).
    #[arg(long)]
    asm: Option<PathBuf>,
    /// Print the compile report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct CompileDoc<'a> {
    schema_version: u32,
    program: String,
    program_bytes: usize,
    listing: Option<String>,
    report: &'a seedchip_compiler::Report,
}

/// Writes next to the target and renames, so a failure never leaves a half-written file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| user(format!("{} is not a file path", path.display()), &[]))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(user(format!("cannot write {}: {e}", path.display()), &[]));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        user(format!("cannot write {}: {e}", path.display()), &[])
    })
}

/// Refuses a model whose weights and calibration run would not fit in memory: the compiler
/// runs up to `calibration_samples` samples through the f32 reference (int8 and fp8) and holds
/// the dense weights once more in the program.
fn check_memory(
    args: &CompileArgs,
    graph: &seedchip_ir::Graph,
    options: &CompileOptions,
) -> anyhow::Result<()> {
    let samples = u64::from(options.calibration_samples);
    let mut e = super::memory::reference_estimate(graph, samples);
    e.add(
        "program weights",
        super::memory::materialized_param_bytes(graph, 0),
    );
    super::memory::check(
        &format!("compile {}", args.model),
        &e,
        &["--rows-cap N caps embedding tables"],
    )
}

pub fn run(args: CompileArgs) -> anyhow::Result<ExitCode> {
    let precision = Precision::parse(&args.precision)
        .filter(|p| matches!(p, Precision::Int8 | Precision::Bf16 | Precision::Fp8))
        .ok_or_else(|| {
            user(
                format!("unknown precision `{}`", args.precision),
                &["valid precisions: int8, bf16, fp8"],
            )
        })?;
    if args.batch == 0 {
        return Err(user("--batch must be at least 1", &[]));
    }
    let chip = load_chip(&args.chip)?;
    let graph = load_model(&args.model, args.rows_cap, args.seed)?;
    let mut options = CompileOptions::new(precision, args.batch);
    options.seed = args.seed;
    if let Some(cap) = args.ragged_ids {
        for n in &graph.nodes {
            if matches!(n.op, seedchip_ir::Op::EmbeddingBag { .. }) && n.inputs.len() == 3 {
                options
                    .ragged_ids
                    .insert(graph.value_name(n.inputs[1]).to_string(), cap);
            }
        }
        if options.ragged_ids.is_empty() {
            return Err(user(
                "--ragged-ids: the model has no ragged (offsets-style) embedding bags",
                &[],
            ));
        }
    }
    check_memory(&args, &graph, &options)?;
    let compiled = compile(&graph, &chip, &options).map_err(|e| {
        let hint: &[&str] = match &e {
            CompileError::DoesNotFit { .. } => {
                &["--rows-cap N caps embedding tables; a smaller --batch needs less memory"]
            }
            CompileError::Precision { .. } => {
                &["`seedchip chip show <chip>` lists the matrix units' precisions"]
            }
            _ => &[],
        };
        user(e.to_string(), hint)
    })?;
    let bytes = compiled
        .program
        .encode()
        .map_err(|e| anyhow::anyhow!("internal compiler error: encoding the program: {e}"))?;
    let listing = args.asm.as_ref().map(|_| compiled.program.disassemble());
    // Write both, or neither: the listing first (it is the larger), then the program.
    if let (Some(path), Some(text)) = (&args.asm, &listing) {
        write_atomically(path, text.as_bytes())?;
    }
    if let Err(e) = write_atomically(&args.output, &bytes) {
        if let Some(path) = &args.asm {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    let r = &compiled.report;
    if args.json {
        print_json(&CompileDoc {
            schema_version: SCHEMA_VERSION,
            program: args.output.display().to_string(),
            program_bytes: bytes.len(),
            listing: args.asm.as_ref().map(|p| p.display().to_string()),
            report: r,
        })?;
    } else {
        let mut text = format!(
            "compiled {} for {} ({}, batch {}): {} cores, micro-batch {}, {} instructions \
             (dma {}, gather {}, mxu {}, vpu {}, ctl {})\n",
            r.model,
            r.chip,
            r.precision,
            r.batch,
            r.cores,
            r.micro_batch,
            r.instructions_total,
            r.instructions["dma"],
            r.instructions["gather"],
            r.instructions["mxu"],
            r.instructions["vpu"],
            r.instructions["ctl"],
        );
        text.push_str(&format!(
            "SRAM: {} B local per core, {} B shared; weights {} B; hot-row cache {} B\n",
            r.local_sram_bytes, r.shared_sram_bytes, r.weight_bytes, r.cache_bytes
        ));
        text.push_str(&format!(
            "wrote {} ({} bytes)\n",
            args.output.display(),
            bytes.len()
        ));
        if let Some(p) = &args.asm {
            text.push_str(&format!("wrote {}\n", p.display()));
        }
        print_text(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
