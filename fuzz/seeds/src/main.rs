//! Writes the seed corpora into `fuzz/corpus/<target>/seed-*`: small real samples of every input
//! format, made with the project's own writers where it has them. Run from the repository:
//! `cargo run --manifest-path fuzz/Cargo.toml -p wangge-fuzz-seeds`. Files the fuzzer added
//! (named by their SHA-1) are left alone.

use geo::polygon;
use serde_json::json;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use wangge_domain::catalogue::BUILTIN_FILES;
use wangge_geo::MultiPolygon;
use wangge_geo::shp::{Attributes, write_zip};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

fn put(target: &str, name: &str, bytes: impl AsRef<[u8]>) -> Result<()> {
    let dir = corpus().join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
    Ok(())
}

fn square(x: f64, y: f64, d: f64) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![
        polygon![(x: x, y: y), (x: x + d, y: y), (x: x + d, y: y + d), (x: x, y: y + d), (x: x, y: y)],
    ])
}

/// Three grids of 金湖县: a square, a donut with an island part, a triangle.
fn grids() -> Vec<(Attributes, MultiPolygon<f64>)> {
    let mut donut = square(119.02, 33.01, 0.01);
    donut.0[0].interiors_push(vec![
        (119.022, 33.012),
        (119.024, 33.012),
        (119.024, 33.014),
        (119.022, 33.012),
    ]);
    donut.0.push(square(119.05, 33.05, 0.002).0.remove(0));
    let triangle = MultiPolygon::new(vec![
        polygon![(x: 119.0, y: 33.03), (x: 119.01, y: 33.03), (x: 119.005, y: 33.04), (x: 119.0, y: 33.03)],
    ]);
    let attrs = |code: &str, name: &str| {
        vec![
            ("code".to_string(), code.to_string()),
            ("name".to_string(), name.to_string()),
            ("kind".to_string(), "basic".to_string()),
        ]
    };
    vec![
        (
            attrs("320831001001001", "城南社区第一网格"),
            square(119.0, 33.0, 0.01),
        ),
        (attrs("320831001001002", "城南社区第二网格"), donut),
        (attrs("320831001001003", "三网格"), triangle),
    ]
}

fn geojson() -> Result<()> {
    let features: Vec<_> = grids()
        .into_iter()
        .map(|(attrs, g)| {
            let props: serde_json::Map<String, serde_json::Value> =
                attrs.into_iter().map(|(k, v)| (k, json!(v))).collect();
            (props, g)
        })
        .collect();
    let text =
        wangge_geo::boundary::feature_collection(features.iter().map(|(p, g)| (p.clone(), g)));
    put("geojson", "collection.json", &text)?;
    let one = json!({"type": "Feature", "properties": {"CODE": 320831001001004_u64, "名称": "四网格"},
        "geometry": {"type": "Polygon", "coordinates": [[[119.0, 33.0, 5.0], [119.001, 33.0], [119.001, 33.001], [119.0, 33.001], [119.0, 33.0]]]}});
    put("geojson", "feature.json", one.to_string())?;
    let bad = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "1"}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"code": "1"}, "geometry": {"type": "MultiPolygon", "coordinates": [[[[0, 0], [2, 0], [2, 2], [0, 0]]], [[[1, 0], [3, 0], [3, 1], [1, 0]]]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [0, 0]}}
    ]});
    put("geojson", "problems.json", bad.to_string())?;
    Ok(())
}

/// The members of a zip, in order.
fn members(zip: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut archive = ZipArchive::new(Cursor::new(zip))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i)?;
        let name = f.name().unwrap_or_default().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data)?;
        out.push((name, data));
    }
    Ok(out)
}

fn stored(members: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, data) in members {
        zip.start_file(name.as_str(), options)?;
        zip.write_all(data)?;
    }
    Ok(zip.finish()?.into_inner())
}

