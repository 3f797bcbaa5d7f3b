//! Boundaries as uploaded: GeoJSON parsing, validation and output.
//!
//! An import of a county's grids is all or nothing, and the person uploading needs to fix every
//! broken feature in one round, so parsing never stops at the first problem: each feature is
//! checked and every finding is returned with the feature's position, its unit code and, where
//! possible, a WGS-84 location to show on the map. Structural checks (closed rings, enough
//! positions, coordinate ranges) run on the raw JSON, because building a geo `Polygon` silently
//! closes rings and would hide the mistake.

use crate::crs::{Crs, to_wgs84};
use crate::segments::ring_crossings;
use geo::algorithm::validation::{InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::{BooleanOps, Coord, InteriorPoint, LineString, MultiPolygon, Polygon, Validation};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// How bad a finding is: errors block an import, warnings are shown but accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding. `kind` is a stable snake_case code that the web app translates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub kind: &'static str,
    /// 0-based position of the feature in the uploaded file.
    pub feature_index: Option<usize>,
    /// The unit code of the feature, when known.
    pub code: Option<String>,
    /// For overlaps and containment: the other unit.
    pub other_code: Option<String>,
    /// `[lng, lat]` in WGS-84 of the problem (a crossing point, a point inside an overlap).
    pub location: Option<[f64; 2]>,
    pub area_m2: Option<f64>,
    /// The problem area (overlap, gap, part outside) for the GeoJSON report.
    #[serde(skip)]
    pub area: Option<MultiPolygon<f64>>,
    /// English, one line, naming the feature.
    pub message: String,
}

impl Problem {
    /// An error about a feature, without location or area.
    pub fn error(
        kind: &'static str,
        feature_index: Option<usize>,
        code: Option<&str>,
        detail: &str,
    ) -> Self {
        Problem {
            severity: Severity::Error,
            kind,
            feature_index,
            code: code.map(str::to_owned),
            other_code: None,
            location: None,
            area_m2: None,
            area: None,
            message: format!("{}: {detail}", subject(feature_index, code)),
        }
    }

    fn at(mut self, c: Option<Coord<f64>>) -> Self {
        self.location = c
            .filter(|c| c.x.is_finite() && c.y.is_finite())
            .map(|c| [c.x, c.y]);
        self
    }
}

/// "feature #3 (code 320831001001002)", "feature #3", "unit 320831001001002" or "the geometry".
/// Features are numbered from 1 for people (`feature_index` stays 0-based).
pub(crate) fn subject(index: Option<usize>, code: Option<&str>) -> String {
    match (index, code) {
        (Some(i), Some(c)) => format!("feature #{} (code {c})", i + 1),
        (Some(i), None) => format!("feature #{}", i + 1),
        (None, Some(c)) => format!("unit {c}"),
        (None, None) => "the geometry".to_owned(),
    }
}

/// A parsed and validated feature; `geometry` is always WGS-84.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub index: usize,
    pub code: Option<String>,
    pub name: Option<String>,
    pub properties: Map<String, Value>,
    pub geometry: MultiPolygon<f64>,
}

