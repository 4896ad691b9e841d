//! Tests of the shared reader, independent of any file kind's columns or cell rules.

use super::*;
use proptest::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

const COLUMNS: &[&str] = &["code", "period", "value"];
const ROWS_MAX: usize = 1000;

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn csv_rows(bytes: &[u8]) -> Result<Table, RowError> {
    read_table(bytes, FileFormat::Csv, ROWS_MAX)
}

/// Every record of a file, or every error.
fn records(bytes: &[u8], format: FileFormat) -> Result<Vec<Row>, Vec<RowError>> {
    let mut rows = Vec::new();
    read_records(bytes, format, COLUMNS, ROWS_MAX, |row, _| rows.push(row.clone()))?;
    Ok(rows)
}

/// The errors found, as (row, column, reason).
fn errors(bytes: &[u8]) -> Vec<(usize, String, String)> {
    let errors = records(bytes, FileFormat::Csv).expect_err("the file should be refused");
    errors.into_iter().map(|e| (e.row, e.column, e.reason)).collect()
}

#[test]
fn the_format_is_xlsx_for_a_zip_or_an_xlsx_name_and_csv_otherwise() {
    assert_eq!(detect_format("a.csv", b"PK\x03\x04rest"), FileFormat::Xlsx);
    assert_eq!(detect_format("DATA.XLSX", b"credit_code"), FileFormat::Xlsx);
    assert_eq!(detect_format("matters.csv", b"code,name"), FileFormat::Csv);
    assert_eq!(detect_format("x", b""), FileFormat::Csv);
    assert_eq!(detect_format("é.xlsx", b""), FileFormat::Xlsx);
}

#[test]
fn a_csv_is_read_with_a_bom_trimmed_cells_and_spreadsheet_row_numbers() {
    // Row 3 is an empty line, row 4 a value over two lines, row 5 a line of empty cells.
    let table = csv_rows("\u{feff}\n code ,period\n\n\"a\nb\", 2022-08 \n,\nc,d\n".as_bytes()).unwrap();
    assert_eq!(
        table.header,
        Row {
            row: 2,
            cells: vec![text("code"), text("period")]
        }
    );
    let rows: Vec<(usize, Vec<Cell>)> = table.rows.into_iter().map(|r| (r.row, r.cells)).collect();
    assert_eq!(rows, vec![(4, vec![text("a\nb"), text("2022-08")]), (6, vec![text("c"), text("d")])]);
}

#[test]
fn text_that_is_not_utf8_is_refused_naming_the_row_and_column_of_the_first_bad_byte() {
    let error = csv_rows(b"code,period\nok,fine\n\nx,\xC6\xF3\n").unwrap_err();
    assert_eq!((error.row, error.column.as_str(), error.value.as_str()), (4, "period", "\u{FFFD}\u{FFFD}"));
    assert!(error.reason.starts_with("the file is not UTF-8 text"), "{}", error.reason);
}

#[test]
fn empty_files_and_workbooks_given_as_csv_are_file_errors() {
    for empty in ["", "\u{feff}", " \n\n"] {
        assert_eq!(csv_rows(empty.as_bytes()).unwrap_err(), RowError::file("the file is empty"));
    }
    assert_eq!(read_table(b"", FileFormat::Xlsx, ROWS_MAX).unwrap_err().reason, "the file is empty");
    assert!(csv_rows(b"PK\x03\x04 rest").unwrap_err().reason.contains("XLSX workbook, not CSV"));
    assert!(csv_rows(OLE_MAGIC).unwrap_err().reason.contains("old Excel .xls workbook"));
    let error = read_table(b"PK\x03\x04 broken", FileFormat::Xlsx, ROWS_MAX).unwrap_err();
    assert!(error.reason.starts_with("the file is not a readable XLSX workbook"), "{}", error.reason);
}

#[test]
fn rows_beyond_the_limit_are_refused() {
    let error = read_table(b"a\n1\n2\n3\n", FileFormat::Csv, 2).unwrap_err();
    assert_eq!(error.reason, "the file has more than 2 rows: split it into smaller files");
}

#[test]
fn xlsx_cells_become_the_text_a_person_typed_and_dates_stay_dates() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let time_format = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    sheet.write_string(1, 1, " code ").unwrap();
    sheet.write_number(2, 1, 12.0).unwrap();
    sheet.write_number(2, 2, 12.34).unwrap();
    sheet.write_boolean(2, 3, true).unwrap();
    sheet
        .write_datetime_with_format(3, 1, ExcelDateTime::from_ymd(2015, 3, 1).unwrap(), &date_format)
        .unwrap();
    let noon = ExcelDateTime::from_ymd(2015, 3, 1).unwrap().and_hms(12, 30, 0).unwrap();
    sheet.write_datetime_with_format(3, 2, noon, &time_format).unwrap();
    sheet.write_number(3, 3, 42064.0).unwrap();
    workbook.add_worksheet().write_string(0, 0, "not read").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let table = read_table(&bytes, FileFormat::Xlsx, ROWS_MAX).unwrap();
    assert_eq!(table.header.row, 2, "the row a spreadsheet shows, not the first of the used range");
    assert_eq!(table.header.cells, vec![text("code"), text(""), text("")], "the used range is a rectangle");
    assert_eq!(table.rows[0].cells, vec![text("12"), text("12.34"), text("true")]);
    let date = Ymd::new(2015, 3, 1).unwrap();
    assert_eq!(table.rows[1].cells, vec![Cell::Date(date), text("2015-03-01 12:30:00"), text("42064")]);
    assert_eq!(Cell::Date(date).text(), "2015-03-01");
}

