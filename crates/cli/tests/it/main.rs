//! End-to-end tests of the `seedchip` binary: the CLI contract (names, JSON, exit codes).

mod chip;
mod compile;
mod infer;
mod models;
mod onnx;
mod run;
mod serve;
mod sim;
mod support;
mod sweep;
mod systolic;
mod validate;
