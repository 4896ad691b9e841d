//! The bulletin's workbook: one sheet per table, Chinese headers, values as numbers in the
//! indicator's own unit (元, 辆, 人) with number formats, so that offices can compute with them.
//!
//! Values become `f64` only here, at the cell boundary, because a spreadsheet cell holds
//! nothing else.

use super::document::{enterprise_rows, project_rows};
use super::labels::{industry_name, stage_name, tag_name};
use super::numbers::{base_unit_zh, centi_to_f64, parse_tenths};
use crate::model::{Breakdown, Bulletin, IndicatorFigures};
use dadong_domain::money::growth_pct;
use rust_xlsxwriter::{Color, Format, Workbook, Worksheet, XlsxError};

struct Formats {
    header: Format,
    amount: Format,
    count: Format,
    rate: Format,
}

fn formats() -> Formats {
    Formats {
        header: Format::new().set_bold().set_background_color(Color::RGB(0xF2_F2_F2)),
        amount: Format::new().set_num_format("#,##0.00"),
        count: Format::new().set_num_format("#,##0"),
        rate: Format::new().set_num_format("0.0"),
    }
}

fn sheet<'a>(wb: &'a mut Workbook, name: &str, headers: &[&str], f: &Formats) -> Result<&'a mut Worksheet, XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(name)?;
    for (col, h) in (0u16..).zip(headers) {
        ws.write_string_with_format(0, col, *h, &f.header)?;
        // CJK characters are about two columns wide.
        ws.set_column_width(col, (h.chars().count() * 2 + 2).max(10) as f64)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(ws)
}

fn amount(ws: &mut Worksheet, row: u32, col: u16, centi: i128, f: &Formats) -> Result<(), XlsxError> {
    ws.write_number_with_format(row, col, centi_to_f64(centi), &f.amount)?;
    Ok(())
}

fn count(ws: &mut Worksheet, row: u32, col: u16, n: i64, f: &Formats) -> Result<(), XlsxError> {
    ws.write_number_with_format(row, col, n as f64, &f.count)?;
    Ok(())
}

/// A rate in percent with one decimal; an empty cell where there is none.
fn rate(ws: &mut Worksheet, row: u32, col: u16, rate: Option<&str>, f: &Formats) -> Result<(), XlsxError> {
    if let Some(r) = rate {
        match parse_tenths(r) {
            Some(tenths) => ws.write_number_with_format(row, col, tenths as f64 / 10.0, &f.rate)?,
            None => ws.write_string(row, col, r)?,
        };
    }
    Ok(())
}

/// The first three columns every per-indicator sheet starts with.
fn indicator_cells(ws: &mut Worksheet, row: u32, ind: &IndicatorFigures) -> Result<(), XlsxError> {
    ws.write_string(row, 0, &ind.indicator.code)?;
    ws.write_string(row, 1, &ind.indicator.name_zh)?;
    ws.write_string(row, 2, base_unit_zh(&ind.indicator.unit))?;
    Ok(())
}

fn breakdown_sheet(
    wb: &mut Workbook,
    name: &str,
    key_headers: &[&str],
    b: &Bulletin,
    rows: impl Fn(&IndicatorFigures) -> &[Breakdown],
    key_cells: impl Fn(&Breakdown) -> Vec<String>,
    f: &Formats,
) -> Result<(), XlsxError> {
    let mut headers = vec!["指标代码", "指标", "单位"];
    headers.extend_from_slice(key_headers);
    headers.extend_from_slice(&["累计", "同比增长（%）"]);
    let ws = sheet(wb, name, &headers, f)?;
    let mut row = 1;
    for ind in &b.indicators {
        for r in rows(ind) {
            indicator_cells(ws, row, ind)?;
            let mut col = 3;
            for text in key_cells(r) {
                ws.write_string(row, col, text)?;
                col += 1;
            }
            amount(ws, row, col, r.total, f)?;
            rate(ws, row, col + 1, r.growth_pct.as_deref(), f)?;
            row += 1;
        }
    }
    Ok(())
}

