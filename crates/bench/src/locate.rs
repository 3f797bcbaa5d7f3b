//! `wangge-bench locate`: point-to-grid lookups with `wangge_geo::index::LocateIndex`, side by
//! side with PostGIS `ST_Contains` on a GiST index over the same polygons (issue 3).
//!
//! 1. Generate `cols × rows` grids tiling a region (default 400 × 250 over 118–120°E,
//!    32–34°N). The lattice corners are jittered, and every shared border is a jittered
//!    polyline stored once and used by both neighbours (one forwards, one backwards), so there
//!    are neither gaps nor overlaps; each polygon has 20–28 distinct vertices. The tiling is
//!    checked: every polygon passes `boundary::validate`, every interior segment appears
//!    reversed in exactly one side neighbour, and the areas add up to the region's.
//! 2. Build the index (one `Entry` per grid, depth 5, valid from 2020-01-01) and time it.
//! 3. Time `lookups` pre-generated uniform random points through `LocateIndex::locate` on the
//!    calling thread, `passes` times.
//! 4. Check `check` of those points, plus points on shared vertices and edges, against a brute
//!    force scan (geo `Intersects`) and, with a PostGIS URL, against `ST_Contains` and
//!    `ST_Intersects`.
//! 5. PostGIS: load the same polygons, build a GiST index, then time one prepared query per
//!    point over one connection, and one query over a batch of points (`unnest` + LATERAL).

use crate::phases::memory_mib;
use crate::stats::summarize;
use anyhow::{Context, bail};
use geo::{BoundingRect, Coord, Intersects, LineString, MultiPolygon, Point, Polygon};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection, Row};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};
use wangge_geo::boundary;
use wangge_geo::index::{Entry, LocateIndex};

/// The region tiled by the grids: west, south, width and height in degrees.
const WEST: f64 = 118.0;
const SOUTH: f64 = 32.0;
const WIDTH: f64 = 2.0;
const HEIGHT: f64 = 2.0;
/// The date the lookups are made for (every grid is valid from 2020-01-01, open-ended).
const AT: &str = "2026-01-01";
/// Same as `ON_EDGE` in wangge-geo's index: a point this close to an edge counts as on it.
const ON_EDGE: f64 = 1e-9;

#[derive(clap::Args)]
pub struct LocateOptions {
    /// Grid columns (west to east).
    #[arg(long, default_value_t = 400)]
    pub cols: usize,
    /// Grid rows (south to north).
    #[arg(long, default_value_t = 250)]
    pub rows: usize,
    #[arg(long, default_value_t = 3)]
    pub seed: u64,
    /// Random points looked up per timed pass.
    #[arg(long, default_value_t = 5_000_000)]
    pub lookups: usize,
    #[arg(long, default_value_t = 3)]
    pub passes: usize,
    /// Random points checked against brute force (and PostGIS).
    #[arg(long, default_value_t = 10_000)]
    pub check: usize,
    /// Extra checked points on shared borders (half vertices, half segment midpoints).
    #[arg(long, default_value_t = 1_000)]
    pub boundary_points: usize,
    /// postgres://… of a database with the postgis extension; a table `grids` is created
    /// and dropped in it.
    #[arg(long)]
    pub postgis_url: Option<String>,
    /// Sequential prepared queries, one point each.
    #[arg(long, default_value_t = 20_000)]
    pub pg_queries: usize,
    /// Points in the one batched query.
    #[arg(long, default_value_t = 200_000)]
    pub pg_batch: usize,
    #[arg(long, default_value_t = 3)]
    pub pg_batch_runs: usize,
}

/// The shared borders of the tiling. `h[j * cols + i]` runs from corner (i, j) to (i + 1, j);
/// `v[j * (cols + 1) + i]` from corner (i, j) to (i, j + 1). Both include their end corners.
struct Lattice {
    cols: usize,
    rows: usize,
    h: Vec<Vec<Coord<f64>>>,
    v: Vec<Vec<Coord<f64>>>,
}

