//! Point → unit lookup ("which grid is this address in?") for case intake and the map.
//!
//! Every call of `locate` happens on a request path, so the index is built once, never
//! mutated (the caller swaps an `Arc` when boundaries change) and a lookup does not allocate:
//! an R-tree over the bounding box of each polygon part finds candidates, and a crossing-number
//! test over flat coordinate arrays decides. Past versions of boundaries are indexed too and
//! filtered by their validity period, so a case can be placed in the grid of its own date.

use geo::{BoundingRect, Coord, MultiPolygon};
use rstar::{AABB, RTree, RTreeObject};

/// A boundary version to index.
#[derive(Clone, Debug)]
pub struct Entry {
    pub unit_id: i64,
    pub code: String,
    /// Level depth: larger is more specific (micro-grid > grid > village).
    pub depth: u8,
    /// "YYYY-MM-DD", inclusive; `None` = always.
    pub valid_from: Option<String>,
    /// "YYYY-MM-DD", exclusive; `None` = still valid.
    pub valid_to: Option<String>,
    pub geometry: MultiPolygon<f64>,
}

impl Entry {
    fn valid_on(&self, at: &str) -> bool {
        self.valid_from.as_deref().is_none_or(|f| f <= at)
            && self.valid_to.as_deref().is_none_or(|t| at < t)
    }

    /// Whether `self` wins over `other` for the same point: deeper, then smaller code.
    fn beats(&self, other: &Entry) -> bool {
        (other.depth, &self.code) < (self.depth, &other.code)
    }
}

/// One polygon part in the R-tree: its envelope, its entry and its rings in `rings`.
struct Leaf {
    envelope: AABB<[f64; 2]>,
    entry: u32,
    rings_start: u32,
    rings_end: u32,
}

