//! Fuzz harnesses for the boundary readers and the coordinate conversion of `wangge-geo`: each
//! takes arbitrary bytes, must never panic, and checks what it read: every accepted feature has
//! a unique code and a non-empty WGS-84 geometry in range, and writing it out (GeoJSON, zipped
//! Shapefile) and reading it back gives the same features.
//!
//! Shared by the fuzz targets and by the corpus replay in `crates/geo/tests/properties.rs`,
//! which includes this file with `#[path]`; it may only use crates `wangge-geo` depends on.

use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::io::{Cursor, Write};
use wangge_geo::boundary::{
    Feature, Problem, Severity, feature_collection, geometry_from_geojson, geometry_to_geojson,
    parse_feature_collection, parse_geometry,
};
use wangge_geo::crs::{Crs, from_wgs84, out_of_china, to_wgs84};
use wangge_geo::shp::{Attributes, read_zip, write_zip};
use wangge_geo::{Coord, MultiPolygon};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const CRS: [Crs; 3] = [Crs::Wgs84, Crs::Gcj02, Crs::Bd09];

/// The WGS-84 box (with a margin inside the GCJ-02 box) where conversions must round-trip.
pub fn inside_china(lng: f64, lat: f64) -> bool {
    (72.1..=137.7).contains(&lng) && (0.93..=55.7).contains(&lat)
}

fn coords(g: &MultiPolygon<f64>) -> Vec<Coord<f64>> {
    g.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.iter().copied())
        .collect()
}

/// Rings as sorted coordinate lists, polygon by polygon: equal for the same rings whatever their
/// orientation or starting point (up to the closing point).
fn shape_key(g: &MultiPolygon<f64>) -> Vec<Vec<Vec<(f64, f64)>>> {
    g.0.iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| {
                    let open = r.0.len().saturating_sub(1);
                    let mut v: Vec<(f64, f64)> = r.0[..open].iter().map(|c| (c.x, c.y)).collect();
                    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
                    v
                })
                .collect()
        })
        .collect()
}

fn close(a: &[Coord<f64>], b: &[Coord<f64>], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| (p.x - q.x).abs() <= tol && (p.y - q.y).abs() <= tol)
}

fn check_problems(problems: &[Problem]) {
    assert!(!problems.is_empty());
    assert!(problems.iter().any(|p| p.severity == Severity::Error));
    for p in problems {
        assert!(!p.kind.is_empty() && !p.message.is_empty());
        if let Some([x, y]) = p.location {
            assert!(x.is_finite() && y.is_finite());
        }
    }
}

/// What every accepted import must hold.
fn check_features(features: &[Feature]) {
    let mut codes = HashSet::new();
    for f in features {
        let code = f.code.as_deref().unwrap_or_default();
        assert!(!code.is_empty() && code.trim() == code, "{:?}", f.code);
        assert!(codes.insert(code), "code {code} twice");
        assert!(!f.geometry.0.is_empty());
        for c in coords(&f.geometry) {
            assert!(
                c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0,
                "{c:?}"
            );
        }
    }
}

/// Stored geometry is GeoJSON rounded to 7 decimals: it reads back within that rounding.
fn check_geojson_round_trip(features: &[Feature]) {
    for f in features {
        let back = geometry_from_geojson(&geometry_to_geojson(&f.geometry));
        assert!(back.is_some(), "{:?}", f.geometry);
        if let Some(back) = back {
            assert!(close(&coords(&back), &coords(&f.geometry), 0.6e-7));
        }
    }
    let text = feature_collection(features.iter().map(|f| {
        let mut props = Map::new();
        props.insert("code".into(), json!(f.code));
        (props, &f.geometry)
    }));
    let again = parse_feature_collection(&text, "code", Crs::Wgs84);
    assert!(
        again.is_ok(),
        "written GeoJSON does not read back: {:?}",
        again.as_ref().err()
    );
    if let Ok(again) = again {
        {
            assert_eq!(again.len(), features.len());
            for (a, f) in again.iter().zip(features) {
                assert_eq!(a.code, f.code);
                assert!(close(&coords(&a.geometry), &coords(&f.geometry), 0.6e-7));
            }
        }
    }
}

/// The features written as a zipped Shapefile read back with the same codes and rings.
fn check_shapefile_round_trip(features: &[Feature]) {
    let items: Vec<(Attributes, MultiPolygon<f64>)> = features
        .iter()
        .map(|f| {
            let attrs = vec![
                ("code".to_string(), f.code.clone().unwrap_or_default()),
                ("name".to_string(), f.name.clone().unwrap_or_default()),
            ];
            (attrs, f.geometry.clone())
        })
        .collect();
    let bytes = write_zip("grids", &items);
    assert!(bytes.is_ok(), "{bytes:?}");
    let Ok(bytes) = bytes else { return };
    let back = read_zip(&bytes, "code", Crs::Wgs84);
    // A .dbf character field holds 254 bytes: longer values are cut on export, and two long
    // codes that share their first 254 bytes come back as one code twice. (Territory codes
    // have at most 64 characters; the GeoJSON reader itself takes any length.)
    if features
        .iter()
        .any(|f| f.code.as_ref().is_some_and(|c| c.len() > 254))
    {
        if let Err(problems) = &back {
            check_problems(problems);
            assert!(
                problems.iter().all(|p| p.kind == "duplicate_code"),
                "{problems:?}"
            );
        }
        return;
    }
    assert!(
        back.is_ok(),
        "written Shapefile does not read back: {:?}",
        back.as_ref().err()
    );
    if let Ok(back) = back {
        assert_eq!(back.len(), features.len());
        for (b, f) in back.iter().zip(features) {
            assert_eq!(b.code, f.code);
            assert_eq!(shape_key(&b.geometry), shape_key(&f.geometry));
        }
    }
}

