//! Integration tests of the timing models against committed oracle data.

mod mem;
mod sim;
mod systolic;