impl RTreeObject for Leaf {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Distance (degrees) within which a point counts as on an edge: about 0.1 mm, far below the
/// accuracy of any boundary, but enough to absorb rounding when a point was computed on an
/// edge (e.g. a midpoint) so that both neighbours see it and the smallest code wins.
const ON_EDGE: f64 = 1e-9;

/// In-memory R-tree of boundaries (current and past versions), immutable once built.
pub struct LocateIndex {
    entries: Vec<Entry>,
    tree: RTree<Leaf>,
    /// Ring `i` is `coords[rings[i].0 .. rings[i].1]`, closed (last == first).
    rings: Vec<(u32, u32)>,
    coords: Vec<Coord<f64>>,
}

impl LocateIndex {
    /// Indexes `entries`. Parts with non-finite coordinates or fewer than 3 vertices are
    /// skipped (validation rejects them before they are stored).
    pub fn build(entries: Vec<Entry>) -> Self {
        let mut leaves = Vec::new();
        let mut rings = Vec::new();
        let mut coords = Vec::new();
        for (e, entry) in entries.iter().enumerate() {
            for poly in &entry.geometry.0 {
                let usable = poly.exterior().0.len() >= 3
                    && std::iter::once(poly.exterior())
                        .chain(poly.interiors())
                        .flat_map(|r| &r.0)
                        .all(|c| c.x.is_finite() && c.y.is_finite());
                let Some(rect) = poly.bounding_rect().filter(|_| usable) else {
                    continue;
                };
                let rings_start = rings.len() as u32;
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    if ring.0.len() < 2 {
                        continue;
                    }
                    let start = coords.len() as u32;
                    coords.extend_from_slice(&ring.0);
                    if ring.0.first() != ring.0.last() {
                        coords.push(ring.0[0]);
                    }
                    rings.push((start, coords.len() as u32));
                }
                leaves.push(Leaf {
                    envelope: AABB::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    entry: e as u32,
                    rings_start,
                    rings_end: rings.len() as u32,
                });
            }
        }
        LocateIndex {
            entries,
            tree: RTree::bulk_load(leaves),
            rings,
            coords,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All indexed entries, in the order given to `build`.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The deepest entry valid on `at` ("YYYY-MM-DD") whose geometry contains the point or has
    /// it on its boundary; among equally deep candidates the one with the smallest code, so
    /// points on shared edges and vertices always get the same answer.
    pub fn locate(&self, lng: f64, lat: f64, at: &str) -> Option<&Entry> {
        let p = Coord { x: lng, y: lat };
        let mut best: Option<&Entry> = None;
        for leaf in self.candidates(p) {
            let Some(entry) = self.entries.get(leaf.entry as usize) else {
                continue;
            };
            if best.is_some_and(|b| !entry.beats(b)) || !entry.valid_on(at) {
                continue;
            }
            if self.covers(leaf, p) {
                best = Some(entry);
            }
        }
        best
    }

    /// Every entry valid on `at` covering the point (all depths), deepest first, then by code.
    pub fn locate_all(&self, lng: f64, lat: f64, at: &str) -> Vec<&Entry> {
        let p = Coord { x: lng, y: lat };
        let mut found: Vec<u32> = self
            .candidates(p)
            .filter(|leaf| {
                self.entries
                    .get(leaf.entry as usize)
                    .is_some_and(|e| e.valid_on(at))
                    && self.covers(leaf, p)
            })
            .map(|leaf| leaf.entry)
            .collect();
        found.sort_unstable();
        found.dedup();
        let mut out: Vec<&Entry> = found
            .into_iter()
            .filter_map(|i| self.entries.get(i as usize))
            .collect();
        out.sort_by(|a, b| b.depth.cmp(&a.depth).then_with(|| a.code.cmp(&b.code)));
        out
    }

    fn candidates(&self, p: Coord<f64>) -> impl Iterator<Item = &Leaf> {
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.x, p.y]))
    }

    /// Crossing number over all rings of the part (holes flip parity), with points on an edge
    /// counted as covered.
    fn covers(&self, leaf: &Leaf, p: Coord<f64>) -> bool {
        let rings = self
            .rings
            .get(leaf.rings_start as usize..leaf.rings_end as usize);
        let mut inside = false;
        for &(start, end) in rings.unwrap_or_default() {
            let Some(ring) = self.coords.get(start as usize..end as usize) else {
                continue;
            };
            for w in ring.windows(2) {
                match edge_test(w[0], w[1], p) {
                    EdgeTest::On => return true,
                    EdgeTest::Crosses => inside = !inside,
                    EdgeTest::Misses => {}
                }
            }
        }
        inside
    }
}

enum EdgeTest {
    On,
    Crosses,
    Misses,
}

