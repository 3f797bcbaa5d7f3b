//! Topology checks between units (being written).
