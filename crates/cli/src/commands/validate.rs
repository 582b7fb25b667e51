//! `seedchip validate`: the peer models' predictions against every measurement seedchip has —
//! the H100 calibration rows held out of the fit and the published MLPerf DLRM-v2 results —
//! with the error of each and the bound it must meet. Exit 1 when a bound fails, so CI can
//! run it; `--write-docs` regenerates `docs/validation.md` from the same report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use seedchip_peers::validate::{self, Report};
use serde::Serialize;

use crate::exit::{print_json, print_text, user};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Print the whole report (every row, fitted parameters) as one JSON document.
    #[arg(long)]
    json: bool,
    /// Also write the report as Markdown, to PATH or to docs/validation.md.
    #[arg(
        long,
        value_name = "PATH",
        num_args = 0..=1,
        default_missing_value = "docs/validation.md"
    )]
    write_docs: Option<PathBuf>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    passed: bool,
    #[serde(flatten)]
    report: &'a Report,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let report = validate::run()?;
    if let Some(path) = &args.write_docs {
        write_atomically(path, &report.to_markdown())?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        print_json(&JsonReport {
            passed: report.passed(),
            report: &report,
        })?;
    } else {
        print_text(&summary(&report))?;
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes through a temporary file in the same directory so a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(user(
            format!(
                "cannot write {}: directory {} does not exist",
                path.display(),
                dir.display()
            ),
            &["run from the repository root, or give --write-docs a path in an existing directory"],
        ));
    }
    let name = path.file_name().map_or_else(
        || "validation.md".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let fail = |e: std::io::Error| user(format!("cannot write {}: {e}", path.display()), &[]);
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn verdict(passed: bool) -> &'static str {
    if passed { "pass" } else { "FAIL" }
}

fn summary(r: &Report) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "H100 calibration ({}), held-out rows:\n",
        r.calibration_software
    ));
    let rows = [
        (
            "bf16 GEMMs",
            &r.gemm_rows,
            r.gemm_check_median,
            r.gemm_fit_median,
            validate::GEMM_MEDIAN_BOUND,
        ),
        (
            "embedding bags",
            &r.embedding_rows,
            r.embedding_check_median,
            r.embedding_fit_median,
            validate::EMBEDDING_MEDIAN_BOUND,
        ),
    ];
    for (name, list, check, fit, bound) in rows {
        let held_out = list
            .iter()
            .filter(|x| x.role == seedchip_peers::calibration::Role::Check)
            .count();
        let (n, kernel) = validate::kernel_bound_check(list);
        s.push_str(&format!(
            "  {name:15} {held_out:2} held out  median error {:>7}  (bound {:>6}, fitted rows {:>7})  {}\n\
             {:18}{n:2} of them kernel-bound (not launch-bound): median error {}\n",
            pct(check),
            pct(bound),
            pct(fit),
            verdict(check <= bound),
            "",
            pct(kernel)
        ));
    }
    s.push_str("\nMLPerf DLRM-v2, tuned stack, samples/s per accelerator:\n");
    for m in &r.mlperf {
        let bound = m
            .result
            .bound
            .map_or("info".to_string(), |b| format!("{:.2}-{:.2}", b.min, b.max));
        s.push_str(&format!(
            "  {:32} {:5} measured {:>8.0}  predicted {:>8.0}  ratio {:.2}  [{bound}]  {}\n",
            m.result.label(),
            m.result.precision.name(),
            m.measured_per_accelerator,
            m.predicted_samples_per_s,
            m.ratio,
            m.passed.map_or("", verdict)
        ));
    }
    let failed = r.checks.iter().filter(|c| !c.passed).count();
    if failed == 0 {
        s.push_str(&format!("\nall {} checks pass\n", r.checks.len()));
    } else {
        s.push_str(&format!("\n{failed} of {} checks FAIL\n", r.checks.len()));
    }
    s
}