/// Does edge a→b lie under `p`, cross the ray from `p` towards +x, or neither?
///
/// The side of `p` is computed from the endpoints in a canonical order, so two polygons sharing
/// this edge (in opposite directions) get bit-identical answers and a point is never in both
/// or neither of them.
fn edge_test(a: Coord<f64>, b: Coord<f64>, p: Coord<f64>) -> EdgeTest {
    let (lo, hi) = if (a.x, a.y) <= (b.x, b.y) {
        (a, b)
    } else {
        (b, a)
    };
    let (dx, dy) = (hi.x - lo.x, hi.y - lo.y);
    let cross = dx * (p.y - lo.y) - dy * (p.x - lo.x);
    let len2 = dx * dx + dy * dy;
    if cross * cross <= ON_EDGE * ON_EDGE * len2 {
        let t = (p.x - lo.x) * dx + (p.y - lo.y) * dy;
        let near = ON_EDGE * len2.sqrt();
        if t >= -near && t <= len2 + near {
            return EdgeTest::On;
        }
    }
    if (a.y > p.y) == (b.y > p.y) {
        return EdgeTest::Misses;
    }
    // The edge spans p.y; it crosses the ray if p is left of the upward-directed edge. With
    // lo→hi ordered by x, "left of upward" is cross > 0 when lo is the lower end.
    let left_of_upward = if lo.y < hi.y {
        cross > 0.0
    } else {
        cross < 0.0
    };
    if left_of_upward {
        EdgeTest::Crosses
    } else {
        EdgeTest::Misses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Intersects, Point, polygon};
    use proptest::prelude::*;

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![
            polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)],
        ])
    }

    fn entry(code: &str, depth: u8, g: MultiPolygon<f64>) -> Entry {
        Entry {
            unit_id: code.len() as i64,
            code: code.into(),
            depth,
            valid_from: None,
            valid_to: None,
            geometry: g,
        }
    }

    fn codes(v: Vec<&Entry>) -> Vec<&str> {
        v.into_iter().map(|e| e.code.as_str()).collect()
    }

    /// Four grids in a 2×2 block inside one village, one micro-grid in grid "g1".
    fn sample() -> LocateIndex {
        LocateIndex::build(vec![
            entry("v", 1, rect(0.0, 0.0, 2.0, 2.0)),
            entry("g4", 2, rect(1.0, 1.0, 2.0, 2.0)),
            entry("g2", 2, rect(1.0, 0.0, 2.0, 1.0)),
            entry("g1", 2, rect(0.0, 0.0, 1.0, 1.0)),
            entry("g3", 2, rect(0.0, 1.0, 1.0, 2.0)),
            entry("g1m", 3, rect(0.2, 0.2, 0.4, 0.4)),
        ])
    }

    #[test]
    fn deepest_wins_and_holes_are_outside() {
        let idx = sample();
        assert_eq!(idx.len(), 6);
        assert!(!idx.is_empty());
        assert_eq!(idx.locate(0.3, 0.3, "2026-01-01").unwrap().code, "g1m");
        assert_eq!(idx.locate(0.7, 0.3, "2026-01-01").unwrap().code, "g1");
        assert_eq!(idx.locate(1.5, 1.5, "2026-01-01").unwrap().code, "g4");
        assert!(idx.locate(3.0, 3.0, "2026-01-01").is_none());
        assert_eq!(
            codes(idx.locate_all(0.3, 0.3, "2026-01-01")),
            ["g1m", "g1", "v"]
        );

        let mut donut = rect(0.0, 0.0, 4.0, 4.0);
        donut.0[0].interiors_push(vec![
            (1.0, 1.0),
            (1.0, 3.0),
            (3.0, 3.0),
            (3.0, 1.0),
            (1.0, 1.0),
        ]);
        let idx = LocateIndex::build(vec![entry("d", 2, donut)]);
        assert!(idx.locate(2.0, 2.0, "2026-01-01").is_none());
        assert_eq!(idx.locate(0.5, 2.0, "2026-01-01").unwrap().code, "d");
        assert_eq!(
            idx.locate(1.0, 2.0, "2026-01-01").unwrap().code,
            "d",
            "hole edge is boundary"
        );
    }

    #[test]
    fn shared_edges_and_vertices_give_the_smallest_code() {
        let idx = sample();
        for (x, y, want) in [
            (1.0, 1.0, "g1"), // vertex shared by all four grids
            (1.0, 0.5, "g1"), // edge g1|g2
            (1.0, 1.5, "g3"), // edge g3|g4
            (0.5, 1.0, "g1"), // edge g1|g3
            (1.5, 1.0, "g2"), // edge g2|g4
            (2.0, 2.0, "g4"), // outer corner
            (0.0, 0.5, "g1"), // village edge
        ] {
            assert_eq!(
                idx.locate(x, y, "2026-01-01").map(|e| e.code.as_str()),
                Some(want),
                "({x}, {y})"
            );
        }
        // A point computed on a slanted shared edge goes to the smallest code, not by rounding.
        let a = MultiPolygon::new(vec![
            polygon![(x: 0.0, y: 0.0), (x: 0.3, y: 0.0), (x: 0.1, y: 0.7), (x: 0.0, y: 0.0)],
        ]);
        let b = MultiPolygon::new(vec![
            polygon![(x: 0.3, y: 0.0), (x: 0.4, y: 0.7), (x: 0.1, y: 0.7), (x: 0.3, y: 0.0)],
        ]);
        let idx = LocateIndex::build(vec![entry("b", 2, b), entry("a", 2, a)]);
        for i in 1..100 {
            let t = f64::from(i) / 100.0;
            let (x, y) = (0.3 + (0.1 - 0.3) * t, 0.7 * t);
            assert_eq!(idx.locate(x, y, "2026-01-01").unwrap().code, "a", "t={t}");
        }
    }

    #[test]
    fn validity_periods() {
        let mut a = entry("A", 2, rect(0.0, 0.0, 1.0, 1.0));
        a.valid_to = Some("2026-01-01".into());
        let mut b = entry("B", 2, rect(0.0, 0.0, 1.0, 1.0));
        b.valid_from = Some("2026-01-01".into());
        let idx = LocateIndex::build(vec![a, b]);
        assert_eq!(idx.locate(0.5, 0.5, "2025-12-31").unwrap().code, "A");
        assert_eq!(idx.locate(0.5, 0.5, "2026-01-01").unwrap().code, "B");
        assert_eq!(codes(idx.locate_all(0.5, 0.5, "2025-06-01")), ["A"]);
    }

    #[test]
    fn multipolygon_parts_and_empty_geometries() {
        let mut g = rect(0.0, 0.0, 1.0, 1.0);
        g.0.extend(rect(5.0, 5.0, 6.0, 6.0).0);
        let idx = LocateIndex::build(vec![
            entry("m", 2, g),
            entry("e", 2, MultiPolygon::new(vec![])),
        ]);
        assert_eq!(idx.locate(5.5, 5.5, "2026-01-01").unwrap().code, "m");
        assert!(idx.locate(3.0, 3.0, "2026-01-01").is_none());
        assert_eq!(idx.len(), 2);
    }

    fn brute<'a>(entries: &'a [Entry], x: f64, y: f64, at: &str) -> Option<&'a str> {
        entries
            .iter()
            .filter(|e| e.valid_on(at) && e.geometry.intersects(&Point::new(x, y)))
            .max_by(|a, b| a.depth.cmp(&b.depth).then_with(|| b.code.cmp(&a.code)))
            .map(|e| e.code.as_str())
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        (
            0i32..8,
            0i32..8,
            1i32..5,
            1i32..5,
            0u8..3,
            0u32..1000,
            any::<bool>(),
            prop::option::of(0u8..3),
        )
            .prop_map(|(x, y, w, h, depth, code, triangle, to)| {
                let (x0, y0, x1, y1) = (
                    f64::from(x),
                    f64::from(y),
                    f64::from(x + w),
                    f64::from(y + h),
                );
                let g = if triangle {
                    MultiPolygon::new(vec![
                        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x0, y: y1), (x: x0, y: y0)],
                    ])
                } else {
                    let mut r = rect(x0, y0, x1, y1);
                    if w > 2 && h > 2 {
                        r.0[0].interiors_push(vec![
                            (x0 + 1.0, y0 + 1.0),
                            (x0 + 2.0, y0 + 1.0),
                            (x0 + 2.0, y0 + 2.0),
                            (x0 + 1.0, y0 + 1.0),
                        ]);
                    }
                    r
                };
                Entry {
                    unit_id: i64::from(code),
                    code: format!("{code:04}"),
                    depth,
                    valid_from: None,
                    valid_to: to.map(|m| format!("2026-0{}-01", m + 1)),
                    geometry: g,
                }
            })
    }

    proptest! {
        #[test]
        fn agrees_with_brute_force(
            entries in prop::collection::vec(arb_entry(), 1..25),
            points in prop::collection::vec((0i32..48, 0i32..48), 50),
        ) {
            let idx = LocateIndex::build(entries.clone());
            for (px, py) in points {
                // Quarter steps put many points exactly on edges and vertices.
                let (x, y) = (f64::from(px) / 4.0, f64::from(py) / 4.0);
                for at in ["2026-01-15", "2026-02-01", "2026-05-01"] {
                    prop_assert_eq!(idx.locate(x, y, at).map(|e| e.code.as_str()), brute(&entries, x, y, at), "({}, {}) {}", x, y, at);
                }
            }
        }
    }
}
