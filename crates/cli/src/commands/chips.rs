//! `seedchip chips`, `seedchip chip show|schema`: what chips exist and what they add up to.

use std::process::ExitCode;

use anyhow::Context;
use seedchip_chip::{self as chip, Chip, Derived, Precision, peers::Peer};
use serde::Serialize;

use crate::exit::{print_json, print_text, user};

/// Version of the JSON documents printed by these commands; bump on incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub struct ChipsArgs {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ChipCommand {
    /// The resolved description (every default filled in) and its derived figures.
    Show {
        /// A preset name (see `seedchip chips`) or a path to a chip TOML file.
        chip: String,
        #[arg(long)]
        json: bool,
    },
    /// A JSON Schema of the chip file, for editor completion.
    Schema,
}

#[derive(Serialize)]
struct SimulatedRow {
    name: String,
    description: Option<String>,
    node_nm: u32,
    clock_mhz: f64,
    peak_tops: std::collections::BTreeMap<Precision, f64>,
    memory: String,
    memory_bandwidth_gbps: f64,
    sram_total_bytes: u64,
    tdp_w: f64,
    area_mm2: f64,
    unit_cost_usd: f64,
}

#[derive(Serialize)]
struct ChipsDoc {
    schema_version: u32,
    simulated: Vec<SimulatedRow>,
    peers: Vec<Peer>,
}

fn simulated_row(c: &Chip, d: &Derived) -> SimulatedRow {
    SimulatedRow {
        name: c.name.clone(),
        description: c.description.clone(),
        node_nm: c.process.node_nm,
        clock_mhz: c.clock_mhz,
        peak_tops: d.peak_tops.clone(),
        memory: memory_summary(c),
        memory_bandwidth_gbps: d.memory_bandwidth_gbps,
        sram_total_bytes: d.sram_total_bytes,
        tdp_w: d.tdp_w,
        area_mm2: d.area_mm2,
        unit_cost_usd: d.unit_cost_usd,
    }
}

fn memory_summary(c: &Chip) -> String {
    let m = &c.memory;
    let gb = m.capacity_bytes as f64 / (1u64 << 30) as f64;
    match m.stacks {
        Some(s) => format!("{}x {} {gb:.0} GiB", s, m.kind),
        None => format!("{} {gb:.0} GiB", m.kind),
    }
}

