//! Systolic-array GEMM timing (being written).
