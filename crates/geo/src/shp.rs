//! Zipped ESRI Shapefiles, the format county GIS offices actually hand over.
//!
//! Reading is forgiving where Chinese data is usually sloppy (no .cpg, attribute text in GBK,
//! files in a sub-folder, upper-case field names, rings in the wrong orientation) and strict
//! where silence would corrupt data: a projected .prj is rejected rather than read as degrees.
//! All problems of all records are reported together, like the GeoJSON import.

use crate::boundary::{Feature, Problem, in_range, property_text, trim_text, validate, wgs};
use crate::crs::Crs;
use encoding_rs::{Encoding, GBK, UTF_8};
use geo::{Area, Coord, Intersects, LineString, MultiPolygon, Point, Polygon};
use serde_json::{Map, Value, json};
use shapefile::dbase::encoding::EncodingRs;
use shapefile::dbase::{FieldName, FieldValue, Record, TableWriterBuilder};
use shapefile::{PolygonRing, ReadableShape, Shape, ShapeWriter};
use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Largest member we decompress (guards against zip bombs); a county's grids are a few MB.
const MAX_MEMBER_BYTES: u64 = 512 * 1024 * 1024;

/// ESRI's WKT for WGS 84 longitude/latitude, understood by every desktop GIS.
const WGS84_PRJ: &str = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

fn err(kind: &'static str, detail: String) -> Problem {
    Problem {
        message: detail,
        ..Problem::error(kind, None, None, "")
    }
}

fn fail(kind: &'static str, detail: String) -> Vec<Problem> {
    vec![err(kind, detail)]
}

/// The members of one shapefile found in the zip.
#[derive(Default)]
struct Parts {
    shp: Option<Vec<u8>>,
    dbf: Option<Vec<u8>>,
    prj: Option<Vec<u8>>,
    cpg: Option<Vec<u8>>,
}

