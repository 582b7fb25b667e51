//! `seedchip plan [workload.toml]`: fleet size, power and TCO of a recommendation workload on
//! seedchip-v1 and the peers (or the devices the workload lists). Without a file the built-in
//! workload runs (a billion-user short-video feed; `docs/serving.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use seedchip_serving::plan::{DEFAULT_WORKLOAD, DEFAULT_WORKLOAD_NAME, Plan, Workload, plan};

use crate::exit::{print_json, print_text, user};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Workload TOML (default: the built-in feed workload).
    workload: Option<PathBuf>,
    /// Print the built-in workload file and exit.
    #[arg(long)]
    print_default: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    if args.print_default {
        print_text(DEFAULT_WORKLOAD)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (text, origin) = match &args.workload {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| user(format!("cannot read workload {}: {e}", p.display()), &[]))?,
            p.display().to_string(),
        ),
        None => (
            DEFAULT_WORKLOAD.to_string(),
            DEFAULT_WORKLOAD_NAME.to_string(),
        ),
    };
    let w = Workload::parse(&text, &origin).map_err(|e| {
        user(
            e.to_string(),
            &["`seedchip plan --print-default` prints a complete workload to start from"],
        )
    })?;
    let p = plan(&w).map_err(|e| user(e.to_string(), &[]))?;
    if args.json {
        print_json(&p)?;
    } else {
        print_text(&text_report(&p))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn text_report(p: &Plan) -> String {
    let mut s = format!(
        "{} ({}): {:.3e} requests/day, average {:.0} req/s, peak {:.0} req/s, p99 ≤ {} ms, candidates {}\n",
        p.workload,
        p.origin,
        p.requests_per_day,
        p.average_qps,
        p.peak_qps,
        p.sla_p99_ms,
        p.candidates
    );
    s.push_str(&format!(
        "headroom {:.0} %, PUE {}, ${}/kWh, {} years\n\n",
        100.0 * p.headroom,
        p.pue,
        p.electricity_usd_per_kwh,
        p.years
    ));
    s.push_str(&format!(
        "{:<14} {:>10} {:>9} {:>8} {:>8} {:>10} {:>14} {:>14} {:>12}\n",
        "device", "chips", "req/s/ch", "MW", "avg MW", "unit $", "capex $", "opex $/yr", "$/M req"
    ));
    for d in &p.devices {
        s.push_str(&format!(
            "{:<14} {:>10} {:>9.0} {:>8.2} {:>8.2} {:>10.0} {:>14.4e} {:>14.4e} {:>12.4}\n",
            d.device,
            d.chips,
            d.requests_per_s_per_chip,
            d.megawatts,
            d.average_megawatts,
            d.unit_price_usd,
            d.capex_usd,
            d.opex_usd_per_year,
            d.usd_per_million_requests
        ));
    }
    s
}
