//! Integration tests of the compiler: every zoo model compiles for every preset it can run on,
//! and the programs satisfy the compiler's invariants.

mod compile;
