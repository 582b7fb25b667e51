//! The text form.
//!
//! ```text
//! graph "mini" {
//!   input %dense: f32[B, 13]
//!   input %t0: i64[B, 3]
//!
//!   param @bot.w: f32[8, 13] = uniform(seed=0, bound=0.2773501)
//!   param @t0.table: f32[100, 8] = uniform(seed=0, bound=0.1)
//!
//!   %bot: f32[B, 8] = linear(%dense, @bot.w) act=relu
//!   %t0.bag: f32[B, 8] = embedding_bag(@t0.table, %t0) pooling=sum
//!   %z: f32[B, 1] = dot_interaction(%bot, %t0.bag) self_interaction=false
//!
//!   output "z" = %z
//! }
//! ```
//! `%` marks values, `@` parameters; every result states its type so a dump is readable on its
//! own and the verifier can check it. Attributes follow the call as `key=value`; all are
//! printed. `#` starts a comment. Floats print in Rust's shortest round-trip form, so
//! print → parse → print is the identity.

mod parse;
mod print;

pub use parse::parse;
pub use print::print;
