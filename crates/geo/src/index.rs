//! Point → unit lookup ("which grid is this address in?") for case intake and the map.
//!
//! Every call of `locate` happens on a request path, so the index is built once, never
//! mutated (the caller swaps an `Arc` when boundaries change) and a lookup does not allocate.
//! A static R-tree packed into flat arrays finds the polygon parts whose box holds the point,
//! and a crossing-number test over flat coordinate arrays decides. Past versions of boundaries
//! are indexed too and filtered by their validity period, so a case can be placed in the grid
//! of its own date.
//!
//! The layout is chosen for memory latency, which is what a lookup waits for once the polygons
//! no longer fit in the CPU caches (100,000 grids of ~25 vertices are ~40 MB of coordinates):
//! * parts are ordered along a Hilbert curve, so the candidates of one point sit next to each
//!   other in the tree and in the coordinate array;
//! * a node keeps its 16 children's boxes side by side in `f32`, tested together;
//! * a leaf carries what decides between candidates (validity as positions in a sorted list of
//!   dates, depth, the rank of the code), so an `Entry` and its strings are read only for the
//!   answer;
//! * a leaf also carries a 16 × 16 raster of its box: cells that no edge comes near are marked
//!   inside or outside, so most points are answered without reading the part's coordinates.

use geo::{BoundingRect, Coord, MultiPolygon, Polygon};

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

/// Distance (degrees) within which a point counts as on an edge: about 0.1 mm, far below the
/// accuracy of any boundary, but enough to absorb rounding when a point was computed on an
/// edge (e.g. a midpoint) so that both neighbours see it and the smallest code wins.
const ON_EDGE: f64 = 1e-9;

/// A point counts as on an edge only within √2 × `ON_EDGE` of it, so an edge whose ends are
/// both more than `NEAR` above the point, or both more than `NEAR` below it, neither has the
/// point on it nor crosses the ray from it; and a part's box widened by `NEAR` holds every
/// point on its edges. Ten times `ON_EDGE` leaves a wide margin over rounding.
const NEAR: f64 = 1e-8;

/// Cells per side of a part's raster.
const RASTER: usize = 16;
/// 2 bits per cell.
const RASTER_WORDS: usize = RASTER * RASTER / 32;
const OUTSIDE: u64 = 1;
const INSIDE: u64 = 2;
/// A raster cell is decided only when no edge's box, widened by this much (degrees, ~1 cm),
/// reaches it: every point of the cell is then at least `MARGIN / 2` from every edge, where the
/// exact test cannot see an edge and its rounding cannot change a crossing, so the answer found
/// at the cell's centre holds for the whole cell.
const MARGIN: f64 = 1e-7;

/// One polygon part, as the tree stores it.
#[derive(Clone, Copy)]
struct Leaf {
    /// Position in `LocateIndex::entries`.
    entry: u32,
    /// Position of the entry's code among the distinct codes in order (equal codes get equal
    /// ranks), so comparing ranks compares codes.
    rank: u32,
    /// 1 + position of `valid_from` in `LocateIndex::dates`; 0 = always.
    from: u32,
    /// 1 + position of `valid_to` in `LocateIndex::dates`; 0 = still valid.
    to: u32,
    /// Without holes: the ring is `coords[start..end]`; with holes: the rings are
    /// `rings[start..end]`.
    start: u32,
    end: u32,
    holes: bool,
    depth: u8,
    /// `RASTER` × `RASTER` cells over the part's box (as stored in the tree), row by row from
    /// the south-west, 2 bits each: `INSIDE`, `OUTSIDE`, or 0 when an edge is near.
    raster: [u64; RASTER_WORDS],
}

impl Leaf {
    /// Valid on a date that is ≥ exactly `dates_le` of the distinct dates, i.e.
    /// `valid_from <= at` and `at < valid_to` as strings.
    fn valid(&self, dates_le: usize) -> bool {
        (self.from == 0 || self.from as usize <= dates_le)
            && (self.to == 0 || self.to as usize > dates_le)
    }

    /// Whether `self` wins over `other` for the same point: deeper, then smaller code.
    fn beats(&self, other: &Leaf) -> bool {
        (other.depth, self.rank) < (self.depth, other.rank)
    }