/// Reads a zipped Shapefile (.shp and .dbf required; .prj, .cpg optional, .shx not needed; possibly in a
/// sub-folder; exactly one .shp). Attribute text is decoded per the .cpg, or as UTF-8 when
/// valid and GBK otherwise. Coordinates in `crs` are converted to WGS-84 and each record is
/// validated like a GeoJSON feature.
pub fn read_zip(bytes: &[u8], code_field: &str, crs: Crs) -> Result<Vec<Feature>, Vec<Problem>> {
    let parts = unzip(bytes)?;
    let (Some(shp), Some(dbf)) = (&parts.shp, &parts.dbf) else {
        let missing = if parts.shp.is_none() {
            ".shp"
        } else {
            ".dbf (the attribute table)"
        };
        return Err(vec![err(
            "missing_shapefile_part",
            format!("the zip has no {missing} file; a shapefile needs at least .shp and .dbf"),
        )]);
    };
    if let Some(prj) = &parts.prj {
        check_prj(&String::from_utf8_lossy(prj))?;
    }
    let encoding = choose_encoding(parts.cpg.as_deref(), dbf);

    let shapes = read_shapes(shp)?;
    let (fields, records) = read_table(dbf, encoding)?;
    if shapes.len() != records.len() {
        return Err(vec![err(
            "invalid_shapefile",
            format!(
                "the .shp has {} shapes but the .dbf has {} records",
                shapes.len(),
                records.len()
            ),
        )]);
    }

    let mut problems = Vec::new();
    let mut features = Vec::with_capacity(shapes.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, (shape, record)) in shapes.into_iter().zip(records).enumerate() {
        let properties = record_json(&fields, record);
        let code = property_text(&properties, code_field);
        let name =
            property_text(&properties, "name").or_else(|| property_text(&properties, "名称"));
        match &code {
            None => problems.push(Problem::error(
                "missing_code",
                Some(index),
                None,
                &format!("field \"{code_field}\" with the unit code is missing or empty"),
            )),
            Some(c) => match seen.get(c) {
                Some(first) => problems.push(Problem::error(
                    "duplicate_code",
                    Some(index),
                    Some(c),
                    &format!("code {c} is already used by record #{first}"),
                )),
                None => {
                    seen.insert(c.clone(), index);
                }
            },
        }
        let before = problems.len();
        if let Some(geometry) = shape_geometry(shape, index, code.as_deref(), crs, &mut problems) {
            if problems[before..].is_empty() {
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
    if problems.is_empty() {
        Ok(features)
    } else {
        Err(problems)
    }
}

fn unzip(bytes: &[u8]) -> Result<Parts, Vec<Problem>> {
    let invalid = |e: zip::result::ZipError| {
        fail(
            "invalid_zip",
            format!("the file is not a readable zip archive: {e}"),
        )
    };
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(invalid)?;
    let mut shp_names = Vec::new();
    let mut by_ext: HashMap<&'static str, Vec<(String, usize)>> = HashMap::new();
    for i in 0..archive.len() {
        let file = archive.by_index(i).map_err(invalid)?;
        let name = file
            .name()
            .map(|n| n.replace('\\', "/"))
            .unwrap_or_default();
        let base = name.rsplit('/').next().unwrap_or_default();
        if file.is_dir() || name.starts_with("__MACOSX/") || base.starts_with("._") {
            continue;
        }
        let lower = name.to_lowercase();
        for ext in ["shp", "dbf", "prj", "cpg"] {
            if let Some(stem) = lower.strip_suffix(&format!(".{ext}")) {
                by_ext.entry(ext).or_default().push((stem.to_owned(), i));
                if ext == "shp" {
                    shp_names.push(name.clone());
                }
            }
        }
    }
    if shp_names.len() > 1 {
        return Err(fail(
            "invalid_zip",
            format!(
                "the zip holds {} .shp files ({}); upload one layer per zip",
                shp_names.len(),
                shp_names.join(", ")
            ),
        ));
    }
    let stem = by_ext
        .get("shp")
        .and_then(|v| v.first())
        .map(|(s, _)| s.clone());
    let mut parts = Parts::default();
    for ext in ["shp", "dbf", "prj", "cpg"] {
        let Some(found) = by_ext.get(ext) else {
            continue;
        };
        // The member with the .shp's name, or the only one of its kind.
        let pick = found
            .iter()
            .find(|(s, _)| Some(s) == stem.as_ref())
            .or_else(|| (found.len() == 1).then(|| &found[0]));
        let Some(&(_, i)) = pick else { continue };
        let mut file = archive.by_index(i).map_err(invalid)?;
        let mut data = Vec::new();
        (&mut file)
            .take(MAX_MEMBER_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| {
                fail(
                    "invalid_zip",
                    format!("cannot decompress the .{ext} file: {e}"),
                )
            })?;
        if data.len() as u64 > MAX_MEMBER_BYTES {
            return Err(fail(
                "invalid_zip",
                format!("the .{ext} file is larger than 512 MB"),
            ));
        }
        let slot = match ext {
            "shp" => &mut parts.shp,
            "dbf" => &mut parts.dbf,
            "prj" => &mut parts.prj,
            _ => &mut parts.cpg,
        };
        *slot = Some(data);
    }
    Ok(parts)
}

/// Accepts geographic coordinates on WGS 84 or CGCS2000 (they differ by centimetres); rejects
/// projected systems (Gauss-Krüger, UTM, Web Mercator) and other datums (Beijing 1954, Xi'an
/// 1980), whose numbers are not WGS-84 degrees.
fn check_prj(wkt: &str) -> Result<(), Vec<Problem>> {
    let upper = wkt.to_uppercase();
    if upper.trim().is_empty() {
        return Ok(());
    }
    let name = wkt.split('"').nth(1).unwrap_or_default();
    if upper.contains("PROJCS") || upper.contains("PROJCRS") {
        return Err(fail(
            "unsupported_projection",
            format!(
                "the .prj describes a projected coordinate system ({name}); export the layer in geographic coordinates (WGS 84 or CGCS2000, degrees)"
            ),
        ));
    }
    let geographic =
        upper.contains("GEOGCS") || upper.contains("GEOGCRS") || upper.contains("GEODCRS");
    let squeezed: String = upper.chars().filter(char::is_ascii_alphanumeric).collect();
    let known = [
        "WGS1984",
        "WGS84",
        "CGCS2000",
        "CHINA2000",
        "CHINAGEODETICCOORDINATESYSTEM2000",
    ]
    .iter()
    .any(|d| squeezed.contains(d));
    if geographic && known {
        Ok(())
    } else {
        Err(fail(
            "unsupported_projection",
            format!(
                "the .prj describes {name:?}, which is not WGS 84 or CGCS2000 longitude/latitude"
            ),
        ))
    }
}

/// The .cpg's code page, else UTF-8 if the table is valid UTF-8, else GBK (the default of
/// Chinese ArcGIS and QGIS installations).
fn choose_encoding(cpg: Option<&[u8]>, dbf: &[u8]) -> &'static Encoding {
    let label = cpg.map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase());
    match label.as_deref() {
        Some("utf-8" | "utf8" | "65001") => return UTF_8,
        Some("gbk" | "cp936" | "936" | "ansi 936" | "gb2312" | "gb18030" | "windows-936") => {
            return GBK;
        }
        Some(other) => {
            if let Some(e) = Encoding::for_label(other.as_bytes()) {
                return e;
            }
        }
        None => {}
    }
    let header_len = dbf
        .get(8..10)
        .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])));
    let body = dbf.get(header_len..).unwrap_or_default();
    if std::str::from_utf8(body).is_ok() {
        UTF_8
    } else {
        GBK
    }
}

