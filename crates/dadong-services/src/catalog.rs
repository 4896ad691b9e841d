//! The matter catalog (事项目录): what each government service matter is, who handles it, what
//! it needs and how fast it is promised, and the all-or-nothing import of the catalog from CSV
//! or XLSX.
//!
//! The file has one header row with the columns
//! `code,name,department,legal_basis,materials,time_limit_days,fee,level,channels` in any
//! order (SPEC section 9's conventions: UTF-8 with or without a BOM, RFC 4180 quoting; an XLSX
//! workbook uses its first sheet). `materials` lists `code:名称:required|optional` items
//! separated by `;` (it may be empty); `fee` is in yuan with at most two decimals; `channels`
//! lists `platform`, `community` and `mobile_hall` separated by `;` (at least one).
//!
//! As in the economy's importer, every problem is reported with its spreadsheet row (the header
//! is row 1 when it is the first line; blank rows count but are skipped), column and value, up
//! to [`ERRORS_MAX`], and a file with any problem yields no matters at all: a catalog half
//! imported would leave bundles pointing at matters that are not there.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use dadong_domain::Fen;
use dadong_domain::money::MoneyError;
use dadong_tabular::{Cell, Errors, one_of};
use serde::{Deserialize, Serialize};

pub use dadong_tabular::{ERRORS_MAX, FileFormat, RowError, detect_format};

/// Most matters in one file. A district's whole catalog is a few thousand; far more is a mistake.
pub const MATTERS_MAX: usize = 100_000;
/// Longest matter, material or department code, in characters.
pub const CODE_CHARS_MAX: usize = 64;
/// Longest matter or material name, in characters.
pub const NAME_CHARS_MAX: usize = 200;
/// Longest legal basis, in characters: several laws with their articles fit.
pub const LEGAL_BASIS_CHARS_MAX: usize = 1000;
/// Most materials one matter may ask for.
pub const MATERIALS_MAX: usize = 100;
/// Longest promise, in working days: a year's worth; anything longer is a typing mistake.
pub const TIME_LIMIT_DAYS_MAX: u32 = 250;

/// The catalog file's columns, in the order this module writes them.
pub const COLUMNS: &[&str] = &[
    "code",
    "name",
    "department",
    "legal_basis",
    "materials",
    "time_limit_days",
    "fee",
    "level",
    "channels",
];

/// A document an applicant hands in for a matter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Material {
    /// Stable across matters: the same document (an ID card, the business licence) has the same
    /// code in every matter, so that a bundle asks for it once.
    pub code: String,
    pub name: String,
    /// False for a document handed in only in some cases (`optional` in the file).
    pub required: bool,
}

/// How far a matter can be done online (办理深度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 全程网办: from application to result without visiting a counter.
    FullOnline,
    /// Applied for online, with one visit (to sign, to show originals).
    PartlyOnline,
    /// Done at a counter.
    Counter,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::FullOnline, Level::PartlyOnline, Level::Counter];

    /// The name in files and JSON: `full_online`, `partly_online`, `counter`.
    pub fn code(self) -> &'static str {
        match self {
            Level::FullOnline => "full_online",
            Level::PartlyOnline => "partly_online",
            Level::Counter => "counter",
        }
    }

    pub fn parse(code: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.code() == code)
    }
}

/// Where a matter can be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The online platform (一网通办).
    Platform,
    /// A community service point (社区便民服务站).
    Community,
    /// A mobile service hall in an industrial park (园区移动大厅).
    MobileHall,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Platform, Channel::Community, Channel::MobileHall];

    /// The name in files and JSON: `platform`, `community`, `mobile_hall`.
    pub fn code(self) -> &'static str {
        match self {
            Channel::Platform => "platform",
            Channel::Community => "community",
            Channel::MobileHall => "mobile_hall",
        }
    }

    pub fn parse(code: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// One matter of the catalog (政务服务事项).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matter {
    /// Unique in the catalog: ASCII letters, digits, `.`, `_` and `-`.
    pub code: String,
    pub name: String,
    /// The code of the department that handles it (one of the district's departments).
    pub department: String,
    /// The laws and articles the matter rests on (设定依据).
    pub legal_basis: String,
    /// Distinct by code, in the order the file lists them.
    pub materials: Vec<Material>,
    /// The promised time limit (承诺时限) in working days; 0 means done on the spot (即办).
    pub time_limit_days: u32,
    pub fee: Fen,
    pub level: Level,
    /// Never empty; contains [`Channel::Platform`] when the level is [`Level::FullOnline`].
    pub channels: BTreeSet<Channel>,
}

