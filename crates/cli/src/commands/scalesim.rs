//! `seedchip scalesim`: read SCALE-Sim's config and topology files, write its
//! `COMPUTE_REPORT.csv` and `BANDWIDTH_REPORT.csv` (stall-free, CALC mode), in milliseconds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use seedchip_timing::systolic::scalesim::{
    self as ss, BandwidthMode, Config, InputError, LayerError, LayerReport,
};

use crate::exit::{print_text, user};

#[derive(Debug, clap::Args)]
pub struct ScaleSimArgs {
    /// SCALE-Sim config file (INI: [general], [architecture_presets], [run_presets], ...).
    #[arg(short = 'c', long = "config", value_name = "FILE.cfg")]
    config: PathBuf,
    /// Topology CSV: conv rows, or `name, M, N, K,` rows with --gemm.
    #[arg(short = 't', long = "topology", value_name = "TOPO.csv")]
    topology: PathBuf,
    /// The topology is in GEMM form (SCALE-Sim's `-i gemm`).
    #[arg(long)]
    gemm: bool,
    /// Directory for the reports (created if missing). SCALE-Sim's `-p DIR` writes into
    /// `DIR/<run_name>/`; this writes into DIR itself.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| user(format!("cannot read {what} {}: {e}", path.display()), &[]))
}

fn located(path: &Path, e: &InputError) -> String {
    if e.line > 0 {
        format!("{}:{}: {}", path.display(), e.line, e.message)
    } else {
        format!("{}: {}", path.display(), e.message)
    }
}

fn warn(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}

/// Writes `files` into `dir` all or nothing: each goes to a temporary file in `dir` first and
/// is renamed into place only once every one has been written.
fn write_all_or_nothing(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        user(
            format!("cannot create output directory {}: {e}", dir.display()),
            &[],
        )
    })?;
    let pid = std::process::id();
    let temps: Vec<PathBuf> = files
        .iter()
        .map(|(name, _)| dir.join(format!(".{name}.tmp-{pid}")))
        .collect();
    let cleanup = |temps: &[PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for ((_, body), tmp) in files.iter().zip(&temps) {
        if let Err(e) = std::fs::write(tmp, body) {
            cleanup(&temps);
            return Err(user(format!("cannot write {}: {e}", tmp.display()), &[]));
        }
    }
    for ((name, _), tmp) in files.iter().zip(&temps) {
        let dest = dir.join(name);
        if let Err(e) = std::fs::rename(tmp, &dest) {
            cleanup(&temps);
            return Err(user(format!("cannot write {}: {e}", dest.display()), &[]));
        }
    }
    Ok(())
}

pub fn run(args: ScaleSimArgs) -> anyhow::Result<ExitCode> {
    let config_text = read(&args.config, "config file")?;
    let config: Config = ss::parse_config(&config_text).map_err(|e| {
        user(
            located(&args.config, &e),
            &["see SCALE-Sim's configs/*.cfg for the expected sections and keys"],
        )
    })?;
    let topo_text = read(&args.topology, "topology file")?;
    let layers = ss::parse_topology(&topo_text, args.gemm).map_err(|e| {
        let hint = if args.gemm {
            "GEMM rows are `name, M, N, K,` (trailing comma); drop --gemm for conv rows"
        } else {
            "conv rows are `name, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter, \
             Strides,` (trailing comma); pass --gemm for `name, M, N, K,` rows"
        };
        user(located(&args.topology, &e), &[hint])
    })?;

    if let BandwidthMode::User { line, .. } = config.bandwidth {
        warn(&format!(
            "{}:{line}: InterfaceBandwidth USER: SCALE-Sim would model memory stalls here; \
             seedchip reports the stall-free (CALC-mode) figures",
            args.config.display()
        ));
    }

    let mut reports: Vec<LayerReport> = Vec::with_capacity(layers.len());
    for layer in &layers {
        let report = ss::layer_report(&config, layer).map_err(|e| {
            let hint: &[&str] = match e {
                LayerError::OfmapStall(_) => &["raise OfmapSramSzkB in the config"],
                LayerError::Timing(_) => &[],
            };
            user(
                format!(
                    "{}:{}: layer {}: {e}",
                    args.topology.display(),
                    layer.line,
                    layer.name
                ),
                hint,
            )
        })?;
        if !report.ifmap_dram_exact {
            warn(&format!(
                "{}:{}: layer {}: the IFMAP DRAM bandwidth is an estimate (overlapping \
                 convolution windows and an IFMAP larger than half the IFMAP SRAM); every \
                 other column is exact",
                args.topology.display(),
                layer.line,
                layer.name
            ));
        }
        reports.push(report);
    }

    write_all_or_nothing(
        &args.out,
        &[
            ("COMPUTE_REPORT.csv", ss::compute_report_csv(&reports)),
            ("BANDWIDTH_REPORT.csv", ss::bandwidth_report_csv(&reports)),
        ],
    )?;

    let mut out = format!(
        "{} layers on a {}x{} array, {} (run {}): wrote {} and {}\n",
        reports.len(),
        config.array_rows,
        config.array_cols,
        config.dataflow.name(),
        config.run_name,
        args.out.join("COMPUTE_REPORT.csv").display(),
        args.out.join("BANDWIDTH_REPORT.csv").display(),
    );
    let total: u128 = reports.iter().map(|r| r.total_cycles as u128).sum();
    out.push_str(&format!("  total compute cycles {total}\n"));
    print_text(&out)?;
    Ok(ExitCode::SUCCESS)
}
