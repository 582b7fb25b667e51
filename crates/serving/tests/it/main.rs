//! Integration tests of the serving simulator: theory, determinism, batching behaviour.

mod batching;
mod queueing;