fn read_shapes(shp: &[u8]) -> Result<Vec<Shape>, Vec<Problem>> {
    let bad = |why: String| {
        fail(
            "invalid_shapefile",
            format!("the .shp file cannot be read: {why}"),
        )
    };
    let header = shapefile::header::Header::read_from(&mut Cursor::new(shp))
        .map_err(|e| bad(e.to_string()))?;
    // Records are read in sequence, one by one, so the .shx (an offset index) is not needed; a
    // stale or broken one from a hand-edited upload cannot get in the way. Each record's
    // declared part and point counts are checked against its size first: the shapefile crate
    // reserves memory for them before reading (a record of a few bytes claiming 2^30 parts
    // asked for 4 GB), and it does not skip the rest of a null shape's bytes.
    let declared = usize::try_from(header.file_length)
        .unwrap_or(0)
        .saturating_mul(2);
    let end = declared.min(shp.len());
    let mut shapes = Vec::new();
    let mut at = SHP_HEADER;
    while at < end {
        let n = shapes.len() + 1;
        let words = be_i32(shp, at + 4).ok_or_else(|| bad(format!("record {n} is cut off")))?;
        let len = usize::try_from(words)
            .map_err(|_| bad(format!("record {n} has a negative length")))?
            .saturating_mul(2);
        let content = shp
            .get(at + 8..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| bad(format!("record {n} is cut off")))?;
        check_counts(content).map_err(|why| bad(format!("record {n} {why}")))?;
        let size = i32::try_from(len).map_err(|_| bad(format!("record {n} is too large")))?;
        let shape = Shape::read_from(&mut Cursor::new(content), size)
            .map_err(|e| bad(format!("record {n}: {e}")))?;
        shapes.push(shape);
        at += 8 + len;
    }
    Ok(shapes)
}

const SHP_HEADER: usize = 100;

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The record's declared part and point counts against its length: a multi-part shape is a
/// type, a box, the counts, 4 bytes per part (8 for a multipatch) and 16 per point at least.
/// The parts' first-point indices must rise within the points: the shapefile crate reserves
/// room for the points between two of them before reading.
fn check_counts(content: &[u8]) -> Result<(), String> {
    let counts = |parts_at: Option<usize>, points_at: usize| -> Option<(i64, i64)> {
        let parts = match parts_at {
            Some(p) => i64::from(le_i32(content, p)?),
            None => 0,
        };
        Some((parts, i64::from(le_i32(content, points_at)?)))
    };
    let (fixed, per_part, parts, points) = match le_i32(content, 0) {
        // polyline, polygon (plain, Z, M) and multipatch
        Some(t @ (3 | 5 | 13 | 15 | 23 | 25 | 31)) => {
            let (parts, points) = counts(Some(36), 40).ok_or("is too short for its shape type")?;
            (44, if t == 31 { 8 } else { 4 }, parts, points)
        }
        // multipoint (plain, Z, M)
        Some(8 | 18 | 28) => {
            let (_, points) = counts(None, 36).ok_or("is too short for its shape type")?;
            (40, 0, 0, points)
        }
        _ => return Ok(()),
    };
    let need = fixed + per_part * parts + 16 * points;
    if parts < 0 || points < 0 || need > content.len() as i64 {
        return Err(format!(
            "declares {parts} parts and {points} points but holds only {} bytes",
            content.len()
        ));
    }
    let mut previous = 0;
    for i in 0..parts as usize {
        let first = le_i32(content, fixed as usize + 4 * i).map_or(-1, i64::from);
        if first < previous || first > points {
            return Err(format!(
                "starts part {} at point {first}, outside its {points} points",
                i + 1
            ));
        }
        previous = first;
    }
    Ok(())
}

fn read_table(
    dbf: &[u8],
    encoding: &'static Encoding,
) -> Result<(Vec<String>, Vec<Record>), Vec<Problem>> {
    let bad = |e: shapefile::dbase::Error| {
        fail(
            "invalid_shapefile",
            format!("the .dbf file cannot be read: {e}"),
        )
    };
    let mut reader = shapefile::dbase::ReaderBuilder::new()
        .with_encoding(EncodingRs::from(encoding))
        .build(Cursor::new(dbf))
        .map_err(bad)?;
    let fields = reader
        .fields()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    let records = reader.read().map_err(bad)?;
    Ok((fields, records))
}

fn record_json(fields: &[String], mut record: Record) -> Map<String, Value> {
    let mut out = Map::new();
    for name in fields {
        let value = match record.remove(name) {
            None => continue,
            Some(FieldValue::Character(s)) => json!(s.map(|s| trim_text(&s).to_owned())),
            Some(FieldValue::Memo(s)) => json!(s),
            Some(FieldValue::Numeric(n)) => n.map_or(Value::Null, number),
            Some(FieldValue::Float(n)) => n.map_or(Value::Null, |f| number(f64::from(f))),
            Some(FieldValue::Double(f) | FieldValue::Currency(f)) => number(f),
            Some(FieldValue::Integer(i)) => json!(i),
            Some(FieldValue::Logical(b)) => json!(b),
            Some(FieldValue::Date(d)) => {
                json!(d.map(|d| format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())))
            }
            Some(FieldValue::DateTime(dt)) => {
                let (d, t) = (dt.date(), dt.time());
                json!(format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    d.year(),
                    d.month(),
                    d.day(),
                    t.hours(),
                    t.minutes(),
                    t.seconds()
                ))
            }
        };
        out.insert(name.clone(), value);
    }
    out
}

