//! The `seedchip` binary: argument parsing and dispatch only; every capability lives in a library crate.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "seedchip", version, about = "Pre-silicon platform for recommendation-inference accelerators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {}

fn main() {
    let _cli = Cli::parse();
}