impl Lattice {
    fn generate(cols: usize, rows: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (cw, ch) = (WIDTH / cols as f64, HEIGHT / rows as f64);
        let mut corners = Vec::with_capacity((cols + 1) * (rows + 1));
        for j in 0..=rows {
            for i in 0..=cols {
                // Corners on the region's border stay on it.
                let jx = if i == 0 || i == cols {
                    0.0
                } else {
                    rng.random_range(-0.1..0.1) * cw
                };
                let jy = if j == 0 || j == rows {
                    0.0
                } else {
                    rng.random_range(-0.1..0.1) * ch
                };
                corners.push(Coord {
                    x: WEST + i as f64 * WIDTH / cols as f64 + jx,
                    y: SOUTH + j as f64 * HEIGHT / rows as f64 + jy,
                });
            }
        }
        let corner = |i: usize, j: usize| corners[j * (cols + 1) + i];
        let mut h = Vec::with_capacity(cols * (rows + 1));
        for j in 0..=rows {
            for i in 0..cols {
                let outer = j == 0 || j == rows;
                h.push(polyline(&mut rng, corner(i, j), corner(i + 1, j), outer));
            }
        }
        let mut v = Vec::with_capacity((cols + 1) * rows);
        for j in 0..rows {
            for i in 0..=cols {
                let outer = i == 0 || i == cols;
                v.push(polyline(&mut rng, corner(i, j), corner(i, j + 1), outer));
            }
        }
        Lattice { cols, rows, h, v }
    }

    fn h(&self, i: usize, j: usize) -> &[Coord<f64>] {
        &self.h[j * self.cols + i]
    }

    fn v(&self, i: usize, j: usize) -> &[Coord<f64>] {
        &self.v[j * (self.cols + 1) + i]
    }

    /// The closed, counter-clockwise ring of cell (i, j): bottom, right, top reversed, left
    /// reversed.
    fn ring(&self, i: usize, j: usize) -> Vec<Coord<f64>> {
        let mut ring = Vec::with_capacity(32);
        ring.extend_from_slice(self.h(i, j));
        ring.extend_from_slice(&self.v(i + 1, j)[1..]);
        ring.extend(self.h(i, j + 1).iter().rev().skip(1));
        ring.extend(self.v(i, j).iter().rev().skip(1));
        ring
    }

    fn code(i: usize, j: usize) -> String {
        format!("320812{j:04}{i:04}")
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::with_capacity(self.cols * self.rows);
        for j in 0..self.rows {
            for i in 0..self.cols {
                let ring = LineString::new(self.ring(i, j));
                out.push(Entry {
                    unit_id: (j * self.cols + i) as i64 + 1,
                    code: Self::code(i, j),
                    depth: 5,
                    valid_from: Some("2020-01-01".to_owned()),
                    valid_to: None,
                    geometry: MultiPolygon::new(vec![Polygon::new(ring, vec![])]),
                });
            }
        }
        out
    }

    /// Points exactly on shared corners and vertices, and midpoints of shared segments
    /// (computed, so within rounding of the edge), half and half.
    fn boundary_points(&self, n: usize, rng: &mut StdRng) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && self.cols > 1 && self.rows > 1 {
            // An interior border: horizontal (j in 1..rows) or vertical (i in 1..cols).
            let line = if rng.random_bool(0.5) {
                self.h(
                    rng.random_range(0..self.cols),
                    rng.random_range(1..self.rows),
                )
            } else {
                self.v(
                    rng.random_range(1..self.cols),
                    rng.random_range(0..self.rows),
                )
            };
            let k = rng.random_range(0..line.len() - 1);
            let (a, b) = (line[k], line[k + 1]);
            if out.len() % 2 == 0 {
                out.push((a.x, a.y));
            } else {
                out.push(((a.x + b.x) / 2.0, (a.y + b.y) / 2.0));
            }
        }
        out
    }
}

/// A border from `a` to `b` with 4–6 vertices in between, pushed sideways by up to 8 % of its
/// length (tapering to 0 at the ends, so neighbouring borders cannot cross). Borders on the
/// region's edge stay straight.
fn polyline(rng: &mut StdRng, a: Coord<f64>, b: Coord<f64>, outer: bool) -> Vec<Coord<f64>> {
    let k: usize = rng.random_range(4..=6);
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let mut out = Vec::with_capacity(k + 2);
    out.push(a);
    for m in 1..=k {
        let t = (m as f64 + rng.random_range(-0.25..0.25)) / (k + 1) as f64;
        let side = if outer {
            0.0
        } else {
            0.08 * (std::f64::consts::PI * t).sin() * rng.random_range(-1.0..1.0)
        };
        out.push(Coord {
            x: a.x + dx * t - dy * side,
            y: a.y + dy * t + dx * side,
        });
    }
    out.push(b);
    out
}