/// Whole numbers (codes stored as N(15,0)) become JSON integers.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        json!(f as i64)
    } else {
        json!(f)
    }
}

/// Builds the record's MultiPolygon, checking raw rings (closure, size, range) first.
fn shape_geometry(
    shape: Shape,
    index: usize,
    code: Option<&str>,
    crs: Crs,
    problems: &mut Vec<Problem>,
) -> Option<MultiPolygon<f64>> {
    let e = |kind, detail: &str| Problem::error(kind, Some(index), code, detail);
    let rings: Vec<(bool, Vec<Coord<f64>>)> = match shape {
        Shape::Polygon(p) => p
            .into_inner()
            .into_iter()
            .map(|r| ring_xy(r, |p| (p.x, p.y)))
            .collect(),
        Shape::PolygonM(p) => p
            .into_inner()
            .into_iter()
            .map(|r| ring_xy(r, |p| (p.x, p.y)))
            .collect(),
        Shape::PolygonZ(p) => p
            .into_inner()
            .into_iter()
            .map(|r| ring_xy(r, |p| (p.x, p.y)))
            .collect(),
        Shape::NullShape => {
            problems.push(e("missing_geometry", "the record has no shape"));
            return None;
        }
        other => {
            problems.push(e(
                "unsupported_geometry",
                &format!(
                    "shape type {} is not supported (expected Polygon)",
                    other.shapetype()
                ),
            ));
            return None;
        }
    };
    if rings.is_empty() {
        problems.push(e("empty_geometry", "the polygon has no rings"));
        return None;
    }
    let mut outers: Vec<Polygon<f64>> = Vec::new();
    let mut holes: Vec<LineString<f64>> = Vec::new();
    for (r, (outer, raw)) in rings.into_iter().enumerate() {
        let first = raw.first().copied().filter(|c| in_range(*c));
        if raw.len() < 4 {
            let detail = format!("ring {r} has {} points, at least 4 are needed", raw.len());
            problems.push(Problem {
                location: first.map(|c| [c.x, c.y]),
                ..e("too_few_points", &detail)
            });
        } else if raw.first() != raw.last() {
            let detail = format!("ring {r} is not closed (its last point differs from the first)");
            problems.push(Problem {
                location: first.map(|c| [c.x, c.y]),
                ..e("unclosed_ring", &detail)
            });
        }
        if let Some(bad) = raw.iter().find(|c| !in_range(**c)) {
            let detail = format!(
                "ring {r} has a coordinate out of range: [{}, {}] (is the layer projected?)",
                bad.x, bad.y
            );
            problems.push(e("invalid_coordinate", &detail));
            continue;
        }
        let ls: LineString<f64> = raw.into_iter().map(|c| wgs(crs, c)).collect();
        if outer {
            outers.push(Polygon::new(ls, vec![]));
        } else {
            holes.push(ls);
        }
    }
    for hole in holes {
        // The smallest outer ring containing the hole (islands may sit in lakes); a "hole"
        // inside no outer ring was an outer ring written with the wrong orientation.
        let probe = hole.0.first().map(|c| Point::from(*c));
        let owner = probe.and_then(|p| {
            outers
                .iter()
                .enumerate()
                .filter(|(_, o)| o.intersects(&p))
                .min_by(|(_, a), (_, b)| a.unsigned_area().total_cmp(&b.unsigned_area()))
                .map(|(i, _)| i)
        });
        match owner.and_then(|i| outers.get_mut(i)) {
            Some(o) => o.interiors_push(hole),
            None => outers.push(Polygon::new(hole, vec![])),
        }
    }
    Some(MultiPolygon::new(outers))
}

fn ring_xy<P>(ring: PolygonRing<P>, xy: impl Fn(&P) -> (f64, f64)) -> (bool, Vec<Coord<f64>>) {
    let outer = matches!(ring, PolygonRing::Outer(_));
    let coords = ring.into_inner().into_iter().map(|p| {
        let p = &p;
        let (x, y) = xy(p);
        Coord { x, y }
    });
    (outer, coords.collect())
}

/// Attribute (name, text value) pairs of one feature to write, in column order.
pub type Attributes = Vec<(String, String)>;

