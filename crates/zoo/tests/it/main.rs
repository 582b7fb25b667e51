//! Integration tests of the zoo: statistical properties of the generators (fixed seeds, each
//! tolerance derived from the sample size) and determinism across thread counts.

mod determinism;
mod models;
mod statistics;
