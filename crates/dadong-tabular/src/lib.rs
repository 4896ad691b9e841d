//! Reading an uploaded table (CSV or the first sheet of an XLSX workbook) into rows of cell
//! text, checking its header against the columns a file kind expects, and collecting the
//! problems found, each with the spreadsheet row, the column and the value.
//!
//! This is the part every import shares (the economy's exchange files, the services matter
//! catalog); which columns a file has and how each cell is checked stay with the file's own
//! crate, which walks the rows this crate hands it.
//!
//! Row numbers are those a spreadsheet program shows: the header is row 1 when it is the first
//! line, a blank line still counts as a row, and a quoted line break stays within one row.
//! Blank rows (every cell empty) are skipped. Errors are capped at [`ERRORS_MAX`] per file.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader, Xlsx};
use serde::Serialize;

/// Most errors reported per file (put a limit on everything); the last slot says that reading
/// stopped.
pub const ERRORS_MAX: usize = 1000;
/// The local file header that starts every zip archive, and so every XLSX workbook.
pub const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Longest value echoed back in an error, in characters, so that one huge cell cannot make the
/// error list huge.
pub const VALUE_SHOWN_CHARS_MAX: usize = 100;
/// Longest name compared by edit distance when suggesting what was meant.
const SUGGEST_CHARS_MAX: usize = 64;
/// Most allowed values listed when none is near what was written.
const LISTED_MAX: usize = 20;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// The OLE compound file header of the old binary `.xls` workbooks.
pub const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const NOT_UTF8: &str = "the file is not UTF-8 text (perhaps GBK or UTF-16): save it as \"CSV UTF-8\" and import it again";

// ---------------------------------------------------------------------------------------------
// Errors

/// One problem in an imported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The spreadsheet row, the header being row 1; 0 for a problem with the whole file.
    pub row: usize,
    /// The column's name as the header spells it, or empty for a problem with the whole file
    /// or row.
    pub column: String,
    /// The value as read (shortened if very long), or empty.
    pub value: String,
    pub reason: String,
}

impl RowError {
    /// A problem with the whole file (row 0, no column, no value).
    pub fn file(reason: impl Into<String>) -> RowError {
        RowError {
            row: 0,
            column: String::new(),
            value: String::new(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::with_capacity(3);
        if self.row > 0 {
            place.push(format!("row {}", self.row));
        }
        if !self.column.is_empty() {
            place.push(format!("column {}", self.column));
        }
        if !self.value.is_empty() {
            place.push(format!("'{}'", self.value));
        }
        if place.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", place.join(", "), self.reason)
        }
    }
}

impl std::error::Error for RowError {}

/// The errors of one file, in the order found, capped at [`ERRORS_MAX`]: the last slot says
/// that reading stopped.
#[derive(Debug, Default)]
pub struct Errors(Vec<RowError>);

impl Errors {
    /// Records a problem; the value is shortened to what an error list can show.
    pub fn push(&mut self, row: usize, column: &str, value: &str, reason: impl Into<String>) {
        if self.is_full() {
            return;
        }
        let (column, value, reason) = if self.0.len() + 1 == ERRORS_MAX {
            let stop = format!(
                "too many errors: stopped at row {row} after {}; fix these and import the file again",
                ERRORS_MAX - 1
            );
            (String::new(), String::new(), stop)
        } else {
            (column.to_string(), shown(value), reason.into())
        };
        self.0.push(RowError { row, column, value, reason });
    }