fn peak_cell(peaks: &std::collections::BTreeMap<Precision, f64>, p: Precision) -> String {
    peaks
        .get(&p)
        .map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

pub fn run_chips(args: ChipsArgs) -> anyhow::Result<ExitCode> {
    let simulated: Vec<SimulatedRow> = chip::presets::all()
        .iter()
        .map(|c| simulated_row(c, &chip::derive(c)))
        .collect();
    let peers = chip::peers::all();
    if args.json {
        print_json(&ChipsDoc {
            schema_version: SCHEMA_VERSION,
            simulated,
            peers,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    out.push_str("Simulated chips (presets; `seedchip chip show NAME` for details)\n");
    out.push_str(&format!(
        "  {:<12} {:>5} {:>6} {:>9} {:>9} {:>9} {:<22} {:>8} {:>8} {:>6} {:>7} {:>7}\n",
        "name",
        "node",
        "MHz",
        "int8 TOPS",
        "bf16 TF",
        "fp8 TF",
        "memory",
        "GB/s",
        "SRAM MiB",
        "TDP W",
        "mm2",
        "unit $"
    ));
    for r in &simulated {
        out.push_str(&format!(
            "  {:<12} {:>3}nm {:>6.0} {:>9} {:>9} {:>9} {:<22} {:>8.1} {:>8.1} {:>6.0} {:>7.0} {:>7.0}\n",
            r.name,
            r.node_nm,
            r.clock_mhz,
            peak_cell(&r.peak_tops, Precision::Int8),
            peak_cell(&r.peak_tops, Precision::Bf16),
            peak_cell(&r.peak_tops, Precision::Fp8),
            r.memory,
            r.memory_bandwidth_gbps,
            r.sram_total_bytes as f64 / (1u64 << 20) as f64,
            r.tdp_w,
            r.area_mm2,
            r.unit_cost_usd
        ));
    }
    out.push_str("\nPeers (datasheet records; compared, not simulated; dense peaks)\n");
    out.push_str(&format!(
        "  {:<12} {:<8} {:>9} {:>9} {:>9} {:<6} {:>6} {:>8} {:>6} {:>9}  {}\n",
        "name",
        "vendor",
        "int8 TOPS",
        "bf16 TF",
        "fp8 TF",
        "memory",
        "GB",
        "GB/s",
        "TDP W",
        "price $",
        "note"
    ));
    for p in &peers {
        out.push_str(&format!(
            "  {:<12} {:<8} {:>9} {:>9} {:>9} {:<6} {:>6.0} {:>8.0} {:>6} {:>9}  {}\n",
            p.name,
            p.vendor,
            peak_cell(&p.peak_tops, Precision::Int8),
            peak_cell(&p.peak_tops, Precision::Bf16),
            peak_cell(&p.peak_tops, Precision::Fp8),
            p.memory_kind,
            p.memory_capacity_gb,
            p.memory_bandwidth_gbps,
            p.tdp_w
                .map_or_else(|| "-".to_string(), |w| format!("{w:.0}")),
            p.price_usd
                .map_or_else(|| "-".to_string(), |v| format!("{v:.0}")),
            if p.contested { "contested figures" } else { "" }
        ));
    }
    print_text(&out)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ShowDoc<'a> {
    schema_version: u32,
    chip: &'a Chip,
    derived: &'a Derived,
}

pub fn run_chip(cmd: ChipCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChipCommand::Show { chip: name, json } => {
            let c = load_chip(&name)?;
            let d = chip::derive(&c);
            if json {
                print_json(&ShowDoc {
                    schema_version: SCHEMA_VERSION,
                    chip: &c,
                    derived: &d,
                })?;
            } else {
                print_text(&render_show(&c, &d)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ChipCommand::Schema => {
            let schema = schemars::schema_for!(Chip);
            print_json(&schema)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads a preset or file, turning library errors into user errors with hints (exit 2).
pub fn load_chip(name: &str) -> anyhow::Result<Chip> {
    chip::resolve_name_or_path(name).map_err(|e| {
        let hints = e.hints();
        let hint_refs: Vec<&str> = hints.iter().map(String::as_str).collect();
        let mut err = user(e.to_string(), &hint_refs);
        if let chip::Error::Io { source, .. } = e {
            err = err.context(source.to_string());
        }
        err
    })
}

fn render_show(c: &Chip, d: &Derived) -> anyhow::Result<String> {
    let toml = toml::to_string_pretty(c).context("serializing the resolved chip")?;
    let mut s = format!(
        "# {} — resolved description (all defaults filled)\n",
        c.name
    );
    s.push_str(&toml);
    s.push_str("\n# Derived figures\n");
    for (p, t) in &d.peak_tops {
        s.push_str(&format!(
            "#   peak {p:<5} {t:>9.1} TOPS   balance {:>7.1} ops/B   {:>6.2} TOPS/W\n",
            d.machine_balance_ops_per_byte[p], d.peak_tops_per_w[p]
        ));
    }
    s.push_str(&format!(
        "#   memory {:.1} GB/s over {} channels ({} bits), {:.1} GiB\n",
        d.memory_bandwidth_gbps,
        d.memory_channels,
        d.memory_bus_width_bits,
        d.memory_capacity_bytes as f64 / (1u64 << 30) as f64
    ));
    s.push_str(&format!(
        "#   SRAM {:.1} MiB ({:.1} local + {:.1} shared), shared {:.0} GB/s\n",
        d.sram_total_bytes as f64 / 1048576.0,
        d.local_sram_total_bytes as f64 / 1048576.0,
        d.shared_sram_bytes as f64 / 1048576.0,
        d.shared_sram_bandwidth_gbps
    ));
    if d.gather_rows_per_s > 0.0 {
        s.push_str(&format!(
            "#   gather {:.2} G rows/s\n",
            d.gather_rows_per_s / 1e9
        ));
    }
    let a = &d.area;
    s.push_str(&format!(
        "#   area {:.1} mm² ({:?}): matrix {:.1}, SRAM {:.1}, vector {:.1}, gather {:.1}, control {:.1}, \
         memory PHY {:.1}, host PHY {:.1}, chip links {:.1}, overhead {:.1}\n",
        d.area_mm2,
        d.area_source,
        a.matrix_mm2,
        a.sram_mm2,
        a.vector_mm2,
        a.gather_mm2,
        a.control_mm2,
        a.memory_phy_mm2,
        a.host_phy_mm2,
        a.chip_link_phy_mm2,
        a.overhead_mm2
    ));
    let k = &d.cost;
    s.push_str(&format!(
        "#   {:.1} dies/wafer x yield {:.3} = {:.1} good; die ${:.0} + memory ${:.0} + package ${:.0} \
         + NRE ${:.0} = unit ${:.0}\n",
        k.dies_per_wafer,
        k.die_yield,
        k.good_dies_per_wafer,
        k.die_cost_usd,
        k.memory_cost_usd,
        k.package_usd,
        k.nre_per_unit_usd,
        k.unit_cost_usd
    ));
    Ok(s)
}
