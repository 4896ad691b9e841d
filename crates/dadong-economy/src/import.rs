//! Reading the four exchange files of SPEC section 9 (enterprises, indicators, districts,
//! projects) from CSV or XLSX, all or nothing.
//!
//! A file is first read into rows of cell text, the same text whichever format it came in (an
//! XLSX cell becomes the string a person typed into it); the header is matched against the
//! expected columns; then every row is checked with the domain's own parsers (`CreditCode`,
//! `Period`, `Fen`). Every problem found is returned, up to [`ERRORS_MAX`], each naming the
//! spreadsheet row, the column and the value, so that a person can fix a whole file in one
//! pass. A file with any problem yields no rows at all: a half-imported month would make the
//! bulletin's figures wrong without anyone noticing.
//!
//! Row numbers are those a spreadsheet program shows: the header is row 1 when it is the first
//! line, and a blank line still counts as a row. Blank rows (every cell empty) are skipped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;

use dadong_domain::money::MoneyError;
use dadong_domain::{CreditCode, Fen, Period};
use dadong_tabular::{Cell, Errors, one_of};
use jiff::civil::Date;

use crate::model::{Centi, DistrictRow, EnterpriseRow, IndicatorRow, PROJECT_KINDS, ProjectRow, TAGS, TagEntry};

pub use dadong_tabular::{ERRORS_MAX, FileFormat, detect_format};

/// Most data rows in one file. A year of monthly indicators for every enterprise with a full
/// profile is well under this; a larger file is more likely a mistake than a real upload.
const ROWS_MAX: usize = 1_000_000;
/// Longest name (enterprise, project, district, park), in characters.
const NAME_CHARS_MAX: usize = 200;
const PROJECT_ID_CHARS_MAX: usize = 64;

const ENTERPRISE_COLUMNS: &[&str] = &["credit_code", "name", "industry", "above_size", "park", "tags", "registered"];
const INDICATOR_COLUMNS: &[&str] = &["credit_code", "period", "indicator", "value"];
const DISTRICT_COLUMNS: &[&str] = &["district", "period", "indicator", "total", "growth_pct"];
const PROJECT_COLUMNS: &[&str] = &[
    "project_id",
    "name",
    "investment",
    "industry",
    "kind",
    "signed",
    "landed",
    "started",
    "completed",
];

/// One problem in an imported file: the spreadsheet row (0 for the whole file), the column as
/// the header spells it, the value as read and the reason.
pub type ImportError = dadong_tabular::RowError;

/// Every problem found in a refused file, in the order found (row by row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportErrors(pub Vec<ImportError>);

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportErrors {}

/// `enterprises.csv`: `credit_code,name,industry,above_size,park,tags,registered`.
pub fn parse_enterprises(bytes: &[u8], format: FileFormat) -> Result<Vec<EnterpriseRow>, ImportErrors> {
    let key = DuplicateKey {
        column: "credit_code",
        what: "credit_code",
    };
    parse_rows(bytes, format, ENTERPRISE_COLUMNS, key, |r| {
        let credit_code = r.required("credit_code", parse_credit_code);
        let name = r.required("name", parse_name);
        let industry = r.required("industry", parse_industry);
        let above_size = r.required("above_size", parse_bool);
        let park = r.optional("park", parse_name);
        let tags = r.tags("tags");
        let registered = r.required("registered", parse_date);
        let key = credit_code.clone();
        let (Some(credit_code), Some(name), Some(industry), Some(above_size), Some(park), Some(tags), Some(registered)) =
            (credit_code, name, industry, above_size, park, tags, registered)
        else {
            return (key, None);
        };
        (
            key,
            Some(EnterpriseRow {
                credit_code,
                name,
                industry,
                above_size,
                park,
                tags,
                registered,
            }),
        )
    })
}

/// `indicators.csv`: `credit_code,period,indicator,value`; `known_indicators` are the catalog's codes.
pub fn parse_indicators(bytes: &[u8], format: FileFormat, known_indicators: &[&str]) -> Result<Vec<IndicatorRow>, ImportErrors> {
    let key = DuplicateKey {
        column: "credit_code",
        what: "credit_code, period and indicator",
    };
    parse_rows(bytes, format, INDICATOR_COLUMNS, key, |r| {
        let credit_code = r.required("credit_code", parse_credit_code);
        let period = r.required("period", parse_period);
        let indicator = r.required("indicator", |s| parse_indicator(s, known_indicators));
        let value = r.required("value", parse_amount);
        let (Some(credit_code), Some(period), Some(indicator), Some(value)) = (credit_code, period, indicator, value) else {
            return (None, None);
        };
        let key = (credit_code.clone(), period, indicator.clone());
        (
            Some(key),
            Some(IndicatorRow {
                row: r.row,
                credit_code,
                period,
                indicator,
                value,
            }),
        )
    })
}

/// `districts.csv`: `district,period,indicator,total,growth_pct`.
pub fn parse_districts(bytes: &[u8], format: FileFormat, known_indicators: &[&str]) -> Result<Vec<DistrictRow>, ImportErrors> {
    let key = DuplicateKey {
        column: "district",
        what: "district, period and indicator",
    };
    parse_rows(bytes, format, DISTRICT_COLUMNS, key, |r| {
        let district = r.required("district", parse_name);
        let period = r.required("period", parse_period);
        let indicator = r.required("indicator", |s| parse_indicator(s, known_indicators));
        let total = r.required("total", parse_amount);
        let growth_tenths = r.optional("growth_pct", parse_growth_tenths);
        let (Some(district), Some(period), Some(indicator), Some(total), Some(growth_tenths)) = (district, period, indicator, total, growth_tenths) else {
            return (None, None);
        };
        let key = (district.clone(), period, indicator.clone());
        (
            Some(key),
            Some(DistrictRow {
                district,
                period,
                indicator,
                total,
                growth_tenths,
            }),
        )
    })
}