fn shoelace(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

fn on_region_border(a: Coord<f64>, b: Coord<f64>) -> bool {
    let east = WEST + WIDTH;
    let north = SOUTH + HEIGHT;
    (a.x == WEST && b.x == WEST)
        || (a.x == east && b.x == east)
        || (a.y == SOUTH && b.y == SOUTH)
        || (a.y == north && b.y == north)
}

/// Tiling check over the built polygons (see the module comment). Returns a summary line, or
/// an error naming the first problem.
fn check_tiling(entries: &[Entry], cols: usize, rows: usize) -> anyhow::Result<String> {
    fn ring(entries: &[Entry], k: usize) -> &[Coord<f64>] {
        entries
            .get(k)
            .and_then(|e| e.geometry.0.first())
            .map_or(&[], |p| p.exterior().0.as_slice())
    }
    let ring_of = |i: usize, j: usize| ring(entries, j * cols + i);
    let mut invalid = 0usize;
    for (n, e) in entries.iter().enumerate() {
        let problems = boundary::validate(Some(n), Some(&e.code), &e.geometry);
        if !problems.is_empty() {
            invalid += 1;
            if invalid <= 3 {
                eprintln!("{}: {:?}", e.code, problems.first().map(|p| &p.message));
            }
        }
    }
    let (mut area, mut segments, mut shared, mut border, mut clockwise) = (0.0, 0, 0, 0, 0);
    for j in 0..rows {
        for i in 0..cols {
            let ring = ring_of(i, j);
            let a = shoelace(ring);
            if a <= 0.0 {
                clockwise += 1;
            }
            area += a;
            let mut neighbours: Vec<&[Coord<f64>]> = Vec::with_capacity(4);
            if i > 0 {
                neighbours.push(ring_of(i - 1, j));
            }
            if i + 1 < cols {
                neighbours.push(ring_of(i + 1, j));
            }
            if j > 0 {
                neighbours.push(ring_of(i, j - 1));
            }
            if j + 1 < rows {
                neighbours.push(ring_of(i, j + 1));
            }
            for w in ring.windows(2) {
                segments += 1;
                let (a, b) = (w[0], w[1]);
                if on_region_border(a, b) {
                    border += 1;
                    continue;
                }
                let matches: usize = neighbours
                    .iter()
                    .map(|r| r.windows(2).filter(|s| s[0] == b && s[1] == a).count())
                    .sum();
                let twins = ring.windows(2).filter(|s| s[0] == a && s[1] == b).count();
                if matches != 1 || twins != 1 {
                    bail!(
                        "tiling check: segment ({}, {}) → ({}, {}) of {} appears {twins}× in it \
                         and reversed {matches}× in its neighbours",
                        a.x,
                        a.y,
                        b.x,
                        b.y,
                        Lattice::code(i, j)
                    );
                }
                shared += 1;
            }
        }
    }
    if invalid > 0 || clockwise > 0 {
        bail!("tiling check: {invalid} invalid polygons, {clockwise} not counter-clockwise");
    }
    let region = WIDTH * HEIGHT;
    if ((area - region) / region).abs() > 1e-9 {
        bail!("tiling check: the areas add up to {area} deg², the region has {region}");
    }
    Ok(format!(
        "tiling check: {} polygons valid (boundary::validate), {segments} segments = {shared} shared \
         with exactly one neighbour (reversed) + {border} on the region border; Σ area {area:.12} deg² \
         = region {region} deg²",
        entries.len()
    ))
}

/// Smallest code among the deepest entries valid on `AT` whose geometry intersects the point
/// (the rule of `LocateIndex::locate`), by scanning every entry whose box holds the point.
fn brute<'a>(entries: &'a [Entry], boxes: &[[f64; 4]], x: f64, y: f64) -> Option<&'a str> {
    let p = Point::new(x, y);
    let mut best: Option<&Entry> = None;
    for (e, b) in entries.iter().zip(boxes) {
        if x < b[0] || x > b[2] || y < b[1] || y > b[3] {
            continue;
        }
        if !e.geometry.intersects(&p) {
            continue;
        }
        if best.is_none_or(|c| (c.depth, &e.code) < (e.depth, &c.code)) {
            best = Some(e);
        }
    }
    best.map(|e| e.code.as_str())
}

fn segment_distance(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.x + t * dx - p.x, a.y + t * dy - p.y);
    (cx * cx + cy * cy).sqrt()
}

/// Distance (degrees) from the point to the nearest polygon edge among the entries whose box
/// holds it.
fn distance_to_edges(entries: &[Entry], boxes: &[[f64; 4]], x: f64, y: f64) -> f64 {
    let p = Coord { x, y };
    let mut best = f64::INFINITY;
    for (e, b) in entries.iter().zip(boxes) {
        if x < b[0] - 1e-6 || x > b[2] + 1e-6 || y < b[1] - 1e-6 || y > b[3] + 1e-6 {
            continue;
        }
        for poly in &e.geometry.0 {
            for w in poly.exterior().0.windows(2) {
                best = best.min(segment_distance(p, w[0], w[1]));
            }
        }
    }
    best
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-12)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn cpus_allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_owned()
}

