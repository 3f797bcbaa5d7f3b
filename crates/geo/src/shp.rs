//! Zipped ESRI Shapefile import and export (being written).
