//! Integration tests of the peer models: the fit, predictions on zoo models, and validation.

mod fit;
mod kernels;
mod predict;
mod validate;
