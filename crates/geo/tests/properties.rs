//! Property tests of the boundary readers and writers (GeoJSON, zipped Shapefile) and of the
//! coordinate conversion, and the replay of the fuzz corpus (`fuzz/corpus/<target>/`) through
//! the fuzz harnesses. `PROPTEST_CASES=10000` runs longer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../../../fuzz/src/geo_targets.rs"]
mod targets;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use proptest::prelude::*;
use serde_json::{Map, json};
use std::f64::consts::TAU;
use wangge_geo::boundary::{feature_collection, parse_feature_collection};
use wangge_geo::crs::{
    Crs, from_wgs84, multipolygon_from_wgs84, multipolygon_to_wgs84, out_of_china, to_wgs84,
};
use wangge_geo::shp::{Attributes, read_zip, write_zip};

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

#[path = "../../../fuzz/src/replay.rs"]
mod replay;
use replay::replay_corpus;

#[test]
fn fuzz_corpus_replays() {
    replay_corpus("crs", targets::crs);
    replay_corpus("geojson", targets::geojson);
    replay_corpus("shapefile_parts", targets::shapefile_parts);
    replay_corpus("shapefile_zip", targets::shapefile_zip);
}

// ───────────────────────────── generated grids ─────────────────────────────

/// A star-shaped ring around (lng, lat): vertices at increasing angles, so never self-crossing.
fn star(lng: f64, lat: f64, size: f64, spokes: &[(f64, f64)]) -> LineString<f64> {
    let total: f64 = spokes.iter().map(|(gap, _)| gap).sum();
    let mut angle = 0.0;
    let mut pts: Vec<Coord<f64>> = spokes
        .iter()
        .map(|(gap, r)| {
            angle += gap / total * TAU;
            let c = Coord {
                x: lng + size * r * angle.cos(),
                y: lat + size * r * angle.sin(),
            };
            // as stored: 7 decimals
            Coord {
                x: (c.x * 1e7).round() / 1e7,
                y: (c.y * 1e7).round() / 1e7,
            }
        })
        .collect();
    pts.push(pts[0]);
    LineString::new(pts)
}

/// A grid: one star polygon, sometimes with a small square hole at its centre, sometimes with
/// a second part to the east.
fn grid(lng: f64, lat: f64) -> impl Strategy<Value = MultiPolygon<f64>> {
    (
        0.002f64..0.02,
        // gaps of at most 120°: the centre (and the hole around it) stays inside
        prop::collection::vec((0.5f64..1.0, 0.6f64..1.0), 5..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(size, spokes, hole, second)| {
            let mut parts = vec![Polygon::new(star(lng, lat, size, &spokes), vec![])];
            if hole {
                // as stored: 7 decimals
                let h = size / 10.0;
                let r = |v: f64| (v * 1e7).round() / 1e7;
                let (w, e, s, n) = (r(lng - h), r(lng + h), r(lat - h), r(lat + h));
                let sq = LineString::from(vec![(w, s), (w, n), (e, n), (e, s), (w, s)]);
                parts[0].interiors_push(sq);
            }
            if second {
                parts.push(Polygon::new(
                    star(lng + 3.0 * size, lat, size, &spokes),
                    vec![],
                ));
            }
            MultiPolygon::new(parts)
        })
}

/// 1–4 grids in China, each in its own cell, with codes and Chinese names.
/// Code, name and boundary of one grid.
type Grid = (String, String, MultiPolygon<f64>);

fn grids() -> impl Strategy<Value = Vec<Grid>> {
    (73.5f64..134.0, 18.5f64..53.0, 1usize..5).prop_flat_map(|(lng, lat, n)| {
        (0..n)
            .map(|i| grid(lng + 0.1 * i as f64, lat))
            .collect::<Vec<_>>()
            .prop_map(|gs| {
                gs.into_iter()
                    .enumerate()
                    .map(|(i, g)| {
                        (
                            format!("320831001001{:03}", i + 1),
                            format!("第{}网格 \"东\"", i + 1),
                            g,
                        )
                    })
                    .collect()
            })
    })
}

/// The .shp and .dbf of two grids written by `write_zip`.
fn sample_parts() -> (Vec<u8>, Vec<u8>) {
    use std::io::Read;
    let square = |x: f64| {
        MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (x, 33.0),
                (x + 0.01, 33.0),
                (x + 0.01, 33.01),
                (x, 33.0),
            ]),
            vec![],
        )])
    };
    let items = vec![
        (vec![("code".to_string(), "1".to_string())], square(119.0)),
        (vec![("code".to_string(), "2".to_string())], square(119.1)),
    ];
    let zip = write_zip("g", &items).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut read = |name: &str| {
        let mut out = Vec::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    (read("g.shp"), read("g.dbf"))
}

