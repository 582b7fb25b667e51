//! The crate's error type.

use crate::fault::Fault;

/// Everything that can stop a program from loading, taking its inputs or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User (program): the program faulted — at load for code that does not decode, at run time
    /// otherwise.
    #[error(transparent)]
    Fault(Box<Fault>),
    /// User (program): the container is unreadable, inconsistent, or compiled for another chip.
    #[error(transparent)]
    Program(#[from] seedchip_isa::Error),
    /// User (program vs chip): the program does not fit the chip it was loaded on.
    #[error("program does not fit chip `{chip}`: {message}")]
    Load { chip: String, message: String },
    /// User (host): no binding of that name.
    #[error("the program has no {direction} named `{name}` (its {direction}s: {available})")]
    UnknownBinding {
        direction: &'static str,
        name: String,
        available: String,
    },
    /// User (host): an input tensor that does not match its binding.
    #[error("input `{name}`: {message}")]
    Input { name: String, message: String },
}

impl From<Fault> for Error {
    fn from(f: Fault) -> Error {
        Error::Fault(Box::new(f))
    }
}