fn crs_of(data: &[u8]) -> Crs {
    CRS[data.len() % 3]
}

/// A GeoJSON upload (`parse_feature_collection`) and a drawn boundary (`parse_geometry`).
pub fn geojson(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let crs = crs_of(data);
    match parse_feature_collection(&text, "code", crs) {
        Ok(features) => {
            check_features(&features);
            check_geojson_round_trip(&features);
            check_shapefile_round_trip(&features);
        }
        Err(problems) => check_problems(&problems),
    }
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        match parse_geometry(&value, crs) {
            Ok(g) => {
                for c in coords(&g) {
                    assert!(c.x.is_finite() && c.y.is_finite());
                }
            }
            Err(problems) => check_problems(&problems),
        }
        let _ = geometry_from_geojson(&value);
    }
}

fn check_zip(bytes: &[u8], crs: Crs) {
    match read_zip(bytes, "code", crs) {
        Ok(features) => {
            check_features(&features);
            check_shapefile_round_trip(&features);
            check_geojson_round_trip(&features);
        }
        Err(problems) => check_problems(&problems),
    }
}

/// A zip upload as it comes.
pub fn shapefile_zip(data: &[u8]) {
    check_zip(data, crs_of(data));
}

/// The members of a shapefile, zipped here without compression so that mutations reach the
/// .shp and .dbf readers: a flag byte (1: a UTF-8 .cpg, 2: a GBK .cpg, 4: the WGS 84 .prj,
/// 8: a projected .prj, 16/32: the coordinate system), the .shp length (u32, little-endian),
/// the .shp, the .dbf.
pub fn shapefile_parts(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((len, rest)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (shp, dbf) = rest.split_at(len);
    let mut members: Vec<(&str, &[u8])> = vec![("grids.shp", shp), ("grids.dbf", dbf)];
    if flags & 1 != 0 {
        members.push(("grids.cpg", b"UTF-8"));
    } else if flags & 2 != 0 {
        members.push(("grids.cpg", b"GBK"));
    }
    if flags & 4 != 0 {
        members.push(("grids.prj", br#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#));
    } else if flags & 8 != 0 {
        members.push(("grids.prj", br#"PROJCS["CGCS2000_3_Degree_GK_CM_117E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"]]"#));
    }
    let Ok(zip) = stored_zip(&members) else {
        return;
    };
    check_zip(&zip, CRS[usize::from(flags >> 4) % 3]);
}

/// A zip of the members, stored (not compressed).
pub fn stored_zip(members: &[(&str, &[u8])]) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, data) in members {
        zip.start_file(*name, options)?;
        zip.write_all(data)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Reads 16 bytes as a longitude and a latitude (f64, little-endian), then converts them with
/// each coordinate system. Inside China (with a margin, [`inside_china`]) every conversion
/// round-trips within 1e-7 degree (1 cm); outside the GCJ-02 box GCJ-02 is WGS-84; anything
/// finite and in range converts to finite numbers; the rest is returned unchanged or ignored.
pub fn crs(data: &[u8]) {
    let Some((lng, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let Some((lat, rest)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let (lng, lat) = (f64::from_le_bytes(*lng), f64::from_le_bytes(*lat));
    let _ = String::from_utf8_lossy(rest).parse::<Crs>();
    let in_range = lng.is_finite() && lat.is_finite() && lng.abs() <= 180.0 && lat.abs() <= 90.0;
    for crs in CRS {
        let there = from_wgs84(crs, lng, lat);
        let back = to_wgs84(crs, there.0, there.1);
        let here = to_wgs84(crs, lng, lat);
        if !lng.is_finite() || !lat.is_finite() {
            assert!(there.0.to_bits() == lng.to_bits() && there.1.to_bits() == lat.to_bits());
            continue;
        }
        if !in_range {
            continue;
        }
        for (x, y) in [there, back, here] {
            assert!(x.is_finite() && y.is_finite(), "{crs:?} ({lng}, {lat})");
        }
        if crs == Crs::Gcj02 && out_of_china(lng, lat) {
            assert_eq!(there, (lng, lat));
            assert_eq!(here, (lng, lat));
        }
        if inside_china(lng, lat) {
            let err = (back.0 - lng).abs().max((back.1 - lat).abs());
            assert!(err < 1e-7, "{crs:?} ({lng}, {lat}) came back as {back:?}");
            let fwd = from_wgs84(crs, here.0, here.1);
            let err = (fwd.0 - lng).abs().max((fwd.1 - lat).abs());
            assert!(err < 1e-7, "{crs:?} ({lng}, {lat}) came back as {fwd:?}");
        }
    }
}