/// CPU time (user + system) of the calling thread in seconds, from /proc/thread-self/stat
/// (in USER_HZ = 100 ticks; 0 where unavailable). Other processes on the same core show up as
/// wall time above it.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn mem() -> String {
    let (rss, peak) = memory_mib();
    format!("rss {rss:.1} MiB, peak {peak:.1} MiB")
}

/// Our answers for `points`: (hits, checksum of unit ids).
fn run_ours(idx: &LocateIndex, points: &[(f64, f64)]) -> (usize, i64) {
    let mut hits = 0usize;
    let mut sum = 0i64;
    for &(x, y) in points {
        if let Some(e) = idx.locate(black_box(x), black_box(y), black_box(AT)) {
            hits += 1;
            sum = sum.wrapping_add(e.unit_id);
        }
    }
    (hits, sum)
}

/// Disagreements between our answers and another source, split by whether the point lies on an
/// edge (within `ON_EDGE` degrees of one).
#[derive(Default)]
struct Tally {
    compared: usize,
    on_edge: usize,
    elsewhere: usize,
    examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, ours: Option<&str>, theirs: Option<&str>, edge_distance: impl Fn() -> f64) {
        self.compared += 1;
        if ours == theirs {
            return;
        }
        let d = edge_distance();
        if d <= ON_EDGE {
            self.on_edge += 1;
        } else {
            self.elsewhere += 1;
            if self.examples.len() < 5 {
                self.examples.push(format!(
                    "ours {ours:?}, theirs {theirs:?}, {d:e}° from an edge"
                ));
            }
        }
    }

    fn line(&self, what: &str) -> String {
        let mut s = format!(
            "  {what:<34} {:>6} points: {:>5} disagreements on an edge (≤ {ON_EDGE:e}°), {:>5} elsewhere",
            self.compared, self.on_edge, self.elsewhere
        );
        for e in &self.examples {
            let _ = write!(s, "\n      e.g. {e}");
        }
        s
    }
}

