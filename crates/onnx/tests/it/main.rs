//! Integration tests of seedchip-onnx (one binary, per the workspace convention).

mod roundtrip;
