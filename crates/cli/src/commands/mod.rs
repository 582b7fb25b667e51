//! One module per command (or command family). Each exposes an `Args` type and
//! `run(args) -> anyhow::Result<ExitCode>`; this file only lists and dispatches them.

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
