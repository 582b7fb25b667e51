//! ONNX import and export for seedchip models.