fn shapefile() -> Result<()> {
    let zip = write_zip("网格", &grids())?;
    put("shapefile_zip", "grids.zip", &zip)?;
    let parts = members(&zip)?;
    put("shapefile_zip", "grids-stored.zip", stored(&parts)?)?;
    let one = write_zip("one", &grids()[..1])?;
    put("shapefile_zip", "one.zip", &one)?;
    // the same layer as GBK attributes without a .cpg, as Chinese desktop GIS writes it
    let gbk: Vec<(String, Vec<u8>)> = parts
        .iter()
        .filter(|(n, _)| !n.ends_with(".cpg"))
        .map(|(n, d)| {
            if n.ends_with(".dbf") {
                let text = String::from_utf8_lossy(d);
                let (b, _, _) = encoding_rs::GBK.encode(&text);
                (n.clone(), b.into_owned())
            } else {
                (n.clone(), d.clone())
            }
        })
        .collect();
    put("shapefile_zip", "grids-gbk.zip", stored(&gbk)?)?;

    // the framed form of the parts target: flags, .shp length, .shp, .dbf
    let get = |parts: &[(String, Vec<u8>)], ext: &str| {
        parts
            .iter()
            .find(|(n, _)| n.ends_with(ext))
            .map(|(_, d)| d.clone())
            .unwrap_or_default()
    };
    for (name, parts, flags) in [
        ("grids", &parts, 1 | 4),
        ("gbk", &gbk, 4 | 16),
        ("one", &members(&one)?, 0),
    ] {
        let shp = get(parts, ".shp");
        let mut framed = vec![flags];
        framed.extend_from_slice(&u32::try_from(shp.len())?.to_le_bytes());
        framed.extend_from_slice(&shp);
        framed.extend_from_slice(&get(parts, ".dbf"));
        put("shapefile_parts", &format!("{name}.bin"), framed)?;
    }
    Ok(())
}

const UNITS: &str = "代码,名称,上级代码,层级,类型,生效日期
320831,金湖县,3208,county,,
320831001,黎城街道,320831,town,street,2026-01-01

320831001001,城南社区,320831001,village,community,
320831001001001,城南社区第一网格,320831001001,grid,basic,2026-03-01
32083100100100101,一号微网格,320831001001001,micro_grid,,
";

fn territory() -> Result<()> {
    put("territory_csv", "units.csv", format!("\u{feff}{UNITS}"))?;
    let (gbk, _, _) = encoding_rs::GBK.encode(UNITS);
    put("territory_csv", "units-gbk.csv", gbk)?;
    put(
        "territory_csv",
        "english-quoted.csv",
        "code,name,parent_code,level\n320831002,\"戴楼街道, 东\",320831,town\n320831002,重复,320831,town\n33,浙江省,,province\n",
    )?;

    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, line) in UNITS.lines().enumerate() {
        for (c, cell) in line.split(',').enumerate() {
            let (r, c) = (u32::try_from(r)?, u16::try_from(c)?);
            match cell.parse::<f64>() {
                Ok(n) if c == 0 || c == 2 => ws.write_number(r, c, n)?,
                _ => ws.write_string(r, c, cell)?,
            };
        }
    }
    let xlsx = wb.save_to_buffer()?;
    put("territory_xlsx", "units.xlsx", &xlsx)?;
    // stored, so that mutations reach the sheet's XML, and without the theme and document
    // properties, which the reader skips: every kept input is a copy of this one, mutated
    let lean: Vec<(String, Vec<u8>)> = members(&xlsx)?
        .into_iter()
        .filter(|(name, _)| !name.starts_with("xl/theme/") && !name.starts_with("docProps/"))
        .collect();
    put("territory_xlsx", "units-stored.xlsx", stored(&lean)?)?;
    Ok(())
}

fn codes() -> Result<()> {
    put(
        "codes",
        "village",
        "320831001001\nvillage\n320831001\ntown\n城南社区\ncommunity\n",
    )?;
    put(
        "codes",
        "grid",
        "320831001001001\ngrid\n320831001001\nvillage\n第一网格\nbasic\n",
    )?;
    put(
        "codes",
        "bad",
        "32083100A001\nvillage\n320832001\ncity\n 名 \n\n",
    )?;
    put("codes", "paths", "/1/7/42/\nhamlet\n/1/\n\n\n\n")?;
    let levels = json!([
        {"key": "county", "name_zh": "县", "name_en": "County", "code_length": 6},
        {"key": "compound", "name_zh": "小区", "name_en": "Compound", "code_extends_parent": false},
        {"key": "grid", "name_zh": "网格", "name_en": "Grid", "code_length": 9, "grid": true}
    ]);
    put(
        "codes",
        "levels",
        format!("XQ-7\ncompound\n320831\ncounty\n小区\nx\n{levels}"),
    )?;
    Ok(())
}