impl Matter {
    pub fn required_materials(&self) -> impl Iterator<Item = &Material> {
        self.materials.iter().filter(|m| m.required)
    }

    pub fn is_fully_online(&self) -> bool {
        self.level == Level::FullOnline
    }
}

/// The fully-online share of a catalog: (matters at [`Level::FullOnline`], all matters).
/// Returned as counts so that the caller rounds the percentage as the statistics office does.
pub fn fully_online_share(matters: &[Matter]) -> (usize, usize) {
    (matters.iter().filter(|m| m.is_fully_online()).count(), matters.len())
}

/// Reads a whole catalog file. `known_departments` are the department codes a matter may name.
/// Every problem is returned (up to [`ERRORS_MAX`]), and then no matter at all.
pub fn parse_matters(bytes: &[u8], format: FileFormat, known_departments: &[&str]) -> Result<Vec<Matter>, Vec<RowError>> {
    let mut matters = Vec::new();
    let mut first_row_of: HashMap<String, usize> = HashMap::new();
    dadong_tabular::read_records(bytes, format, COLUMNS, MATTERS_MAX, |record, errors| {
        let mut row = Row {
            row: record.row,
            cells: &record.cells,
            errors,
        };
        let matter = row.matter(known_departments);
        if let Some(code) = row.cell_text("code").filter(|c| !c.is_empty()) {
            match first_row_of.get(code.as_ref()) {
                Some(first) => {
                    let reason = format!("the same code as row {first}");
                    row.error("code", &code, reason);
                }
                None => {
                    first_row_of.insert(code.into_owned(), record.row);
                    matters.extend(matter);
                }
            }
        }
    })?;
    Ok(matters)
}

// ---------------------------------------------------------------------------------------------
// Rows

/// One data row's cells in the order of [`COLUMNS`], recording each problem against its column.
struct Row<'a> {
    row: usize,
    cells: &'a [Cell],
    errors: &'a mut Errors,
}

impl<'a> Row<'a> {
    fn error(&mut self, column: &str, value: &str, reason: impl Into<String>) {
        self.errors.push(self.row, column, value, reason);
    }