fn coords(g: &MultiPolygon<f64>) -> Vec<Coord<f64>> {
    g.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.iter().copied())
        .collect()
}

fn within(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>, tol: f64) -> bool {
    let (a, b) = (coords(a), coords(b));
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(p, q)| (p.x - q.x).abs() <= tol && (p.y - q.y).abs() <= tol)
}

/// The rings of each polygon as sorted point lists (orientation and start do not matter).
fn rings(g: &MultiPolygon<f64>) -> Vec<Vec<Vec<(f64, f64)>>> {
    g.0.iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| {
                    let mut v: Vec<(f64, f64)> = r.0[1..].iter().map(|c| (c.x, c.y)).collect();
                    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    v
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(config(48))]

    /// GeoJSON written by the platform reads back: same codes, names, coordinates (7 decimals).
    #[test]
    fn geojson_round_trip(grids in grids(), crs in prop::sample::select(vec![Crs::Wgs84, Crs::Gcj02, Crs::Bd09])) {
        // as drawn on a map in `crs`
        let shown: Vec<MultiPolygon<f64>> = grids
            .iter()
            .map(|(_, _, g)| {
                let mut g = g.clone();
                multipolygon_from_wgs84(crs, &mut g);
                g
            })
            .collect();
        let text = feature_collection(grids.iter().zip(&shown).map(|((code, name, _), g)| {
            let mut p = Map::new();
            p.insert("code".into(), json!(code));
            p.insert("name".into(), json!(name));
            (p, g)
        }));
        let back = parse_feature_collection(&text, "code", crs).unwrap();
        prop_assert_eq!(back.len(), grids.len());
        for (f, (code, name, g)) in back.iter().zip(&grids) {
            prop_assert_eq!(f.code.as_deref(), Some(code.as_str()));
            prop_assert_eq!(f.name.as_deref(), Some(name.as_str()));
            // the 7-decimal rounding of the file, magnified at most twice by the conversion
            prop_assert!(within(&f.geometry, g, 2e-7), "{:?} vs {:?}", f.geometry, g);
        }
    }

    /// A zipped Shapefile written by the platform reads back: same codes, names and rings.
    #[test]
    fn shapefile_round_trip(grids in grids()) {
        let items: Vec<(Attributes, MultiPolygon<f64>)> = grids
            .iter()
            .map(|(code, name, g)| {
                (vec![("code".into(), code.clone()), ("name".into(), name.clone())], g.clone())
            })
            .collect();
        let zip = write_zip("网格", &items).unwrap();
        let back = read_zip(&zip, "code", Crs::Wgs84).unwrap();
        prop_assert_eq!(back.len(), grids.len());
        for (f, (code, name, g)) in back.iter().zip(&grids) {
            prop_assert_eq!(f.code.as_deref(), Some(code.as_str()));
            prop_assert_eq!(f.name.as_deref(), Some(name.as_str()));
            prop_assert_eq!(rings(&f.geometry), rings(g));
        }
    }

    /// Converting a grid to GCJ-02 or BD-09 and back moves no vertex by more than 1e-7°.
    #[test]
    fn multipolygons_convert_back(grids in grids(), crs in prop::sample::select(vec![Crs::Gcj02, Crs::Bd09])) {
        for (_, _, g) in &grids {
            let mut h = g.clone();
            multipolygon_from_wgs84(crs, &mut h);
            multipolygon_to_wgs84(crs, &mut h);
            prop_assert!(within(&h, g, 1e-7));
        }
    }
}

