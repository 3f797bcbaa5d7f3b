//! Reading a territory import file (CSV in UTF-8 or GBK, or `.xlsx`) into rows, and writing the
//! row-by-row error report.

use crate::error::ApiError;
use wangge_domain::import::{ImportRow, RowError};

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Xlsx,
}

impl FileKind {
    /// From a Content-Type header or a file name.
    pub fn detect(content_type: Option<&str>, file_name: Option<&str>) -> Option<FileKind> {
        let ct = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        match ct {
            "text/csv" | "application/csv" => return Some(FileKind::Csv),
            XLSX_MIME => return Some(FileKind::Xlsx),
            _ => {}
        }
        let name = file_name.unwrap_or("").to_lowercase();
        if name.ends_with(".csv") {
            Some(FileKind::Csv)
        } else if name.ends_with(".xlsx") {
            Some(FileKind::Xlsx)
        } else {
            None
        }
    }
}

/// Column names accepted in the header row (English or Chinese).
const COLUMNS: &[(&str, &[&str])] = &[
    ("code", &["code", "代码", "区划代码", "编码"]),
    ("name", &["name", "名称", "单位名称"]),
    (
        "parent_code",
        &["parent_code", "上级代码", "上级编码", "父级代码"],
    ),
    ("level", &["level", "层级", "级别"]),
    ("kind", &["kind", "类型", "类别"]),
    ("valid_from", &["valid_from", "生效日期"]),
];

struct Header {
    idx: [Option<usize>; 6],
}

impl Header {
    fn parse(cells: &[String]) -> Result<Header, ApiError> {
        let mut idx = [None; 6];
        for (i, cell) in cells.iter().enumerate() {
            let c = cell.trim().trim_start_matches('\u{feff}').to_lowercase();
            if let Some(k) = COLUMNS
                .iter()
                .position(|(_, names)| names.contains(&c.as_str()))
            {
                idx[k] = Some(i);
            }
        }
        let missing: Vec<&str> = (0..4)
            .filter(|k| idx[*k].is_none())
            .map(|k| COLUMNS[k].0)
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::field(
                "header",
                format!("missing columns: {}", missing.join(", ")),
            ));
        }
        Ok(Header { idx })
    }

    fn row(&self, row: u64, cells: &[String]) -> ImportRow {
        let get = |k: usize| -> String {
            self.idx[k]
                .and_then(|i| cells.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let opt = |k: usize| Some(get(k)).filter(|s| !s.is_empty());
        ImportRow {
            row,
            code: get(0),
            name: get(1),
            parent_code: get(2),
            level: get(3),
            kind: opt(4),
            valid_from: opt(5),
        }
    }
}

/// Parses a whole file. A file that cannot be read at all (bad encoding, no header) is an error;
/// bad rows are left for the import validation to report.
pub fn parse(kind: FileKind, bytes: &[u8]) -> Result<Vec<ImportRow>, ApiError> {
    match kind {
        FileKind::Csv => parse_csv(bytes),
        FileKind::Xlsx => parse_xlsx(bytes),
    }
}

fn parse_csv(bytes: &[u8]) -> Result<Vec<ImportRow>, ApiError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    // Spreadsheets in China often save CSV as GBK: decode it when the file is not UTF-8.
    let text: std::borrow::Cow<str> = match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => {
            let (s, _, had_errors) = encoding_rs::GBK.decode(bytes);
            if had_errors {
                return Err(ApiError::field(
                    "file",
                    "the CSV is neither UTF-8 nor GBK text",
                ));
            }
            s
        }
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = rdr.records();
    let header = match records.next() {
        Some(Ok(h)) => Header::parse(&h.iter().map(String::from).collect::<Vec<_>>())?,
        Some(Err(e)) => return Err(ApiError::field("file", format!("unreadable CSV: {e}"))),
        None => return Err(ApiError::field("file", "the file is empty")),
    };
    let mut rows = Vec::new();
    let mut cells: Vec<String> = Vec::with_capacity(6);
    // Line numbers as a spreadsheet shows them, blank lines included (the csv reader skips them).
    let (mut seen_byte, mut line) = (0usize, 1u64);
    for rec in records {
        let rec = rec.map_err(|e| ApiError::field("file", format!("unreadable CSV: {e}")))?;
        let mut start = rec
            .position()
            .map(|p| p.byte() as usize)
            .unwrap_or(seen_byte);
        // a record's position may include the blank lines skipped before it
        while matches!(text.as_bytes().get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        line += line_breaks(&text.as_bytes()[seen_byte..start.max(seen_byte)]);
        seen_byte = start.max(seen_byte);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        cells.clear();
        cells.extend(rec.iter().map(String::from));
        rows.push(header.row(line, &cells));
    }
    Ok(rows)
}

/// Line breaks as the csv reader sees them: `\n`, `\r\n` and a lone `\r` (CSV saved on old Macs).
fn line_breaks(bytes: &[u8]) -> u64 {
    let mut n = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

fn cell_text(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        // codes typed as numbers: 320831001001 arrives as a float
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e17 => format!("{}", *f as i64),
        Data::Int(i) => i.to_string(),
        Data::DateTimeIso(d) => d.chars().take(10).collect(),
        other => other.to_string(),
    }
}

/// Columns of a sheet that are read: the header's columns are among the first few, and a cell
/// far to the right must not widen every row.
const XLSX_COLUMNS: u32 = 64;
/// Longest cell text kept, in characters: every column has a much shorter limit (names 100,
/// codes 64), so a longer value fails the validation all the same.
const XLSX_CELL_CHARS: usize = 256;

/// The non-empty cells of the first sheet, by row: (column, text).
type Cells = std::collections::BTreeMap<u32, Vec<(u32, String)>>;

fn parse_xlsx(bytes: &[u8]) -> Result<Vec<ImportRow>, ApiError> {
    // calamine panics on some broken sheets where arithmetic overflow is checked (debug and
    // test builds): a `<dimension ref="B2:A1">` that runs backwards subtracts with overflow. A
    // broken upload is a field error, whatever the build.
    let sheet = std::panic::catch_unwind(|| read_cells(bytes)).unwrap_or_else(|_| {
        Err(ApiError::field(
            "file",
            "not a readable .xlsx file: the sheet is malformed",
        ))
    })?;
    let dense = |cells: Vec<(u32, String)>| {
        let width = cells
            .iter()
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0);
        let mut row = vec![String::new(); width];
        for (c, text) in cells {
            row[c as usize] = text;
        }
        row
    };
    let mut it = sheet.into_iter();
    let header = match it.next() {
        Some((_, cells)) => Header::parse(&dense(cells))?,
        None => return Err(ApiError::field("file", "the sheet is empty")),
    };
    let mut rows = Vec::new();
    for (r, cells) in it {
        let cells = dense(cells);
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        // row numbers as the spreadsheet shows them, from 1
        rows.push(header.row(u64::from(r) + 1, &cells));
    }
    Ok(rows)
}