pub async fn run(opts: &LocateOptions) -> anyhow::Result<()> {
    if opts.cols < 2 || opts.rows < 2 || opts.lookups == 0 || opts.passes == 0 {
        bail!("need at least 2 × 2 grids, one lookup and one pass");
    }
    println!(
        "locate: {} × {} = {} grids over {WEST}–{}°E {SOUTH}–{}°N, seed {}, {} lookups × {} passes; \
         cpus allowed: {}",
        opts.cols,
        opts.rows,
        opts.cols * opts.rows,
        WEST + WIDTH,
        SOUTH + HEIGHT,
        opts.seed,
        opts.lookups,
        opts.passes,
        cpus_allowed()
    );

    let started = Instant::now();
    let lattice = Lattice::generate(opts.cols, opts.rows, opts.seed);
    let entries = lattice.entries();
    let vertices: Vec<usize> = entries
        .iter()
        .map(|e| e.geometry.0.iter().map(|p| p.exterior().0.len() - 1).sum())
        .collect();
    println!(
        "generate: {} polygons, {}–{} distinct vertices each (mean {:.1}), {} in all, {:.2} s; {}",
        entries.len(),
        vertices.iter().min().unwrap_or(&0),
        vertices.iter().max().unwrap_or(&0),
        vertices.iter().sum::<usize>() as f64 / vertices.len().max(1) as f64,
        vertices.iter().sum::<usize>(),
        started.elapsed().as_secs_f64(),
        mem()
    );

    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x5eed_1001);
    let points: Vec<(f64, f64)> = (0..opts.lookups)
        .map(|_| {
            (
                WEST + rng.random::<f64>() * WIDTH,
                SOUTH + rng.random::<f64>() * HEIGHT,
            )
        })
        .collect();
    let boundary_points = lattice.boundary_points(opts.boundary_points, &mut rng);
    drop(lattice);
    println!(
        "points: {} uniform random points pre-generated; {}",
        points.len(),
        mem()
    );

    let started = Instant::now();
    let idx = LocateIndex::build(entries);
    let build = started.elapsed();
    println!(
        "build: LocateIndex::build of {} entries in {:.3} s; {}",
        idx.len(),
        build.as_secs_f64(),
        mem()
    );

    // Warm-up (not timed): one pass over a tenth of the points.
    let warm = run_ours(&idx, &points[..points.len().div_ceil(10)]);
    black_box(warm);
    let mut rates = Vec::new();
    let mut hits = 0usize;
    for pass in 1..=opts.passes {
        let cpu = thread_cpu_seconds();
        let started = Instant::now();
        let (h, sum) = run_ours(&idx, &points);
        let elapsed = started.elapsed();
        let cpu = thread_cpu_seconds() - cpu;
        let r = rate(points.len(), elapsed);
        rates.push(r);
        hits = h;
        println!(
            "ours pass {pass}: {} lookups in {:.3} s = {:.0} lookups/s, {:.1} ns/lookup, {} hits, \
             checksum {sum}; thread CPU {:.2} s ({:.0} % of wall) = {:.0} lookups per CPU second",
            points.len(),
            elapsed.as_secs_f64(),
            r,
            1e9 / r,
            h,
            cpu,
            100.0 * cpu / elapsed.as_secs_f64().max(1e-9),
            points.len() as f64 / cpu.max(1e-9)
        );
    }
    let ours = median(&rates);
    println!(
        "ours: median {:.0} lookups/s ({:.1} ns/lookup), best {:.0}, {} of {} points hit; {}",
        ours,
        1e9 / ours,
        rates.iter().copied().fold(0.0, f64::max),
        hits,
        points.len(),
        mem()
    );
    println!(
        "target ≥ 1,000,000 lookups/s at {} grids: {}",
        idx.len(),
        if ours >= 1e6 { "met" } else { "MISSED" }
    );

    let started = Instant::now();
    let tiling = check_tiling(idx.entries(), opts.cols, opts.rows)?;
    println!("{tiling} ({:.2} s)", started.elapsed().as_secs_f64());

    // Verification sample: the first `check` timed points, then the boundary points.
    let check_n = opts.check.min(points.len());
    let mut sample: Vec<(f64, f64)> = points[..check_n].to_vec();
    sample.extend_from_slice(&boundary_points);
    let boxes: Vec<[f64; 4]> = idx
        .entries()
        .iter()
        .map(|e| {
            e.geometry.bounding_rect().map_or([f64::NAN; 4], |r| {
                [r.min().x, r.min().y, r.max().x, r.max().y]
            })
        })
        .collect();
    let started = Instant::now();
    let ours_sample: Vec<Option<&str>> = sample
        .iter()
        .map(|&(x, y)| idx.locate(x, y, AT).map(|e| e.code.as_str()))
        .collect();
    let brute_sample: Vec<Option<&str>> = sample
        .iter()
        .map(|&(x, y)| brute(idx.entries(), &boxes, x, y))
        .collect();
    let edge = |k: usize| {
        let (x, y) = sample[k];
        distance_to_edges(idx.entries(), &boxes, x, y)
    };
    let split = |k: usize| usize::from(k >= check_n);
    let mut vs_brute = [Tally::default(), Tally::default()];
    for k in 0..sample.len() {
        vs_brute[split(k)].add(ours_sample[k], brute_sample[k], || edge(k));
    }
    println!(
        "brute force over {} points in {:.2} s",
        sample.len(),
        started.elapsed().as_secs_f64()
    );

    let Some(url) = &opts.postgis_url else {
        println!("verification (no PostGIS URL given):");
        println!("{}", vs_brute[0].line("random: ours vs brute force"));
        println!("{}", vs_brute[1].line("on borders: ours vs brute force"));
        return Ok(());
    };

    let pg = postgis(url, opts, idx.entries(), &points, &sample).await?;
    let mut vs_contains = [Tally::default(), Tally::default()];
    let mut vs_intersects = [Tally::default(), Tally::default()];
    let mut pg_miss_on_edge = 0;
    for k in 0..sample.len() {
        let (contains, intersects) = (&pg.sample[k].0, &pg.sample[k].1);
        vs_contains[split(k)].add(ours_sample[k], contains.as_deref(), || edge(k));
        vs_intersects[split(k)].add(ours_sample[k], intersects.as_deref(), || edge(k));
        if contains.is_none() && ours_sample[k].is_some() && edge(k) <= ON_EDGE {
            pg_miss_on_edge += 1;
        }
    }
    println!(
        "verification ({} random points, {} points on shared borders: half vertices, half computed \
         segment midpoints):",
        check_n,
        boundary_points.len()
    );
    println!("{}", vs_brute[0].line("random: ours vs brute force"));
    println!("{}", vs_contains[0].line("random: ours vs ST_Contains"));
    println!("{}", vs_intersects[0].line("random: ours vs ST_Intersects"));
    println!("{}", vs_brute[1].line("on borders: ours vs brute force"));
    println!("{}", vs_contains[1].line("on borders: ours vs ST_Contains"));
    println!(
        "{}",
        vs_intersects[1].line("on borders: ours vs ST_Intersects")
    );
    println!(
        "  (of the ST_Contains disagreements on an edge, {pg_miss_on_edge} are points PostGIS \
         places in no grid: ST_Contains excludes the boundary)"
    );

    let (ours_q_hits, _) = run_ours(&idx, &points[..pg.queries.min(points.len())]);
    let (ours_b_hits, _) = run_ours(&idx, &points[..pg.batch.min(points.len())]);
    println!(
        "hits on the same points: per-query PostGIS {} / ours {}; batched PostGIS {} / ours {}",
        pg.query_hits, ours_q_hits, pg.batch_hits, ours_b_hits
    );
    println!("summary at {} grids:", idx.len());
    println!(
        "  ours (LocateIndex::locate, 1 thread)       {:>12.0} lookups/s  {:>10.1} ns/lookup",
        ours,
        1e9 / ours
    );
    println!(
        "  PostGIS, one prepared query per point      {:>12.0} lookups/s  {:>10.1} ns/lookup  ratio ours/PostGIS {:.1}×",
        pg.per_query,
        1e9 / pg.per_query,
        ours / pg.per_query
    );
    println!(
        "  PostGIS, one query over {:>7} points     {:>12.0} lookups/s  {:>10.1} ns/lookup  ratio ours/PostGIS {:.1}× \
         (the faster of jit on/off)",
        pg.batch,
        pg.batched,
        1e9 / pg.batched,
        ours / pg.batched
    );
    println!("end: {}", mem());
    Ok(())
}

