//! Integration tests of the ISA crate: instruction and program round trips, total decoding,
//! error reporting, and agreement between the table and docs/isa.md.

mod docs;
mod r#gen;
mod insts;
mod programs;
