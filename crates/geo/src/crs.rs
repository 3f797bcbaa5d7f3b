//! WGS-84 / GCJ-02 / BD-09 conversion.
//!
//! Maps served in China (Amap, Tencent: GCJ-02; Baidu: BD-09) shift coordinates by an
//! obfuscation function. Boundaries drawn on such maps must be converted to WGS-84 before they
//! are stored, and back before they are drawn. The forward functions are the published
//! algorithm; the inverses are solved by fixed-point iteration on the forward function, which
//! converges to well below 1e-7 degree because the shift varies slowly.

use geo::{MapCoordsInPlace, MultiPolygon};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::str::FromStr;

/// A coordinate reference system for longitude/latitude input and output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS-84 (GPS); also used for CGCS2000, which differs by centimetres.
    #[default]
    Wgs84,
    /// GCJ-02, the "Mars" coordinates of Amap, Tencent and Google China.
    Gcj02,
    /// BD-09, Baidu's coordinates (GCJ-02 with a further shift).
    Bd09,
}

impl Crs {
    pub fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }
}

impl std::fmt::Display for Crs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Crs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wgs84" | "wgs-84" | "cgcs2000" | "epsg:4326" | "epsg:4490" => Ok(Crs::Wgs84),
            "gcj02" | "gcj-02" => Ok(Crs::Gcj02),
            "bd09" | "bd-09" => Ok(Crs::Bd09),
            _ => Err(format!(
                "unknown coordinate system {s:?} (expected wgs84, gcj02 or bd09)"
            )),
        }
    }
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by the GCJ-02 algorithm.
const A: f64 = 6_378_245.0;
/// Its first eccentricity squared, written as published so it can be checked against the source.
#[allow(clippy::excessive_precision)]
const EE: f64 = 0.006_693_421_622_965_943_23;
const X_PI: f64 = PI * 3000.0 / 180.0;

