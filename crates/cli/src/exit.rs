//! Error printing and exit codes: 0 ok, 1 ran but a check or SLA failed, 2 bad input or usage.

use std::process::ExitCode;

/// A problem with what the user gave us (a file, a flag, a model name): exit code 2.
/// Carries optional hints, printed after the cause chain as `hint:` lines.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hints: Vec<String>,
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Builds a user error (exit 2) with hints.
pub fn user(message: impl Into<String>, hints: &[&str]) -> anyhow::Error {
    anyhow::Error::new(UserError {
        message: message.into(),
        hints: hints.iter().map(|h| h.to_string()).collect(),
    })
}

/// Prints `error:`, the `Caused by:` chain and `hint:` lines; every error is a user error (exit 2)
/// because internal bugs panic instead of returning.
pub fn report(err: &anyhow::Error) -> ExitCode {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {err}");
    let chain: Vec<_> = err.chain().skip(1).collect();
    if !chain.is_empty() {
        let _ = writeln!(stderr, "\nCaused by:");
        for cause in chain {
            let _ = writeln!(stderr, "    {cause}");
        }
    }
    for cause in err.chain() {
        if let Some(user) = cause.downcast_ref::<UserError>() {
            for hint in &user.hints {
                let _ = writeln!(stderr, "hint: {hint}");
            }
        }
    }
    ExitCode::from(2)
}

/// Writes a JSON document to stdout, treating a closed pipe as success.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    print_text(&format!("{text}\n"))
}

/// Writes text to stdout; a broken pipe (`seedchip chips | head`) exits 0 instead of panicking.
pub fn print_text(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e.into()),
    }
}