    fn cell(&self, column: &str) -> &'a Cell {
        &self.cells[COLUMNS.iter().position(|c| *c == column).expect("a catalog column")]
    }

    /// The cell's text, or `None` when the cell cannot hold a value.
    fn cell_text(&self, column: &str) -> Option<Cow<'a, str>> {
        match self.cell(column) {
            Cell::Bad { .. } => None,
            cell => Some(cell.text()),
        }
    }

    /// The text of a cell that must not be empty, or `None` with the problem recorded.
    fn non_empty(&mut self, column: &str) -> Option<Cow<'a, str>> {
        let text = match self.cell(column) {
            Cell::Bad { shown, reason } => {
                self.error(column, shown, reason.clone());
                return None;
            }
            cell => cell.text(),
        };
        if text.is_empty() {
            self.error(column, "", "empty: this column needs a value");
            return None;
        }
        Some(text)
    }

    /// The parsed value of a cell that must not be empty, or `None` with the problem recorded.
    fn required<T>(&mut self, column: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let text = self.non_empty(column)?;
        parse(&text).map_err(|reason| self.error(column, &text, reason)).ok()
    }

    /// `items` separated by `;`, each checked by `parse` (which returns its key and value);
    /// each bad or repeated item is its own error. Empty items (a trailing `;`) are ignored.
    /// An empty cell is an empty list unless the list is `required`.
    fn list<K: PartialEq, T>(&mut self, column: &str, required: bool, max: usize, parse: impl Fn(&str) -> Result<(K, T), String>) -> Option<Vec<T>> {
        let text = match self.cell(column) {
            Cell::Text(text) if text.is_empty() && !required => return Some(Vec::new()),
            _ => self.non_empty(column)?,
        };
        let items: Vec<&str> = text.split(';').map(str::trim).filter(|item| !item.is_empty()).collect();
        // Checked before the items, which are compared with each other.
        if items.len() > max {
            self.error(column, &text, format!("more than {max} items"));
            return None;
        }
        if items.is_empty() {
            self.error(column, &text, "no item listed");
            return None;
        }
        let mut keys = Vec::with_capacity(items.len());
        let mut values = Vec::with_capacity(items.len());
        let mut valid = true;
        for item in items {
            let problem = match parse(item) {
                Ok((key, _)) if keys.contains(&key) => Some("listed twice".to_string()),
                Ok((key, value)) => {
                    keys.push(key);
                    values.push(value);
                    None
                }
                Err(reason) => Some(reason),
            };
            if let Some(reason) = problem {
                valid = false;
                self.error(column, item, reason);
            }
        }
        valid.then_some(values)
    }

    fn matter(&mut self, known_departments: &[&str]) -> Option<Matter> {
        let code = self.required("code", parse_code);
        let name = self.required("name", |s| parse_text(s, NAME_CHARS_MAX));
        let department = self.required("department", |s| {
            if known_departments.contains(&s) {
                Ok(s.to_string())
            } else {
                Err(format!("unknown department: {}", one_of(s, known_departments)))
            }
        });
        let legal_basis = self.required("legal_basis", |s| parse_text(s, LEGAL_BASIS_CHARS_MAX));
        let materials = self.materials();
        let time_limit_days = self.required("time_limit_days", parse_days);
        let fee = self.required("fee", parse_fee);
        let level = self.required("level", |s| {
            let codes = Level::ALL.map(Level::code);
            Level::parse(s).ok_or_else(|| format!("unknown level: {}", one_of(s, &codes)))
        });
        let channels = self.list("channels", true, Channel::ALL.len(), |s| {
            let codes = Channel::ALL.map(Channel::code);
            let channel = Channel::parse(s).ok_or_else(|| format!("unknown channel: {}", one_of(s, &codes)))?;
            Ok((channel, channel))
        });
        let channels: Option<BTreeSet<Channel>> = channels.map(|c| c.into_iter().collect());
        if let (Some(Level::FullOnline), Some(channels)) = (level, &channels)
            && !channels.contains(&Channel::Platform)
        {
            let text = self.cell_text("channels").unwrap_or_default();
            self.error("channels", &text, "a full_online matter must be done on the platform: add 'platform'");
            return None;
        }
        Some(Matter {
            code: code?,
            name: name?,
            department: department?,
            legal_basis: legal_basis?,
            materials: materials?,
            time_limit_days: time_limit_days?,
            fee: fee?,
            level: level?,
            channels: channels?,
        })
    }

    /// `code:名称:required|optional` items; the name may itself hold a colon.
    fn materials(&mut self) -> Option<Vec<Material>> {
        self.list("materials", false, MATERIALS_MAX, |item| {
            let shape = "not of the form code:名称:required or code:名称:optional";
            let (code, rest) = item.split_once(':').ok_or(shape)?;
            let (name, flag) = rest.rsplit_once(':').ok_or(shape)?;
            let (code, name, flag) = (code.trim(), name.trim(), flag.trim());
            let code = parse_code(code).map_err(|e| format!("the material code {e}"))?;
            if name.is_empty() {
                return Err("the material has no name".to_string());
            }
            let name = parse_text(name, NAME_CHARS_MAX).map_err(|e| format!("the material name: {e}"))?;
            let required = match flag {
                "required" => true,
                "optional" => false,
                other => return Err(format!("'{other}' is neither required nor optional")),
            };
            Ok((code.clone(), Material { code, name, required }))
        })
    }
}