/// `projects.csv`: `project_id,name,investment,industry,kind,signed,landed,started,completed`.
pub fn parse_projects(bytes: &[u8], format: FileFormat) -> Result<Vec<ProjectRow>, ImportErrors> {
    let key = DuplicateKey {
        column: "project_id",
        what: "project_id",
    };
    parse_rows(bytes, format, PROJECT_COLUMNS, key, |r| {
        let project_id = r.required("project_id", parse_project_id);
        let name = r.required("name", parse_name);
        let investment = r.required("investment", parse_amount);
        let industry = r.required("industry", parse_industry);
        let kind = r.required("kind", parse_kind);
        let signed = r.optional("signed", parse_date);
        let landed = r.optional("landed", parse_date);
        let started = r.optional("started", parse_date);
        let completed = r.optional("completed", parse_date);
        let dates_in_order = r.dates_in_order(&[
            ("signed", signed.flatten()),
            ("landed", landed.flatten()),
            ("started", started.flatten()),
            ("completed", completed.flatten()),
        ]);
        let key = project_id.clone();
        let (Some(project_id), Some(name), Some(investment), Some(industry), Some(kind)) = (project_id, name, investment, industry, kind) else {
            return (key, None);
        };
        let (Some(signed), Some(landed), Some(started), Some(completed), true) = (signed, landed, started, completed, dates_in_order) else {
            return (key, None);
        };
        (
            key,
            Some(ProjectRow {
                project_id,
                name,
                investment,
                industry,
                kind,
                signed,
                landed,
                started,
                completed,
            }),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Rows

/// The text a person would have typed into this cell of `column`: a date in the `period`
/// column means its month.
fn cell_text<'a>(cell: &'a Cell, column: &str) -> Cow<'a, str> {
    match cell {
        Cell::Date(d) if column == "period" => Cow::Owned(format!("{:04}-{:02}", d.year, d.month)),
        cell => cell.text(),
    }
}

/// The column that identifies a row, for the duplicate check, and how the key is described.
struct DuplicateKey {
    column: &'static str,
    what: &'static str,
}

/// Reads a file and checks every row with `parse_row`, which returns the row's key (when the
/// key's cells are valid) and the row (when every cell is valid).
fn parse_rows<K: Eq + Hash, T>(
    bytes: &[u8],
    format: FileFormat,
    columns: &[&str],
    key: DuplicateKey,
    mut parse_row: impl FnMut(&mut RowChecker<'_>) -> (Option<K>, Option<T>),
) -> Result<Vec<T>, ImportErrors> {
    let mut first_row_of: HashMap<K, usize> = HashMap::new();
    let mut parsed = Vec::new();
    dadong_tabular::read_records(bytes, format, columns, ROWS_MAX, |record, errors| {
        let mut checker = RowChecker {
            row: record.row,
            columns,
            cells: &record.cells,
            errors,
        };
        let (row_key, row) = parse_row(&mut checker);
        if let Some(row_key) = row_key {
            match first_row_of.entry(row_key) {
                Entry::Occupied(first) => {
                    let value = cell_text(checker.cell(key.column), key.column).into_owned();
                    let reason = format!("the same {} as row {}", key.what, first.get());
                    checker.error(key.column, &value, reason);
                }
                Entry::Vacant(slot) => {
                    slot.insert(record.row);
                }
            }
        }
        parsed.extend(row);
    })
    .map_err(ImportErrors)?;
    Ok(parsed)
}

/// Checks the cells of one row, recording each problem against its column.
struct RowChecker<'a> {
    row: usize,
    columns: &'a [&'a str],
    cells: &'a [Cell],
    errors: &'a mut Errors,
}

impl RowChecker<'_> {
    fn cell(&self, column: &str) -> &Cell {
        let k = self.columns.iter().position(|c| *c == column).expect("a column of this file kind");
        &self.cells[k]
    }

    fn error(&mut self, column: &str, value: &str, reason: impl Into<String>) {
        self.errors.push(self.row, column, value, reason);
    }

    /// The cell's text, or `None` (recorded) when the cell cannot hold a value.
    fn text(&mut self, column: &str) -> Option<String> {
        match self.cell(column) {
            Cell::Bad { shown, reason } => {
                let (shown, reason) = (shown.clone(), reason.clone());
                self.error(column, &shown, reason);
                None
            }
            cell => Some(cell_text(cell, column).into_owned()),
        }
    }

    fn check<T>(&mut self, column: &str, text: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        parse(text).map_err(|reason| self.error(column, text, reason)).ok()
    }

    /// A cell that must have a value.
    fn required<T>(&mut self, column: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let text = self.text(column)?;
        if text.is_empty() {
            self.error(column, "", "empty: this column needs a value");
            return None;
        }
        self.check(column, &text, parse)
    }

    /// A cell that may be empty: `Some(None)` when it is, `None` when it is not valid.
    fn optional<T>(&mut self, column: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<Option<T>> {
        let text = self.text(column)?;
        if text.is_empty() {
            return Some(None);
        }
        self.check(column, &text, parse).map(Some)
    }

    /// Pool memberships `tag` or `tag@YYYY-MM-DD`, separated by `;`; each bad item is its own
    /// error. Empty items (a trailing `;`) are ignored.
    fn tags(&mut self, column: &str) -> Option<Vec<TagEntry>> {
        let text = self.text(column)?;
        let mut entries: Vec<TagEntry> = Vec::new();
        let mut valid = true;
        for item in text.split(';').map(str::trim).filter(|item| !item.is_empty()) {
            let (tag, entered) = match item.split_once('@') {
                Some((tag, date)) => (tag.trim(), Some(date.trim())),
                None => (item, None),
            };
            let problem = if !TAGS.contains(&tag) {
                Some(format!("unknown tag '{tag}': {}", one_of(tag, TAGS)))
            } else if entries.iter().any(|e| e.tag == tag) {
                Some(format!("the tag '{tag}' appears twice"))
            } else {
                match entered.map(parse_date).transpose() {
                    Ok(entered) => {
                        entries.push(TagEntry { tag: tag.to_string(), entered });
                        None
                    }
                    Err(reason) => Some(format!("the date after @ is {reason}")),
                }
            };
            if let Some(reason) = problem {
                valid = false;
                self.error(column, item, reason);
            }
        }
        valid.then_some(entries)
    }

    /// Checks that the dates present are in order; an error names the later column.
    fn dates_in_order(&mut self, dates: &[(&str, Option<Date>)]) -> bool {
        let mut latest: Option<(&str, Date)> = None;
        let mut in_order = true;
        for &(column, date) in dates {
            let Some(date) = date else { continue };
            match latest {
                Some((before, before_date)) if date < before_date => {
                    in_order = false;
                    self.error(column, &date.to_string(), format!("earlier than {before} ({before_date})"));
                }
                _ => latest = Some((column, date)),
            }
        }
        in_order
    }
}

// ---------------------------------------------------------------------------------------------
// Values

fn parse_credit_code(s: &str) -> Result<CreditCode, String> {
    CreditCode::parse(s).map_err(|e| format!("not a valid credit code: {e}"))
}

fn parse_period(s: &str) -> Result<Period, String> {
    Period::parse(s).map_err(|_| "not a period of the form YYYY-MM".to_string())
}

/// A name as people write it: trimmed already, not too long, on one line.
fn parse_name(s: &str) -> Result<String, String> {
    if s.chars().count() > NAME_CHARS_MAX {
        return Err(format!("longer than {NAME_CHARS_MAX} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("contains a line break or another control character".to_string());
    }
    Ok(s.to_string())
}

fn parse_project_id(s: &str) -> Result<String, String> {
    if s.chars().count() > PROJECT_ID_CHARS_MAX {
        return Err(format!("longer than {PROJECT_ID_CHARS_MAX} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("contains a line break or another control character".to_string());
    }
    Ok(s.to_string())
}

/// GB/T 4754-2017: a section letter `A`–`T` and two to four digits (`C36`, `C3612`).
fn parse_industry(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let valid = (3..=5).contains(&b.len()) && (b'A'..=b'T').contains(&b[0]) && b[1..].iter().all(u8::is_ascii_digit);
    if valid {
        Ok(s.to_string())
    } else {
        Err("not an industry code: a section letter A–T and two to four digits, like C36 or C3612".to_string())
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("neither true nor false".to_string()),
    }
}

/// Exactly `YYYY-MM-DD`, a real calendar date in the years a period may have.
fn parse_date(s: &str) -> Result<Date, String> {
    let b = s.as_bytes();
    let shape = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err("not a date of the form YYYY-MM-DD".to_string());
    }
    let number = |range: std::ops::Range<usize>| s[range].parse::<i16>().expect("four ASCII digits at most");
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    if !(1900..=2200).contains(&year) {
        return Err("not a date between the years 1900 and 2200".to_string());
    }
    Date::new(year, month as i8, day as i8).map_err(|_| "not a real calendar date".to_string())
}

/// An amount in yuan, or hundredths of the indicator's unit: at most two decimals, never
/// negative.
fn parse_amount(s: &str) -> Result<Centi, String> {
    Fen::parse_yuan_non_negative(s).map(|fen| Centi::from(fen.0)).map_err(|e| match e {
        MoneyError::NotANumber(_) => "not a number: digits with at most two decimals, no thousands separators, like 1234.50".to_string(),
        MoneyError::TooManyDecimals(_) => "more than two decimals".to_string(),
        MoneyError::Negative(_) => "negative: an amount cannot be below zero".to_string(),
        MoneyError::TooLarge(_) => "too large".to_string(),
    })
}

/// A growth rate in percent with at most one decimal (`3`, `3.0`, `-1.5`), as tenths.
fn parse_growth_tenths(s: &str) -> Result<i64, String> {
    let decimals = s.split_once('.').map_or(0, |(_, fraction)| fraction.len());
    // The same number grammar as amounts, hundredths being exact for one decimal too.
    let hundredths = match Fen::parse_yuan(s) {
        Ok(fen) if decimals <= 1 => fen.0,
        Ok(_) | Err(MoneyError::TooManyDecimals(_)) => return Err("more than one decimal".to_string()),
        Err(MoneyError::TooLarge(_)) => return Err("too large".to_string()),
        Err(_) => return Err("not a rate in percent: like 5.2 or -1.5, at most one decimal".to_string()),
    };
    // -100%, in hundredths of a percent.
    if hundredths < -10_000 {
        return Err("below -100%: nothing can shrink by more than all of it".to_string());
    }
    Ok(hundredths / 10)
}

fn parse_indicator(s: &str, known: &[&str]) -> Result<String, String> {
    if known.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!("unknown indicator: {}", one_of(s, known)))
    }
}

fn parse_kind(s: &str) -> Result<String, String> {
    if PROJECT_KINDS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!("unknown project kind: {}", one_of(s, PROJECT_KINDS)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dadong_tabular::{OLE_MAGIC, VALUE_SHOWN_CHARS_MAX, ZIP_MAGIC};
    use proptest::prelude::*;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    const KNOWN: &[&str] = &["industrial_output", "retail_sales", "revenue", "employees", "vehicles", "investment"];
    /// Codes published on public business licences (see `dadong_domain::ids`).
    const CODE_A: &str = "91350100M000100Y43";
    const CODE_B: &str = "91110000600037341L";
    const CODE_C: &str = "9144030071526726XG";

    /// A valid credit code for every `i`, for files with many rows.
    fn code(i: u32) -> String {
        let body = format!("91210104MA{i:07}");
        format!("{body}{}", CreditCode::check_char(&body).unwrap())
    }

    fn date(y: i16, m: i8, d: i8) -> Date {
        jiff::civil::date(y, m, d)
    }

    fn period(s: &str) -> Period {
        Period::parse(s).unwrap()
    }

    /// A cell to write into a test workbook.
    enum X<'a> {
        S(&'a str),
        N(f64),
        B(bool),
        D(u16, u8, u8),
        Empty,
    }
    use X::{B, D, N, S};

    fn xlsx(rows: &[Vec<X<'_>>]) -> Vec<u8> {
        let mut workbook = Workbook::new();
        let date_format = Format::new().set_num_format("yyyy-mm-dd");
        let sheet = workbook.add_worksheet();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    S(s) => sheet.write_string(r, c, *s),
                    N(n) => sheet.write_number(r, c, *n),
                    B(b) => sheet.write_boolean(r, c, *b),
                    D(y, m, d) => sheet.write_datetime_with_format(r, c, ExcelDateTime::from_ymd(*y, *m, *d).unwrap(), &date_format),
                    X::Empty => continue,
                }
                .unwrap();
            }
        }
        workbook.save_to_buffer().unwrap()
    }

    /// A workbook of text cells, as a CSV would be.
    fn xlsx_text(rows: &[&[&str]]) -> Vec<u8> {
        let rows: Vec<Vec<X<'_>>> = rows
            .iter()
            .map(|row| row.iter().map(|s| if s.is_empty() { X::Empty } else { S(s) }).collect())
            .collect();
        xlsx(&rows)
    }

    fn errors<T: fmt::Debug>(result: Result<T, ImportErrors>) -> Vec<ImportError> {
        match result {
            Ok(rows) => panic!("expected errors, got {rows:?}"),
            Err(ImportErrors(errors)) => errors,
        }
    }

    /// The one error of a refused file, checked for its row and column.
    fn only_error<T: fmt::Debug>(result: Result<T, ImportErrors>, row: usize, column: &str) -> ImportError {
        let errors = errors(result);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        let error = errors.into_iter().next().unwrap();
        assert_eq!((error.row, error.column.as_str()), (row, column), "{error:?}");
        error
    }

    fn indicators_csv(text: &str) -> Result<Vec<IndicatorRow>, ImportErrors> {
        parse_indicators(text.as_bytes(), FileFormat::Csv, KNOWN)
    }

    fn indicator_row(value: &str) -> String {
        format!("credit_code,period,indicator,value\n{CODE_A},2022-08,revenue,{value}\n")
    }

    #[test]
    fn the_format_is_xlsx_for_a_zip_or_an_xlsx_name_and_csv_otherwise() {
        assert_eq!(detect_format("a.csv", b"PK\x03\x04rest"), FileFormat::Xlsx);
        assert_eq!(detect_format("DATA.XLSX", b"credit_code"), FileFormat::Xlsx);
        assert_eq!(detect_format("data.csv", b"credit_code"), FileFormat::Csv);
        assert_eq!(detect_format("数据", b""), FileFormat::Csv);
        assert_eq!(detect_format("x", b"PK"), FileFormat::Csv);
    }

    #[test]
    fn a_valid_enterprises_csv_is_read_with_every_field() {
        let text = format!(
            "credit_code,name,industry,above_size,park,tags,registered\n\
             {CODE_A},大东汽车零部件有限公司,C3670,true,汽车产业园,high_tech@2022-05-10;key,2015-03-01\n\
             {},Small shop,F5212,false,,,2020-02-29\n",
            CODE_B.to_lowercase()
        );
        let rows = parse_enterprises(text.as_bytes(), FileFormat::Csv).unwrap();
        assert_eq!(
            rows,
            vec![
                EnterpriseRow {
                    credit_code: CreditCode::parse(CODE_A).unwrap(),
                    name: "大东汽车零部件有限公司".into(),
                    industry: "C3670".into(),
                    above_size: true,
                    park: Some("汽车产业园".into()),
                    tags: vec![
                        TagEntry {
                            tag: "high_tech".into(),
                            entered: Some(date(2022, 5, 10))
                        },
                        TagEntry {
                            tag: "key".into(),
                            entered: None
                        },
                    ],
                    registered: date(2015, 3, 1),
                },
                EnterpriseRow {
                    credit_code: CreditCode::parse(CODE_B).unwrap(),
                    name: "Small shop".into(),
                    industry: "F5212".into(),
                    above_size: false,
                    park: None,
                    tags: vec![],
                    registered: date(2020, 2, 29),
                },
            ]
        );
    }

    #[test]
    fn a_valid_enterprises_xlsx_with_boolean_and_date_cells_reads_like_the_csv() {
        let bytes = xlsx(&[
            vec![
                S("credit_code"),
                S("name"),
                S("industry"),
                S("above_size"),
                S("park"),
                S("tags"),
                S("registered"),
            ],
            vec![
                S(CODE_A),
                S("大东汽车零部件有限公司"),
                S("C3670"),
                B(true),
                S("汽车产业园"),
                S("high_tech@2022-05-10;key"),
                D(2015, 3, 1),
            ],
            vec![S(CODE_B), S("Small shop"), S("F5212"), S("false"), X::Empty, X::Empty, S("2020-02-29")],
        ]);
        let from_xlsx = parse_enterprises(&bytes, FileFormat::Xlsx).unwrap();
        let csv = format!(
            "credit_code,name,industry,above_size,park,tags,registered\n\
             {CODE_A},大东汽车零部件有限公司,C3670,true,汽车产业园,high_tech@2022-05-10;key,2015-03-01\n\
             {CODE_B},Small shop,F5212,false,,,2020-02-29\n"
        );
        assert_eq!(from_xlsx, parse_enterprises(csv.as_bytes(), FileFormat::Csv).unwrap());
    }

    #[test]
    fn a_valid_indicators_csv_and_xlsx_give_the_same_rows_in_hundredths() {
        let csv = format!(
            "credit_code,period,indicator,value\n{CODE_A},2022-08,industrial_output,125130000.5\n{CODE_A},2022-08,employees,1200\n{CODE_B},2022-07,revenue,0.01\n"
        );
        let rows = indicators_csv(&csv).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            IndicatorRow {
                row: 2,
                credit_code: CreditCode::parse(CODE_A).unwrap(),
                period: period("2022-08"),
                indicator: "industrial_output".into(),
                value: 12_513_000_050,
            }
        );
        assert_eq!((rows[1].value, rows[2].value), (120_000, 1));
        // In the workbook the period is a date cell (Excel turns a typed 2022-08 into
        // 2022-08-01) and the values are numbers.
        let bytes = xlsx(&[
            vec![S("credit_code"), S("period"), S("indicator"), S("value")],
            vec![S(CODE_A), D(2022, 8, 1), S("industrial_output"), N(125_130_000.5)],
            vec![S(CODE_A), S("2022-08"), S("employees"), N(1200.0)],
            vec![S(CODE_B), D(2022, 7, 1), S("revenue"), N(0.01)],
        ]);
        assert_eq!(parse_indicators(&bytes, FileFormat::Xlsx, KNOWN).unwrap(), rows);
    }

    #[test]
    fn a_valid_districts_csv_and_xlsx_give_growth_in_tenths_or_none() {
        let csv = "district,period,indicator,total,growth_pct\n\
                   和平区,2022-08,industrial_output,125130000000,3\n\
                   沈河区,2022-08,industrial_output,99000000000.5,-1.5\n\
                   皇姑区,2022-08,industrial_output,1,\n\
                   铁西区,2022-08,industrial_output,2,3.0\n";
        let rows = parse_districts(csv.as_bytes(), FileFormat::Csv, KNOWN).unwrap();
        let growth: Vec<Option<i64>> = rows.iter().map(|r| r.growth_tenths).collect();
        assert_eq!(growth, vec![Some(30), Some(-15), None, Some(30)]);
        assert_eq!(
            rows[1],
            DistrictRow {
                district: "沈河区".into(),
                period: period("2022-08"),
                indicator: "industrial_output".into(),
                total: 9_900_000_000_050,
                growth_tenths: Some(-15),
            }
        );
        let bytes = xlsx(&[
            vec![S("district"), S("period"), S("indicator"), S("total"), S("growth_pct")],
            vec![S("和平区"), D(2022, 8, 1), S("industrial_output"), N(125_130_000_000.0), N(3.0)],
            vec![S("沈河区"), S("2022-08"), S("industrial_output"), N(99_000_000_000.5), N(-1.5)],
            vec![S("皇姑区"), D(2022, 8, 31), S("industrial_output"), N(1.0), X::Empty],
            vec![S("铁西区"), S("2022-08"), S("industrial_output"), S("2"), S("3.0")],
        ]);
        assert_eq!(parse_districts(&bytes, FileFormat::Xlsx, KNOWN).unwrap(), rows);
    }

    #[test]
    fn a_valid_projects_csv_and_xlsx_give_the_same_rows_with_empty_dates_as_none() {
        let csv = "project_id,name,investment,industry,kind,signed,landed,started,completed\n\
                   P-2022-001,华晨宝马配套项目,1200000000,C3670,industrial,2022-01-10,2022-02-01,2022-03-15,\n\
                   P-2022-002,\"Park, phase 2\",99999999.99,E4810,infrastructure,,,,\n";
        let rows = parse_projects(csv.as_bytes(), FileFormat::Csv).unwrap();
        assert_eq!(
            rows[0],
            ProjectRow {
                project_id: "P-2022-001".into(),
                name: "华晨宝马配套项目".into(),
                investment: 120_000_000_000,
                industry: "C3670".into(),
                kind: "industrial".into(),
                signed: Some(date(2022, 1, 10)),
                landed: Some(date(2022, 2, 1)),
                started: Some(date(2022, 3, 15)),
                completed: None,
            }
        );
        assert_eq!(
            (rows[1].name.as_str(), rows[1].investment, rows[1].signed),
            ("Park, phase 2", 9_999_999_999, None)
        );
        let bytes = xlsx(&[
            PROJECT_COLUMNS.iter().map(|c| S(c)).collect(),
            vec![
                S("P-2022-001"),
                S("华晨宝马配套项目"),
                N(1_200_000_000.0),
                S("C3670"),
                S("industrial"),
                D(2022, 1, 10),
                D(2022, 2, 1),
                S("2022-03-15"),
            ],
            vec![S("P-2022-002"), S("Park, phase 2"), N(99_999_999.99), S("E4810"), S("infrastructure")],
        ]);
        assert_eq!(parse_projects(&bytes, FileFormat::Xlsx).unwrap(), rows);
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let in_order = format!("credit_code,period,indicator,value\n{CODE_A},2022-08,revenue,12.5\n");
        let shuffled = format!("value,indicator,credit_code,period\n12.5,revenue,{CODE_A},2022-08\n");
        assert_eq!(indicators_csv(&shuffled).unwrap(), indicators_csv(&in_order).unwrap());
        let bytes = xlsx_text(&[&["value", "indicator", "credit_code", "period"], &["12.5", "revenue", CODE_A, "2022-08"]]);
        assert_eq!(parse_indicators(&bytes, FileFormat::Xlsx, KNOWN).unwrap(), indicators_csv(&in_order).unwrap());
    }

    #[test]
    fn a_leading_byte_order_mark_is_accepted() {
        let text = format!("\u{feff}credit_code,period,indicator,value\r\n{CODE_A},2022-08,revenue,1\r\n");
        assert_eq!(indicators_csv(&text).unwrap().len(), 1);
    }

    #[test]
    fn quoted_fields_may_hold_commas_quotes_and_surrounding_spaces() {
        let text = format!(
            "credit_code,name,industry,above_size,park,tags,registered\n\
             \"{CODE_A}\",\"Dadong \"\"Auto\"\", Parts, Ltd.\",C36,true,\" 东站, 北区 \",\"high_tech; key\",2015-03-01\n"
        );
        let rows = parse_enterprises(text.as_bytes(), FileFormat::Csv).unwrap();
        assert_eq!(rows[0].name, "Dadong \"Auto\", Parts, Ltd.");
        assert_eq!(rows[0].park.as_deref(), Some("东站, 北区"));
        assert_eq!(rows[0].tags.len(), 2);
    }

    #[test]
    fn a_wrong_check_digit_in_a_credit_code_names_the_expected_character() {
        let text = "credit_code,period,indicator,value\n91350100M000100Y42,2022-08,revenue,1\n";
        let error = only_error(indicators_csv(text), 2, "credit_code");
        assert_eq!(error.value, "91350100M000100Y42");
        assert_eq!(error.reason, "not a valid credit code: check digit is '2', expected '3'");
    }

    #[test]
    fn an_unknown_indicator_is_refused_with_a_suggestion() {
        let text = format!("credit_code,period,indicator,value\n{CODE_A},2022-08,revenu,1\n{CODE_A},2022-08,gdp,1\n");
        let errors = errors(indicators_csv(&text));
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].row, errors[0].column.as_str(), errors[0].value.as_str()), (2, "indicator", "revenu"));
        assert_eq!(errors[0].reason, "unknown indicator: did you mean 'revenue'?");
        assert_eq!(errors[1].row, 3);
        assert!(
            errors[1].reason.starts_with("unknown indicator: expected one of industrial_output, "),
            "{}",
            errors[1].reason
        );
        let districts = "district,period,indicator,total,growth_pct\n和平区,2022-08,gdp,1,2\n";
        only_error(parse_districts(districts.as_bytes(), FileFormat::Csv, KNOWN), 2, "indicator");
    }

    #[test]
    fn a_period_not_of_the_form_yyyy_mm_is_refused() {
        for bad in ["2022-8", "2022/08", "2022-13", "202208", "Aug 2022"] {
            let text = format!("credit_code,period,indicator,value\n{CODE_A},{bad},revenue,1\n");
            let error = only_error(indicators_csv(&text), 2, "period");
            assert_eq!((error.value.as_str(), error.reason.as_str()), (bad, "not a period of the form YYYY-MM"));
        }
    }

    #[test]
    fn a_negative_amount_is_refused() {
        let error = only_error(indicators_csv(&indicator_row("-12.50")), 2, "value");
        assert_eq!(
            (error.value.as_str(), error.reason.as_str()),
            ("-12.50", "negative: an amount cannot be below zero")
        );
        let projects = "project_id,name,investment,industry,kind,signed,landed,started,completed\nP1,X,-1,C36,industrial,,,,\n";
        only_error(parse_projects(projects.as_bytes(), FileFormat::Csv), 2, "investment");
    }

    #[test]
    fn a_non_numeric_amount_is_refused() {
        for bad in ["abc", "1,000", "¥100", "1e5", "12."] {
            let error = only_error(indicators_csv(&indicator_row(&format!("\"{bad}\""))), 2, "value");
            assert_eq!(error.value, bad);
            assert!(error.reason.starts_with("not a number"), "{bad}: {}", error.reason);
        }
        let districts = "district,period,indicator,total,growth_pct\n和平区,2022-08,revenue,lots,2\n";
        only_error(parse_districts(districts.as_bytes(), FileFormat::Csv, KNOWN), 2, "total");
    }

    #[test]
    fn an_amount_with_more_than_two_decimals_is_refused_in_csv_and_in_a_number_cell() {
        let error = only_error(indicators_csv(&indicator_row("12.345")), 2, "value");
        assert_eq!(error.to_string(), "row 2, column value, '12.345': more than two decimals");
        let bytes = xlsx(&[
            vec![S("credit_code"), S("period"), S("indicator"), S("value")],
            vec![S(CODE_A), S("2022-08"), S("revenue"), N(1e-3)],
        ]);
        let error = only_error(parse_indicators(&bytes, FileFormat::Xlsx, KNOWN), 2, "value");
        assert_eq!((error.value.as_str(), error.reason.as_str()), ("0.001", "more than two decimals"));
    }

    #[test]
    fn a_growth_rate_has_at_most_one_decimal_and_may_be_negative() {
        let parse = |g: &str| {
            let text = format!("district,period,indicator,total,growth_pct\n和平区,2022-08,revenue,1,{g}\n");
            parse_districts(text.as_bytes(), FileFormat::Csv, KNOWN).map(|rows| rows[0].growth_tenths)
        };
        assert_eq!(parse("3").unwrap(), Some(30));
        assert_eq!(parse("3.0").unwrap(), Some(30));
        assert_eq!(parse("-1.5").unwrap(), Some(-15));
        assert_eq!(parse("-0.5").unwrap(), Some(-5));
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(only_error(parse("3.25"), 2, "growth_pct").reason, "more than one decimal");
        assert_eq!(only_error(parse("3.123"), 2, "growth_pct").reason, "more than one decimal");
        assert!(only_error(parse("abc"), 2, "growth_pct").reason.starts_with("not a rate in percent"));
        assert!(only_error(parse("-100.1"), 2, "growth_pct").reason.starts_with("below -100%"));
    }

    #[test]
    fn the_same_key_twice_is_refused_on_the_second_row_naming_the_first() {
        let text = format!(
            "credit_code,period,indicator,value\n{CODE_A},2022-08,revenue,1\n{CODE_B},2022-08,revenue,1\n{},2022-08,revenue,2\n{CODE_A},2022-07,revenue,1\n",
            CODE_A.to_lowercase()
        );
        let error = only_error(indicators_csv(&text), 4, "credit_code");
        assert_eq!(error.reason, "the same credit_code, period and indicator as row 2");

        let enterprises =
            format!("credit_code,name,industry,above_size,park,tags,registered\n{CODE_A},A,C36,true,,,2015-03-01\n{CODE_A},B,C36,true,,,2015-03-01\n");
        let error = only_error(parse_enterprises(enterprises.as_bytes(), FileFormat::Csv), 3, "credit_code");
        assert_eq!(error.reason, "the same credit_code as row 2");

        let districts = "district,period,indicator,total,growth_pct\n和平区,2022-08,revenue,1,\n和平区,2022-08,revenue,2,1\n";
        let error = only_error(parse_districts(districts.as_bytes(), FileFormat::Csv, KNOWN), 3, "district");
        assert_eq!(error.reason, "the same district, period and indicator as row 2");

        let projects = "project_id,name,investment,industry,kind,signed,landed,started,completed\nP1,A,1,C36,industrial,,,,\nP1,B,1,C36,commercial,,,,\n";
        let error = only_error(parse_projects(projects.as_bytes(), FileFormat::Csv), 3, "project_id");
        assert_eq!(error.reason, "the same project_id as row 2");
    }

    #[test]
    fn a_missing_column_is_an_error_on_the_header_row() {
        let text = format!("credit_code,period,indicator\n{CODE_A},2022-08,revenue\n");
        let error = only_error(indicators_csv(&text), 1, "value");
        assert_eq!(error.reason, "missing column");
        assert_eq!(error.to_string(), "row 1, column value: missing column");
    }

    #[test]
    fn a_misspelt_column_is_an_error_naming_the_column_it_probably_meant() {
        let text = format!("credit_cod,period,indicator,value\n{CODE_A},2022-08,revenue,1\n");
        let error = only_error(indicators_csv(&text), 1, "credit_cod");
        assert_eq!(error.reason, "unknown column: did you mean 'credit_code'?");
        let text = format!("credit_code,period,indicator,amount\n{CODE_A},2022-08,revenue,1\n");
        assert_eq!(only_error(indicators_csv(&text), 1, "amount").reason, "unknown column: did you mean 'value'?");
        let text = format!("credit_code,Period,indicator,value,note\n{CODE_A},2022-08,revenue,1,x\n");
        let errors = errors(indicators_csv(&text));
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert_eq!(
            (errors[0].column.as_str(), errors[0].reason.as_str()),
            ("Period", "unknown column: did you mean 'period'?")
        );
        assert_eq!(errors[1].column, "note");
        assert!(errors[1].reason.contains("credit_code, period, indicator, value"), "{}", errors[1].reason);
    }

    #[test]
    fn a_column_twice_is_an_error_on_the_header_row() {
        let text = format!("credit_code,period,indicator,value,period\n{CODE_A},2022-08,revenue,1,2022-08\n");
        let error = only_error(indicators_csv(&text), 1, "period");
        assert_eq!(error.reason, "the column appears twice");
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_naming_the_row_of_the_first_bad_byte() {
        // "大东" in GBK, as Excel on a Chinese Windows saves "CSV" by default.
        let mut bytes = b"district,period,indicator,total,growth_pct\n".to_vec();
        bytes.extend_from_slice(b"Heping,2022-08,revenue,1,2\n");
        bytes.extend_from_slice(b"\xb4\xf3\xb6\xab,2022-08,revenue,1,2\n");
        bytes.extend_from_slice(b"\xb4\xf3\xb6\xab,2022-08,revenue,1,2\n");
        let error = only_error(parse_districts(&bytes, FileFormat::Csv, KNOWN), 3, "district");
        assert!(error.reason.starts_with("the file is not UTF-8 text"), "{}", error.reason);
        // A UTF-16 file fails on its first bytes.
        let utf16: Vec<u8> = "\u{feff}district".encode_utf16().flat_map(u16::to_le_bytes).collect();
        only_error(parse_districts(&utf16, FileFormat::Csv, KNOWN), 1, "");
    }

    #[test]
    fn an_empty_file_is_refused() {
        for empty in ["", "\u{feff}", " \r\n\n\t", "\u{feff}\n\n"] {
            let error = only_error(indicators_csv(empty), 0, "");
            assert_eq!(error.reason, "the file is empty", "{empty:?}");
            assert_eq!(error.to_string(), "the file is empty");
        }
        let error = only_error(parse_indicators(b"", FileFormat::Xlsx, KNOWN), 0, "");
        assert_eq!(error.reason, "the file is empty");
    }

    #[test]
    fn a_header_without_rows_is_refused() {
        for text in ["credit_code,period,indicator,value", "credit_code,period,indicator,value\n,,,\n\n"] {
            let error = only_error(indicators_csv(text), 0, "");
            assert_eq!(error.reason, "the file has a header but no rows");
        }
        let bytes = xlsx_text(&[&["credit_code", "period", "indicator", "value"]]);
        let error = only_error(parse_indicators(&bytes, FileFormat::Xlsx, KNOWN), 0, "");
        assert_eq!(error.reason, "the file has a header but no rows");
    }

    #[test]
    fn an_xlsx_whose_first_sheet_is_empty_is_refused_even_if_another_sheet_has_data() {
        let mut workbook = Workbook::new();
        workbook.add_worksheet();
        let second = workbook.add_worksheet();
        second.write_string(0, 0, "credit_code").unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let error = only_error(parse_indicators(&bytes, FileFormat::Xlsx, KNOWN), 0, "");
        assert_eq!(error.reason, "the first sheet is empty");
    }

    #[test]
    fn an_unreadable_xlsx_is_a_file_level_error() {
        for bytes in [&b"PK\x03\x04 not really a zip"[..], b"credit_code,period\n"] {
            let error = only_error(parse_projects(bytes, FileFormat::Xlsx), 0, "");
            assert!(error.reason.starts_with("the file is not a readable XLSX workbook"), "{}", error.reason);
        }
        let ole = [OLE_MAGIC, b"rest"].concat();
        let error = only_error(parse_projects(&ole, FileFormat::Csv), 0, "");
        assert!(error.reason.contains(".xls workbook"));
    }

    #[test]
    fn every_error_of_a_file_is_reported_in_row_order() {
        let text = format!(
            "credit_code,period,indicator,value\n\
             {CODE_A},2022-08,revenue,1\n\
             91350100M000100Y42,2022-8,revenu,-1\n\
             {CODE_B},2022-08,revenue,12.345\n\
             {CODE_C},,revenue,\n\
             {CODE_A},2022-08,revenue,3\n"
        );
        let found: Vec<(usize, String)> = errors(indicators_csv(&text)).into_iter().map(|e| (e.row, e.column)).collect();
        let expected = [
            (3, "credit_code"),
            (3, "period"),
            (3, "indicator"),
            (3, "value"),
            (4, "value"),
            (5, "period"),
            (5, "value"),
            (6, "credit_code"),
        ];
        assert_eq!(found, expected.map(|(r, c)| (r, c.to_string())));
        let shown = indicators_csv(&text).unwrap_err().to_string();
        assert_eq!(shown.lines().count(), expected.len());
        assert!(shown.contains("row 5, column period: empty: this column needs a value"), "{shown}");
    }

    #[test]
    fn errors_stop_at_the_limit_with_a_last_line_saying_so() {
        let mut text = String::from("credit_code,period,indicator,value\n");
        for i in 0..(ERRORS_MAX as u32 * 2) {
            text.push_str(&format!("{},2022-08,revenue,-1\n", code(i)));
        }
        let errors = errors(indicators_csv(&text));
        assert_eq!(errors.len(), ERRORS_MAX);
        assert!(errors[..ERRORS_MAX - 1].iter().all(|e| e.column == "value"));
        let last = errors.last().unwrap();
        assert_eq!(last.row, ERRORS_MAX + 1);
        assert!(last.reason.starts_with("too many errors"), "{}", last.reason);
    }

    #[test]
    fn industry_codes_are_a_section_letter_and_two_to_four_digits() {
        let parse = |industry: &str| {
            let text = format!("project_id,name,investment,industry,kind,signed,landed,started,completed\nP1,X,1,{industry},industrial,,,,\n");
            parse_projects(text.as_bytes(), FileFormat::Csv)
        };
        for good in ["C36", "C3612", "A011", "T96"] {
            assert!(parse(good).is_ok(), "{good}");
        }
        for bad in ["c36", "C3", "C36123", "U36", "36", "C3A", "Ｃ36"] {
            only_error(parse(bad), 2, "industry");
        }
    }

    #[test]
    fn above_size_is_true_or_false_and_dates_are_real() {
        let parse = |above: &str, registered: &str| {
            let text = format!("credit_code,name,industry,above_size,park,tags,registered\n{CODE_A},X,C36,{above},,,{registered}\n");
            parse_enterprises(text.as_bytes(), FileFormat::Csv)
        };
        assert!(parse("false", "2024-02-29").is_ok());
        for bad in ["TRUE", "yes", "1"] {
            assert_eq!(only_error(parse(bad, "2024-02-29"), 2, "above_size").reason, "neither true nor false");
        }
        assert_eq!(only_error(parse("true", "2023-02-29"), 2, "registered").reason, "not a real calendar date");
        for bad in ["2023-2-1", "2023/02/01", "20230201", "2023-02-01T00:00"] {
            assert_eq!(only_error(parse("true", bad), 2, "registered").reason, "not a date of the form YYYY-MM-DD");
        }
    }

    #[test]
    fn each_bad_tag_is_its_own_error_and_a_tag_twice_is_refused() {
        let text = format!(
            "credit_code,name,industry,above_size,park,tags,registered\n\
             {CODE_A},X,C36,true,,high_tech;gazelle;,2015-03-01\n\
             {CODE_B},X,C36,true,,high_tech;hightech;key@2022-02-30;high_tech@2022-01-01,2015-03-01\n"
        );
        let errors = errors(parse_enterprises(text.as_bytes(), FileFormat::Csv));
        let found: Vec<(usize, &str, &str)> = errors.iter().map(|e| (e.row, e.column.as_str(), e.value.as_str())).collect();
        assert_eq!(
            found,
            vec![(3, "tags", "hightech"), (3, "tags", "key@2022-02-30"), (3, "tags", "high_tech@2022-01-01")]
        );
        assert_eq!(errors[0].reason, "unknown tag 'hightech': did you mean 'high_tech'?");
        assert_eq!(errors[1].reason, "the date after @ is not a real calendar date");
        assert_eq!(errors[2].reason, "the tag 'high_tech' appears twice");
    }

    #[test]
    fn project_dates_out_of_order_are_an_error_on_the_later_column() {
        let text = "project_id,name,investment,industry,kind,signed,landed,started,completed\n\
                    P1,X,1,C36,industrial,2022-05-01,,2022-03-01,2022-06-01\n\
                    P2,X,1,C36,commercial,2022-01-01,2022-01-01,2022-01-01,2021-12-31\n";
        let errors = errors(parse_projects(text.as_bytes(), FileFormat::Csv));
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert_eq!((errors[0].row, errors[0].column.as_str()), (2, "started"));
        assert_eq!(errors[0].reason, "earlier than signed (2022-05-01)");
        assert_eq!((errors[1].row, errors[1].column.as_str()), (3, "completed"));
        assert_eq!(errors[1].reason, "earlier than started (2022-01-01)");
    }

    #[test]
    fn ids_names_and_kinds_are_checked() {
        let long_id = "P".repeat(65);
        let long_name = "名".repeat(201);
        let text = format!(
            "project_id,name,investment,industry,kind,signed,landed,started,completed\n\
             {long_id},X,1,C36,industrial,,,,\n\
             P2,{long_name},1,C36,industrial,,,,\n\
             P3,\"two\nlines\",1,C36,industrial,,,,\n\
             P4,X,1,C36,industral,,,,\n\
             P5,  ,1,C36,industrial,,,,\n"
        );
        let errors = errors(parse_projects(text.as_bytes(), FileFormat::Csv));
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(found, vec![(2, "project_id"), (3, "name"), (4, "name"), (5, "kind"), (6, "name")]);
        assert_eq!(errors[0].reason, "longer than 64 characters");
        assert!(errors[1].value.ends_with('…') && errors[1].value.chars().count() == VALUE_SHOWN_CHARS_MAX + 1);
        assert_eq!(errors[3].reason, "unknown project kind: did you mean 'industrial'?");
        assert_eq!(errors[4].reason, "empty: this column needs a value");
        assert!(parse_projects(&text.as_bytes()[..0], FileFormat::Csv).is_err());
    }

    #[test]
    fn blank_rows_are_skipped_but_still_counted_like_a_spreadsheet_does() {
        // Row 3 is an empty line, row 4 a line of empty cells, row 5 a name over two lines.
        let text = format!(
            "credit_code,name,industry,above_size,park,tags,registered\n\
             {CODE_A},A,C36,true,,,2015-03-01\n\
             \n\
             ,,,,,,\n\
             {CODE_B},\"B\nB\",C36,true,,,2015-03-01\n\
             {CODE_C},C,C36,maybe,,,2015-03-01\n\
             ,,,,,,\n\n"
        );
        let errors = errors(parse_enterprises(text.as_bytes(), FileFormat::Csv));
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(found, vec![(5, "name"), (6, "above_size")]);

        let bytes = xlsx(&[
            vec![S("credit_code"), S("period"), S("indicator"), S("value")],
            vec![S(CODE_A), S("2022-08"), S("revenue"), N(1.0)],
            vec![],
            vec![S(CODE_B), S("2022-08"), S("revenue"), N(-1.0)],
            vec![S(""), S(" ")],
        ]);
        only_error(parse_indicators(&bytes, FileFormat::Xlsx, KNOWN), 4, "value");
    }

    #[test]
    fn a_value_under_an_empty_header_cell_is_refused_but_empty_extra_cells_are_not() {
        let ok = format!("credit_code,period,indicator,value,\n{CODE_A},2022-08,revenue,1,\n{CODE_B},2022-08,revenue,1\n");
        assert_eq!(indicators_csv(&ok).unwrap().len(), 2);
        let bad = format!("credit_code,period,indicator,value\n{CODE_A},2022-08,revenue,1,oops\n");
        let error = only_error(indicators_csv(&bad), 2, "");
        assert_eq!(
            (error.value.as_str(), error.reason.as_str()),
            ("oops", "a value in a column whose header cell is empty")
        );
    }

    #[test]
    fn xlsx_cells_become_the_text_a_person_typed() {
        let bytes = xlsx(&[
            vec![
                S("credit_code"),
                S("name"),
                S("industry"),
                S("above_size"),
                S("park"),
                S("tags"),
                S("registered"),
            ],
            vec![S(CODE_A), N(12.0), S(" C36 "), B(false), N(12.5), S("key"), D(2015, 3, 1)],
            vec![S(CODE_B), S("X"), N(36.0), S("true"), X::Empty, X::Empty, N(42064.0)],
        ]);
        let errors = errors(parse_enterprises(&bytes, FileFormat::Xlsx));
        let found: Vec<(usize, &str, &str)> = errors.iter().map(|e| (e.row, e.column.as_str(), e.value.as_str())).collect();
        // A number typed where a date belongs is not read as a date: the cell has no date format.
        assert_eq!(found, vec![(3, "industry", "36"), (3, "registered", "42064")]);
        let bytes = xlsx(&[
            vec![
                S("credit_code"),
                S("name"),
                S("industry"),
                S("above_size"),
                S("park"),
                S("tags"),
                S("registered"),
            ],
            vec![S(CODE_A), N(12.0), S(" C36 "), B(false), N(12.5), S("key"), D(2015, 3, 1)],
        ]);
        let row = &parse_enterprises(&bytes, FileFormat::Xlsx).unwrap()[0];
        assert_eq!((row.name.as_str(), row.industry.as_str(), row.above_size), ("12", "C36", false));
        assert_eq!((row.park.as_deref(), row.registered), (Some("12.5"), date(2015, 3, 1)));
    }

    #[test]
    fn a_header_below_blank_rows_counts_rows_as_the_spreadsheet_shows_them() {
        let text = format!("\n\ncredit_code,period,indicator,value\n{CODE_A},2022-08,revenue,x\n");
        only_error(indicators_csv(&text), 4, "value");
    }

    #[test]
    fn import_errors_display_one_line_per_error() {
        let errors = ImportErrors(vec![
            ImportError {
                row: 3,
                column: "value".into(),
                value: "12.345".into(),
                reason: "more than two decimals".into(),
            },
            ImportError {
                row: 0,
                column: String::new(),
                value: String::new(),
                reason: "the file is empty".into(),
            },
        ]);
        assert_eq!(errors.to_string(), "row 3, column value, '12.345': more than two decimals\nthe file is empty");
        let boxed: Box<dyn std::error::Error> = Box::new(errors);
        assert!(boxed.to_string().contains("row 3"));
        let json = serde_json::to_value(ImportError {
            row: 1,
            column: "c".into(),
            value: "v".into(),
            reason: "r".into(),
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({"row": 1, "column": "c", "value": "v", "reason": "r"}));
    }

    fn parse_all(bytes: &[u8], format: FileFormat) {
        let _ = parse_enterprises(bytes, format);
        let _ = parse_indicators(bytes, format, KNOWN);
        let _ = parse_districts(bytes, format, KNOWN);
        let _ = parse_projects(bytes, format);
    }

    /// Text made of a valid header and the characters that matter to the parsers, so that the
    /// generated files reach the row checks rather than stopping at the header.
    fn csv_like() -> impl Strategy<Value = Vec<u8>> {
        let header = prop::sample::select(vec![
            ENTERPRISE_COLUMNS.join(","),
            INDICATOR_COLUMNS.join(","),
            DISTRICT_COLUMNS.join(","),
            PROJECT_COLUMNS.join(","),
        ]);
        (header, "[0-9a-zA-Z,;@\"\\.\\-\n\r 大\u{feff}]{0,200}", prop::collection::vec(any::<u8>(), 0..4))
            .prop_map(|(header, body, noise)| [header.as_bytes(), b"\n", body.as_bytes(), &noise].concat())
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            parse_all(&bytes, FileFormat::Csv);
            parse_all(&bytes, FileFormat::Xlsx);
            let zipped = [ZIP_MAGIC, &bytes].concat();
            parse_all(&zipped, FileFormat::Xlsx);
        }

        #[test]
        fn parsers_never_panic_on_csv_like_text(bytes in csv_like()) {
            parse_all(&bytes, FileFormat::Csv);
        }

        #[test]
        fn any_valid_amount_reads_back_exactly(fen in 0i64..1_000_000_000_000_000) {
            let text = indicator_row(&Fen(fen).to_yuan_string());
            prop_assert_eq!(indicators_csv(&text).unwrap()[0].value, Centi::from(fen));
        }
    }
}
