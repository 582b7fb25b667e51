//! Off-chip memory timing models (being written).
