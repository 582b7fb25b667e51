//! `seedchip models` and `seedchip model show`: the built-in zoo and what a model costs per sample.

use std::process::ExitCode;

use seedchip_ir::{Graph, analysis};
use serde::Serialize;

use crate::exit::{print_json, print_text, user};

const SCHEMA_VERSION: u32 = 1;

/// Seed of procedural weights and generated inputs when `--seed` is not given.
pub const DEFAULT_SEED: u64 = 0x5eed;

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Ops, parameters, FLOPs, lookups and bytes per sample of a model.
    Show {
        /// A zoo name (see `seedchip models`), or a .sir or .onnx file.
        model: String,
        /// Cap every embedding table at this many rows (per-sample costs do not change).
        #[arg(long)]
        rows_cap: Option<u64>,
        /// Print the model's text IR instead of the summary.
        #[arg(long, conflicts_with = "json")]
        ir: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write a model as a standard ONNX file (onnxruntime runs it, Netron opens it).
    Export(super::export::ExportArgs),
}

/// Where a `<model>` argument can come from, with the options every command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelSource {
    /// Cap every embedding table at this many rows.
    #[arg(long)]
    pub rows_cap: Option<u64>,
    /// Seed of procedural weights and generated inputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

/// Resolves a `<model>` argument: a zoo name, a text-IR file (`.sir`, as `model show --ir`
/// prints) or an ONNX file (its weights are its own: `seed` only drives generated inputs).
pub fn load_model(name: &str, rows_cap: Option<u64>, seed: u64) -> anyhow::Result<Graph> {
    let path = std::path::Path::new(name);
    if name.ends_with(".onnx") {
        if rows_cap.is_some() {
            return Err(user(
                format!("--rows-cap applies to zoo models, not to {name}"),
                &["export a capped zoo model with `seedchip model export NAME --rows-cap N`"],
            ));
        }
        return seedchip_onnx::import_file(path, &Default::default()).map_err(|e| {
            let hint: &[&str] = match e {
                seedchip_onnx::Error::Unsupported { .. } => {
                    &["`seedchip onnx coverage FILE` classifies every node"]
                }
                _ => &[],
            };
            user(format!("cannot import {name}: {e}"), hint)
        });
    }
    if name.ends_with(".sir") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| user(format!("cannot read model file {name}: {e}"), &[]))?;
        return seedchip_ir::parse(&text).map_err(|e| match e {
            // `file:line:col: message`, as editors expect.
            seedchip_ir::Error::Parse { .. } => user(format!("{name}:{e}"), &[]),
            other => user(format!("{name}: {other}"), &[]),
        });
    }
    let options = seedchip_zoo::ZooOptions { rows_cap, seed };
    seedchip_zoo::get(name, &options).map_err(|e| match e {
        seedchip_zoo::Error::UnknownModel { .. } => user(
            e.to_string(),
            &["`seedchip models` lists the built-in models"],
        ),
        other => user(other.to_string(), &[]),
    })
}

/// Gives every ragged embedding bag without a pooling hint the default bag size (the one the
/// f32 reference's input synthesizer and the compiler assume), so inputs can be generated for
/// it: PyTorch exports carry no hint.
pub fn default_ragged_hints(graph: &mut Graph) {
    for node in &mut graph.nodes {
        if let seedchip_ir::Op::EmbeddingBag { mean_pooling, .. } = &mut node.op
            && node.inputs.len() == 3
            && mean_pooling.is_none()
        {
            *mean_pooling = Some(seedchip_compiler::passes::legalize::DEFAULT_MEAN_POOLING);
        }
    }
}

/// Replaces procedural weights with real ones: each spec is `PARAM=FILE`, where PARAM is a
/// parameter name as `model show --ir` prints it (without `@`, e.g. `cat_0.table`) and FILE is
/// `.npy` (f32 or f16), `.f16` (raw little-endian f16) or anything else (raw little-endian f32).
pub fn apply_weight_files(graph: &mut Graph, specs: &[String]) -> anyhow::Result<()> {
    use seedchip_ir::{FileFormat, Init};
    for spec in specs {
        let Some((name, file)) = spec.split_once('=') else {
            return Err(user(
                format!("--weights {spec}: expected PARAM=FILE"),
                &["e.g. --weights cat_0.table=table0.npy"],
            ));
        };
        let name = name.trim_start_matches('@');
        let Some(id) = graph.find_param(name) else {
            return Err(user(
                format!("--weights {spec}: the model has no parameter `{name}`"),
                &["`seedchip model show MODEL --ir` lists parameters (the names after `@`)"],
            ));
        };
        let path =
            std::path::absolute(file).map_err(|e| user(format!("--weights {spec}: {e}"), &[]))?;
        if !path.is_file() {
            return Err(user(
                format!("--weights {spec}: no such file {}", path.display()),
                &[],
            ));
        }
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("npy") => FileFormat::Npy,
            Some("f16") => FileFormat::F16Le,
            _ => FileFormat::F32Le,
        };
        // A raw file given for one parameter must hold exactly that parameter: a longer one is
        // most likely another tensor's file (an .npy is checked against its own header).
        if let Some(elem) = match format {
            FileFormat::F32Le => Some(4u64),
            FileFormat::F16Le => Some(2),
            FileFormat::Npy => None,
        } {
            let ty = graph.ty(graph.params[id.index()].value);
            let need = ty.numel(1).unwrap_or(u64::MAX).saturating_mul(elem);
            let have = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if have != need {
                return Err(user(
                    format!(
                        "--weights {spec}: {} holds {have} bytes, but `{name}` ({ty}) needs \
                         {need} as {}",
                        path.display(),
                        format.name()
                    ),
                    &[
                        "raw files are little-endian f32 (or f16 for .f16); .npy files carry their shape",
                    ],
                ));
            }
        }
        graph.params[id.index()].init = Init::File {
            path: path.display().to_string(),
            format,
            offset_bytes: 0,
        };
    }
    Ok(())
}