    /// True once [`ERRORS_MAX`] errors are recorded: reading should stop.
    pub fn is_full(&self) -> bool {
        self.0.len() >= ERRORS_MAX
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<RowError> {
        self.0
    }

    /// `parsed` when no error was recorded, else every error.
    pub fn into_result<T>(self, parsed: T) -> Result<T, Vec<RowError>> {
        if self.0.is_empty() { Ok(parsed) } else { Err(self.0) }
    }
}

fn shown(value: &str) -> String {
    match value.char_indices().nth(VALUE_SHOWN_CHARS_MAX) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Formats

/// The format of an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

/// XLSX when the bytes are a zip archive or the name ends in `.xlsx`; CSV otherwise.
pub fn detect_format(file_name: &str, bytes: &[u8]) -> FileFormat {
    let name = file_name.as_bytes();
    let xlsx_name = name.len() >= 5 && name[name.len() - 5..].eq_ignore_ascii_case(b".xlsx");
    if bytes.starts_with(ZIP_MAGIC) || xlsx_name {
        FileFormat::Xlsx
    } else {
        FileFormat::Csv
    }
}

// ---------------------------------------------------------------------------------------------
// Cells and rows, whatever the format

/// A calendar date from a date cell of a workbook; always a real date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ymd {
    pub year: i16,
    pub month: u8,
    pub day: u8,
}

impl Ymd {
    /// The date, when it exists in the proleptic Gregorian calendar (years 0 to 9999).
    pub fn new(year: i64, month: u8, day: u8) -> Option<Ymd> {
        let year = i16::try_from(year).ok().filter(|y| (0..=9999).contains(y))?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            _ => return None,
        };
        (1..=days).contains(&day).then_some(Ymd { year, month, day })
    }
}

impl fmt::Display for Ymd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One cell as read. XLSX date cells stay dates, so that a file kind can read one by its
/// column (a date in a `period` column means its month).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The text a person typed, trimmed.
    Text(String),
    Date(Ymd),
    /// A cell that cannot hold a value at all, such as a spreadsheet error (`#N/A`).
    Bad {
        shown: String,
        reason: String,
    },
}

impl Cell {
    pub fn empty() -> Self {
        Cell::Text(String::new())
    }

    pub fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(s) if s.is_empty())
    }

    /// The text a person would have typed: a date as `YYYY-MM-DD`, a bad cell as it shows.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) | Cell::Bad { shown: s, .. } => Cow::Borrowed(s),
            Cell::Date(d) => Cow::Owned(d.to_string()),
        }
    }
}

/// A non-blank row with the row number a spreadsheet shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub row: usize,
    pub cells: Vec<Cell>,
}

/// A file as read: its first non-blank row and the non-blank rows after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Row,
    pub rows: Vec<Row>,
}

/// Reads a file into its header and rows of cells. `rows_max` bounds the non-blank rows; a
/// file that cannot be read at all is one error, for the whole file or, for text that is not
/// UTF-8, naming the row and column of the first bad byte.
pub fn read_table(bytes: &[u8], format: FileFormat, rows_max: usize) -> Result<Table, RowError> {
    let mut rows = match format {
        FileFormat::Csv => read_csv(bytes, rows_max)?,
        FileFormat::Xlsx => read_xlsx(bytes, rows_max)?,
    }
    .into_iter();
    let header = rows.next().expect("the readers refuse a file without a non-blank row");
    Ok(Table { header, rows: rows.collect() })
}

fn read_csv(bytes: &[u8], rows_max: usize) -> Result<Vec<Row>, RowError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RowError::file("the file is empty"));
    }
    if bytes.starts_with(OLE_MAGIC) {
        return Err(RowError::file(
            "the file is an old Excel .xls workbook, not CSV: save it as .xlsx or as CSV UTF-8",
        ));
    }
    if bytes.starts_with(ZIP_MAGIC) {
        return Err(RowError::file("the file is an XLSX workbook, not CSV: import it as XLSX"));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut rows: Vec<Row> = Vec::new();
    // The csv reader silently skips empty lines, and the line it gives as a record's start is
    // that of the first empty line skipped before it; a spreadsheet shows an empty line as a
    // row and a quoted line break as part of one row. So lines are counted here, up to the end
    // of each record, to give the row a person sees.
    let (mut next_line, mut next_row) = (1usize, 1usize);
    let (mut counted_to, mut line_breaks_before) = (0usize, 0usize);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(RowError::file(format!("the file cannot be read as CSV ({e})"))),
        }
        let end = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX).min(bytes.len()).max(counted_to);
        line_breaks_before += bytes[counted_to..end].iter().filter(|&&b| b == b'\n').count();
        counted_to = end;
        let last_line = line_breaks_before + 1 - usize::from(end > 0 && bytes[end - 1] == b'\n');
        let line_breaks: usize = record.iter().map(|field| field.iter().filter(|&&b| b == b'\n').count()).sum();
        let start_line = last_line.saturating_sub(line_breaks).max(next_line);
        let row = next_row.saturating_add(start_line - next_line);
        next_line = last_line + 1;
        next_row = row.saturating_add(1);

        let mut cells = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let Ok(text) = std::str::from_utf8(field) else {
                let column = rows.first().and_then(|header| header.cells.get(i)).map(|c| c.text().into_owned());
                return Err(RowError {
                    row,
                    column: column.unwrap_or_default(),
                    value: shown(&String::from_utf8_lossy(field)),
                    reason: NOT_UTF8.to_string(),
                });
            };
            cells.push(Cell::Text(text.trim().to_string()));
        }
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        if rows.len() > rows_max {
            return Err(RowError::file(format!("the file has more than {rows_max} rows: split it into smaller files")));
        }
        rows.push(Row { row, cells });
    }
    // Every byte that is not a delimiter, quote or line break lands in a field, so the loop
    // has seen any invalid byte; this only guards that reasoning.
    if std::str::from_utf8(bytes).is_err() {
        return Err(RowError::file(NOT_UTF8));
    }
    if rows.is_empty() {
        return Err(RowError::file("the file is empty"));
    }
    Ok(rows)
}

