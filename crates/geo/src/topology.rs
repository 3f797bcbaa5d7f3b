//! Topology checks between units: siblings overlapping, children leaving gaps in their parent,
//! children sticking out of it.
//!
//! These are warnings, not errors: real boundaries digitised by different people never match
//! to the centimetre, and a village with a 3 m² sliver should still import. Each finding
//! carries its area (geodesic square metres) and its geometry so the web app can draw it, and
//! anything below the tolerance is dropped, which also absorbs the float noise that boolean
//! operations leave along edges shared exactly by neighbours.

use crate::boundary::{Problem, Severity, geometry_to_geojson};
use geo::{
    BooleanOps, BoundingRect, Coord, GeodesicArea, InteriorPoint, LineString, MultiPolygon, Polygon,
};
use rstar::{AABB, RTree, RTreeObject};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Areas (m²) below which a finding is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    pub overlap_m2: f64,
    pub gap_m2: f64,
    pub outside_m2: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            overlap_m2: 1.0,
            gap_m2: 1.0,
            outside_m2: 1.0,
        }
    }
}

/// Geodesic area in square metres (WGS-84 ellipsoid), holes subtracted.
///
/// Each ring is measured on its own as a signed area, so the result does not depend on winding
/// order (uploads come with any orientation; geo's "unsigned" area of a clockwise ring is the
/// rest of the globe).
pub fn area_m2(g: &MultiPolygon<f64>) -> f64 {
    let ring = |r: &LineString<f64>| Polygon::new(r.clone(), vec![]).geodesic_area_signed().abs();
    g.0.iter()
        .map(|p| ring(p.exterior()) - p.interiors().iter().map(ring).sum::<f64>())
        .map(|a| a.max(0.0))
        .sum()
}

/// A point inside `g` to show the problem at, falling back to the bounding box centre.
fn representative(g: &MultiPolygon<f64>) -> Option<[f64; 2]> {
    g.interior_point()
        .map(|p| p.0)
        .or_else(|| g.bounding_rect().map(|r| r.center()))
        .map(|c: Coord<f64>| [c.x, c.y])
}

fn warning(
    kind: &'static str,
    code: &str,
    other_code: Option<&str>,
    area: MultiPolygon<f64>,
    area_m2: f64,
    message: String,
) -> Problem {
    Problem {
        severity: Severity::Warning,
        kind,
        feature_index: None,
        code: Some(code.to_owned()),
        other_code: other_code.map(str::to_owned),
        location: representative(&area),
        area_m2: Some(area_m2),
        area: Some(area),
        message,
    }
}

struct Boxed {
    envelope: AABB<[f64; 2]>,
    index: usize,
}

impl RTreeObject for Boxed {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn envelope(g: &MultiPolygon<f64>) -> Option<AABB<[f64; 2]>> {
    g.bounding_rect()
        .map(|r| AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]))
}

/// Overlaps between siblings above `tol.overlap_m2`: one `overlap` warning per pair, found via
/// an R-tree of bounding boxes so only neighbours are intersected.
pub fn check_siblings(units: &[(&str, &MultiPolygon<f64>)], tol: &Tolerance) -> Vec<Problem> {
    let boxes: Vec<Boxed> = units
        .iter()
        .enumerate()
        .filter_map(|(index, (_, g))| envelope(g).map(|envelope| Boxed { envelope, index }))
        .collect();
    let tree = RTree::bulk_load(boxes);
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for b in tree.iter() {
        for other in tree.locate_in_envelope_intersecting(&b.envelope) {
            if b.index < other.index {
                pairs.push((b.index, other.index));
            }
        }
    }
    pairs.sort_unstable();
    let mut out = Vec::new();
    for (i, j) in pairs {
        let (Some((a_code, a)), Some((b_code, b))) = (units.get(i), units.get(j)) else {
            continue;
        };
        let overlap = a.intersection(*b);
        let m2 = area_m2(&overlap);
        if m2 > tol.overlap_m2 {
            let message = format!("unit {a_code} overlaps unit {b_code} by {m2:.1} m²");
            out.push(warning(
                "overlap",
                a_code,
                Some(b_code),
                overlap,
                m2,
                message,
            ));
        }
    }
    out
}

