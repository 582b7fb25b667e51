//! The `seedchip` binary: argument parsing, dispatch and error printing. Every capability lives in
//! a library crate; the commands here only wire arguments to it and print.

mod commands;
mod exit;

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "seedchip",
    version,
    about = "Pre-silicon platform for recommendation-inference accelerators"
)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version itself; usage errors are exit code 2 by the CLI contract.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    }
}
