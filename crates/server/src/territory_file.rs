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
        line += text.as_bytes()[seen_byte..start.max(seen_byte)]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
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

fn parse_xlsx(bytes: &[u8]) -> Result<Vec<ImportRow>, ApiError> {
    use calamine::Reader;
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| ApiError::field("file", format!("not a readable .xlsx file: {e}")))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| ApiError::field("file", "the workbook has no sheet"))?
        .map_err(|e| ApiError::field("file", format!("unreadable sheet: {e}")))?;
    let first_row = range.start().map(|(r, _)| r as u64).unwrap_or(0);
    let mut it = range.rows();
    let header = match it.next() {
        Some(h) => Header::parse(&h.iter().map(cell_text).collect::<Vec<_>>())?,
        None => return Err(ApiError::field("file", "the sheet is empty")),
    };
    let mut rows = Vec::new();
    for (i, r) in it.enumerate() {
        let cells: Vec<String> = r.iter().map(cell_text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push(header.row(first_row + i as u64 + 2, &cells));
    }
    Ok(rows)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
