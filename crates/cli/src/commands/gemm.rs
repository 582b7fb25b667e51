//! `seedchip gemm`: one dense GEMM's systolic timing (SCALE-Sim's stall-free figures, closed
//! form).

use std::process::ExitCode;

use seedchip_chip::Dataflow;
use seedchip_timing::systolic::{self, ArrayShape, Gemm, SystolicTiming};
use serde::Serialize;

use crate::exit::{print_json, print_text, user};

/// Version of the JSON document printed by `gemm --json`; bump on incompatible change.
const SCHEMA_VERSION: u32 = 1;

/// Which operand stays in the PEs.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DataflowArg {
    /// Weight stationary.
    Ws,
    /// Output stationary.
    Os,
    /// Input stationary.
    Is,
}

impl From<DataflowArg> for Dataflow {
    fn from(d: DataflowArg) -> Dataflow {
        match d {
            DataflowArg::Ws => Dataflow::Ws,
            DataflowArg::Os => Dataflow::Os,
            DataflowArg::Is => Dataflow::Is,
        }
    }
}

/// Parses `RxC` (e.g. `128x128`, `32x64`) into an array shape.
pub fn parse_array(s: &str) -> Result<ArrayShape, String> {
    let (r, c) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected ROWSxCOLS (e.g. 128x128), found `{s}`"))?;
    let dim = |v: &str, what: &str| -> Result<u64, String> {
        match v.trim().parse::<u64>() {
            Ok(n) if (1..=1 << 20).contains(&n) => Ok(n),
            _ => Err(format!(
                "{what} must be an integer in 1..=1048576, found `{v}`"
            )),
        }
    };
    Ok(ArrayShape {
        rows: dim(r, "rows")?,
        cols: dim(c, "columns")?,
    })
}

#[derive(Debug, clap::Args)]
pub struct GemmArgs {
    /// Systolic array shape, ROWSxCOLS (e.g. 128x128).
    #[arg(long, value_name = "RxC", value_parser = parse_array)]
    array: ArrayShape,
    /// Dataflow: which operand stays in the PEs.
    #[arg(long, value_enum)]
    dataflow: DataflowArg,
    /// Rows of the left operand (batch, or output pixels of a convolution).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    m: u64,
    /// The reduction dimension (input features).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    k: u64,
    /// Columns of the right operand (output features).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    n: u64,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct GemmDoc {
    schema_version: u32,
    #[serde(flatten)]
    timing: SystolicTiming,
}

pub fn run(args: GemmArgs) -> anyhow::Result<ExitCode> {
    let g = Gemm {
        m: args.m,
        k: args.k,
        n: args.n,
    };
    let t = systolic::gemm(args.dataflow.into(), args.array, g)
        .map_err(|e| user(format!("cannot time this GEMM: {e}"), &[]))?;
    if args.json {
        print_json(&GemmDoc {
            schema_version: SCHEMA_VERSION,
            timing: t,
        })?;
    } else {
        print_text(&text(&t))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn text(t: &SystolicTiming) -> String {
    let pct = |f: f64| format!("{:.2} %", f * 100.0);
    let s = &t.sram;
    let mut out = format!(
        "GEMM M={} K={} N={} on a {}x{} array, {}\n",
        t.gemm.m,
        t.gemm.k,
        t.gemm.n,
        t.array.rows,
        t.array.cols,
        t.dataflow.name()
    );
    out.push_str(&format!(
        "  folds              {} = {} row x {} column\n",
        t.folds, t.row_folds, t.col_folds
    ));
    out.push_str(&format!("  cycles per fold    {}\n", t.cycles_per_fold));
    out.push_str(&format!(
        "  compute cycles     {}  (SCALE-Sim's \"Total Cycles\": last cycle index; busy {})\n",
        t.compute_cycles, t.busy_cycles
    ));
    out.push_str(&format!("  MACs               {}\n", t.macs));
    out.push_str(&format!(
        "  utilization        overall {}, compute {}, mapping efficiency {}\n",
        pct(t.overall_utilization),
        pct(t.compute_utilization),
        pct(t.mapping_efficiency)
    ));
    out.push_str(&format!(
        "  SRAM words         ifmap reads {}, filter reads {}, ofmap writes {}",
        s.ifmap_reads, s.filter_reads, s.ofmap_writes
    ));
    if s.ofmap_writes != s.ofmap_writes_physical {
        out.push_str(&format!(
            " (SCALE-Sim's count; {} physical)",
            s.ofmap_writes_physical
        ));
    }
    out.push('\n');
    out
}