fn read_cells(bytes: &[u8]) -> Result<Cells, ApiError> {
    use calamine::{Reader, XlsxError};
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| ApiError::field("file", format!("not a readable .xlsx file: {e}")))?;
    let name = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| ApiError::field("file", "the workbook has no sheet"))?;
    let unreadable = |e: XlsxError| ApiError::field("file", format!("unreadable sheet: {e}"));
    // Cell by cell, kept sparse by row: a dense range (`worksheet_range`) of a sheet with cells
    // at A1 and XFD1048576 asks for 17 billion cells from a file of a few hundred bytes.
    let mut sheet = Cells::new();
    let mut reader = match wb.worksheet_cells_reader(&name) {
        Ok(r) => r,
        Err(XlsxError::NotAWorksheet(_)) => {
            return Err(ApiError::field("file", "the sheet is empty"));
        }
        Err(e) => return Err(unreadable(e)),
    };
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        if col >= XLSX_COLUMNS {
            continue;
        }
        let text = cell_text(&calamine::Data::from(cell.get_value().clone()));
        if !text.is_empty() {
            let text = match text.char_indices().nth(XLSX_CELL_CHARS) {
                Some((cut, _)) => text[..cut].to_string(),
                None => text,
            };
            sheet.entry(row).or_default().push((col, text));
        }
    }
    Ok(sheet)
}