// ───────────────────────────── coordinate systems ─────────────────────────────

proptest! {
    #![proptest_config(config(512))]

    /// Inside China (the GCJ-02 box less 0.1°), both ways round-trip within 1e-7° (1 cm).
    #[test]
    fn conversions_round_trip_in_china(lng in 72.1f64..137.7, lat in 0.93f64..55.7) {
        prop_assume!(targets::inside_china(lng, lat));
        for crs in [Crs::Gcj02, Crs::Bd09] {
            let (x, y) = from_wgs84(crs, lng, lat);
            let (bx, by) = to_wgs84(crs, x, y);
            prop_assert!((bx - lng).abs() < 1e-7 && (by - lat).abs() < 1e-7, "{:?}", crs);
            let (x, y) = to_wgs84(crs, lng, lat);
            let (fx, fy) = from_wgs84(crs, x, y);
            prop_assert!((fx - lng).abs() < 1e-7 && (fy - lat).abs() < 1e-7, "{:?}", crs);
        }
    }

    /// Outside the GCJ-02 box GCJ-02 is WGS-84.
    #[test]
    fn gcj02_is_the_identity_outside_china(lng in -180.0f64..180.0, lat in -90.0f64..90.0) {
        prop_assume!(out_of_china(lng, lat));
        prop_assert_eq!(from_wgs84(Crs::Gcj02, lng, lat), (lng, lat));
        prop_assert_eq!(to_wgs84(Crs::Gcj02, lng, lat), (lng, lat));
        prop_assert_eq!(from_wgs84(Crs::Wgs84, lng, lat), (lng, lat));
    }

    /// Any point in range converts to finite numbers, with any system, both ways.
    #[test]
    fn conversions_stay_finite(bytes in any::<[u8; 16]>(), lng in -180.0f64..180.0, lat in -90.0f64..90.0) {
        targets::crs(&bytes);
        let mut b = lng.to_le_bytes().to_vec();
        b.extend_from_slice(&lat.to_le_bytes());
        targets::crs(&b);
    }
}

// ───────────────────────────── arbitrary input ─────────────────────────────

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn geojson_never_panics(text in "(?s).{0,120}") {
        targets::geojson(text.as_bytes());
    }

    /// Structured nonsense: geometry objects of every shape with odd coordinates.
    #[test]
    fn geojson_like_text_never_panics(
        kind in "Polygon|MultiPolygon|Point|Feature|FeatureCollection|[A-Za-z]{0,4}",
        coords in "(\\[|\\]|,|-?[0-9]{1,3}(\\.[0-9]{1,8})?|1e999|null|\"x\"){0,40}",
        code in "\"[0-9]{0,3}\"|[0-9]{1,20}|-?[0-9]\\.[0-9]e[0-9]{1,3}|null|true",
    ) {
        let text = format!(r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":{code}}},"geometry":{{"type":"{kind}","coordinates":{coords}}}}}]}}"#);
        targets::geojson(text.as_bytes());
    }

    /// A real shapefile with a few bytes of its .shp and .dbf changed.
    #[test]
    fn edited_shapefiles_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        flags in any::<u8>(),
    ) {
        let (shp, dbf) = sample_parts();
        let mut framed = vec![flags];
        framed.extend_from_slice(&(shp.len() as u32).to_le_bytes());
        framed.extend_from_slice(&shp);
        framed.extend_from_slice(&dbf);
        for (at, byte) in edits {
            let i = 5 + at.index(framed.len() - 5);
            framed[i] = byte;
        }
        targets::shapefile_parts(&framed);
    }

    #[test]
    fn shapefile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        targets::shapefile_zip(&bytes);
        targets::shapefile_parts(&bytes);
    }
}
