//! Geometry of Wangge (being written).
