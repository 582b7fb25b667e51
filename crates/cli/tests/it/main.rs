//! End-to-end tests of the `seedchip` binary: the CLI contract (names, JSON, exit codes).

mod bad_inputs;
mod chip;
mod compile;
mod evaluate;
mod infer;
mod limits;
mod models;
mod onnx;
mod regression;
mod run;
mod serve;
mod sim;
mod support;
mod sweep;
mod systolic;
mod validate;