/// GCJ-02 is only applied inside this box; elsewhere it equals WGS-84.
pub fn out_of_china(lng: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

fn shift_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn shift_lng(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

fn wgs84_to_gcj02(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    let dlat = shift_lat(lng - 105.0, lat - 35.0);
    let dlng = shift_lng(lng - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrtmagic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrtmagic) * PI);
    let dlng = (dlng * 180.0) / (A / sqrtmagic * radlat.cos() * PI);
    (lng + dlng, lat + dlat)
}

fn gcj02_to_bd09(lng: f64, lat: f64) -> (f64, f64) {
    let z = (lng * lng + lat * lat).sqrt() + 0.000_02 * (lat * X_PI).sin();
    let theta = lat.atan2(lng) + 0.000_003 * (lng * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Baidu's published closed-form inverse; only a first guess for the iteration.
fn bd09_to_gcj02_approx(lng: f64, lat: f64) -> (f64, f64) {
    let x = lng - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.000_02 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000_003 * (x * X_PI).cos();
    (z * theta.cos(), z * theta.sin())
}

/// Solves `forward(p) == target` for p, starting at `guess`.
fn invert(
    forward: impl Fn(f64, f64) -> (f64, f64),
    target: (f64, f64),
    guess: (f64, f64),
) -> (f64, f64) {
    let (mut x, mut y) = guess;
    for _ in 0..30 {
        let (fx, fy) = forward(x, y);
        let (dx, dy) = (fx - target.0, fy - target.1);
        x -= dx;
        y -= dy;
        if dx.abs() < 1e-11 && dy.abs() < 1e-11 {
            break;
        }
    }
    (x, y)
}

/// Converts a point given in `crs` to WGS-84. Non-finite input is returned unchanged.
pub fn to_wgs84(crs: Crs, lng: f64, lat: f64) -> (f64, f64) {
    if !lng.is_finite() || !lat.is_finite() {
        return (lng, lat);
    }
    match crs {
        Crs::Wgs84 => (lng, lat),
        Crs::Gcj02 => {
            if out_of_china(lng, lat) {
                return (lng, lat);
            }
            invert(wgs84_to_gcj02, (lng, lat), (lng, lat))
        }
        Crs::Bd09 => {
            let gcj = bd09_to_gcj02_approx(lng, lat);
            let guess = if out_of_china(gcj.0, gcj.1) {
                gcj
            } else {
                invert(wgs84_to_gcj02, gcj, gcj)
            };
            invert(
                |x, y| {
                    let (gx, gy) = wgs84_to_gcj02(x, y);
                    gcj02_to_bd09(gx, gy)
                },
                (lng, lat),
                guess,
            )
        }
    }
}

/// Converts a WGS-84 point to `crs`. Non-finite input is returned unchanged.
pub fn from_wgs84(crs: Crs, lng: f64, lat: f64) -> (f64, f64) {
    if !lng.is_finite() || !lat.is_finite() {
        return (lng, lat);
    }
    match crs {
        Crs::Wgs84 => (lng, lat),
        Crs::Gcj02 => wgs84_to_gcj02(lng, lat),
        Crs::Bd09 => {
            let (x, y) = wgs84_to_gcj02(lng, lat);
            gcj02_to_bd09(x, y)
        }
    }
}

/// Converts every coordinate of `g` from `crs` to WGS-84 in place.
pub fn multipolygon_to_wgs84(crs: Crs, g: &mut MultiPolygon<f64>) {
    if crs == Crs::Wgs84 {
        return;
    }
    g.map_coords_in_place(|c| {
        let (x, y) = to_wgs84(crs, c.x, c.y);
        geo::Coord { x, y }
    });
}

/// Converts every coordinate of `g` from WGS-84 to `crs` in place.
pub fn multipolygon_from_wgs84(crs: Crs, g: &mut MultiPolygon<f64>) {
    if crs == Crs::Wgs84 {
        return;
    }
    g.map_coords_in_place(|c| {
        let (x, y) = from_wgs84(crs, c.x, c.y);
        geo::Coord { x, y }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;
    use proptest::prelude::*;

    fn close(a: (f64, f64), b: (f64, f64), tol: f64) -> bool {
        (a.0 - b.0).abs() < tol && (a.1 - b.1).abs() < tol
    }

    #[test]
    fn parse_names() {
        assert_eq!("WGS84".parse::<Crs>(), Ok(Crs::Wgs84));
        assert_eq!("cgcs2000".parse::<Crs>(), Ok(Crs::Wgs84));
        assert_eq!("EPSG:4326".parse::<Crs>(), Ok(Crs::Wgs84));
        assert_eq!("Gcj02".parse::<Crs>(), Ok(Crs::Gcj02));
        assert_eq!("bd09".parse::<Crs>(), Ok(Crs::Bd09));
        assert!("utm50".parse::<Crs>().is_err());
        assert_eq!(Crs::Bd09.as_str(), "bd09");
        assert_eq!(serde_json::to_string(&Crs::Gcj02).unwrap(), "\"gcj02\"");
        assert_eq!(Crs::default(), Crs::Wgs84);
    }

    /// Reference values of the widely used coordtransform library for (116.404, 39.915).
    #[test]
    fn reference_pairs_beijing() {
        let gcj = from_wgs84(Crs::Gcj02, 116.404, 39.915);
        assert!(
            close(gcj, (116.410_244_499_169_38, 39.916_404_281_501_64), 1e-9),
            "{gcj:?}"
        );
        let bd = gcj02_to_bd09(116.404, 39.915);
        assert!(
            close(bd, (116.410_369_493_710_29, 39.921_336_993_510_21), 1e-9),
            "{bd:?}"
        );
        // The published closed-form inverse of BD-09 is itself only approximate (~1e-6).
        let back = bd09_to_gcj02_approx(116.404, 39.915);
        assert!(
            close(back, (116.397_627_291_193_15, 39.908_656_739_576_31), 1e-9),
            "{back:?}"
        );
        // Exact inverse: converting back gives the input.
        let w = to_wgs84(Crs::Gcj02, gcj.0, gcj.1);
        assert!(close(w, (116.404, 39.915), 1e-9), "{w:?}");
    }

    #[test]
    fn shanghai_offset_is_a_few_hundred_metres() {
        // People's Square, Shanghai: the GCJ-02 shift is about +0.0045° lng, -0.002° lat.
        let (x, y) = from_wgs84(Crs::Gcj02, 121.4737, 31.2304);
        assert!((x - 121.4737 - 0.00446).abs() < 0.0002, "{x}");
        assert!((y - 31.2304 + 0.00198).abs() < 0.0002, "{y}");
    }

    #[test]
    fn outside_china_is_unchanged() {
        assert_eq!(from_wgs84(Crs::Gcj02, 2.35, 48.85), (2.35, 48.85));
        assert_eq!(to_wgs84(Crs::Gcj02, 2.35, 48.85), (2.35, 48.85));
        let bd = from_wgs84(Crs::Bd09, 2.35, 48.85);
        assert!(close(to_wgs84(Crs::Bd09, bd.0, bd.1), (2.35, 48.85), 1e-9));
        assert_eq!(to_wgs84(Crs::Wgs84, 1.0, 2.0), (1.0, 2.0));
    }

    #[test]
    fn multipolygon_round_trip() {
        let mut g = MultiPolygon::new(vec![polygon![
            (x: 118.1, y: 33.0), (x: 118.2, y: 33.0), (x: 118.2, y: 33.1), (x: 118.1, y: 33.0)
        ]]);
        let orig = g.clone();
        multipolygon_from_wgs84(Crs::Bd09, &mut g);
        assert_ne!(g, orig);
        multipolygon_to_wgs84(Crs::Bd09, &mut g);
        for (a, b) in geo::CoordsIter::coords_iter(&g).zip(geo::CoordsIter::coords_iter(&orig)) {
            assert!(close((a.x, a.y), (b.x, b.y), 1e-9));
        }
    }

    proptest! {
        #[test]
        fn round_trips_in_china(lng in 73.0f64..135.0, lat in 18.0f64..53.5) {
            for crs in [Crs::Gcj02, Crs::Bd09] {
                let (x, y) = from_wgs84(crs, lng, lat);
                let back = to_wgs84(crs, x, y);
                prop_assert!(close(back, (lng, lat), 1e-7), "{crs:?} {back:?}");
                let (x, y) = to_wgs84(crs, lng, lat);
                let fwd = from_wgs84(crs, x, y);
                prop_assert!(close(fwd, (lng, lat), 1e-7), "{crs:?} {fwd:?}");
            }
        }
    }
}
