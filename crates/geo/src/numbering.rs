//! The order in which new grids get their sequence numbers.
//!
//! Grid codes end in a sequence number; numbering them the way people read a map (rows from
//! north to south, west to east within a row) makes neighbouring codes neighbouring grids.
//! Centroids of grids in one visual row are never exactly level, so rows are bands of latitude
//! whose height is half the median grid height.

use geo::{BoundingRect, Centroid, MultiPolygon};

/// Indices into `geoms` in numbering order: rows north→south, west→east within a row.
/// Empty geometries come last, in input order.
pub fn west_east_north_south(geoms: &[MultiPolygon<f64>]) -> Vec<usize> {
    let mut placed: Vec<(usize, f64, f64)> = Vec::with_capacity(geoms.len());
    let mut heights: Vec<f64> = Vec::with_capacity(geoms.len());
    let mut empty = Vec::new();
    for (i, g) in geoms.iter().enumerate() {
        let centre = g
            .centroid()
            .map(|p| p.0)
            .or_else(|| g.bounding_rect().map(|r| r.center()));
        match (centre, g.bounding_rect()) {
            (Some(c), Some(r)) if c.x.is_finite() && c.y.is_finite() => {
                placed.push((i, c.x, c.y));
                heights.push(r.height());
            }
            _ => empty.push(i),
        }
    }
    heights.sort_by(f64::total_cmp);
    let band = heights.get(heights.len() / 2).copied().unwrap_or(0.0) / 2.0;
    let top = placed.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
    let row = |lat: f64| -> f64 {
        if band > 0.0 {
            ((top - lat) / band).floor()
        } else {
            top - lat
        }
    };
    placed.sort_by(|a, b| {
        row(a.2)
            .total_cmp(&row(b.2))
            .then(a.1.total_cmp(&b.1))
            .then(a.0.cmp(&b.0))
    });
    placed.into_iter().map(|p| p.0).chain(empty).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn cell(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![
            polygon![(x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0), (x: x, y: y)],
        ])
    }

    #[test]
    fn rows_north_to_south_then_west_to_east() {
        // A 3×2 block, given in scrambled order, with slightly uneven rows.
        let geoms = vec![
            cell(2.0, 0.0),  // 0: south-east
            cell(0.0, 1.1),  // 1: north-west (a bit higher)
            cell(1.0, 0.05), // 2: south-middle
            cell(2.0, 0.9),  // 3: north-east (a bit lower)
            cell(0.0, 0.0),  // 4: south-west
            cell(1.0, 1.0),  // 5: north-middle
            MultiPolygon::new(vec![]),
        ];
        assert_eq!(west_east_north_south(&geoms), [1, 5, 3, 4, 2, 0, 6]);
        assert!(west_east_north_south(&[]).is_empty());
    }
}