fn read_xlsx(bytes: &[u8], rows_max: usize) -> Result<Vec<Row>, RowError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RowError::file("the file is empty"));
    }
    // A workbook is a zip of XML written by many programs; a malformed one must be refused,
    // not take the server's worker down, should the reader have a bug that panics on it.
    let range = catch_unwind(AssertUnwindSafe(|| -> Result<_, String> {
        let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
        workbook.worksheet_range_at(0).transpose().map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| Err("the reader failed".to_string()))
    .map_err(|e| RowError::file(format!("the file is not a readable XLSX workbook ({e})")))?;
    let Some(range) = range else {
        return Err(RowError::file("the first sheet is empty"));
    };
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    let mut rows: Vec<Row> = Vec::new();
    for (i, cells) in range.rows().enumerate() {
        let cells: Vec<Cell> = cells.iter().map(xlsx_cell).collect();
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        if rows.len() > rows_max {
            return Err(RowError::file(format!(
                "the first sheet has more than {rows_max} rows: split it into smaller files"
            )));
        }
        rows.push(Row { row: first_row + i + 1, cells });
    }
    if rows.is_empty() {
        return Err(RowError::file("the first sheet is empty"));
    }
    Ok(rows)
}

/// The cell as the text a person typed: numbers in their shortest decimal form (`12.5`, `12`,
/// `0.001`), booleans as `true`/`false`, dates as dates.
fn xlsx_cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::empty(),
        Data::String(s) | Data::DurationIso(s) => Cell::Text(s.trim().to_string()),
        Data::Int(i) => Cell::Text(i.to_string()),
        // Rust prints the shortest decimal that reads back as the same double, never with an
        // exponent: what was typed as 12.34 prints as 12.34, and 12.0 as 12.
        Data::Float(f) => Cell::Text(f.to_string()),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
            match Ymd::new(year.into(), month, day) {
                Some(date) if (hour, minute, second, milli) == (0, 0, 0, 0) => Cell::Date(date),
                // Excel's 1900-02-29, which never existed, stays text for the column to refuse.
                None if (hour, minute, second, milli) == (0, 0, 0, 0) => Cell::Text(format!("{year:04}-{month:02}-{day:02}")),
                _ => Cell::Text(format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")),
            }
        }
        Data::DateTime(dt) => Cell::Text(dt.as_f64().to_string()),
        Data::DateTimeIso(s) => {
            let s = s.trim();
            let midnight = matches!(s.get(10..), Some("" | "T00:00:00" | "T00:00:00.000"));
            match (midnight, iso_date(s.get(..10).unwrap_or(""))) {
                (true, Some(date)) => Cell::Date(date),
                _ => Cell::Text(s.to_string()),
            }
        }
        Data::Error(e) => Cell::Bad {
            shown: e.to_string(),
            reason: format!("the cell holds the spreadsheet error {e}"),
        },
    }
}

/// Exactly `YYYY-MM-DD`, a real calendar date.
fn iso_date(s: &str) -> Option<Ymd> {
    let b = s.as_bytes();
    let shape = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    Ymd::new(s[0..4].parse().ok()?, s[5..7].parse().ok()?, s[8..10].parse().ok()?)
}

// ---------------------------------------------------------------------------------------------
// The header and the records