/// Parses a GeoJSON FeatureCollection (or a single Feature) whose coordinates are in `crs`.
///
/// `code_property` names the attribute holding the unit code (string or integer); the name is
/// read from `name` or `名称`. Returns every problem found: `Err` if any of them is an error,
/// otherwise the features (warnings are not produced here).
pub fn parse_feature_collection(
    text: &str,
    code_property: &str,
    crs: Crs,
) -> Result<Vec<Feature>, Vec<Problem>> {
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(vec![Problem {
                message: format!("the file is not valid JSON: {e}"),
                ..Problem::error("invalid_json", None, None, "")
            }]);
        }
    };
    let items: Vec<&Value> = match root.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => match root.get("features").and_then(Value::as_array) {
            Some(a) => a.iter().collect(),
            None => return Err(vec![not_collection("it has no \"features\" array")]),
        },
        Some("Feature") => vec![&root],
        Some(other) => {
            return Err(vec![not_collection(&format!(
                "its type is {other:?}, expected \"FeatureCollection\" or \"Feature\""
            ))]);
        }
        None => return Err(vec![not_collection("it has no \"type\" member")]),
    };

    let mut problems = Vec::new();
    let mut features = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let properties = item
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let code = property_text(&properties, code_property);
        let name =
            property_text(&properties, "name").or_else(|| property_text(&properties, "名称"));
        match &code {
            None => problems.push(Problem::error(
                "missing_code",
                Some(index),
                None,
                &format!("property \"{code_property}\" with the unit code is missing or empty"),
            )),
            Some(c) => {
                if let Some(first) = seen.get(c) {
                    problems.push(Problem::error(
                        "duplicate_code",
                        Some(index),
                        Some(c),
                        &format!("code {c} is already used by feature #{}", first + 1),
                    ));
                } else {
                    seen.insert(c.clone(), index);
                }
            }
        }
        let before = problems.len();
        let geometry = match item.get("geometry") {
            None | Some(Value::Null) => {
                problems.push(Problem::error(
                    "missing_geometry",
                    Some(index),
                    code.as_deref(),
                    "the feature has no geometry",
                ));
                None
            }
            Some(g) => read_geometry(g, Some(index), code.as_deref(), crs, &mut problems),
        };
        if let Some(geometry) = geometry {
            // Only look for crossings when the structure is sound; otherwise we would report
            // consequences of the structural error.
            if problems[before..]
                .iter()
                .all(|p| p.severity != Severity::Error)
            {
                problems.extend(validate(Some(index), code.as_deref(), &geometry));
            }
            features.push(Feature {
                index,
                code,
                name,
                properties,
                geometry,
            });
        }
    }
    if problems.iter().any(|p| p.severity == Severity::Error) {
        Err(problems)
    } else {
        Ok(features)
    }
}

fn not_collection(why: &str) -> Problem {
    Problem {
        message: format!("the file is not a GeoJSON FeatureCollection: {why}"),
        ..Problem::error("not_feature_collection", None, None, "")
    }
}

