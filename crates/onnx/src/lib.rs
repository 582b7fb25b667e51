//! `seedchip-onnx`: ONNX import and export for seedchip models.
//!
//! Model developers bring models as ONNX, the exchange format PyTorch exports. Import decodes the
//! protobuf (prost bindings generated from `proto/onnx.proto3` and checked in, so no `protoc`
//! is needed), folds constants and shape computations, lowers opsets 13–21 of the ops
//! recommendation models use to [`seedchip_ir`], and recognises embedding bags — PyTorch's
//! `nn.EmbeddingBag` export and `Gather` + `ReduceSum` — as `embedding_bag`, so the compiler
//! sees lookups as lookups rather than as generic gathers. Export writes a zoo model as a
//! standard ONNX file whose import gives the same graph back.
//!
//! Entry points: [`import_file`] / [`import_bytes`] (plus [`ImportOptions`]), [`coverage`]
//! for a porting report, [`export`] for writing. Op coverage and recognised patterns are in
//! `docs/onnx.md`.

mod coverage;
mod error;
pub mod export;
pub(crate) mod import;
mod names;
pub mod proto;
mod tensor;

pub use coverage::{Coverage, NodeCoverage, NodeStatus, coverage};
pub use error::{Error, UnsupportedNode};
pub use export::{ExportOptions, ExternalData, export, export_to_file};
pub use import::{ImportOptions, MAX_OPSET, MIN_OPSET, import_bytes, import_file, import_model};

/// Encodes a model as `.onnx` bytes.
pub fn encode(model: &proto::ModelProto) -> Vec<u8> {
    use prost::Message;
    model.encode_to_vec()
}

/// Decodes an ONNX `ModelProto` from bytes. `path` only labels errors.
pub fn decode(bytes: &[u8], path: &str) -> Result<proto::ModelProto, Error> {
    use prost::Message;
    proto::ModelProto::decode(bytes).map_err(|e| Error::Decode {
        path: path.to_string(),
        message: e.to_string(),
    })
}