struct PgOutcome {
    queries: usize,
    per_query: f64,
    query_hits: usize,
    batch: usize,
    batched: f64,
    batch_hits: i64,
    /// (ST_Contains answer, ST_Intersects answer) per sample point.
    sample: Vec<(Option<String>, Option<String>)>,
}

const ONE_QUERY: &str = "SELECT code FROM grids \
     WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY code LIMIT 1";

const BATCH_QUERY: &str = "SELECT count(g.code) FROM unnest($1::float8[], $2::float8[]) AS t(x, y) \
     LEFT JOIN LATERAL (SELECT code FROM grids \
       WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)) ORDER BY code LIMIT 1) g ON true";

const SAMPLE_QUERY: &str = "SELECT t.i, \
     (SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)) \
       ORDER BY code LIMIT 1), \
     (SELECT code FROM grids WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)) \
       ORDER BY code LIMIT 1) \
     FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, i) ORDER BY t.i";

fn wkt(g: &MultiPolygon<f64>) -> String {
    // `{}` of an f64 is the shortest text that parses back to the same value, so PostGIS gets
    // bit-identical coordinates.
    let mut s = String::from("MULTIPOLYGON(");
    for (n, poly) in g.0.iter().enumerate() {
        s.push_str(if n == 0 { "(" } else { ",(" });
        for (r, ring) in std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .enumerate()
        {
            s.push_str(if r == 0 { "(" } else { ",(" });
            for (k, c) in ring.0.iter().enumerate() {
                if k > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{} {}", c.x, c.y);
            }
            s.push(')');
        }
        s.push(')');
    }
    s.push(')');
    s
}

async fn print_plan(conn: &mut PgConnection, sql: String, xs: &[f64], ys: &[f64]) {
    // Only built from the constant queries above.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(xs)
        .bind(ys)
        .fetch_all(&mut *conn)
        .await;
    match rows {
        Ok(rows) => {
            for r in rows {
                println!("    {}", r.try_get::<String, _>(0).unwrap_or_default());
            }
        }
        Err(e) => println!("    (EXPLAIN failed: {e})"),
    }
}

