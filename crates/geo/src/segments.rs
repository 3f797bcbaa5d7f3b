//! Finding where the rings of one polygon cross themselves or each other, with a location to
//! show the user. geo's `Validation` says *that* a ring self-intersects but not *where*, and an
//! import report that cannot point at the spot is of little help on a 2,000-vertex boundary.

use geo::{Coord, Line, LineIntersection, LineString, line_intersection::line_intersection};

/// A crossing found between ring `a` and ring `b` (equal for a self-intersection).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Crossing {
    pub a: usize,
    pub b: usize,
    pub at: Coord<f64>,
}

struct Seg {
    line: Line<f64>,
    min_x: f64,
    max_x: f64,
    ring: usize,
    /// Position in the ring after removing repeated points.
    pos: usize,
    /// Number of segments in that ring.
    count: usize,
}

/// Returns the first crossing found for each ring (self) and each pair of rings, ordered by
/// ring indices. Repeated consecutive points are ignored. Touching at a single point is allowed
/// between different rings (a hole may touch the outer ring at a vertex) but not within a ring.
pub(crate) fn ring_crossings(rings: &[&LineString<f64>]) -> Vec<Crossing> {
    let mut segs = Vec::new();
    for (ring, ls) in rings.iter().enumerate() {
        let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ls.0.len());
        for c in &ls.0 {
            if pts.last() != Some(c) {
                pts.push(*c);
            }
        }
        if pts.len() < 2 {
            continue;
        }
        let count = pts.len() - 1;
        for (pos, w) in pts.windows(2).enumerate() {
            segs.push(Seg {
                line: Line::new(w[0], w[1]),
                min_x: w[0].x.min(w[1].x),
                max_x: w[0].x.max(w[1].x),
                ring,
                pos,
                count,
            });
        }
    }
    segs.sort_by(|p, q| p.min_x.total_cmp(&q.min_x));

    let mut found: Vec<Crossing> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        for t in &segs[i + 1..] {
            if t.min_x > s.max_x {
                break;
            }
            let (a, b) = if s.ring <= t.ring {
                (s.ring, t.ring)
            } else {
                (t.ring, s.ring)
            };
            if found.iter().any(|c| c.a == a && c.b == b) {
                continue;
            }
            let Some(hit) = line_intersection(s.line, t.line) else {
                continue;
            };
            let at = if a == b {
                self_hit(s, t, hit)
            } else {
                match hit {
                    LineIntersection::SinglePoint {
                        intersection,
                        is_proper: true,
                    } => Some(intersection),
                    LineIntersection::SinglePoint { .. } => None,
                    LineIntersection::Collinear { intersection } => Some(intersection.start),
                }
            };
            if let Some(at) = at {
                found.push(Crossing { a, b, at });
            }
        }
    }
    found.sort_by_key(|c| (c.a, c.b));
    found
}

/// Two segments of the same ring: neighbours share a vertex, which is fine unless they fold
/// back over each other (a spike); any other contact is a self-intersection.
fn self_hit(s: &Seg, t: &Seg, hit: LineIntersection<f64>) -> Option<Coord<f64>> {
    let adjacent = s.pos.abs_diff(t.pos) == 1
        || (s.count > 2 && s.pos.min(t.pos) == 0 && s.pos.max(t.pos) == s.count - 1);
    match hit {
        LineIntersection::Collinear { intersection } => Some(intersection.start),
        LineIntersection::SinglePoint { intersection, .. } if !adjacent => Some(intersection),
        LineIntersection::SinglePoint { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::line_string;

    #[test]
    fn square_is_clean() {
        let r = line_string![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.), (x: 0., y: 0.)];
        assert!(ring_crossings(&[&r]).is_empty());
    }

    #[test]
    fn bow_tie_crosses_in_the_middle() {
        let r = line_string![(x: 0., y: 0.), (x: 2., y: 2.), (x: 2., y: 0.), (x: 0., y: 2.), (x: 0., y: 0.)];
        let c = ring_crossings(&[&r]);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].a, c[0].b), (0, 0));
        assert!((c[0].at.x - 1.0).abs() < 1e-12 && (c[0].at.y - 1.0).abs() < 1e-12);
    }

    #[test]
    fn spike_and_repeated_points() {
        let repeated = line_string![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 0.)];
        assert!(ring_crossings(&[&repeated]).is_empty());
        let spike = line_string![(x: 0., y: 0.), (x: 2., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 0.)];
        assert_eq!(ring_crossings(&[&spike]).len(), 1);
    }

    #[test]
    fn hole_crossing_the_outer_ring() {
        let outer = line_string![(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 4.), (x: 0., y: 0.)];
        let inside = line_string![(x: 1., y: 1.), (x: 1., y: 2.), (x: 2., y: 2.), (x: 2., y: 1.), (x: 1., y: 1.)];
        let touching = line_string![(x: 0., y: 0.), (x: 1., y: 2.), (x: 2., y: 1.), (x: 0., y: 0.)];
        let crossing = line_string![(x: 3., y: 1.), (x: 3., y: 2.), (x: 5., y: 2.), (x: 5., y: 1.), (x: 3., y: 1.)];
        assert!(ring_crossings(&[&outer, &inside]).is_empty());
        assert!(ring_crossings(&[&outer, &touching]).is_empty());
        let c = ring_crossings(&[&outer, &crossing]);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].a, c[0].b), (0, 1));
        assert_eq!(c[0].at.x, 4.0);
    }
}