fn calendar() -> Result<()> {
    put(
        "calendar_csv",
        "national-day.csv",
        "\u{feff}date,kind,name\n2026-10-01,休,国庆节\n2026-10-02,holiday,\n2026-10-10,班,国庆节调休\n\n2026-09-27,补班\n",
    )?;
    put(
        "calendar_csv",
        "bad-line.csv",
        "date,kind\n2026-10-01,休\n2026-13-01,休\n",
    )?;
    put(
        "calendar_ical",
        "national-day.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261001\r\nDTEND;VALUE=DATE:20261008\r\nSUMMARY:国庆\r\n 节\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261010\r\nSUMMARY:国庆节补班\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )?;
    put(
        "calendar_ical",
        "no-start.ics",
        "BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n",
    )?;
    put(
        "worktime",
        "standard",
        "08:30-12:00,13:30-17:30\n12345\n2026-09-30T16:00\n240\n5\n2026-10-13T10:00\n2026-10-01,休\n2026-10-10,班\n",
    )?;
    put(
        "worktime",
        "night",
        "00:00-24:00\n1234567\n2026-01-01T23:59:30\n1441\n-1\n2025-12-31T00:00\n",
    )?;
    put(
        "worktime",
        "bad-hours",
        "09:00-08:00,8h-12h\n67\n9999-12-31T12:00\n100000\n99999999999\n-9999-01-01T00:00\n",
    )?;
    Ok(())
}

fn case_flow() -> Result<()> {
    // indices into the harness's action and party lists: the standard loop, and one with side paths
    let standard: [(u8, u8); 10] = [
        (0, 4),
        (1, 1),
        (2, 2),
        (6, 1),
        (8, 3),
        (11, 3),
        (12, 0),
        (14, 0),
        (15, 3),
        (11, 3),
    ];
    let more: [(u8, u8); 9] = [
        (0, 0),
        (1, 1),
        (2, 1),
        (6, 1),
        (20, 2),
        (22, 2),
        (9, 3),
        (24, 2),
        (23, 2),
    ];
    for (name, steps) in [("standard", &standard[..]), ("side-paths", &more[..])] {
        let bytes: Vec<u8> = steps.iter().flat_map(|(a, p)| [*a, *p]).collect();
        put("case_flow", name, bytes)?;
    }
    Ok(())
}

fn catalogue() -> Result<()> {
    for (name, text) in BUILTIN_FILES {
        if name == "departments.toml" {
            put("catalogue", name, text)?;
            continue;
        }
        // the header and the first categories: the whole files are large for a fuzzer
        let cut = text
            .match_indices("\n[[category]]")
            .nth(4)
            .map_or(text.len(), |(i, _)| i);
        put("catalogue", name, &text[..cut])?;
    }
    put("catalogue", "limit", "5d")?;
    Ok(())
}

fn ingest() -> Result<()> {
    put(
        "ingest",
        "level",
        "data.level\n3\n{\"type\": \"smoke\", \"data\": {\"level\": 4, \"text\": \"楼道漏水\"}}",
    )?;
    put(
        "ingest",
        "array",
        "a.0.b\ntrue\n{\"a\": [{\"b\": true}], \"n\": null}",
    )?;
    put(
        "ingest",
        "rules",
        "type\nsmoke\n[{\"field\": \"type\", \"op\": \"eq\", \"value\": \"smoke\", \"category\": \"G0502\"}, {\"field\": \"data.level\", \"op\": \"gte\", \"value\": \"3\", \"category\": \"NOPE\", \"urgent\": true}]",
    )?;
    Ok(())
}

fn crs() -> Result<()> {
    for (name, lng, lat) in [
        ("beijing", 116.404_f64, 39.915_f64),
        ("jinhu", 119.02, 33.01),
        ("paris", 2.35, 48.85),
        ("edge", 72.004, 0.8293),
    ] {
        let mut b = lng.to_le_bytes().to_vec();
        b.extend_from_slice(&lat.to_le_bytes());
        b.extend_from_slice(b"gcj02");
        put("crs", name, b)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    geojson()?;
    shapefile()?;
    territory()?;
    codes()?;
    calendar()?;
    case_flow()?;
    catalogue()?;
    ingest()?;
    crs()?;
    println!("seeds written to {}", corpus().display());
    Ok(())
}