/// Writes features as a zipped Shapefile (.shp .shx .dbf .prj .cpg) in WGS-84 with UTF-8
/// attributes. Attributes become text fields (names cut to 10 bytes and made unique). dBase
/// holds at most 254 bytes of text per value: a longer value is cut in the table and kept whole
/// in `<base>_long_values.csv` beside it (feature number from 1, attribute name, value), so
/// nothing is lost. Every feature needs a non-empty geometry.
pub fn write_zip(
    base_name: &str,
    features: &[(Attributes, MultiPolygon<f64>)],
) -> Result<Vec<u8>, String> {
    let base: String = base_name
        .chars()
        .filter(|c| {
            !matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') && !c.is_control()
        })
        .collect();
    let base = if base.trim().is_empty() {
        "export".to_owned()
    } else {
        base.trim().to_owned()
    };

    // Field names in first-seen order, mapped to unique dBase names.
    let mut keys: Vec<&str> = Vec::new();
    for (attrs, _) in features {
        for (k, _) in attrs {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    let mut names: Vec<String> = Vec::with_capacity(keys.len());
    for k in &keys {
        let mut name = cut(k, 10).to_owned();
        let mut n = 1;
        while name.is_empty() || names.contains(&name) {
            let suffix = format!("_{n}");
            name = format!("{}{suffix}", cut(k, 10 - suffix.len()));
            n += 1;
        }
        names.push(name);
    }
    let widths: Vec<u8> = keys
        .iter()
        .map(|k| {
            let longest = features
                .iter()
                .flat_map(|(attrs, _)| attrs.iter().filter(|(key, _)| key == k))
                .map(|(_, v)| cut(v, DBF_TEXT_MAX).len())
                .max()
                .unwrap_or(0);
            u8::try_from(longest.clamp(1, DBF_TEXT_MAX)).unwrap_or(u8::MAX)
        })
        .collect();

    let mut shp = Cursor::new(Vec::new());
    let mut shx = Cursor::new(Vec::new());
    let mut dbf = Cursor::new(Vec::new());
    // rows of the values too long for dBase
    let mut long_values = String::new();
    {
        let mut table = TableWriterBuilder::with_encoding(EncodingRs::from(UTF_8));
        for (name, width) in names.iter().zip(&widths) {
            let field =
                FieldName::try_from(name.as_str()).map_err(|e| format!("field {name}: {e}"))?;
            table = table.add_character_field(field, *width);
        }
        let mut table = table.build_with_dest(&mut dbf);
        let mut shapes = ShapeWriter::with_shx(&mut shp, &mut shx);
        for (i, (attrs, g)) in features.iter().enumerate() {
            for (k, v) in attrs.iter().filter(|(_, v)| v.len() > DBF_TEXT_MAX) {
                long_values.push_str(&format!("{},{},{}\r\n", i + 1, csv_field(k), csv_field(v)));
            }
            let shape =
                to_shape(g).ok_or_else(|| format!("feature #{} has an empty geometry", i + 1))?;
            shapes
                .write_shape(&shape)
                .map_err(|e| format!("feature #{}: {e}", i + 1))?;
            let mut record = Record::default();
            for (k, name) in keys.iter().zip(&names) {
                let value = attrs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| cut(v, DBF_TEXT_MAX).to_owned());
                record.insert(
                    name.clone(),
                    FieldValue::Character(value.filter(|v| !v.is_empty())),
                );
            }
            table
                .write_record(&record)
                .map_err(|e| format!("feature #{}: {e}", i + 1))?;
        }
        shapes.finalize().map_err(|e| e.to_string())?;
        table.finalize().map_err(|e| e.to_string())?;
    }

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut members: Vec<(&str, &[u8])> = vec![
        (".shp", shp.get_ref()),
        (".shx", shx.get_ref()),
        (".dbf", dbf.get_ref()),
        (".prj", WGS84_PRJ.as_bytes()),
        (".cpg", b"UTF-8"),
    ];
    // a BOM so that spreadsheet programs read the UTF-8
    let long_values = (!long_values.is_empty())
        .then(|| format!("\u{feff}feature,attribute,value\r\n{long_values}"));
    if let Some(csv) = &long_values {
        members.push(("_long_values.csv", csv.as_bytes()));
    }
    for (suffix, data) in members {
        zip.start_file(format!("{base}{suffix}"), options)
            .map_err(|e| e.to_string())?;
        zip.write_all(data).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

/// The most bytes of a dBase text value.
const DBF_TEXT_MAX: usize = 254;

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The longest prefix of `s` of at most `max` bytes ending on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

fn to_shape(g: &MultiPolygon<f64>) -> Option<shapefile::Polygon> {
    let pts = |r: &LineString<f64>| {
        r.0.iter()
            .map(|c| shapefile::Point::new(c.x, c.y))
            .collect::<Vec<_>>()
    };
    let rings: Vec<PolygonRing<shapefile::Point>> =
        g.0.iter()
            .filter(|p| p.exterior().0.len() >= 3)
            .flat_map(|p| {
                std::iter::once(PolygonRing::Outer(pts(p.exterior())))
                    .chain(p.interiors().iter().map(|h| PolygonRing::Inner(pts(h))))
            })
            .collect();
    (!rings.is_empty()).then(|| shapefile::Polygon::with_rings(rings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x: f64, y: f64, d: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![
            polygon![(x: x, y: y), (x: x + d, y: y), (x: x + d, y: y + d), (x: x, y: y + d), (x: x, y: y)],
        ])
    }

    fn attrs(code: &str, name: &str) -> Vec<(String, String)> {
        vec![
            ("code".into(), code.into()),
            ("名称".into(), name.into()),
            ("备注说明字段".into(), "长文本".repeat(100)),
        ]
    }

    fn kinds(p: &[Problem]) -> Vec<&'static str> {
        p.iter().map(|p| p.kind).collect()
    }

    /// Re-packs a zip: `edit` may rename, drop or replace members.
    fn repack(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>) -> Vec<u8> {
        let mut archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).unwrap();
            let name = f.name().unwrap().to_string();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            if let Some((name, data)) = edit(&name, data) {
                out.start_file(name, SimpleFileOptions::default()).unwrap();
                out.write_all(&data).unwrap();
            }
        }
        out.finish().unwrap().into_inner()
    }

    fn sample() -> Vec<(Attributes, MultiPolygon<f64>)> {
        let mut donut = square(119.0, 33.0, 0.01);
        donut.0[0].interiors_push(vec![
            (119.002, 33.002),
            (119.004, 33.002),
            (119.004, 33.004),
            (119.002, 33.002),
        ]);
        donut.0.push(square(119.1, 33.1, 0.001).0.remove(0));
        vec![
            (
                attrs("320831001001001", "金湖县一网格"),
                square(119.0123456, 33.0654321, 0.005),
            ),
            (attrs("320831001001002", "二网格"), donut),
        ]
    }

    #[test]
    fn write_then_read_round_trip() {
        let features = sample();
        let bytes = write_zip("网格/grids", &features).unwrap();
        let back = read_zip(&bytes, "CODE", Crs::Wgs84).unwrap();
        assert_eq!(back.len(), 2);
        for (f, (a, g)) in back.iter().zip(&features) {
            assert_eq!(f.code.as_deref(), Some(a[0].1.as_str()));
            assert_eq!(f.name.as_deref(), Some(a[1].1.as_str()));
            assert_eq!(f.geometry.0.len(), g.0.len());
            for (p, q) in f.geometry.0.iter().zip(&g.0) {
                assert_eq!(p.interiors().len(), q.interiors().len());
                let same = |r: &LineString<f64>, s: &LineString<f64>| {
                    let mut r: Vec<_> = r.0.iter().map(|c| (c.x, c.y)).collect();
                    let mut s: Vec<_> = s.0.iter().map(|c| (c.x, c.y)).collect();
                    r.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    r.len() == s.len()
                        && r.iter()
                            .zip(&s)
                            .all(|(a, b)| (a.0 - b.0).abs() < 1e-7 && (a.1 - b.1).abs() < 1e-7)
                };
                assert!(same(p.exterior(), q.exterior()));
                for (h, k) in p.interiors().iter().zip(q.interiors()) {
                    assert!(same(h, k));
                }
            }
        }
        // Without a .cpg, a table that is valid UTF-8 is read as UTF-8.
        let no_cpg = repack(&bytes, |name, data| {
            (!name.ends_with(".cpg")).then(|| (name.to_owned(), data))
        });
        let again = read_zip(&no_cpg, "code", Crs::Wgs84).unwrap();
        assert_eq!(again[0].name.as_deref(), Some("金湖县一网格"));
        // Long Chinese values are cut at 254 bytes on a character boundary in the table and
        // kept whole beside it; names are cut at 10 bytes.
        let remark = back[0]
            .properties
            .get("备注说")
            .and_then(Value::as_str)
            .unwrap();
        assert_eq!(remark.len(), 252);
        assert!(back[0].properties.contains_key("code"));
        let names: Vec<String> = {
            let mut a = ZipArchive::new(Cursor::new(&bytes)).unwrap();
            (0..a.len())
                .map(|i| a.by_index(i).unwrap().name().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names,
            [
                "网格grids.shp",
                "网格grids.shx",
                "网格grids.dbf",
                "网格grids.prj",
                "网格grids.cpg",
                "网格grids_long_values.csv"
            ]
        );
        let mut csv = String::new();
        ZipArchive::new(Cursor::new(&bytes))
            .unwrap()
            .by_name("网格grids_long_values.csv")
            .unwrap()
            .read_to_string(&mut csv)
            .unwrap();
        let long = "长文本".repeat(100);
        assert_eq!(
            csv,
            format!(
                "\u{feff}feature,attribute,value\r\n1,备注说明字段,{long}\r\n2,备注说明字段,{long}\r\n"
            )
        );
        // short values only: no file beside the Shapefile
        let short: Vec<_> = features
            .into_iter()
            .map(|(a, g)| (a.into_iter().take(2).collect(), g))
            .collect();
        let bytes = write_zip("grids", &short).unwrap();
        assert_eq!(ZipArchive::new(Cursor::new(&bytes)).unwrap().len(), 5);
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("网格"), "网格");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }

    #[test]
    fn gbk_attributes_with_and_without_cpg() {
        // A GBK table: write one with dbase directly.
        let mut dbf = Cursor::new(Vec::new());
        {
            let mut t = TableWriterBuilder::with_encoding(EncodingRs::from(GBK))
                .add_character_field(FieldName::try_from("CODE").unwrap(), 20)
                .add_character_field(FieldName::try_from("NAME").unwrap(), 40)
                .add_numeric_field(FieldName::try_from("SEQ").unwrap(), 10, 0)
                .build_with_dest(&mut dbf);
            let mut r = Record::default();
            r.insert(
                "CODE".into(),
                FieldValue::Character(Some("320831001001003".into())),
            );
            r.insert(
                "NAME".into(),
                FieldValue::Character(Some("黎城镇三网格".into())),
            );
            r.insert("SEQ".into(), FieldValue::Numeric(Some(3.0)));
            t.write_record(&r).unwrap();
            t.finalize().unwrap();
        }
        let dbf = dbf.into_inner();
        let gbk = GBK.encode("黎城镇").0;
        assert!(dbf.windows(gbk.len()).any(|w| w == &gbk[..]), "really GBK");
        let base = write_zip(
            "g",
            &[(vec![("x".into(), "y".into())], square(119.0, 33.0, 0.01))],
        )
        .unwrap();
        for cpg in [Some("GBK"), Some("936"), None] {
            let zip = repack(&base, |name, data| match name.rsplit('.').next() {
                Some("dbf") => Some(("data/G.DBF".into(), dbf.clone())),
                Some("cpg") => cpg.map(|c| (name.to_owned(), c.as_bytes().to_vec())),
                _ => Some((format!("data/{name}"), data)),
            });
            let f = read_zip(&zip, "code", Crs::Wgs84).unwrap();
            assert_eq!(f[0].code.as_deref(), Some("320831001001003"), "{cpg:?}");
            assert_eq!(f[0].properties["NAME"], "黎城镇三网格", "{cpg:?}");
            assert_eq!(f[0].properties["SEQ"], 3);
        }
    }

    #[test]
    fn missing_parts_and_bad_archives() {
        let base = write_zip("g", &sample()).unwrap();
        let no_dbf = repack(&base, |name, data| {
            (!name.ends_with(".dbf")).then(|| (name.to_owned(), data))
        });
        let p = read_zip(&no_dbf, "code", Crs::Wgs84).unwrap_err();
        assert_eq!(kinds(&p), ["missing_shapefile_part"]);
        assert!(p[0].message.contains(".dbf"));
        let two = repack(&base, |name, data| Some((name.replace("g.", "h/g."), data)));
        let two = {
            let mut a = ZipArchive::new(Cursor::new(&two)).unwrap();
            let mut w = ZipWriter::new_append(Cursor::new(two.clone())).unwrap();
            let mut data = Vec::new();
            a.by_name("h/g.shp")
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            w.start_file("other.shp", SimpleFileOptions::default())
                .unwrap();
            w.write_all(&data).unwrap();
            w.finish().unwrap().into_inner()
        };
        assert_eq!(
            kinds(&read_zip(&two, "code", Crs::Wgs84).unwrap_err()),
            ["invalid_zip"]
        );
        assert_eq!(
            kinds(&read_zip(b"not a zip", "code", Crs::Wgs84).unwrap_err()),
            ["invalid_zip"]
        );
    }

    /// Found by fuzzing (fuzz/corpus/shapefile_parts/oom-4280af…): a record declaring 2^30
    /// parts made the shapefile crate reserve 4 GB before reading them; part starts are checked
    /// too.
    #[test]
    fn declared_counts_must_fit_their_record() {
        let base = write_zip("g", &sample()).unwrap();
        let edit = |f: fn(&mut Vec<u8>)| {
            repack(&base, |name, mut data| {
                if name.ends_with(".shp") {
                    f(&mut data);
                }
                Some((name.to_owned(), data))
            })
        };
        // the first record's part count (record header 8 bytes, type 4, box 32)
        let parts = edit(|shp| shp[144..148].copy_from_slice(&(1i32 << 30).to_le_bytes()));
        let p = read_zip(&parts, "code", Crs::Wgs84).unwrap_err();
        assert_eq!(kinds(&p), ["invalid_shapefile"]);
        assert!(
            p[0].message.contains("record 1 declares 1073741824 parts"),
            "{}",
            p[0].message
        );
        // found by fuzzing (fuzz/corpus/shapefile_parts/oom-2b254a…): part starts 654 million
        // points apart made it reserve 10 GB for the points between them
        let start = edit(|shp| shp[152..156].copy_from_slice(&(1i32 << 30).to_le_bytes()));
        let p = read_zip(&start, "code", Crs::Wgs84).unwrap_err();
        assert!(
            p[0].message
                .contains("record 1 starts part 1 at point 1073741824"),
            "{}",
            p[0].message
        );
        let points = edit(|shp| shp[148..152].copy_from_slice(&(-1i32).to_le_bytes()));
        assert_eq!(
            kinds(&read_zip(&points, "code", Crs::Wgs84).unwrap_err()),
            ["invalid_shapefile"]
        );
        let cut = edit(|shp| shp.truncate(shp.len() - 1));
        let p = read_zip(&cut, "code", Crs::Wgs84).unwrap_err();
        assert!(
            p[0].message.contains("record 2 is cut off"),
            "{}",
            p[0].message
        );
        // a null shape with bytes after its type: the next record is still found
        let null = edit(|shp| shp[108..112].copy_from_slice(&0i32.to_le_bytes()));
        let p = read_zip(&null, "code", Crs::Wgs84).unwrap_err();
        assert_eq!(kinds(&p), ["missing_geometry"]);
        assert_eq!(p[0].feature_index, Some(0));
    }

    #[test]
    fn holes_go_to_the_smallest_enclosing_outer_ring() {
        let ring = |a: f64, b: f64| -> LineString<f64> {
            vec![(a, a), (b, a), (b, b), (a, b), (a, a)].into()
        };
        let (x, y) = (119.0, 33.0);
        let shift = |r: LineString<f64>| -> LineString<f64> {
            r.0.iter()
                .map(|c| (x + c.x / 1000.0, y + c.y / 1000.0))
                .collect::<Vec<_>>()
                .into()
        };
        let lake_island = MultiPolygon::new(vec![
            Polygon::new(shift(ring(0.0, 10.0)), vec![shift(ring(2.0, 8.0))]),
            Polygon::new(shift(ring(3.0, 7.0)), vec![shift(ring(4.0, 6.0))]),
        ]);
        let bytes = write_zip("g", &[(attrs("1", "a"), lake_island)]).unwrap();
        let f = read_zip(&bytes, "code", Crs::Wgs84).unwrap();
        let mut parts: Vec<(usize, f64)> = f[0]
            .geometry
            .0
            .iter()
            .map(|p| (p.interiors().len(), p.unsigned_area()))
            .collect();
        parts.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.0 == 1), "{parts:?}");
    }

    #[test]
    fn projections() {
        let base = write_zip("g", &sample()).unwrap();
        let with_prj = |prj: &'static str| {
            repack(&base, move |name, data| {
                Some((
                    name.to_owned(),
                    if name.ends_with(".prj") {
                        prj.as_bytes().to_vec()
                    } else {
                        data
                    },
                ))
            })
        };
        let projected = r#"PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],UNIT["Meter",1.0]]"#;
        let p = read_zip(&with_prj(projected), "code", Crs::Wgs84).unwrap_err();
        assert_eq!(kinds(&p), ["unsupported_projection"]);
        assert!(p[0].message.contains("CGCS2000_3_Degree_GK_CM_120E"));
        let cgcs = r#"GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(
            read_zip(&with_prj(cgcs), "code", Crs::Wgs84).unwrap().len(),
            2
        );
        let xian = r#"GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(
            kinds(&read_zip(&with_prj(xian), "code", Crs::Wgs84).unwrap_err()),
            ["unsupported_projection"]
        );
    }

    #[test]
    fn records_are_validated_and_converted() {
        let bow_tie = MultiPolygon::new(vec![
            polygon![(x: 119.0, y: 33.0), (x: 119.1, y: 33.1), (x: 119.1, y: 33.0), (x: 119.0, y: 33.1), (x: 119.0, y: 33.0)],
        ]);
        let features = vec![
            (attrs("1", "a"), square(119.0, 33.0, 0.01)),
            (attrs("1", "b"), square(119.2, 33.0, 0.01)),
            (vec![("name".into(), "c".into())], bow_tie),
        ];
        let bytes = write_zip("g", &features).unwrap();
        let p = read_zip(&bytes, "code", Crs::Wgs84).unwrap_err();
        assert_eq!(
            kinds(&p),
            ["duplicate_code", "missing_code", "self_intersection"]
        );
        assert_eq!(p[2].feature_index, Some(2));

        let gcj = read_zip(&write_zip("g", &sample()).unwrap(), "code", Crs::Gcj02).unwrap();
        let c = gcj[0].geometry.0[0].exterior().0[0];
        assert!((c.x - 119.0123456).abs() > 1e-4);
        assert!(write_zip("g", &[(vec![], MultiPolygon::new(vec![]))]).is_err());
    }
}