/// Text without the spaces and byte-order marks around it. A BOM left at the start of a value
/// (a CSV joined in a desktop GIS) is invisible and would keep a code from matching its unit;
/// the .dbf reader's decoder drops it too (found by fuzzing, fuzz/corpus/geojson/crash-533f96…).
pub(crate) fn trim_text(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// A property as text: strings are trimmed ([`trim_text`]), integers printed; matched exactly
/// first, then ignoring ASCII case (exports from desktop GIS often upper-case attribute names).
pub(crate) fn property_text(props: &Map<String, Value>, key: &str) -> Option<String> {
    let value = props.get(key).or_else(|| {
        props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })?;
    let text = match value {
        Value::String(s) => trim_text(s).to_owned(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Parses one GeoJSON geometry (Polygon or MultiPolygon, or a Feature wrapping one) in `crs`,
/// for example a boundary drawn on the map, and validates it.
pub fn parse_geometry(value: &Value, crs: Crs) -> Result<MultiPolygon<f64>, Vec<Problem>> {
    let value = match value.get("type").and_then(Value::as_str) {
        Some("Feature") => match value.get("geometry") {
            Some(g) if !g.is_null() => g,
            _ => {
                return Err(vec![Problem::error(
                    "missing_geometry",
                    None,
                    None,
                    "the feature has no geometry",
                )]);
            }
        },
        _ => value,
    };
    let mut problems = Vec::new();
    let g = read_geometry(value, None, None, crs, &mut problems);
    if let (Some(g), true) = (&g, problems.is_empty()) {
        problems.extend(validate(None, None, g));
    }
    match g {
        Some(g) if problems.iter().all(|p| p.severity != Severity::Error) => Ok(g),
        _ => Err(problems),
    }
}

/// A stored WGS-84 Polygon or MultiPolygon (or a Feature wrapping one), without the crossing
/// checks of `parse_geometry`: for boundaries that were validated when saved, e.g. when the
/// locate index is rebuilt from 100,000 stored grids. `None` if it is not a usable polygon.
pub fn geometry_from_geojson(value: &Value) -> Option<MultiPolygon<f64>> {
    let value = match value.get("type").and_then(Value::as_str) {
        Some("Feature") => value.get("geometry")?,
        _ => value,
    };
    let mut problems = Vec::new();
    let g = read_geometry(value, None, None, Crs::Wgs84, &mut problems)?;
    problems.is_empty().then_some(g)
}

/// Reads a Polygon or MultiPolygon, checking the raw coordinates, and converts it to WGS-84.
/// Returns `None` (with problems pushed) when nothing usable could be built.
fn read_geometry(
    g: &Value,
    index: Option<usize>,
    code: Option<&str>,
    crs: Crs,
    problems: &mut Vec<Problem>,
) -> Option<MultiPolygon<f64>> {
    let err = |kind, detail: &str| Problem::error(kind, index, code, detail);
    let coords = g.get("coordinates");
    let polygons: Vec<&Value> = match (g.get("type").and_then(Value::as_str), coords) {
        (Some("Polygon"), Some(Value::Array(_))) => coords.into_iter().collect(),
        (Some("MultiPolygon"), Some(Value::Array(parts))) => parts.iter().collect(),
        (Some(t @ ("Polygon" | "MultiPolygon")), _) => {
            problems.push(err(
                "invalid_coordinate",
                &format!("the {t} has no coordinates array"),
            ));
            return None;
        }
        (Some(other), _) => {
            problems.push(err(
                "unsupported_geometry",
                &format!(
                    "geometry type {other} is not supported (expected Polygon or MultiPolygon)"
                ),
            ));
            return None;
        }
        (None, _) => {
            problems.push(err(
                "missing_geometry",
                "the geometry has no \"type\" member",
            ));
            return None;
        }
    };
    let multi = polygons.len() > 1;
    let before = problems.len();
    let mut out = Vec::with_capacity(polygons.len());
    for (part, poly) in polygons.iter().enumerate() {
        let Some(rings) = poly.as_array() else {
            problems.push(err(
                "invalid_coordinate",
                &format!("{} is not an array of rings", part_label(part, multi)),
            ));
            continue;
        };
        let mut built: Vec<LineString<f64>> = Vec::with_capacity(rings.len());
        for (r, ring) in rings.iter().enumerate() {
            let label = ring_label(part, r, multi);
            match read_ring(ring) {
                Err(detail) => {
                    problems.push(err("invalid_coordinate", &format!("{label}: {detail}")))
                }
                Ok(raw) => {
                    let first = raw.first().map(|c| wgs(crs, *c));
                    if raw.len() < 4 {
                        problems.push(
                            err(
                                "too_few_points",
                                &format!(
                                    "{label} has {} positions, at least 4 are needed",
                                    raw.len()
                                ),
                            )
                            .at(first),
                        );
                    } else if raw.first() != raw.last() {
                        problems.push(
                            err("unclosed_ring", &format!("{label} is not closed (its last position differs from the first)"))
                                .at(first),
                        );
                    }
                    if let Some(bad) = raw.iter().find(|c| !in_range(**c)) {
                        problems.push(err(
                            "invalid_coordinate",
                            &format!(
                                "{label} has a coordinate out of range: [{}, {}]",
                                bad.x, bad.y
                            ),
                        ));
                    }
                    built.push(LineString::new(
                        raw.into_iter().map(|c| wgs(crs, c)).collect(),
                    ));
                }
            }
        }
        let mut rings = built.into_iter();
        if let Some(exterior) = rings.next() {
            out.push(Polygon::new(exterior, rings.collect()));
        }
    }
    if out.is_empty() && problems.len() == before {
        problems.push(err("empty_geometry", "the geometry has no coordinates"));
        return None;
    }
    Some(MultiPolygon::new(out))
}

/// A position in WGS-84, rounded to 7 decimals as it is stored ([`geometry_to_geojson`]), so
/// that the checks judge the boundary that will be saved: a spike that the conversion from
/// GCJ-02 bends into a thin sliver can cross itself once rounded (found by fuzzing,
/// fuzz/corpus/geojson/crash-690776…).
pub(crate) fn wgs(crs: Crs, c: Coord<f64>) -> Coord<f64> {
    if in_range(c) {
        let (x, y) = to_wgs84(crs, c.x, c.y);
        Coord {
            x: round7(x),
            y: round7(y),
        }
    } else {
        c
    }
}

pub(crate) fn in_range(c: Coord<f64>) -> bool {
    c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0
}

/// Positions of one ring; extra ordinates (altitude) are ignored.
fn read_ring(ring: &Value) -> Result<Vec<Coord<f64>>, String> {
    let positions = ring.as_array().ok_or("it is not an array of positions")?;
    positions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let xy = p.as_array().filter(|a| a.len() >= 2);
            match xy.map(|a| (a[0].as_f64(), a[1].as_f64())) {
                Some((Some(x), Some(y))) => Ok(Coord { x, y }),
                _ => Err(format!("position {i} is not a pair of numbers: {p}")),
            }
        })
        .collect()
}

fn part_label(part: usize, multi: bool) -> String {
    if multi {
        format!("polygon {part}")
    } else {
        "the polygon".to_owned()
    }
}

/// Ring 0 is the outer ring, as in GeoJSON.
fn ring_label(part: usize, ring: usize, multi: bool) -> String {
    if multi {
        format!("polygon {part} ring {ring}")
    } else {
        format!("ring {ring}")
    }
}

/// Validity checks on a built WGS-84 geometry: emptiness, too few points, non-finite or
/// out-of-range coordinates, rings crossing themselves or each other, holes outside their outer
/// ring and parts of a MultiPolygon overlapping.
pub fn validate(index: Option<usize>, code: Option<&str>, g: &MultiPolygon<f64>) -> Vec<Problem> {
    let err = |kind, detail: &str| Problem::error(kind, index, code, detail);
    let mut problems = Vec::new();
    if g.0.iter().all(|p| p.exterior().0.is_empty()) {
        problems.push(err("empty_geometry", "the geometry has no coordinates"));
        return problems;
    }
    let multi = g.0.len() > 1;
    for (part, poly) in g.0.iter().enumerate() {
        let rings: Vec<&LineString<f64>> = std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .collect();
        let mut sound = true;
        for (r, ring) in rings.iter().enumerate() {
            let label = ring_label(part, r, multi);
            if let Some(bad) = ring.0.iter().find(|c| !in_range(**c)) {
                problems.push(err(
                    "invalid_coordinate",
                    &format!(
                        "{label} has a coordinate out of range: [{}, {}]",
                        bad.x, bad.y
                    ),
                ));
                sound = false;
                continue;
            }
            let mut distinct: Vec<Coord<f64>> = ring.0.clone();
            distinct.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
            distinct.dedup();
            if ring.0.len() < 4 || distinct.len() < 3 {
                problems.push(
                    err(
                        "too_few_points",
                        &format!("{label} needs at least 3 distinct points and 4 positions"),
                    )
                    .at(ring.0.first().copied()),
                );
                sound = false;
            }
        }
        if !sound {
            continue;
        }
        for c in ring_crossings(&rings) {
            let detail = if c.a == c.b {
                format!("{} crosses itself", ring_label(part, c.a, multi))
            } else {
                format!("{} and ring {} cross", ring_label(part, c.a, multi), c.b)
            };
            problems.push(
                err(
                    "self_intersection",
                    &format!("{detail} near [{:.7}, {:.7}]", c.at.x, c.at.y),
                )
                .at(Some(c.at)),
            );
        }
    }
    if problems.is_empty() {
        problems.extend(structure_problems(index, code, g));
    }
    problems
}

/// Holes outside their outer ring, holes overlapping, parts overlapping: found with geo's
/// `Validation`, which has no locations, so one is computed from the offending rings.
fn structure_problems(
    index: Option<usize>,
    code: Option<&str>,
    g: &MultiPolygon<f64>,
) -> Vec<Problem> {
    let multi = g.0.len() > 1;
    let err = |detail: String, at: Option<Coord<f64>>| {
        Problem::error("self_intersection", index, code, &detail).at(at)
    };
    let hole_point = |part: usize, role: RingRole| match role {
        RingRole::Interior(h) => {
            g.0.get(part)
                .and_then(|p| p.interiors().get(h))
                .and_then(|r| r.0.first().copied())
        }
        RingRole::Exterior => g.0.get(part).and_then(|p| p.exterior().0.first().copied()),
    };
    let ring_no = |role: RingRole| match role {
        RingRole::Exterior => 0,
        RingRole::Interior(h) => h + 1,
    };
    let mut out = Vec::new();
    for e in g.validation_errors() {
        match e {
            InvalidMultiPolygon::InvalidPolygon(part, inner) => {
                let part = part.0;
                match inner {
                    InvalidPolygon::InteriorRingNotContainedInExteriorRing(role) => out.push(err(
                        format!(
                            "{} (a hole) is not inside the outer ring",
                            ring_label(part, ring_no(role), multi)
                        ),
                        hole_point(part, role),
                    )),
                    InvalidPolygon::IntersectingRingsOnALine(a, b)
                    | InvalidPolygon::IntersectingRingsOnAnArea(a, b) => out.push(err(
                        format!(
                            "{} and ring {} overlap",
                            ring_label(part, ring_no(a), multi),
                            ring_no(b)
                        ),
                        hole_point(part, b),
                    )),
                    InvalidPolygon::SelfIntersection(role) => out.push(err(
                        format!("{} crosses itself", ring_label(part, ring_no(role), multi)),
                        hole_point(part, role),
                    )),
                    // Already reported by `validate` with better messages.
                    InvalidPolygon::TooFewPointsInRing(_) | InvalidPolygon::NonFiniteCoord(..) => {}
                }
            }
            InvalidMultiPolygon::ElementsOverlaps(a, b) => {
                let at = match (g.0.get(a.0), g.0.get(b.0)) {
                    (Some(p), Some(q)) => p.intersection(q).interior_point().map(|p| p.0),
                    _ => None,
                };
                out.push(err(
                    format!("polygons {} and {} of the MultiPolygon overlap", a.0, b.0),
                    at,
                ));
            }
            // Parts sharing an edge are unusual but harmless for a boundary.
            InvalidMultiPolygon::ElementsTouchOnALine(..) => {}
        }
    }
    out
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

fn ring_json(r: &LineString<f64>) -> Value {
    Value::Array(
        r.0.iter()
            .map(|c| json!([round7(c.x), round7(c.y)]))
            .collect(),
    )
}

fn polygon_json(p: &Polygon<f64>) -> Value {
    Value::Array(
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(ring_json)
            .collect(),
    )
}

/// A GeoJSON geometry object: a Polygon when there is one part, else a MultiPolygon;
/// coordinates rounded to 7 decimals (about 1 cm).
pub fn geometry_to_geojson(g: &MultiPolygon<f64>) -> Value {
    match g.0.as_slice() {
        [one] => json!({"type": "Polygon", "coordinates": polygon_json(one)}),
        parts => json!({
            "type": "MultiPolygon",
            "coordinates": parts.iter().map(polygon_json).collect::<Vec<_>>(),
        }),
    }
}

/// A FeatureCollection string from (properties, geometry) pairs.
pub fn feature_collection<'a>(
    items: impl IntoIterator<Item = (Map<String, Value>, &'a MultiPolygon<f64>)>,
) -> String {
    let features: Vec<Value> = items
        .into_iter()
        .map(|(props, g)| json!({"type": "Feature", "properties": props, "geometry": geometry_to_geojson(g)}))
        .collect();
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn fc(features: &[Value]) -> String {
        json!({"type": "FeatureCollection", "features": features}).to_string()
    }

    fn feature(code: Value, geometry: Value) -> Value {
        json!({"type": "Feature", "properties": {"code": code, "name": "一网格"}, "geometry": geometry})
    }

    fn square(x: f64, y: f64, d: f64) -> Value {
        json!({"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]})
    }

    fn kinds(p: &[Problem]) -> Vec<&'static str> {
        p.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn parses_a_valid_collection() {
        let text = fc(&[
            feature(json!("320831001001001"), square(119.0, 33.0, 0.01)),
            feature(json!(320831001001002_u64), square(119.01, 33.0, 0.01)),
        ]);
        let f = parse_feature_collection(&text, "code", Crs::Wgs84).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].code.as_deref(), Some("320831001001002"));
        assert_eq!(f[0].name.as_deref(), Some("一网格"));
        assert_eq!(f[1].index, 1);
        assert_eq!(f[0].geometry.0[0].exterior().0.len(), 5);
    }

    #[test]
    fn code_property_is_matched_ignoring_case_and_gcj_is_converted() {
        let text = json!({"type": "Feature", "properties": {"CODE": " 1 ", "名称": "x"},
            "geometry": square(119.0, 33.0, 0.01)})
        .to_string();
        let f = parse_feature_collection(&text, "code", Crs::Gcj02).unwrap();
        assert_eq!(f[0].code.as_deref(), Some("1"));
        assert_eq!(f[0].name.as_deref(), Some("x"));
        let c = f[0].geometry.0[0].exterior().0[0];
        assert!((c.x - 119.0).abs() > 1e-4, "GCJ-02 input must be shifted");
        let text = json!({"type": "Feature", "properties": {"code": "\u{feff}1\u{3000}"},
            "geometry": square(119.0, 33.0, 0.01)})
        .to_string();
        let f = parse_feature_collection(&text, "code", Crs::Wgs84).unwrap();
        assert_eq!(
            f[0].code.as_deref(),
            Some("1"),
            "a BOM or an ideographic space"
        );
    }

    #[test]
    fn reports_every_problem_of_every_feature() {
        let unclosed = json!({"type": "Polygon", "coordinates": [[[119.0, 33.0], [119.1, 33.0], [119.1, 33.1], [119.0, 33.1]]]});
        let bow_tie = json!({"type": "Polygon", "coordinates": [[[119.0, 33.0], [119.1, 33.1], [119.1, 33.0], [119.0, 33.1], [119.0, 33.0]]]});
        let text = fc(&[
            feature(json!("1"), unclosed),
            feature(json!("2"), bow_tie),
            feature(json!("2"), square(119.0, 33.0, 0.01)),
            json!({"type": "Feature", "properties": {}, "geometry": square(119.0, 33.0, 0.01)}),
            feature(
                json!("4"),
                json!({"type": "Point", "coordinates": [119.0, 33.0]}),
            ),
            feature(json!("5"), Value::Null),
            feature(
                json!("6"),
                json!({"type": "Polygon", "coordinates": [[[119.0, 33.0], [119.1, 33.0], [119.0, 33.0]]]}),
            ),
            feature(
                json!("7"),
                json!({"type": "Polygon", "coordinates": [[[190.0, 33.0], [119.1, 33.0], [119.1, 33.1], [190.0, 33.0]]]}),
            ),
            feature(
                json!("8"),
                json!({"type": "MultiPolygon", "coordinates": []}),
            ),
        ]);
        let p = parse_feature_collection(&text, "code", Crs::Wgs84).unwrap_err();
        assert_eq!(
            kinds(&p),
            [
                "unclosed_ring",
                "self_intersection",
                "duplicate_code",
                "missing_code",
                "unsupported_geometry",
                "missing_geometry",
                "too_few_points",
                "invalid_coordinate",
                "empty_geometry"
            ]
        );
        assert_eq!(
            p[0].message,
            "feature #1 (code 1): ring 0 is not closed (its last position differs from the first)"
        );
        assert_eq!(p[0].location, Some([119.0, 33.0]));
        let loc = p[1].location.unwrap();
        assert!((loc[0] - 119.05).abs() < 1e-9 && (loc[1] - 33.05).abs() < 1e-9);
        assert_eq!(p[2].feature_index, Some(2));
        assert!(p.iter().all(|p| p.severity == Severity::Error));
    }

    #[test]
    fn top_level_errors() {
        assert_eq!(
            kinds(&parse_feature_collection("{", "code", Crs::Wgs84).unwrap_err()),
            ["invalid_json"]
        );
        assert_eq!(
            kinds(
                &parse_feature_collection(&square(0.0, 0.0, 1.0).to_string(), "code", Crs::Wgs84)
                    .unwrap_err()
            ),
            ["not_feature_collection"]
        );
        assert_eq!(
            kinds(&parse_feature_collection("[]", "code", Crs::Wgs84).unwrap_err()),
            ["not_feature_collection"]
        );
    }

    #[test]
    fn multipolygons_and_holes() {
        let mp = json!({"type": "MultiPolygon", "coordinates": [
            [[[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 1.0], [1.0, 1.0]]],
            [[[5.0, 0.0], [6.0, 0.0], [6.0, 1.0], [5.0, 0.0]]]
        ]});
        let g = parse_geometry(&mp, Crs::Wgs84).unwrap();
        assert_eq!(g.0.len(), 2);
        assert_eq!(g.0[0].interiors().len(), 1);
        assert_eq!(geometry_to_geojson(&g), mp);

        let hole_outside = json!({"type": "Polygon", "coordinates": [
            [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]], [[5.0, 1.0], [5.0, 2.0], [6.0, 2.0], [6.0, 1.0], [5.0, 1.0]]]});
        let p = parse_geometry(&hole_outside, Crs::Wgs84).unwrap_err();
        assert_eq!(kinds(&p), ["self_intersection"]);
        assert_eq!(p[0].location, Some([5.0, 1.0]));

        let overlapping_parts = json!({"type": "MultiPolygon", "coordinates": [
            [[[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]]],
            [[[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0], [1.0, 1.0]]]]});
        let p = parse_geometry(&overlapping_parts, Crs::Wgs84).unwrap_err();
        assert_eq!(kinds(&p), ["self_intersection"]);
        assert!(p[0].location.is_some());

        let wrapped =
            json!({"type": "Feature", "properties": null, "geometry": square(1.0, 1.0, 1.0)});
        assert_eq!(parse_geometry(&wrapped, Crs::Wgs84).unwrap().0.len(), 1);
        assert_eq!(
            kinds(&parse_geometry(&json!({"type": "Feature"}), Crs::Wgs84).unwrap_err()),
            ["missing_geometry"]
        );
    }

    #[test]
    fn validate_built_geometry() {
        let empty = MultiPolygon::<f64>::new(vec![]);
        assert_eq!(
            kinds(&validate(Some(1), Some("x"), &empty)),
            ["empty_geometry"]
        );
        let nan = MultiPolygon::new(vec![
            polygon![(x: 0.0, y: 0.0), (x: f64::NAN, y: 0.0), (x: 1.0, y: 1.0)],
        ]);
        assert_eq!(kinds(&validate(None, None, &nan)), ["invalid_coordinate"]);
        let ok = MultiPolygon::new(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)],
        ]);
        assert!(validate(None, None, &ok).is_empty());
    }

    /// Found by fuzzing (fuzz/corpus/geojson/crash-690776…): a GCJ-02 ring that runs back
    /// down its own side passed the checks once converted (the conversion bends the spike into
    /// a thin sliver) and crossed itself once rounded for storage. The checks now judge the
    /// rounded positions, and what they accept is stored unchanged.
    #[test]
    fn checks_judge_the_boundary_as_stored() {
        let spike = json!({"type": "Polygon", "coordinates": [[[119.0, 33.0], [119.01, 33.0],
            [119.01, 33.01], [119.0, 33.01], [119.0, 33.02], [119.0, 33.0]]]});
        let text = json!({"type": "Feature", "properties": {"code": "1"}, "geometry": spike});
        for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
            let p = parse_feature_collection(&text.to_string(), "code", crs).unwrap_err();
            assert_eq!(kinds(&p), ["self_intersection"], "{crs:?}");
        }
        let text = json!({"type": "Feature", "properties": {"code": "1"},
            "geometry": square(119.0, 33.0, 0.01)})
        .to_string();
        for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
            let f = parse_feature_collection(&text, "code", crs).unwrap();
            let stored = geometry_from_geojson(&geometry_to_geojson(&f[0].geometry)).unwrap();
            assert_eq!(stored, f[0].geometry, "{crs:?}");
        }
    }

    #[test]
    fn output_is_rounded_geojson() {
        let g = MultiPolygon::new(vec![
            polygon![(x: 0.123456789, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)],
        ]);
        let v = geometry_to_geojson(&g);
        assert_eq!(v["type"], "Polygon");
        assert_eq!(v["coordinates"][0][0][0], json!(0.1234568));
        let mut props = Map::new();
        props.insert("code".into(), json!("1"));
        let text = feature_collection([(props, &g)]);
        let f = parse_feature_collection(&text, "code", Crs::Wgs84).unwrap();
        assert_eq!(f[0].code.as_deref(), Some("1"));
    }
}
