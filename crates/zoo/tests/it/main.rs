//! Integration tests of the zoo: built-in models against the reference file's published costs,
//! generated inputs against each model's declared inputs, statistical properties of the
//! generators (fixed seeds, each tolerance derived from the sample size), and determinism
//! across thread counts.

mod determinism;
mod models;
mod statistics;
