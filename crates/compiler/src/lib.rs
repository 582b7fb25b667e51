//! Compiles seedchip IR graphs into SCISA programs for a described chip.
