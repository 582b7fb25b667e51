//! Integration tests of the compiler: every zoo model compiles for every preset it can run on,
//! the programs satisfy the compiler's invariants, and they compute what the reference computes.

mod compile;
mod e2e;
mod prop;
mod support;