    /// The raster's answer for `p` when its cell is decided.
    #[inline]
    fn raster_at(&self, frame: [f32; 4], p: Coord<f64>) -> Option<bool> {
        let (x0, y0, sx, sy) = cell_scale(frame)?;
        let (fx, fy) = ((p.x - x0) * sx, (p.y - y0) * sy);
        if !(fx >= 0.0 && fy >= 0.0 && fx < RASTER as f64 && fy < RASTER as f64) {
            return None;
        }
        let k = fy as usize * RASTER + fx as usize;
        match self.raster.get(k / 32).map(|w| (w >> (2 * (k % 32))) & 3) {
            Some(INSIDE) => Some(true),
            Some(OUTSIDE) => Some(false),
            _ => None,
        }
    }
}

/// The raster cells of a box: (west, south, cells per degree east, cells per degree north), or
/// `None` for a box too thin to divide.
fn cell_scale(frame: [f32; 4]) -> Option<(f64, f64, f64, f64)> {
    let [x0, y0, x1, y1] = frame.map(f64::from);
    let (sx, sy) = (RASTER as f64 / (x1 - x0), RASTER as f64 / (y1 - y0));
    (sx.is_finite() && sy.is_finite() && sx > 0.0 && sy > 0.0).then_some((x0, y0, sx, sy))
}

/// The raster of a part with these rings (see `Leaf::raster`).
fn raster(frame: [f32; 4], rings: &[&[Coord<f64>]]) -> [u64; RASTER_WORDS] {
    let mut out = [0u64; RASTER_WORDS];
    let Some((x0, y0, sx, sy)) = cell_scale(frame) else {
        return out;
    };
    let cell =
        |v: f64, lo: f64, s: f64| ((v - lo) * s).floor().clamp(0.0, RASTER as f64 - 1.0) as usize;
    let mut near = [[false; RASTER]; RASTER];
    for ring in rings {
        for w in ring.windows(2) {
            let (a, b) = (w[0], w[1]);
            let (i0, i1) = (
                cell(a.x.min(b.x) - MARGIN, x0, sx),
                cell(a.x.max(b.x) + MARGIN, x0, sx),
            );
            let (j0, j1) = (
                cell(a.y.min(b.y) - MARGIN, y0, sy),
                cell(a.y.max(b.y) + MARGIN, y0, sy),
            );
            for row in &mut near[j0..=j1] {
                for c in &mut row[i0..=i1] {
                    *c = true;
                }
            }
        }
    }
    // Neighbouring cells (along a row, or across rows) that no edge comes near have the same
    // answer: each run of such cells in a row takes it from a decided cell of the row below
    // that it touches, or else from the exact test at the centre of its first cell.
    let mut codes = [[0u64; RASTER]; RASTER];
    for j in 0..RASTER {
        let mut i = 0;
        while i < RASTER {
            if near[j][i] {
                i += 1;
                continue;
            }
            let mut end = i;
            while end < RASTER && !near[j][end] {
                end += 1;
            }
            let below = j
                .checked_sub(1)
                .and_then(|b| codes[b][i..end].iter().copied().find(|&c| c != 0));
            let code = below.unwrap_or_else(|| {
                let centre = Coord {
                    x: x0 + (i as f64 + 0.5) / sx,
                    y: y0 + (j as f64 + 0.5) / sy,
                };
                match rings_cover(rings.iter().copied(), centre) {
                    Cover::Inside => INSIDE,
                    Cover::Outside => OUTSIDE,
                    Cover::OnEdge => 0,
                }
            });
            codes[j][i..end].fill(code);
            i = end;
        }
    }
    for (j, row) in codes.iter().enumerate() {
        for (i, &code) in row.iter().enumerate() {
            let k = j * RASTER + i;
            out[k / 32] |= code << (2 * (k % 32));
        }
    }
    out
}

/// Children per tree node.
const NODE: usize = 16;

/// The boxes of a node's children, one array per side, rounded outwards to `f32` (a box only
/// selects candidates, so a slightly larger one changes no answer). Unused slots are empty
/// (min = +∞, max = −∞) and never hit.
#[derive(Clone, Copy)]
struct Boxes {
    min_x: [f32; NODE],
    min_y: [f32; NODE],
    max_x: [f32; NODE],
    max_y: [f32; NODE],
}

impl Boxes {
    const EMPTY: Boxes = Boxes {
        min_x: [f32::INFINITY; NODE],
        min_y: [f32::INFINITY; NODE],
        max_x: [f32::NEG_INFINITY; NODE],
        max_y: [f32::NEG_INFINITY; NODE],
    };