/// Reads a file whose header must name exactly `columns` (in any order, each once) and hands
/// each data row to `each`, its cells in the order of `columns`, in row order. File-level and
/// header problems end the reading; problems within rows go to the collector and reading goes
/// on until it is full. `Err` holds every problem found, `each`'s included.
pub fn read_records(bytes: &[u8], format: FileFormat, columns: &[&str], rows_max: usize, mut each: impl FnMut(&Row, &mut Errors)) -> Result<(), Vec<RowError>> {
    let table = read_table(bytes, format, rows_max).map_err(|e| vec![e])?;
    let mut errors = Errors::default();
    let Some(column_of_cell) = match_header(&table.header, columns, &mut errors) else {
        return Err(errors.into_vec());
    };
    let mut any_row = false;
    for raw in table.rows {
        if errors.is_full() {
            break;
        }
        any_row = true;
        let mut cells = vec![Cell::empty(); columns.len()];
        for (i, cell) in raw.cells.into_iter().enumerate() {
            match column_of_cell.get(i).copied().flatten() {
                Some(k) => cells[k] = cell,
                None if cell.is_blank() => {}
                None => errors.push(raw.row, "", &cell.text(), "a value in a column whose header cell is empty"),
            }
        }
        each(&Row { row: raw.row, cells }, &mut errors);
    }
    if !any_row && errors.is_empty() {
        return Err(vec![RowError::file("the file has a header but no rows")]);
    }
    errors.into_result(())
}

/// For each cell of the header, the index in `columns` of the column it names; `None` (with
/// the reasons in `errors`, all on the header's row) when a column is missing, unknown or
/// twice. Empty header cells name no column.
pub fn match_header(header: &Row, columns: &[&str], errors: &mut Errors) -> Option<Vec<Option<usize>>> {
    let names: Vec<Cow<'_, str>> = header.cells.iter().map(Cell::text).collect();
    let mut column_of_cell = vec![None; names.len()];
    let mut found = vec![false; columns.len()];
    let mut unknown = Vec::new();
    let errors_before = errors.0.len();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        match columns.iter().position(|c| c == name) {
            Some(k) if found[k] => errors.push(header.row, name, "", "the column appears twice"),
            Some(k) => {
                found[k] = true;
                column_of_cell[i] = Some(k);
            }
            None => unknown.push(name.as_ref()),
        }
    }
    let missing: Vec<&str> = columns.iter().zip(&found).filter(|(_, f)| !**f).map(|(c, _)| *c).collect();
    let mut meant = Vec::new();
    for name in &unknown {
        // A single unknown column where a single one is missing is almost surely that one
        // under another name (`amount` for `value`).
        let only_pair = (unknown.len() == 1 && missing.len() == 1).then(|| missing[0]);
        match closest(name, &missing).or(only_pair) {
            Some(column) => {
                meant.push(column);
                errors.push(header.row, name, "", format!("unknown column: did you mean '{column}'?"));
            }
            None => errors.push(
                header.row,
                name,
                "",
                format!("unknown column: the columns of this file are {}", columns.join(", ")),
            ),
        }
    }
    for column in missing.iter().filter(|c| !meant.contains(c)) {
        errors.push(header.row, column, "", "missing column");
    }
    (errors.0.len() == errors_before).then_some(column_of_cell)
}

// ---------------------------------------------------------------------------------------------
// Suggestions

/// What `name` was probably meant as: the nearest candidate by edit distance (ignoring case),
/// when near enough to be a typo, or one containing the other (`registered_date`).
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if name.chars().count() > SUGGEST_CHARS_MAX {
        return None;
    }
    let name = name.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&name, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2) || name.contains(c) || c.contains(name.as_str()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean 'x'?` or the list of what is allowed, for a value outside a fixed set.
pub fn one_of(value: &str, allowed: &[&str]) -> String {
    match closest(value, allowed) {
        Some(meant) => format!("did you mean '{meant}'?"),
        None => {
            let mut list = allowed.iter().take(LISTED_MAX).copied().collect::<Vec<_>>().join(", ");
            if allowed.len() > LISTED_MAX {
                list.push_str(", …");
            }
            format!("expected one of {list}")
        }
    }
}

/// Levenshtein distance between two short strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests;