#[test]
fn an_xlsx_whose_first_sheet_is_empty_is_refused() {
    let mut workbook = Workbook::new();
    workbook.add_worksheet();
    workbook.add_worksheet().write_string(0, 0, "code").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    assert_eq!(read_table(&bytes, FileFormat::Xlsx, ROWS_MAX).unwrap_err().reason, "the first sheet is empty");
}

#[test]
fn only_real_calendar_dates_are_dates() {
    assert!(Ymd::new(2024, 2, 29).is_some());
    assert!(Ymd::new(2000, 2, 29).is_some());
    assert!(Ymd::new(1900, 2, 29).is_none(), "Excel's 1900-02-29 never existed");
    assert!(Ymd::new(2023, 4, 31).is_none());
    assert!(Ymd::new(2023, 13, 1).is_none());
    assert!(Ymd::new(2023, 1, 0).is_none());
    assert_eq!(iso_date("2015-03-01"), Ymd::new(2015, 3, 1));
    assert_eq!(iso_date("2015-3-01"), None);
}

#[test]
fn records_have_their_cells_in_the_order_of_the_columns() {
    let rows = records(b"value,,code,period\n1,,a,2022-08\n\n2,,b,\n", FileFormat::Csv).unwrap();
    let rows: Vec<(usize, Vec<Cell>)> = rows.into_iter().map(|r| (r.row, r.cells)).collect();
    assert_eq!(
        rows,
        vec![(2, vec![text("a"), text("2022-08"), text("1")]), (4, vec![text("b"), text(""), text("2")]),]
    );
}

#[test]
fn a_missing_misspelt_or_repeated_column_is_reported_on_the_header_row() {
    assert_eq!(
        errors(b"code,perod,code\n1,2,3\n"),
        vec![
            (1, "code".into(), "the column appears twice".into()),
            (1, "perod".into(), "unknown column: did you mean 'period'?".into()),
            (1, "value".into(), "missing column".into()),
        ]
    );
    assert_eq!(
        errors(b"code,period,amount\n"),
        vec![(1, "amount".into(), "unknown column: did you mean 'value'?".into())],
        "one unknown where one is missing is that one"
    );
    assert_eq!(
        errors(b"code,period,value,colour\n"),
        vec![(1, "colour".into(), "unknown column: the columns of this file are code, period, value".into())]
    );
}

#[test]
fn a_header_alone_and_a_value_under_an_empty_header_cell_are_refused() {
    assert_eq!(
        errors(b"code,period,value\n,,\n"),
        vec![(0, "".into(), "the file has a header but no rows".into())]
    );
    assert_eq!(
        errors(b"code,period,value,\na,b,c,\na,b,c,oops\n"),
        vec![(3, "".into(), "a value in a column whose header cell is empty".into())]
    );
}

#[test]
fn errors_of_each_row_come_in_row_order_and_stop_at_the_limit() {
    let mut text = String::from("code,period,value\n");
    for i in 0..ERRORS_MAX * 2 {
        text.push_str(&format!("{i},x,y\n"));
    }
    let mut seen = 0;
    let found = read_records(text.as_bytes(), FileFormat::Csv, COLUMNS, 10 * ERRORS_MAX, |row, errors| {
        seen += 1;
        errors.push(row.row, "value", &"y".repeat(300), "bad");
    })
    .unwrap_err();
    assert_eq!(found.len(), ERRORS_MAX);
    assert_eq!(seen, ERRORS_MAX, "reading stops once the collector is full");
    assert_eq!(found[0].row, 2);
    assert_eq!(found[0].value.chars().count(), VALUE_SHOWN_CHARS_MAX + 1, "a long value is shortened");
    assert!(found[0].value.ends_with('…'));
    let last = found.last().unwrap();
    assert_eq!((last.row, last.column.as_str(), last.value.as_str()), (ERRORS_MAX + 1, "", ""));
    assert_eq!(
        last.reason,
        format!(
            "too many errors: stopped at row {} after 999; fix these and import the file again",
            ERRORS_MAX + 1
        )
    );
}

#[test]
fn a_row_error_displays_its_place_then_its_reason() {
    let error = RowError {
        row: 3,
        column: "value".into(),
        value: "12.345".into(),
        reason: "more than two decimals".into(),
    };
    assert_eq!(error.to_string(), "row 3, column value, '12.345': more than two decimals");
    assert_eq!(RowError::file("the file is empty").to_string(), "the file is empty");
    let boxed: Box<dyn std::error::Error> = Box::new(error);
    assert!(boxed.to_string().starts_with("row 3"));
}

#[test]
fn suggestions_are_near_misspellings_or_the_list_of_what_is_allowed() {
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(closest("Registered_date", &["registered", "name"]), Some("registered"));
    assert_eq!(closest("zzz", &["registered", "name"]), None);
    assert_eq!(one_of("markt", &["market", "tax"]), "did you mean 'market'?");
    assert_eq!(one_of("fire", &["market", "tax"]), "expected one of market, tax");
    let many: Vec<String> = (0..25).map(|i| format!("value{i:02}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(one_of("zzzzzzzzzzzzzzzzzzzz", &many).ends_with("value19, …"));
}

proptest! {
    #[test]
    fn reading_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = records(&bytes, FileFormat::Csv);
        let _ = records(&bytes, FileFormat::Xlsx);
        let _ = records(&[ZIP_MAGIC, &bytes].concat(), FileFormat::Xlsx);
    }

    #[test]
    fn reading_never_panics_on_csv_like_text(body in "[a-z0-9,;\"\n\r 大\u{feff}.-]{0,300}") {
        let _ = records(format!("code,period,value\n{body}").as_bytes(), FileFormat::Csv);
    }
}