pub fn workbook(b: &Bulletin) -> Result<Vec<u8>, XlsxError> {
    let f = formats();
    let mut wb = Workbook::new();

    let headers = [
        "指标代码",
        "指标",
        "单位",
        "起始月份",
        "截止月份",
        "累计",
        "当月",
        "同比增长（%）",
        "当月创历史新高",
        "增速排名",
        "参与排名城区数",
    ];
    let ws = sheet(&mut wb, "指标", &headers, &f)?;
    for (row, ind) in (1u32..).zip(&b.indicators) {
        indicator_cells(ws, row, ind)?;
        ws.write_string(row, 3, b.from.to_string())?;
        ws.write_string(row, 4, b.through.to_string())?;
        amount(ws, row, 5, ind.total, &f)?;
        amount(ws, row, 6, ind.month_total, &f)?;
        rate(ws, row, 7, ind.growth_pct.as_deref(), &f)?;
        ws.write_string(row, 8, if ind.month_is_record { "是" } else { "否" })?;
        if let Some(rank) = ind.rank {
            count(ws, row, 9, rank.into(), &f)?;
        }
        if let Some(of) = ind.of {
            count(ws, row, 10, of.into(), &f)?;
        }
    }

    let industry_cells = |r: &Breakdown| vec![r.key.clone(), industry_name(&r.key).unwrap_or("").to_string()];
    breakdown_sheet(&mut wb, "行业", &["行业代码", "行业名称"], b, |i| &i.by_industry, industry_cells, &f)?;
    breakdown_sheet(&mut wb, "园区", &["园区"], b, |i| &i.by_park, |r| vec![r.key.clone()], &f)?;
    let tag_cells = |r: &Breakdown| vec![r.key.clone(), tag_name(&r.key).to_string()];
    breakdown_sheet(&mut wb, "标签", &["标签", "培育库"], b, |i| &i.by_tag, tag_cells, &f)?;

    let ws = sheet(
        &mut wb,
        "月度",
        &["指标代码", "指标", "单位", "月份", "本年", "上年同月", "比上年同月（%）"],
        &f,
    )?;
    let mut row = 1;
    for ind in &b.indicators {
        for m in &ind.months {
            indicator_cells(ws, row, ind)?;
            ws.write_string(row, 3, m.period.to_string())?;
            amount(ws, row, 4, m.total, &f)?;
            if let Some(prior) = m.prior_total {
                amount(ws, row, 5, prior, &f)?;
                rate(ws, row, 6, growth_pct(m.total, prior).as_deref(), &f)?;
            }
            row += 1;
        }
    }

    let ws = sheet(&mut wb, "项目", &["类别", "本期（个）", "去年同期（个）", "增减（个）", "增长（%）"], &f)?;
    let mut row = 1;
    for (name, now, prior) in project_rows(b) {
        ws.write_string(row, 0, name)?;
        count(ws, row, 1, now, &f)?;
        count(ws, row, 2, prior, &f)?;
        count(ws, row, 3, now - prior, &f)?;
        rate(ws, row, 4, growth_pct(now.into(), prior.into()).as_deref(), &f)?;
        row += 1;
    }
    if !b.projects.by_stage.is_empty() {
        row += 1;
        ws.write_string_with_format(row, 0, "阶段", &f.header)?;
        ws.write_string_with_format(row, 1, "项目数（个）", &f.header)?;
        for (stage, n) in &b.projects.by_stage {
            row += 1;
            ws.write_string(row, 0, stage_name(stage))?;
            count(ws, row, 1, *n, &f)?;
        }
    }

    let ws = sheet(&mut wb, "市场主体", &["项目", "数量"], &f)?;
    ws.set_column_width(0, 32)?;
    let mut row = 1;
    for (name, n) in enterprise_rows(b) {
        ws.write_string(row, 0, name)?;
        count(ws, row, 1, n, &f)?;
        row += 1;
    }
    ws.write_string(row, 0, "整车制造企业产值（元）")?;
    amount(ws, row, 1, b.vehicle_makers_output, &f)?;

    wb.save_to_buffer()
}
