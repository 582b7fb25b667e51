//! Integration tests of `seedchip-ir`: builder → verifier → text round trip → analysis.

mod analysis;
mod graphs;
mod init_files;
mod roundtrip;
mod verify;