/// A code: ASCII letters, digits, `.`, `_` and `-`, at most [`CODE_CHARS_MAX`] characters.
fn parse_code(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("is empty".to_string());
    }
    if s.len() > CODE_CHARS_MAX {
        return Err(format!("is longer than {CODE_CHARS_MAX} characters"));
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err("may hold only ASCII letters, digits, '.', '_' and '-'".to_string());
    }
    Ok(s.to_string())
}

/// Text on one line, not too long.
fn parse_text(s: &str, max: usize) -> Result<String, String> {
    if s.chars().count() > max {
        return Err(format!("longer than {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("contains a line break or another control character".to_string());
    }
    Ok(s.to_string())
}

fn parse_days(s: &str) -> Result<u32, String> {
    let not_days = || "not a whole number of working days, like 0 (on the spot) or 5".to_string();
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_days());
    }
    match s.parse::<u32>() {
        Ok(days) if days <= TIME_LIMIT_DAYS_MAX => Ok(days),
        _ => Err(format!("more than {TIME_LIMIT_DAYS_MAX} working days")),
    }
}

fn parse_fee(s: &str) -> Result<Fen, String> {
    Fen::parse_yuan_non_negative(s).map_err(|e| match e {
        MoneyError::NotANumber(_) => "not an amount in yuan: digits with at most two decimals, like 0 or 12.50".to_string(),
        MoneyError::TooManyDecimals(_) => "more than two decimals".to_string(),
        MoneyError::Negative(_) => "negative: a fee cannot be below zero".to_string(),
        MoneyError::TooLarge(_) => "too large".to_string(),
    })
}

