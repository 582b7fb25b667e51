//! `seedchip model export <model> -o model.onnx`: a model as a standard ONNX file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use seedchip_onnx::{ExportOptions, ExternalData};

use super::models::load_model;
use crate::exit::{print_text, user};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A zoo name, a text-IR (.sir) file or an ONNX (.onnx) file.
    pub model: String,
    /// Output .onnx file; large weights go to `<file>.data` beside it.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Cap every embedding table at this many rows (the published sizes reach 100 GB).
    #[arg(long)]
    pub rows_cap: Option<u64>,
    /// Seed of the procedural weights written to the file.
    #[arg(long, default_value_t = super::models::DEFAULT_SEED)]
    pub seed: u64,
    /// Write every weight of 1 KiB or more to `<file>.data` (by default only when the weights
    /// exceed 1 GiB).
    #[arg(long)]
    pub external_data: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let graph = load_model(&args.model, args.rows_cap, args.seed)?;
    let options = ExportOptions {
        external_data: if args.external_data {
            ExternalData::Always
        } else {
            ExternalData::Auto
        },
        base_dir: Path::new(&args.model).parent().map(Path::to_path_buf),
    };
    let data = seedchip_onnx::export_to_file(&graph, &args.output, &options).map_err(|e| {
        user(
            format!(
                "cannot export {} to {}: {e}",
                args.model,
                args.output.display()
            ),
            &[],
        )
    })?;
    let bytes = std::fs::metadata(&args.output).map_or(0, |m| m.len());
    let mut msg = format!(
        "wrote {} ({} IR nodes, {:.1} MB)",
        args.output.display(),
        graph.nodes.len(),
        bytes as f64 / 1e6
    );
    if let Some(data) = data {
        let len = std::fs::metadata(&data).map_or(0, |m| m.len());
        msg.push_str(&format!(
            " with external data {} ({:.1} MB)",
            data.display(),
            len as f64 / 1e6
        ));
    }
    print_text(&format!("{msg}\n"))?;
    Ok(ExitCode::SUCCESS)
}