async fn postgis(
    url: &str,
    opts: &LocateOptions,
    entries: &[Entry],
    points: &[(f64, f64)],
    sample: &[(f64, f64)],
) -> anyhow::Result<PgOutcome> {
    let mut conn = PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&mut conn)
        .await?;
    let postgis: String = sqlx::query_scalar("SELECT postgis_full_version()")
        .fetch_one(&mut conn)
        .await
        .context("PostGIS is not available in this database (CREATE EXTENSION postgis)")?;
    println!("PostGIS: {version}\n  {postgis}");

    let started = Instant::now();
    sqlx::query("DROP TABLE IF EXISTS grids")
        .execute(&mut conn)
        .await?;
    sqlx::query(
        "CREATE TABLE grids (id integer PRIMARY KEY, code text COLLATE \"C\" NOT NULL, \
         geom geometry(MultiPolygon, 4326) NOT NULL)",
    )
    .execute(&mut conn)
    .await?;
    let mut tx = conn.begin().await?;
    for chunk in entries.chunks(2_000) {
        let ids: Vec<i32> = chunk
            .iter()
            .map(|e| i32::try_from(e.unit_id))
            .collect::<Result<_, _>>()?;
        let codes: Vec<&str> = chunk.iter().map(|e| e.code.as_str()).collect();
        let wkts: Vec<String> = chunk.iter().map(|e| wkt(&e.geometry)).collect();
        sqlx::query(
            "INSERT INTO grids (id, code, geom) SELECT i, c, ST_GeomFromText(w, 4326) \
             FROM unnest($1::int4[], $2::text[], $3::text[]) AS t(i, c, w)",
        )
        .bind(&ids)
        .bind(&codes)
        .bind(&wkts)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let load = started.elapsed();
    let started = Instant::now();
    sqlx::query("CREATE INDEX grids_geom_gist ON grids USING gist (geom)")
        .execute(&mut conn)
        .await?;
    let gist = started.elapsed();
    let started = Instant::now();
    sqlx::query("VACUUM ANALYZE grids")
        .execute(&mut conn)
        .await?;
    let analyze = started.elapsed();
    println!(
        "PostGIS load: {} rows in {:.2} s (batched INSERT … ST_GeomFromText of WKT), GiST index \
         {:.2} s, VACUUM ANALYZE {:.2} s",
        entries.len(),
        load.as_secs_f64(),
        gist.as_secs_f64(),
        analyze.as_secs_f64()
    );
    let row = sqlx::query(
        "SELECT count(*), count(*) FILTER (WHERE NOT ST_IsValid(geom)), sum(ST_Area(geom)), \
         sum(ST_NPoints(geom))::int8, pg_size_pretty(pg_table_size('grids')), \
         pg_size_pretty(pg_relation_size('grids_geom_gist')) FROM grids",
    )
    .fetch_one(&mut conn)
    .await?;
    let ours_points: usize = entries
        .iter()
        .flat_map(|e| &e.geometry.0)
        .map(|p| p.exterior().0.len())
        .sum();
    println!(
        "PostGIS check: {} rows, {} not ST_IsValid, Σ ST_Area {:.12} deg², Σ ST_NPoints {} (ours {}), \
         table {}, GiST index {}",
        row.try_get::<i64, _>(0)?,
        row.try_get::<i64, _>(1)?,
        row.try_get::<f64, _>(2)?,
        row.try_get::<i64, _>(3)?,
        ours_points,
        row.try_get::<String, _>(4)?,
        row.try_get::<String, _>(5)?
    );

    // One core for the server too: no parallel workers for the batched query.
    sqlx::query("SET max_parallel_workers_per_gather = 0")
        .execute(&mut conn)
        .await?;
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting FROM pg_settings WHERE name IN ('jit', 'shared_buffers', \
         'max_parallel_workers_per_gather', 'work_mem', 'random_page_cost') ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await?;
    let settings: Vec<String> = settings.iter().map(|(n, v)| format!("{n}={v}")).collect();
    println!("PostGIS session: {}", settings.join(", "));

    let queries = opts.pg_queries.min(points.len());
    let batch = opts.pg_batch.min(points.len());
    let (px, py) = points.first().copied().unwrap_or((WEST, SOUTH));
    println!("  plan of the per-point query:");
    let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {ONE_QUERY}");
    // Built from a constant query.
    let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
        .bind(px)
        .bind(py)
        .fetch_all(&mut conn)
        .await?;
    for r in rows {
        println!("    {}", r.try_get::<String, _>(0).unwrap_or_default());
    }

    // (a) One prepared query per point, sequential, one connection. Warm-up on other points.
    let warmup = &points[points.len().saturating_sub(2_000.min(queries))..];
    for &(x, y) in warmup {
        let _: Option<String> = sqlx::query_scalar(ONE_QUERY)
            .bind(x)
            .bind(y)
            .fetch_optional(&mut conn)
            .await?;
    }
    let mut times = Vec::with_capacity(queries);
    let mut query_hits = 0;
    let started = Instant::now();
    for &(x, y) in &points[..queries] {
        let t = Instant::now();
        let code: Option<String> = sqlx::query_scalar(ONE_QUERY)
            .bind(x)
            .bind(y)
            .fetch_optional(&mut conn)
            .await?;
        times.push(t.elapsed());
        query_hits += usize::from(code.is_some());
    }
    let elapsed = started.elapsed();
    let per_query = rate(queries, elapsed);
    let s = summarize(&times);
    println!(
        "PostGIS per query: {queries} queries in {:.3} s = {:.0} lookups/s, {query_hits} hits; \
         latency ms: mean {:.3} p50 {:.3} p99 {:.3} max {:.3}",
        elapsed.as_secs_f64(),
        per_query,
        s.map_or(0.0, |s| s.mean),
        s.map_or(0.0, |s| s.p50),
        s.map_or(0.0, |s| s.p99),
        s.map_or(0.0, |s| s.max)
    );

    // (b) One query over `batch` points: server-side throughput without round trips.
    let xs: Vec<f64> = points[..batch].iter().map(|p| p.0).collect();
    let ys: Vec<f64> = points[..batch].iter().map(|p| p.1).collect();
    println!("  plan of the batched query (EXPLAIN ANALYZE, TIMING OFF, all {batch} points):");
    print_plan(
        &mut conn,
        format!("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {BATCH_QUERY}"),
        &xs,
        &ys,
    )
    .await;
    // With the server's JIT setting (on by default, and the plan is costly enough to be
    // compiled on every execution), then with JIT off; the faster is compared with ours.
    let mut batched = 0.0f64;
    let mut batch_hits = 0;
    for jit in ["as configured", "off"] {
        if jit == "off" {
            sqlx::query("SET jit = off").execute(&mut conn).await?;
        }
        let mut batch_rates = Vec::new();
        for run in 1..=opts.pg_batch_runs.max(1) {
            let started = Instant::now();
            batch_hits = sqlx::query_scalar::<_, i64>(BATCH_QUERY)
                .bind(&xs)
                .bind(&ys)
                .fetch_one(&mut conn)
                .await?;
            let elapsed = started.elapsed();
            let r = rate(batch, elapsed);
            batch_rates.push(r);
            println!(
                "PostGIS batched run {run} (jit {jit}): {batch} points in {:.3} s = {:.0} lookups/s, \
                 {batch_hits} hits",
                elapsed.as_secs_f64(),
                r
            );
        }
        let m = median(&batch_rates);
        println!("PostGIS batched (jit {jit}): median {m:.0} lookups/s");
        batched = batched.max(m);
    }

    // Answers for the verification sample.
    let xs: Vec<f64> = sample.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = sample.iter().map(|p| p.1).collect();
    let rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(SAMPLE_QUERY)
        .bind(&xs)
        .bind(&ys)
        .fetch_all(&mut conn)
        .await?;
    if rows.len() != sample.len() {
        bail!(
            "PostGIS answered {} of {} sample points",
            rows.len(),
            sample.len()
        );
    }
    let sample = rows.into_iter().map(|(_, c, i)| (c, i)).collect();
    sqlx::query("DROP TABLE grids").execute(&mut conn).await?;
    conn.close().await?;
    Ok(PgOutcome {
        queries,
        per_query,
        query_hits,
        batch,
        batched,
        batch_hits,
        sample,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tiling_is_sound_and_agrees_with_brute_force() -> anyhow::Result<()> {
        let lattice = Lattice::generate(12, 9, 7);
        let entries = lattice.entries();
        for e in &entries {
            let n = e.geometry.0[0].exterior().0.len() - 1;
            assert!((20..=28).contains(&n), "{} has {n} vertices", e.code);
        }
        let mut rng = StdRng::seed_from_u64(3);
        let border = lattice.boundary_points(200, &mut rng);
        let idx = LocateIndex::build(entries);
        check_tiling(idx.entries(), 12, 9)?;
        let boxes: Vec<[f64; 4]> = idx
            .entries()
            .iter()
            .filter_map(|e| e.geometry.bounding_rect())
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .collect();
        for k in 0..2_000 {
            let (x, y) = (
                WEST + rng.random::<f64>() * WIDTH,
                SOUTH + rng.random::<f64>() * HEIGHT,
            );
            let ours = idx.locate(x, y, AT).map(|e| e.code.as_str());
            assert!(ours.is_some(), "point {k} ({x}, {y}) hit nothing");
            assert_eq!(ours, brute(idx.entries(), &boxes, x, y));
        }
        // Exact shared vertices: both sides intersect, the smallest code wins in both.
        for &(x, y) in border.iter().step_by(2) {
            let ours = idx.locate(x, y, AT).map(|e| e.code.as_str());
            assert_eq!(ours, brute(idx.entries(), &boxes, x, y), "({x}, {y})");
            assert!(distance_to_edges(idx.entries(), &boxes, x, y) <= ON_EDGE);
        }
        assert!(idx.locate(WEST - 0.1, SOUTH, AT).is_none());
        Ok(())
    }

    #[test]
    fn wkt_round_trips_coordinates() {
        let g = MultiPolygon::new(vec![Polygon::new(
            LineString::new(vec![
                Coord { x: 0.1, y: 0.2 },
                Coord {
                    x: 118.000_000_000_000_01,
                    y: 1.0 / 3.0,
                },
                Coord { x: 0.1, y: 0.2 },
            ]),
            vec![],
        )]);
        assert_eq!(
            wkt(&g),
            "MULTIPOLYGON(((0.1 0.2,118.00000000000001 0.3333333333333333,0.1 0.2)))"
        );
    }
}
