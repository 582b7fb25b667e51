//! Integration tests of seedchip-onnx (one binary, per the workspace convention).

mod errors;
mod fixtures;
mod roundtrip;
mod support;