    fn set(&mut self, i: usize, b: [f64; 4]) {
        let [x0, y0, x1, y1] = outwards(b);
        self.min_x[i] = x0;
        self.min_y[i] = y0;
        self.max_x[i] = x1;
        self.max_y[i] = y1;
    }

    fn get(&self, i: usize) -> [f32; 4] {
        [self.min_x[i], self.min_y[i], self.max_x[i], self.max_y[i]]
    }

    /// Bit `i` is set when child `i`'s box holds (x, y). The point is rounded to the nearest
    /// `f32` and the boxes outwards, so a box that holds the exact point holds the rounded one.
    #[inline]
    fn hits(&self, x: f32, y: f32) -> u32 {
        let mut mask = 0u32;
        for i in 0..NODE {
            let inside = (x >= self.min_x[i])
                & (x <= self.max_x[i])
                & (y >= self.min_y[i])
                & (y <= self.max_y[i]);
            mask |= u32::from(inside) << i;
        }
        mask
    }
}

/// A box rounded outwards to `f32`.
fn outwards(b: [f64; 4]) -> [f32; 4] {
    [down(b[0]), down(b[1]), up(b[2]), up(b[3])]
}

/// The largest `f32` ≤ `v`.
fn down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v { f.next_down() } else { f }
}

/// The smallest `f32` ≥ `v`.
fn up(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) < v { f.next_up() } else { f }
}

