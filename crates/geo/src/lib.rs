//! Geometry of Wangge: parsing and validating boundaries (GeoJSON and zipped Shapefiles),
//! conversion between the coordinate systems used by Chinese maps (WGS-84, GCJ-02, BD-09),
//! topology checks between units (overlaps, gaps, containment), the point-to-unit index and
//! the order in which new grids are numbered.
//!
//! Geometry is always stored in WGS-84 longitude/latitude; conversion happens at the edges
//! (import and export), so every comparison inside the platform is between like coordinates.

pub mod boundary;
pub mod crs;
pub mod index;
pub mod numbering;
mod segments;
pub mod shp;
pub mod topology;

pub use geo::{Coord, MultiPolygon, Polygon, Rect};