/// The full error report as CSV: row, code, error, message, message_zh.
pub fn error_report_csv(errors: &[RowError]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["row", "code", "error", "message", "message_zh"]);
    for e in errors {
        let zh = crate::error::message_zh(&e.error).unwrap_or("");
        let _ = w.write_record([
            e.row.to_string().as_str(),
            &e.code,
            &e.error,
            &e.message,
            zh,
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    // BOM so that spreadsheets open the Chinese text as UTF-8
    format!("\u{feff}{}", String::from_utf8_lossy(&bytes))
}

/// The fuzz harness of these readers, shared with `fuzz/`, for the corpus replay below.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../fuzz/src/server_targets.rs"]
mod fuzz_targets;

#[cfg(test)]
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn csv_with_chinese_header_and_bom() {
        let f = "\u{feff}代码,名称,上级代码,层级\n320831,金湖县,3208,county\n\n320831001,黎城街道,320831,town\n";
        let rows = parse(FileKind::Csv, f.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row, 2);
        assert_eq!(rows[1].row, 4);
        assert_eq!(rows[1].name, "黎城街道");
    }

    #[test]
    fn gbk_csv_is_decoded() {
        let (gbk, _, _) =
            encoding_rs::GBK.encode("code,name,parent_code,level\n320831,金湖县,3208,county\n");
        let rows = parse(FileKind::Csv, &gbk).unwrap();
        assert_eq!(rows[0].name, "金湖县");
    }

    #[test]
    fn missing_columns_are_named() {
        let e = parse(FileKind::Csv, b"code,name\n1,a\n").unwrap_err();
        assert_eq!(e.code, "validation_failed");
        assert!(e.message.unwrap().contains("parent_code, level"));
    }

    #[test]
    fn xlsx_numbers_become_codes() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["code", "name", "parent_code", "level"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_number(1, 0, 320831001001.0).unwrap();
        ws.write_string(1, 1, "城南社区").unwrap();
        ws.write_number(1, 2, 320831001.0).unwrap();
        ws.write_string(1, 3, "village").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let rows = parse(FileKind::Xlsx, &bytes).unwrap();
        assert_eq!(rows[0].code, "320831001001");
        assert_eq!(rows[0].parent_code, "320831001");
        assert_eq!(rows[0].row, 2);
        assert!(parse(FileKind::Xlsx, b"not a zip").is_err());
    }

    /// Cells at A1 and XFD1048576 made calamine's dense range ask for 17 billion cells (an
    /// abort of the whole server from a 6 kB upload); the sheet is now read cell by cell.
    #[test]
    fn far_away_cells_do_not_widen_the_sheet() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["code", "name", "parent_code", "level"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (c, v) in ["320831001", "黎城街道", "320831", "town"]
            .iter()
            .enumerate()
        {
            ws.write_string(4, c as u16, *v).unwrap();
        }
        ws.write_string(1_048_575, 16_383, "far away").unwrap();
        ws.write_string(1_048_575, 0, "长".repeat(1000)).unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let rows = parse(FileKind::Xlsx, &bytes).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].row, rows[0].name.as_str()), (5, "黎城街道"));
        assert_eq!(rows[1].row, 1_048_576);
        assert_eq!(rows[1].code.chars().count(), 256);
    }

    /// Found by fuzzing (fuzz/corpus/territory_xlsx/crash-fa6e1c…): a sheet whose `<dimension>`
    /// runs backwards made calamine subtract with overflow, a panic in debug builds.
    #[test]
    fn a_sheet_that_makes_calamine_panic_is_refused() {
        let bytes = include_bytes!(
            "../../../fuzz/corpus/territory_xlsx/crash-fa6e1ce3155a362d083d3ab023e5752463088602"
        );
        let err = parse(FileKind::Xlsx, bytes).unwrap_err();
        assert_eq!(err.code, "validation_failed");
        assert!(
            format!("{err:?}").contains("the sheet is malformed"),
            "{err:?}"
        );
    }

    #[test]
    fn kinds_are_detected() {
        assert_eq!(
            FileKind::detect(Some("text/csv; charset=utf-8"), None),
            Some(FileKind::Csv)
        );
        assert_eq!(
            FileKind::detect(Some(XLSX_MIME), None),
            Some(FileKind::Xlsx)
        );
        assert_eq!(FileKind::detect(None, Some("a.XLSX")), Some(FileKind::Xlsx));
        assert_eq!(FileKind::detect(Some("application/json"), None), None);
    }

    /// Found by the property tests: rows separated by a lone CR (CSV saved by Excel for Mac)
    /// were all numbered 2, so the error report could not say which row was wrong.
    #[test]
    fn rows_after_a_lone_carriage_return_are_numbered() {
        let f = "code,name,parent_code,level\r320831,金湖县,3208,county\r\r320831001,黎城街道,320831,town\r\n\n\r\nx,\"a\rb\",y,z\ry,b,c,d";
        let rows = parse(FileKind::Csv, f.as_bytes()).unwrap();
        let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
        assert_eq!(numbers, [2, 4, 7, 9]);
        assert_eq!(rows[2].name, "a\rb");
    }

    use super::replay::replay_corpus;

    #[test]
    fn fuzz_corpus_replays() {
        replay_corpus("territory_csv", super::fuzz_targets::territory_csv);
        replay_corpus("territory_xlsx", super::fuzz_targets::territory_xlsx);
    }

    fn config(cases: u32) -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases);
        ProptestConfig::with_cases(cases)
    }

    const HEADER: [&str; 6] = ["code", "名称", "parent_code", "层级", "kind", "生效日期"];

    /// Rows of six cells with commas, quotes, spaces, line breaks and Chinese text.
    fn table() -> impl Strategy<Value = Vec<[String; 6]>> {
        let cell = "[0-9a-z ,\"\n城南社区黎城街道]{0,8}";
        prop::collection::vec(
            (cell, cell, cell, cell, cell, cell).prop_map(|(a, b, c, d, e, f)| [a, b, c, d, e, f]),
            0..12,
        )
    }

    /// The rows the reader should give: cells trimmed, blank rows left out.
    fn expected(table: &[[String; 6]]) -> Vec<[String; 6]> {
        table
            .iter()
            .map(|r| r.clone().map(|c| c.trim().to_string()))
            .filter(|r| r.iter().any(|c| !c.is_empty()))
            .collect()
    }

    fn cells(r: &ImportRow) -> [String; 6] {
        [
            r.code.clone(),
            r.name.clone(),
            r.parent_code.clone(),
            r.level.clone(),
            r.kind.clone().unwrap_or_default(),
            r.valid_from.clone().unwrap_or_default(),
        ]
    }

    fn csv_text(table: &[[String; 6]]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(HEADER).unwrap();
        for r in table {
            w.write_record(r).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    fn assert_rows(rows: &[ImportRow], want: &[[String; 6]]) -> Result<(), TestCaseError> {
        let got: Vec<[String; 6]> = rows.iter().map(cells).collect();
        prop_assert_eq!(got, want.to_vec());
        prop_assert!(rows.windows(2).all(|w| w[0].row < w[1].row));
        prop_assert!(rows.iter().all(|r| r.row >= 2));
        Ok(())
    }

    proptest! {
        #![proptest_config(config(64))]

        /// A CSV in UTF-8 (with or without a BOM) or GBK reads back as written.
        #[test]
        fn csv_files_read_back(table in table(), bom in any::<bool>(), gbk in any::<bool>()) {
            let text = csv_text(&table);
            let bytes = if gbk {
                let (b, _, unmappable) = encoding_rs::GBK.encode(&text);
                prop_assume!(!unmappable && std::str::from_utf8(&b).is_err() || b.is_ascii());
                b.into_owned()
            } else if bom {
                format!("\u{feff}{text}").into_bytes()
            } else {
                text.into_bytes()
            };
            let rows = parse(FileKind::Csv, &bytes).unwrap();
            assert_rows(&rows, &expected(&table))?;
            super::fuzz_targets::territory_csv(&bytes);
        }

        /// An .xlsx reads back as written; whole numbers are codes.
        #[test]
        fn xlsx_files_read_back(table in table(), numbers in prop::collection::vec(1u64..999_999_999_999, 12)) {
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            for (c, h) in HEADER.iter().enumerate() {
                ws.write_string(0, c as u16, *h).unwrap();
            }
            let mut table = table;
            for (r, row) in table.iter_mut().enumerate() {
                // every other code as a number, as spreadsheets store them
                let number = r % 2 == 1;
                if number {
                    row[0] = numbers[r].to_string();
                }
                let xr = r as u32 + 1;
                for (c, cell) in row.iter().enumerate() {
                    if c == 0 && number {
                        ws.write_number(xr, 0, numbers[r] as f64).unwrap();
                    } else if !cell.is_empty() {
                        ws.write_string(xr, c as u16, cell).unwrap();
                    }
                }
            }
            let bytes = wb.save_to_buffer().unwrap();
            let rows = parse(FileKind::Xlsx, &bytes).unwrap();
            assert_rows(&rows, &expected(&table))?;
        }

        #[test]
        fn csv_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            super::fuzz_targets::territory_csv(&bytes);
        }

        #[test]
        fn csv_text_never_panics(text in "(?s)(code,name,parent_code,level\n)?.{0,200}") {
            super::fuzz_targets::territory_csv(text.as_bytes());
        }

        #[test]
        fn xlsx_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            super::fuzz_targets::territory_xlsx(&bytes);
        }
    }
}