const NO_BOX: [f64; 4] = [
    f64::INFINITY,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NEG_INFINITY,
];

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// Position of (x, y) along a Hilbert curve filling a 65,536 × 65,536 grid.
fn hilbert(mut x: u32, mut y: u32) -> u64 {
    const N: u32 = 1 << 16;
    let mut d = 0u64;
    let mut s = N / 2;
    while s > 0 {
        let rx = u32::from(x & s != 0);
        let ry = u32::from(y & s != 0);
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        // Turn the quadrant so that the curve inside it runs the standard way.
        if ry == 0 {
            if rx == 1 {
                x = (N - 1).wrapping_sub(x);
                y = (N - 1).wrapping_sub(y);
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// Positions of `boxes` in the order of their centres along a Hilbert curve.
fn curve_order(boxes: &[[f64; 4]]) -> Vec<usize> {
    let all = boxes.iter().fold(NO_BOX, |acc, b| union(acc, *b));
    let cell = |v: f64, lo: f64, hi: f64| {
        if hi > lo {
            ((v - lo) / (hi - lo) * 65535.0).clamp(0.0, 65535.0) as u32
        } else {
            0
        }
    };
    let mut keyed: Vec<(u64, usize)> = boxes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = cell((b[0] + b[2]) / 2.0, all[0], all[2]);
            let y = cell((b[1] + b[3]) / 2.0, all[1], all[3]);
            (hilbert(x, y), i)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// A static R-tree: the leaves in curve order, `NODE` to a bottom node, and above them levels
/// of nodes, each over `NODE` consecutive nodes of the level below, up to a single root.
struct Tree {
    /// The leaves' boxes, `NODE` to a node.
    bottom: Vec<Boxes>,
    /// Leaf `k` is child `k % NODE` of bottom node `k / NODE`.
    leaves: Vec<Leaf>,
    /// `upper[0]` are the parents of `bottom`; the last level holds only the root.
    upper: Vec<Vec<Boxes>>,
}

impl Tree {
    /// `parts` in curve order, with their boxes.
    fn build(parts: Vec<(Leaf, [f64; 4])>) -> Self {
        let mut bottom = Vec::with_capacity(parts.len().div_ceil(NODE));
        let mut leaves = Vec::with_capacity(parts.len());
        let mut level = Vec::with_capacity(parts.len().div_ceil(NODE));
        for chunk in parts.chunks(NODE) {
            let mut node = Boxes::EMPTY;
            let mut all = NO_BOX;
            for (i, (leaf, b)) in chunk.iter().enumerate() {
                node.set(i, *b);
                leaves.push(*leaf);
                all = union(all, *b);
            }
            bottom.push(node);
            level.push(all);
        }
        let mut upper = Vec::new();
        while level.len() > 1 {
            let mut nodes = Vec::with_capacity(level.len().div_ceil(NODE));
            let mut next = Vec::with_capacity(level.len().div_ceil(NODE));
            for chunk in level.chunks(NODE) {
                let mut node = Boxes::EMPTY;
                let mut all = NO_BOX;
                for (i, b) in chunk.iter().enumerate() {
                    node.set(i, *b);
                    all = union(all, *b);
                }
                nodes.push(node);
                next.push(all);
            }
            upper.push(nodes);
            level = next;
        }
        Tree {
            bottom,
            leaves,
            upper,
        }
    }

    /// Calls `f` with every leaf whose box holds `p`, and that box.
    #[inline]
    fn search<'a>(&'a self, p: Coord<f64>, mut f: impl FnMut(&'a Leaf, [f32; 4])) {
        let (x, y) = (p.x as f32, p.y as f32);
        let mut visit_bottom = |node: usize| {
            let Some(boxes) = self.bottom.get(node) else {
                return;
            };
            let mut hits = boxes.hits(x, y);
            while hits != 0 {
                let i = hits.trailing_zeros() as usize;
                hits &= hits - 1;
                if let Some(leaf) = self.leaves.get(node * NODE + i) {
                    f(leaf, boxes.get(i));
                }
            }
        };
        match self.upper.len().checked_sub(1) {
            // No more than one bottom node.
            None => visit_bottom(0),
            Some(top) => self.descend(top, 0, x, y, &mut visit_bottom),
        }
    }

    /// Visits the children of node `node` of `upper[level]` whose boxes hold (x, y).
    fn descend(&self, level: usize, node: usize, x: f32, y: f32, bottom: &mut impl FnMut(usize)) {
        let Some(boxes) = self.upper.get(level).and_then(|l| l.get(node)) else {
            return;
        };
        let mut hits = boxes.hits(x, y);
        while hits != 0 {
            let child = node * NODE + hits.trailing_zeros() as usize;
            hits &= hits - 1;
            match level.checked_sub(1) {
                None => bottom(child),
                Some(below) => self.descend(below, child, x, y, bottom),
            }
        }
    }
}

/// In-memory R-tree of boundaries (current and past versions), immutable once built.
pub struct LocateIndex {
    entries: Vec<Entry>,
    tree: Tree,
    /// Every distinct `valid_from` and `valid_to`, sorted.
    dates: Vec<String>,
    /// Rings of parts with holes: `coords[start..end]`.
    rings: Vec<(u32, u32)>,
    /// Every ring, closed (last == first), part after part in the tree's order.
    coords: Vec<Coord<f64>>,
}

impl LocateIndex {
    /// Indexes `entries`. Parts with non-finite coordinates or fewer than 3 vertices are
    /// skipped (validation rejects them before they are stored).
    pub fn build(entries: Vec<Entry>) -> Self {
        let mut dates: Vec<&str> = entries
            .iter()
            .flat_map(|e| [e.valid_from.as_deref(), e.valid_to.as_deref()])
            .flatten()
            .collect();
        dates.sort_unstable();
        dates.dedup();
        let date = |d: Option<&str>| d.map_or(0, |d| dates.partition_point(|x| *x < d) as u32 + 1);
        let mut by_code: Vec<usize> = (0..entries.len()).collect();
        by_code.sort_by(|&a, &b| entries[a].code.cmp(&entries[b].code));
        let mut rank = vec![0u32; entries.len()];
        for k in 1..by_code.len() {
            let (prev, e) = (by_code[k - 1], by_code[k]);
            rank[e] = rank[prev] + u32::from(entries[prev].code != entries[e].code);
        }

        let mut parts: Vec<(usize, &Polygon<f64>)> = Vec::new();
        let mut boxes = Vec::new();
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
                parts.push((e, poly));
                boxes.push([
                    rect.min().x - NEAR,
                    rect.min().y - NEAR,
                    rect.max().x + NEAR,
                    rect.max().y + NEAR,
                ]);
            }
        }

        let mut rings = Vec::new();
        let mut coords = Vec::new();
        let mut leaves = Vec::with_capacity(parts.len());
        for i in curve_order(&boxes) {
            let (e, poly) = parts[i];
            let entry = &entries[e];
            let first_ring = rings.len();
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
            let holes = rings.len() - first_ring > 1;
            let (start, end) = if holes {
                (first_ring as u32, rings.len() as u32)
            } else {
                // A lone exterior is read straight from `coords`.
                let empty = (coords.len() as u32, coords.len() as u32);
                let only = rings.get(first_ring).copied().unwrap_or(empty);
                rings.truncate(first_ring);
                only
            };
            let frame = outwards(boxes[i]);
            let raster = if holes {
                let part: Vec<&[Coord<f64>]> = rings[first_ring..]
                    .iter()
                    .map(|&(s, e)| &coords[s as usize..e as usize])
                    .collect();
                raster(frame, &part)
            } else {
                raster(frame, &[&coords[start as usize..end as usize]])
            };
            let leaf = Leaf {
                entry: e as u32,
                rank: rank[e],
                from: date(entry.valid_from.as_deref()),
                to: date(entry.valid_to.as_deref()),
                start,
                end,
                holes,
                depth: entry.depth,
                raster,
            };
            leaves.push((leaf, boxes[i]));
        }
        let tree = Tree::build(leaves);
        let dates = dates.into_iter().map(str::to_owned).collect();
        LocateIndex {
            entries,
            tree,
            dates,
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

    /// How many of the distinct validity dates are ≤ `at`.
    fn dates_le(&self, at: &str) -> usize {
        self.dates.partition_point(|d| d.as_str() <= at)
    }

    /// The deepest entry valid on `at` ("YYYY-MM-DD") whose geometry contains the point or has
    /// it on its boundary; among equally deep candidates the one with the smallest code, so
    /// points on shared edges and vertices always get the same answer.
    pub fn locate(&self, lng: f64, lat: f64, at: &str) -> Option<&Entry> {
        let p = Coord { x: lng, y: lat };
        let le = self.dates_le(at);
        let mut best: Option<&Leaf> = None;
        self.tree.search(p, |leaf, frame| {
            if best.is_some_and(|b| !leaf.beats(b)) || !leaf.valid(le) {
                return;
            }
            if self.covers(leaf, frame, p) {
                best = Some(leaf);
            }
        });
        best.and_then(|leaf| self.entries.get(leaf.entry as usize))
    }

    /// Every entry valid on `at` covering the point (all depths), deepest first, then by code.
    pub fn locate_all(&self, lng: f64, lat: f64, at: &str) -> Vec<&Entry> {
        let p = Coord { x: lng, y: lat };
        let le = self.dates_le(at);
        let mut found: Vec<u32> = Vec::new();
        self.tree.search(p, |leaf, frame| {
            if leaf.valid(le) && self.covers(leaf, frame, p) {
                found.push(leaf.entry);
            }
        });
        found.sort_unstable();
        found.dedup();
        let mut out: Vec<&Entry> = found
            .into_iter()
            .filter_map(|i| self.entries.get(i as usize))
            .collect();
        out.sort_by(|a, b| b.depth.cmp(&a.depth).then_with(|| a.code.cmp(&b.code)));
        out
    }

    /// Whether the part covers `p` (inside, or on an edge): from the raster when it can tell,
    /// else by the crossing number over all rings (holes flip parity).
    fn covers(&self, leaf: &Leaf, frame: [f32; 4], p: Coord<f64>) -> bool {
        if let Some(covered) = leaf.raster_at(frame, p) {
            return covered;
        }
        let (start, end) = (leaf.start as usize, leaf.end as usize);
        let cover = if leaf.holes {
            let rings = self.rings.get(start..end).unwrap_or_default();
            rings_cover(
                rings
                    .iter()
                    .filter_map(|&(s, e)| self.coords.get(s as usize..e as usize)),
                p,
            )
        } else {
            rings_cover(self.coords.get(start..end), p)
        };
        cover != Cover::Outside
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Cover {
    Outside,
    Inside,
    OnEdge,
}

/// Crossing number over closed rings (each ring's crossings flip the parity, so holes are
/// outside), or `OnEdge` as soon as the point is on an edge.
fn rings_cover<'a>(rings: impl IntoIterator<Item = &'a [Coord<f64>]>, p: Coord<f64>) -> Cover {
    let (below, above) = (p.y - NEAR, p.y + NEAR);
    let mut inside = false;
    for ring in rings {
        for w in ring.windows(2) {
            let (a, b) = (w[0], w[1]);
            // Both ends well above or well below: neither on the edge nor crossing (`NEAR`).
            if (a.y > above && b.y > above) || (a.y < below && b.y < below) {
                continue;
            }
            match edge_test(a, b, p) {
                EdgeTest::On => return Cover::OnEdge,
                EdgeTest::Crosses => inside = !inside,
                EdgeTest::Misses => {}
            }
        }
    }
    if inside {
        Cover::Inside
    } else {
        Cover::Outside
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

    fn valid_on(e: &Entry, at: &str) -> bool {
        e.valid_from.as_deref().is_none_or(|f| f <= at)
            && e.valid_to.as_deref().is_none_or(|t| at < t)
    }

    fn brute<'a>(entries: &'a [Entry], x: f64, y: f64, at: &str) -> Option<&'a str> {
        entries
            .iter()
            .filter(|e| valid_on(e, at) && e.geometry.intersects(&Point::new(x, y)))
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

    #[test]
    fn near_an_edge_is_on_it_within_on_edge_only() {
        // A large triangle: its raster decides most points, the exact test the ones near the
        // hypotenuse x + y = 1.
        let t = MultiPolygon::new(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)],
        ]);
        let idx = LocateIndex::build(vec![entry("t", 2, t)]);
        let at = "2026-01-01";
        let n = std::f64::consts::FRAC_1_SQRT_2;
        for (d, want) in [
            (-1e-3, true),
            (-1e-6, true),
            (-6e-8, true),
            (-5e-10, true),
            (0.0, true),
            (5e-10, true),
            (3e-9, false),
            (6e-8, false),
            (1e-6, false),
            (1e-3, false),
        ] {
            for (x, y) in [(0.3, 0.7), (0.5, 0.5), (0.9, 0.1)] {
                let (px, py) = (x + d * n, y + d * n);
                assert_eq!(
                    idx.locate(px, py, at).is_some(),
                    want,
                    "{d} from ({x}, {y})"
                );
            }
        }
        // Beyond the outermost vertices too, not only along the edges.
        assert!(idx.locate(0.0, 1.0 + 5e-10, at).is_some());
        assert!(idx.locate(1.0 + 5e-10, 0.0, at).is_some());
        assert!(idx.locate(-5e-10, -5e-10, at).is_some());
        assert!(idx.locate(0.0, 1.0 + 3e-9, at).is_none());
        // Every raster cell of the box: the centre, the corners and points just inside them.
        for i in 0..64 {
            for j in 0..64 {
                for (fx, fy) in [(0.5, 0.5), (0.0, 0.0), (1e-9, 1e-9), (1.0 - 1e-9, 0.0)] {
                    let (x, y) = ((f64::from(i) + fx) / 64.0, (f64::from(j) + fy) / 64.0);
                    let want = brute(idx.entries(), x, y, at);
                    let got = idx.locate(x, y, at).map(|e| e.code.as_str());
                    if (x + y - 1.0).abs() > 1e-8 {
                        assert_eq!(got, want, "({x}, {y})");
                    }
                }
            }
        }
    }

    #[test]
    fn many_levels_of_nodes() {
        // 70 × 70 unit squares, shuffled: 4,900 leaves, two levels above the bottom nodes.
        let mut entries = Vec::new();
        for i in 0..70 {
            for j in 0..70 {
                let (x, y) = (f64::from(i), f64::from(j));
                let code = format!("{:05}", (i * 7919 + j * 104_729) % 99_991);
                entries.push(entry(&code, 2, rect(x, y, x + 1.0, y + 1.0)));
            }
        }
        let idx = LocateIndex::build(entries.clone());
        for i in 0..140 {
            for j in 0..140 {
                let (x, y) = (f64::from(i) / 2.0 + 0.25, f64::from(j) / 2.0 + 0.25);
                assert_eq!(
                    idx.locate(x, y, "2026-01-01").map(|e| e.code.as_str()),
                    brute(&entries, x, y, "2026-01-01"),
                    "({x}, {y})"
                );
            }
        }
        // Shared corners: the smallest of the four codes.
        for (x, y) in [(1.0, 1.0), (35.0, 17.0), (69.0, 69.0), (70.0, 70.0)] {
            assert_eq!(
                idx.locate(x, y, "2026-01-01").map(|e| e.code.as_str()),
                brute(&entries, x, y, "2026-01-01"),
                "({x}, {y})"
            );
        }
        assert!(idx.locate(70.5, 3.0, "2026-01-01").is_none());
        assert!(idx.locate(f64::NAN, 3.0, "2026-01-01").is_none());
    }

    proptest! {
        #[test]
        fn agrees_with_brute_force_off_the_lattice(
            entries in prop::collection::vec(arb_entry(), 1..25),
            points in prop::collection::vec((0.0f64..12.0, 0.0f64..12.0), 50),
        ) {
            let idx = LocateIndex::build(entries.clone());
            for (x, y) in points {
                for at in ["2026-01-15", "2026-02-01", "2026-05-01"] {
                    prop_assert_eq!(idx.locate(x, y, at).map(|e| e.code.as_str()), brute(&entries, x, y, at), "({}, {}) {}", x, y, at);
                }
            }
        }

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