#[derive(Serialize)]
struct ModelRow {
    name: &'static str,
    summary: &'static str,
    source: &'static str,
    dense_mflop_per_sample: f64,
    lookups_per_sample: Option<f64>,
    embedding_rows: u64,
    embedding_gb_fp32: f64,
}

#[derive(Serialize)]
struct ModelsDoc {
    schema_version: u32,
    models: Vec<ModelRow>,
}

pub fn run_models(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    for info in seedchip_zoo::list() {
        let g = load_model(info.name, None, DEFAULT_SEED)?;
        let s = analysis::stats(&g);
        rows.push(ModelRow {
            name: info.name,
            summary: info.summary,
            source: info.source,
            dense_mflop_per_sample: s.dense_flops_per_sample as f64 / 1e6,
            lookups_per_sample: s.lookups_per_sample,
            embedding_rows: s.embedding_rows,
            embedding_gb_fp32: s.embedding_bytes.fp32 / 1e9,
        });
    }
    if args.json {
        print_json(&ModelsDoc {
            schema_version: SCHEMA_VERSION,
            models: rows,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{:<14} {:>10} {:>9} {:>13} {:>9}  {}\n",
        "model", "MFLOP/smp", "lookups", "emb rows", "emb GB", "summary"
    );
    for r in &rows {
        out.push_str(&format!(
            "{:<14} {:>10.3} {:>9} {:>13} {:>9.2}  {}\n",
            r.name,
            r.dense_mflop_per_sample,
            r.lookups_per_sample
                .map_or_else(|| "ragged".to_string(), |l| format!("{l:.0}")),
            r.embedding_rows,
            r.embedding_gb_fp32,
            r.summary
        ));
    }
    print_text(&out)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ShowDoc<'a> {
    schema_version: u32,
    name: &'a str,
    summary: Option<&'static str>,
    source: Option<&'static str>,
    rows_cap: Option<u64>,
    dense_mflop_per_sample: f64,
    stats: &'a analysis::ModelStats,
}

pub fn run_model(cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    let (model, rows_cap, ir, json) = match cmd {
        ModelCommand::Show {
            model,
            rows_cap,
            ir,
            json,
        } => (model, rows_cap, ir, json),
        ModelCommand::Export(args) => return super::export::run(args),
    };
    let g = load_model(&model, rows_cap, DEFAULT_SEED)?;
    if ir {
        print_text(&seedchip_ir::print(&g))?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = analysis::stats(&g);
    let info = seedchip_zoo::info(&model).ok();
    if json {
        print_json(&ShowDoc {
            schema_version: SCHEMA_VERSION,
            name: &s.name,
            summary: info.map(|i| i.summary),
            source: info.map(|i| i.source),
            rows_cap,
            dense_mflop_per_sample: s.dense_flops_per_sample as f64 / 1e6,
            stats: &s,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&render(&s, info))?;
    Ok(ExitCode::SUCCESS)
}

fn render(s: &analysis::ModelStats, info: Option<seedchip_zoo::ModelInfo>) -> String {
    let mut out = format!("model {}\n", s.name);
    if let Some(i) = info {
        out.push_str(&format!("  {}\n  source: {}\n", i.summary, i.source));
    }
    out.push_str(&format!(
        "  dense: {:.3} MFLOP per sample ({} MACs), {} parameters\n",
        s.dense_flops_per_sample as f64 / 1e6,
        s.dense_macs_per_sample,
        s.dense_params
    ));
    out.push_str(&format!(
        "  embeddings: {} tables, {} rows, {:.2} GB fp32 / {:.2} GB fp16 / {:.2} GB int8\n",
        s.tables.len(),
        s.embedding_rows,
        s.embedding_bytes.fp32 / 1e9,
        s.embedding_bytes.fp16 / 1e9,
        s.embedding_bytes.int8 / 1e9
    ));
    match (s.lookups_per_sample, s.gathered_bytes_per_sample) {
        (Some(l), Some(b)) => out.push_str(&format!(
            "  lookups: {l:.0} per sample; gathered {:.1} KB fp32 / {:.1} KB fp16 / {:.1} KB int8 per sample\n",
            b.fp32 / 1e3,
            b.fp16 / 1e3,
            b.int8 / 1e3
        )),
        _ => out.push_str("  lookups: ragged bags without a pooling hint\n"),
    }
    out.push_str("  inputs:\n");
    for (name, ty) in &s.inputs {
        out.push_str(&format!("    {name}: {ty}\n"));
    }
    out.push_str("  outputs:\n");
    for (name, ty) in &s.outputs {
        out.push_str(&format!("    {name}: {ty}\n"));
    }
    out.push_str(&format!(
        "  ops ({} nodes):\n    {:<28} {:<16} {:<22} {:>12} {:>10}\n",
        s.nodes, "name", "op", "output", "MACs/smp", "params"
    ));
    for op in &s.ops {
        out.push_str(&format!(
            "    {:<28} {:<16} {:<22} {:>12} {:>10}\n",
            op.name, op.op, op.output, op.macs_per_sample, op.params
        ));
    }
    out
}