/// Writes matters as a catalog CSV file that [`parse_matters`] reads back (for exports and tests).
pub fn to_csv(matters: &[Matter]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>, row: &[String]| writer.write_record(row).expect("writing to memory cannot fail");
    write(&mut writer, &COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    for m in matters {
        let materials: Vec<String> = m
            .materials
            .iter()
            .map(|x| format!("{}:{}:{}", x.code, x.name, if x.required { "required" } else { "optional" }))
            .collect();
        let channels: Vec<&str> = m.channels.iter().map(|c| c.code()).collect();
        let row = [
            m.code.clone(),
            m.name.clone(),
            m.department.clone(),
            m.legal_basis.clone(),
            materials.join(";"),
            m.time_limit_days.to_string(),
            m.fee.to_yuan_string(),
            m.level.code().to_string(),
            channels.join(";"),
        ];
        write(&mut writer, &row);
    }
    String::from_utf8(writer.into_inner().expect("writing to memory cannot fail")).expect("the fields are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dadong_tabular::ZIP_MAGIC;
    use proptest::prelude::*;
    use rust_xlsxwriter::Workbook;

    const DEPARTMENTS: &[&str] = &["market", "police", "tax", "bank", "hrss"];
    const HEADER: &str = "code,name,department,legal_basis,materials,time_limit_days,fee,level,channels";
    const GOOD_ROW: &str = "M1,企业设立登记,market,《市场主体登记管理条例》,form:申请书:required;id:身份证件:optional,0,0,full_online,platform;community";

    fn csv(text: &str) -> Result<Vec<Matter>, Vec<RowError>> {
        parse_matters(text.as_bytes(), FileFormat::Csv, DEPARTMENTS)
    }

    fn errors(result: Result<Vec<Matter>, Vec<RowError>>) -> Vec<RowError> {
        result.expect_err("the file should be refused")
    }

    /// The one error of a refused file, checked for its row and column.
    fn only_error(result: Result<Vec<Matter>, Vec<RowError>>, row: usize, column: &str) -> RowError {
        let errors = errors(result);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!((errors[0].row, errors[0].column.as_str()), (row, column), "{errors:#?}");
        errors.into_iter().next().unwrap()
    }

    /// A file with the good row's cells, the one in `column` replaced by `value`.
    fn with_cell(column: &str, value: &str) -> String {
        let k = COLUMNS.iter().position(|c| *c == column).unwrap();
        let mut cells: Vec<String> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(GOOD_ROW.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        cells[k] = value.to_string();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(COLUMNS).unwrap();
        writer.write_record(&cells).unwrap();
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                match cell.parse::<f64>() {
                    Ok(number) => sheet.write_number(r as u32, c as u16, number),
                    Err(_) if cell.is_empty() => continue,
                    Err(_) => sheet.write_string(r as u32, c as u16, *cell),
                }
                .unwrap();
            }
        }
        workbook.save_to_buffer().unwrap()
    }

    #[test]
    fn a_good_file_reads_every_column_whatever_the_order_of_the_header() {
        let text = "\u{feff}channels,level,fee,time_limit_days,materials,legal_basis,department,name,code\n\
                    platform;community,full_online,0,0,form:申请书:required;id:身份证件:optional,《市场主体登记管理条例》,market,企业设立登记,M1\n\
                    \n\
                    mobile_hall,counter,12.5,5,,\"《条例》第一条, 第二条\",tax,发票领用,M2\n";
        let matters = csv(text).unwrap();
        assert_eq!(matters.len(), 2);
        let m = &matters[0];
        assert_eq!((m.code.as_str(), m.name.as_str(), m.department.as_str()), ("M1", "企业设立登记", "market"));
        assert_eq!(
            m.materials,
            vec![
                Material {
                    code: "form".into(),
                    name: "申请书".into(),
                    required: true
                },
                Material {
                    code: "id".into(),
                    name: "身份证件".into(),
                    required: false
                },
            ]
        );
        assert_eq!((m.time_limit_days, m.fee, m.level), (0, Fen(0), Level::FullOnline));
        assert_eq!(m.channels, BTreeSet::from([Channel::Platform, Channel::Community]));
        assert_eq!(m.required_materials().count(), 1);
        let m = &matters[1];
        assert_eq!((m.time_limit_days, m.fee, m.level), (5, Fen(1250), Level::Counter));
        assert_eq!(m.legal_basis, "《条例》第一条, 第二条");
        assert_eq!(m.channels, BTreeSet::from([Channel::MobileHall]));
        assert!(m.materials.is_empty(), "a matter may ask for no material");
    }

    #[test]
    fn a_catalog_written_as_csv_reads_back_the_same() {
        let matters = csv(&format!(
            "{HEADER}\n{GOOD_ROW}\nM2,名称：带冒号,tax,依据,a:甲:乙:optional,3,0.01,partly_online,platform\n"
        ))
        .unwrap();
        assert_eq!(matters[1].materials[0].name, "甲:乙", "a colon inside a material's name is kept");
        assert_eq!(csv(&to_csv(&matters)).unwrap(), matters);
    }

    #[test]
    fn an_xlsx_workbook_reads_like_the_csv_with_numbers_typed_as_numbers() {
        let bytes = xlsx(&[
            &[
                "code",
                "name",
                "department",
                "legal_basis",
                "materials",
                "time_limit_days",
                "fee",
                "level",
                "channels",
            ],
            &[
                "M1",
                "企业设立登记",
                "market",
                "依据",
                "form:申请书:required",
                "5",
                "12.5",
                "full_online",
                "platform",
            ],
            &[],
            &["M2", "发票领用", "tax", "依据", "form:申请书:required", "1.5", "-1", "counter", "platform"],
        ]);
        assert_eq!(detect_format("catalog.bin", &bytes), FileFormat::Xlsx);
        let found: Vec<(usize, String, String)> = errors(parse_matters(&bytes, FileFormat::Xlsx, DEPARTMENTS))
            .into_iter()
            .map(|e| (e.row, e.column, e.value))
            .collect();
        assert_eq!(found, vec![(4, "time_limit_days".into(), "1.5".into()), (4, "fee".into(), "-1".into())]);

        let bytes = xlsx(&[
            &[
                "channels",
                "code",
                "name",
                "department",
                "legal_basis",
                "materials",
                "time_limit_days",
                "fee",
                "level",
            ],
            &[
                "platform",
                "M1",
                "企业设立登记",
                "market",
                "依据",
                "form:申请书:required",
                "5",
                "12.5",
                "full_online",
            ],
        ]);
        let matters = parse_matters(&bytes, FileFormat::Xlsx, DEPARTMENTS).unwrap();
        assert_eq!((matters[0].time_limit_days, matters[0].fee), (5, Fen(1250)));
    }

    #[test]
    fn a_missing_misspelt_or_repeated_column_is_reported_on_row_1() {
        let header = "code,name,departmnt,legal_basis,materials,time_limit_days,fee,level,level";
        let found: Vec<(usize, String, String)> = errors(csv(&format!("{header}\n{GOOD_ROW}\n")))
            .into_iter()
            .map(|e| (e.row, e.column, e.reason))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, "level".into(), "the column appears twice".into()),
                (1, "departmnt".into(), "unknown column: did you mean 'department'?".into()),
                (1, "channels".into(), "missing column".into()),
            ]
        );
        let error = only_error(csv(&format!("{},colour\n{GOOD_ROW},red\n", HEADER)), 1, "colour");
        assert!(
            error.reason.starts_with("unknown column: the columns of this file are code, name"),
            "{}",
            error.reason
        );
    }

    #[test]
    fn an_empty_file_a_header_alone_and_a_non_utf8_file_are_refused() {
        for empty in ["", "\u{feff}", " \n\n"] {
            assert_eq!(only_error(csv(empty), 0, "").reason, "the file is empty");
        }
        assert_eq!(only_error(parse_matters(b"", FileFormat::Xlsx, DEPARTMENTS), 0, "").reason, "the file is empty");
        assert_eq!(
            only_error(csv(&format!("{HEADER}\n,,,,,,,,\n")), 0, "").reason,
            "the file has a header but no rows"
        );
        let mut gbk = format!("{HEADER}\nM1,").into_bytes();
        gbk.extend_from_slice(&[0xC6, 0xF3, 0xD2, 0xB5]); // 企业 in GBK
        gbk.extend_from_slice(b",market,x,a:b:required,0,0,counter,platform\n");
        let error = only_error(parse_matters(&gbk, FileFormat::Csv, DEPARTMENTS), 2, "name");
        assert!(error.reason.starts_with("the file is not UTF-8 text"), "{}", error.reason);
        let error = only_error(parse_matters(b"PK\x03\x04 broken", FileFormat::Xlsx, DEPARTMENTS), 0, "");
        assert!(error.reason.starts_with("the file is not a readable XLSX workbook"), "{}", error.reason);
        let error = only_error(parse_matters(b"PK\x03\x04 broken", FileFormat::Csv, DEPARTMENTS), 0, "");
        assert!(error.reason.contains("XLSX workbook, not CSV"), "{}", error.reason);
    }

    #[test]
    fn each_bad_cell_is_an_error_naming_its_row_column_value_and_reason() {
        let cases: &[(&str, &str, &str)] = &[
            ("code", "M 1", "may hold only ASCII letters, digits, '.', '_' and '-'"),
            ("code", "", "empty: this column needs a value"),
            ("name", "two\nlines", "contains a line break or another control character"),
            ("department", "markt", "unknown department: did you mean 'market'?"),
            (
                "department",
                "fire_brigade",
                "unknown department: expected one of market, police, tax, bank, hrss",
            ),
            ("legal_basis", "", "empty: this column needs a value"),
            ("time_limit_days", "five", "not a whole number of working days, like 0 (on the spot) or 5"),
            ("time_limit_days", "-1", "not a whole number of working days, like 0 (on the spot) or 5"),
            ("time_limit_days", "251", "more than 250 working days"),
            ("fee", "12.345", "more than two decimals"),
            ("fee", "-5", "negative: a fee cannot be below zero"),
            ("fee", "1,000", "not an amount in yuan: digits with at most two decimals, like 0 or 12.50"),
            ("level", "fully_online", "unknown level: did you mean 'full_online'?"),
            ("channels", ";", "no item listed"),
            ("channels", "platform;community;mobile_hall;platform", "more than 3 items"),
            ("channels", "", "empty: this column needs a value"),
            (
                "channels",
                "community;mobile_hall",
                "a full_online matter must be done on the platform: add 'platform'",
            ),
        ];
        for (column, value, reason) in cases {
            let error = only_error(csv(&with_cell(column, value)), 2, column);
            assert_eq!(error.reason, *reason, "{column} = {value:?}");
            assert_eq!(error.value, *value);
        }
        assert_eq!(
            only_error(csv(&with_cell("fee", "12.345")), 2, "fee").to_string(),
            "row 2, column fee, '12.345': more than two decimals"
        );
    }

    #[test]
    fn each_bad_item_of_a_list_is_its_own_error() {
        let text = with_cell(
            "materials",
            "form:申请书:required;form:又一份:optional;bad;x::required;y:名称:maybe;z y:名称:required",
        );
        let found: Vec<(String, String)> = errors(csv(&text)).into_iter().map(|e| (e.value, e.reason)).collect();
        let expected = [
            ("form:又一份:optional", "listed twice"),
            ("bad", "not of the form code:名称:required or code:名称:optional"),
            ("x::required", "the material has no name"),
            ("y:名称:maybe", "'maybe' is neither required nor optional"),
            ("z y:名称:required", "the material code may hold only ASCII letters, digits, '.', '_' and '-'"),
        ];
        assert_eq!(found, expected.map(|(v, r)| (v.to_string(), r.to_string())));
        let text = with_cell("channels", "platform;mobilehall;platform");
        let found: Vec<(String, String)> = errors(csv(&text)).into_iter().map(|e| (e.value, e.reason)).collect();
        assert_eq!(
            found,
            vec![
                ("mobilehall".into(), "unknown channel: did you mean 'mobile_hall'?".into()),
                ("platform".into(), "listed twice".into())
            ]
        );
    }

    #[test]
    fn a_code_twice_is_refused_and_no_matter_of_a_bad_file_is_returned() {
        let text = format!("{HEADER}\n{GOOD_ROW}\n\"two\nline\",x,market,y,a:b:required,0,0,counter,platform\n{GOOD_ROW}\n");
        let found: Vec<(usize, String, String)> = errors(csv(&text)).into_iter().map(|e| (e.row, e.column, e.reason)).collect();
        assert_eq!(
            found,
            vec![
                (3, "code".into(), "may hold only ASCII letters, digits, '.', '_' and '-'".into()),
                (4, "code".into(), "the same code as row 2".into()),
            ],
            "a quoted line break stays one row"
        );
    }

    #[test]
    fn errors_stop_at_the_limit_with_a_last_line_saying_so() {
        let mut text = format!("{HEADER}\n");
        for i in 0..ERRORS_MAX * 2 {
            text.push_str(&format!("M{i},x,market,y,a:b:required,0,-1,counter,platform\n"));
        }
        let errors = errors(csv(&text));
        assert_eq!(errors.len(), ERRORS_MAX);
        assert!(errors.last().unwrap().reason.starts_with("too many errors"));
    }

    #[test]
    fn the_fully_online_share_counts_full_online_matters_of_all() {
        let text = format!("{HEADER}\n{GOOD_ROW}\nM2,x,tax,y,a:b:required,1,0,partly_online,platform\nM3,x,tax,y,a:b:required,1,0,full_online,platform\n");
        let matters = csv(&text).unwrap();
        assert_eq!(fully_online_share(&matters), (2, 3));
        assert_eq!(fully_online_share(&[]), (0, 0));
    }

    #[test]
    fn the_format_is_detected_from_the_bytes_or_the_name() {
        assert_eq!(detect_format("matters.csv", b"code,name"), FileFormat::Csv);
        assert_eq!(detect_format("matters.XLSX", b""), FileFormat::Xlsx);
        assert_eq!(detect_format("upload", b"PK\x03\x04rest"), FileFormat::Xlsx);
    }

    proptest! {
        #[test]
        fn the_parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_matters(&bytes, FileFormat::Csv, DEPARTMENTS);
            let _ = parse_matters(&bytes, FileFormat::Xlsx, DEPARTMENTS);
            let _ = parse_matters(&[ZIP_MAGIC, &bytes].concat(), FileFormat::Xlsx, DEPARTMENTS);
        }

        #[test]
        fn the_parser_never_panics_on_catalog_like_text(body in "[a-z0-9_:;,\"\n 名\u{feff}.-]{0,300}") {
            let _ = csv(&format!("{HEADER}\n{body}"));
        }
    }
}