/// Gaps and overhangs of a parent's children: each connected piece of `parent` not covered by
/// any child and larger than `tol.gap_m2` is a `gap` warning (code = parent); each child whose
/// part outside the parent exceeds `tol.outside_m2` is an `outside_parent` warning.
pub fn check_cover(
    parent_code: &str,
    parent: &MultiPolygon<f64>,
    children: &[(&str, &MultiPolygon<f64>)],
    tol: &Tolerance,
) -> Vec<Problem> {
    let geoms: Vec<&MultiPolygon<f64>> = children.iter().map(|(_, g)| *g).collect();
    let covered = union_all(&geoms);
    let mut out = Vec::new();
    for piece in difference(parent, &covered) {
        let piece = MultiPolygon::new(vec![piece]);
        let m2 = area_m2(&piece);
        if m2 > tol.gap_m2 {
            let at = representative(&piece).unwrap_or_default();
            let message = format!(
                "unit {parent_code}: {m2:.1} m² near [{:.6}, {:.6}] is not covered by any child",
                at[0], at[1]
            );
            out.push(warning("gap", parent_code, None, piece, m2, message));
        }
    }
    for (code, child) in children {
        out.extend(check_inside(parent_code, parent, code, child, tol));
    }
    out
}

/// Whether `child` lies inside `parent` (a micro-grid in its grid): an `outside_parent`
/// warning when the part of the child outside exceeds `tol.outside_m2`.
pub fn check_inside(
    parent_code: &str,
    parent: &MultiPolygon<f64>,
    child_code: &str,
    child: &MultiPolygon<f64>,
    tol: &Tolerance,
) -> Option<Problem> {
    let outside = difference(child, parent);
    let m2 = area_m2(&outside);
    (m2 > tol.outside_m2).then(|| {
        let message =
            format!("unit {child_code}: {m2:.1} m² lies outside its parent {parent_code}");
        warning(
            "outside_parent",
            child_code,
            Some(parent_code),
            outside,
            m2,
            message,
        )
    })
}

/// Union of all parts, whatever their winding. (geo's `unary_union` adds up windings, so a part
/// drawn clockwise inside a counter-clockwise one turns into a hole.) Pairwise rounds keep it at
/// log2(n) levels.
pub fn union_all(parts: &[&MultiPolygon<f64>]) -> MultiPolygon<f64> {
    let mut level: Vec<MultiPolygon<f64>> = parts.iter().map(|p| (*p).clone()).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => a.union(b),
                [a] => a.clone(),
                _ => MultiPolygon::new(vec![]),
            })
            .collect();
    }
    level.pop().unwrap_or_else(|| MultiPolygon::new(vec![]))
}

/// `a` minus `b`.
pub fn difference(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    a.difference(b)
}

