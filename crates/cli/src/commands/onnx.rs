//! `seedchip onnx coverage <file>`: how much of an ONNX model imports, node by node.

use std::path::PathBuf;
use std::process::ExitCode;

use seedchip_onnx::{Coverage, NodeCoverage, NodeStatus};
use serde::Serialize;

use crate::exit::{print_json, print_text, user};

const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Subcommand)]
pub enum OnnxCommand {
    /// Every node of an ONNX model: supported, lowered by a pattern, or unsupported (with the
    /// reason). Exits 1 when any node is unsupported.
    Coverage {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct Counts {
    supported: usize,
    folded: usize,
    pattern: usize,
    unsupported: usize,
    blocked: usize,
    unused: usize,
}

#[derive(Serialize)]
struct CoverageDoc<'a> {
    schema_version: u32,
    file: String,
    graph: &'a str,
    opset: i64,
    complete: bool,
    counts: Counts,
    nodes: &'a [NodeCoverage],
}

pub fn run(cmd: OnnxCommand) -> anyhow::Result<ExitCode> {
    let OnnxCommand::Coverage { file, json } = cmd;
    let cov: Coverage = seedchip_onnx::coverage(&file, &Default::default())
        .map_err(|e| user(e.to_string(), &[]))?;
    if json {
        let c = |f: fn(&NodeStatus) -> bool| cov.count(f);
        print_json(&CoverageDoc {
            schema_version: SCHEMA_VERSION,
            file: file.display().to_string(),
            graph: &cov.graph,
            opset: cov.opset,
            complete: cov.is_complete(),
            counts: Counts {
                supported: c(|s| matches!(s, NodeStatus::Supported)),
                folded: c(|s| matches!(s, NodeStatus::Folded)),
                pattern: c(|s| matches!(s, NodeStatus::Pattern { .. })),
                unsupported: c(|s| matches!(s, NodeStatus::Unsupported { .. })),
                blocked: c(|s| matches!(s, NodeStatus::Blocked)),
                unused: c(|s| matches!(s, NodeStatus::Unused)),
            },
            nodes: &cov.nodes,
        })?;
    } else {
        print_text(&cov.render())?;
    }
    Ok(if cov.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