/// The problems as a GeoJSON FeatureCollection: the problem area when there is one, else a
/// Point at the location, else no geometry.
pub fn report_geojson(problems: &[Problem]) -> String {
    let features: Vec<Value> = problems
        .iter()
        .map(|p| {
            let geometry = match (&p.area, p.location) {
                (Some(a), _) if !a.0.is_empty() => geometry_to_geojson(a),
                (_, Some(at)) => json!({"type": "Point", "coordinates": at}),
                _ => Value::Null,
            };
            let mut props = Map::new();
            props.insert("severity".into(), json!(p.severity));
            props.insert("kind".into(), json!(p.kind));
            props.insert("code".into(), json!(p.code));
            props.insert("other_code".into(), json!(p.other_code));
            props.insert(
                "area_m2".into(),
                json!(p.area_m2.map(|a| (a * 10.0).round() / 10.0)),
            );
            props.insert("message".into(), json!(p.message));
            props.insert("feature_index".into(), json!(p.feature_index));
            json!({"type": "Feature", "properties": props, "geometry": geometry})
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    const LAT: f64 = 33.0;
    const LNG: f64 = 119.0;

    /// A rectangle given in metres east/north of (LNG, LAT).
    fn rect_m(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        let mx = 1.0 / (111_320.0 * LAT.to_radians().cos());
        let my = 1.0 / 110_950.0;
        let (x0, x1, y0, y1) = (LNG + x0 * mx, LNG + x1 * mx, LAT + y0 * my, LAT + y1 * my);
        MultiPolygon::new(vec![
            polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)],
        ])
    }

    fn kinds(p: &[Problem]) -> Vec<&'static str> {
        p.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn area_is_close_to_planar_metres() {
        let a = area_m2(&rect_m(0.0, 0.0, 500.0, 400.0));
        assert!((a / 200_000.0 - 1.0).abs() < 0.005, "{a}");
        let mut donut = rect_m(0.0, 0.0, 100.0, 100.0);
        let hole = rect_m(10.0, 10.0, 20.0, 20.0);
        donut.0[0].interiors_push(hole.0[0].exterior().clone());
        assert!((area_m2(&donut) / 9_900.0 - 1.0).abs() < 0.005);
        // Clockwise outer ring, counter-clockwise hole: same area.
        donut.0[0].exterior_mut(|r| r.0.reverse());
        assert!((area_m2(&donut) / 9_900.0 - 1.0).abs() < 0.005);
    }

    #[test]
    fn overlapping_children_leave_no_gap() {
        // The parent is covered; the children overlap by 100 m × 500 m. Only the overlap is found.
        let parent = rect_m(0.0, 0.0, 1000.0, 500.0);
        let a = rect_m(0.0, 0.0, 600.0, 500.0);
        let b = rect_m(500.0, 0.0, 1000.0, 500.0);
        let u = union_all(&[&a, &b]);
        assert!((area_m2(&u) / area_m2(&parent) - 1.0).abs() < 1e-6);
        let cover = check_cover("p", &parent, &[("a", &a), ("b", &b)], &Tolerance::default());
        assert!(cover.is_empty(), "{:?}", kinds(&cover));
        // A child drawn clockwise inside another (as a map widget may draw it) is still covered.
        let mut inner = rect_m(200.0, 100.0, 300.0, 200.0);
        inner.0[0].exterior_mut(|r| r.0.reverse());
        let three = union_all(&[&a, &b, &inner]);
        assert!((area_m2(&three) / area_m2(&parent) - 1.0).abs() < 1e-6);
        let cover = check_cover(
            "p",
            &parent,
            &[("a", &a), ("b", &b), ("i", &inner)],
            &Tolerance::default(),
        );
        assert!(cover.is_empty(), "{:?}", kinds(&cover));
    }

    #[test]
    fn shared_edges_give_no_warning() {
        let a = rect_m(0.0, 0.0, 500.0, 500.0);
        let b = rect_m(500.0, 0.0, 1000.0, 500.0);
        let c = rect_m(0.0, 500.0, 1000.0, 800.0);
        let tol = Tolerance::default();
        assert!(check_siblings(&[("a", &a), ("b", &b), ("c", &c)], &tol).is_empty());
        let parent = rect_m(0.0, 0.0, 1000.0, 800.0);
        assert!(check_cover("p", &parent, &[("a", &a), ("b", &b), ("c", &c)], &tol).is_empty());

        // An irregular shared boundary (a wiggly road) with many vertices.
        let wiggle: Vec<(f64, f64)> = (0..=60)
            .map(|i| {
                let t = f64::from(i);
                (
                    LNG + 0.0031 + 0.0007 * (t * 0.7).sin() + 1e-5 * (t * 3.1).cos(),
                    LAT + t * 0.0001,
                )
            })
            .collect();
        let west: Vec<(f64, f64)> = [(LNG, LAT + 0.006), (LNG, LAT)]
            .into_iter()
            .chain(wiggle.iter().copied())
            .collect();
        let mut east: Vec<(f64, f64)> = wiggle.iter().rev().copied().collect();
        east.extend([(LNG + 0.008, LAT), (LNG + 0.008, LAT + 0.006)]);
        let west = MultiPolygon::new(vec![Polygon::new(west.into(), vec![])]);
        let east = MultiPolygon::new(vec![Polygon::new(east.into(), vec![])]);
        assert!(check_siblings(&[("w", &west), ("e", &east)], &tol).is_empty());
        let parent = rect_m(-100.0, -100.0, 1000.0, 800.0);
        let p = check_cover(
            "p",
            &union_all(&[&west, &east]),
            &[("w", &west), ("e", &east)],
            &tol,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            kinds(&check_cover(
                "p",
                &parent,
                &[("w", &west), ("e", &east)],
                &tol
            )),
            ["gap"]
        );
    }

    #[test]
    fn overlap_of_ten_by_ten_metres() {
        let a = rect_m(0.0, 0.0, 500.0, 500.0);
        let b = rect_m(490.0, 490.0, 1000.0, 1000.0);
        let c = rect_m(2000.0, 0.0, 2500.0, 500.0);
        let p = check_siblings(&[("a", &a), ("b", &b), ("c", &c)], &Tolerance::default());
        assert_eq!(kinds(&p), ["overlap"]);
        assert_eq!(
            (p[0].code.as_deref(), p[0].other_code.as_deref()),
            (Some("a"), Some("b"))
        );
        let m2 = p[0].area_m2.unwrap();
        assert!((m2 - 100.0).abs() < 1.0, "{m2}");
        let [x, y] = p[0].location.unwrap();
        assert!(geo::Intersects::intersects(
            &p[0].area.clone().unwrap(),
            &geo::Point::new(x, y)
        ));
        assert_eq!(p[0].severity, Severity::Warning);
        assert!(
            p[0].message.starts_with("unit a overlaps unit b by 10"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn slivers_below_tolerance_are_ignored() {
        let a = rect_m(0.0, 0.0, 500.0, 500.0);
        let b = rect_m(499.999, 0.0, 1000.0, 500.0); // 0.001 m × 500 m = 0.5 m²
        assert!(check_siblings(&[("a", &a), ("b", &b)], &Tolerance::default()).is_empty());
        let strict = Tolerance {
            overlap_m2: 0.1,
            ..Tolerance::default()
        };
        assert_eq!(check_siblings(&[("a", &a), ("b", &b)], &strict).len(), 1);
    }

    #[test]
    fn four_children_leaving_a_hole() {
        let parent = rect_m(0.0, 0.0, 300.0, 300.0);
        let kids = [
            rect_m(0.0, 0.0, 200.0, 100.0),
            rect_m(200.0, 0.0, 300.0, 200.0),
            rect_m(100.0, 200.0, 300.0, 300.0),
            rect_m(0.0, 100.0, 100.0, 300.0),
        ];
        let children: Vec<(&str, &MultiPolygon<f64>)> = ["c1", "c2", "c3", "c4"]
            .into_iter()
            .zip(kids.iter())
            .collect();
        let p = check_cover("p", &parent, &children, &Tolerance::default());
        assert_eq!(kinds(&p), ["gap"]);
        assert_eq!(p[0].code.as_deref(), Some("p"));
        assert!((p[0].area_m2.unwrap() / 10_000.0 - 1.0).abs() < 0.01);
        let [x, y] = p[0].location.unwrap();
        let centre = rect_m(100.0, 100.0, 200.0, 200.0);
        assert!(geo::Intersects::intersects(&centre, &geo::Point::new(x, y)));
    }

    #[test]
    fn micro_grid_sticking_out() {
        let grid = rect_m(0.0, 0.0, 300.0, 300.0);
        let inside = rect_m(10.0, 10.0, 100.0, 100.0);
        let out = rect_m(250.0, 250.0, 320.0, 300.0);
        let tol = Tolerance::default();
        assert!(check_inside("g", &grid, "m1", &inside, &tol).is_none());
        let p = check_inside("g", &grid, "m2", &out, &tol).unwrap();
        assert_eq!(p.kind, "outside_parent");
        assert_eq!(
            (p.code.as_deref(), p.other_code.as_deref()),
            (Some("m2"), Some("g"))
        );
        assert!((p.area_m2.unwrap() / 1000.0 - 1.0).abs() < 0.01);
        let p = check_cover("g", &grid, &[("m1", &inside), ("m2", &out)], &tol);
        assert!(kinds(&p).contains(&"outside_parent"));
    }

    #[test]
    fn many_siblings_stay_fast_and_clean() {
        let mut cells = Vec::new();
        for i in 0..32 {
            for j in 0..32 {
                let (x, y) = (f64::from(i) * 100.0, f64::from(j) * 100.0);
                cells.push((format!("{i:02}{j:02}"), rect_m(x, y, x + 100.0, y + 100.0)));
            }
        }
        let units: Vec<(&str, &MultiPolygon<f64>)> =
            cells.iter().map(|(c, g)| (c.as_str(), g)).collect();
        assert!(check_siblings(&units, &Tolerance::default()).is_empty());
        let parent = rect_m(0.0, 0.0, 3200.0, 3200.0);
        assert!(check_cover("p", &parent, &units, &Tolerance::default()).is_empty());
    }

    #[test]
    fn report_has_areas_and_points() {
        let a = rect_m(0.0, 0.0, 500.0, 500.0);
        let b = rect_m(490.0, 490.0, 1000.0, 1000.0);
        let mut problems = check_siblings(&[("a", &a), ("b", &b)], &Tolerance::default());
        problems.push(Problem {
            location: Some([119.0, 33.0]),
            ..Problem::error(
                "self_intersection",
                Some(3),
                Some("x"),
                "ring 0 crosses itself",
            )
        });
        problems.push(Problem::error("invalid_json", None, None, "bad"));
        let v: Value = serde_json::from_str(&report_geojson(&problems)).unwrap();
        let f = v["features"].as_array().unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0]["geometry"]["type"], "Polygon");
        assert_eq!(f[0]["properties"]["kind"], "overlap");
        assert_eq!(f[0]["properties"]["severity"], "warning");
        assert_eq!(f[0]["properties"]["other_code"], "b");
        assert_eq!(f[1]["geometry"]["type"], "Point");
        assert_eq!(f[1]["properties"]["feature_index"], 3);
        assert!(f[2]["geometry"].is_null());
    }

    #[test]
    fn union_and_difference() {
        let a = rect_m(0.0, 0.0, 100.0, 100.0);
        let b = rect_m(100.0, 0.0, 200.0, 100.0);
        let u = union_all(&[&a, &b]);
        assert_eq!(u.0.len(), 1);
        assert!((area_m2(&u) / 20_000.0 - 1.0).abs() < 0.005);
        assert!(area_m2(&difference(&u, &a)) > 9_900.0);
        assert!(union_all(&[]).0.is_empty());
    }
}
