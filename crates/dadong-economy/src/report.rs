//! How a bulletin is written up (SPEC sections 3 "Bulletin" and 9): the stable JSON, the
//! Chinese prose in the style of the seed article's data paragraphs, SVG charts, Markdown, a
//! standalone HTML document and an XLSX workbook.
//!
//! All figures stay integers in hundredths of their unit until they are written as text, with
//! the statistics office's rounding (half away from zero) from `dadong_domain::money`.
//!
//! The HTML is a document export rather than a web page, so it lives beside the other
//! renderings; it is still produced from a compiled template (`templates/bulletin.html`),
//! never with `format!`.

mod document;
mod history;
mod labels;
mod numbers;
mod prose;
mod svg;
mod xlsx;

#[cfg(test)]
mod tests;

use crate::model::{Bulletin, IndicatorFigures, ProjectFigures};
use askama::Template;
pub use history::{HISTORY_MONTHS_MAX, history_display, history_svg};
/// The names and number formats the bulletin uses, for other renderings of the same figures
/// (the web pages) to show them the same way.
pub use labels::{industry_label, industry_name, stage_name, tag_name};
pub use numbers::{Display, centi_string, growth_cell, prose_display, table_display};
use serde_json::{Map, Value, json};

/// The stable JSON of SPEC section 9 for a bulletin, plus any extra top-level sections other
/// parts add (services, vouchers, appeals...), merged in.
///
/// The bulletin's own keys are stable and win: an extra key that names one of them is only
/// merged into it when both are objects, and then adds the keys the bulletin lacks.
pub fn to_json(b: &Bulletin, extra: &Map<String, Value>) -> Value {
    let indicators: Vec<Value> = b
        .indicators
        .iter()
        .map(|i| {
            json!({
                "code": i.indicator.code,
                "total": centi_string(i.total),
                "growth_pct": i.growth_pct,
                "month_total": centi_string(i.month_total),
                "month_is_record": i.month_is_record,
                "rank": i.rank,
                "of": i.of,
            })
        })
        .collect();
    let p = &b.projects;
    let started_change = p.started_over_100m - p.started_over_100m_prior;
    let e = &b.enterprises;
    let mut out = json!({
        "district": b.district,
        "from": b.from.to_string(),
        "through": b.through.to_string(),
        "indicators": indicators,
        "projects": {
            "started_over_100m": p.started_over_100m,
            "started_over_100m_prior": p.started_over_100m_prior,
            "started_change": started_change,
            "started_change_pct": dadong_domain::money::growth_pct(p.started_over_100m.into(), p.started_over_100m_prior.into()),
            "signed_over_100m": p.signed_over_100m,
            "signed_over_100m_prior": p.signed_over_100m_prior,
            "landed_over_100m": p.landed_over_100m,
            "landed_over_100m_prior": p.landed_over_100m_prior,
        },
        "enterprises": {
            "market_entities": e.market_entities,
            "tech_sme": e.tech_sme,
            "new_high_tech": e.new_high_tech,
            "eaglet": e.eaglet,
            "gazelle": e.gazelle,
            "little_giant_national": e.little_giant_national,
            "little_giant_provincial": e.little_giant_provincial,
        },
        "vehicle_makers": {
            "count": b.vehicle_makers,
            "output": centi_string(b.vehicle_makers_output),
        },
    });
    if let Value::Object(map) = &mut out {
        for (key, value) in extra {
            match (map.get_mut(key), value) {
                (None, _) => {
                    map.insert(key.clone(), value.clone());
                }
                (Some(Value::Object(ours)), Value::Object(theirs)) => {
                    for (k, v) in theirs {
                        ours.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                (Some(_), _) => {}
            }
        }
    }
    out
}

/// The bulletin's prose: Chinese paragraphs in the style of the seed article's data paragraphs.
pub fn prose_zh(b: &Bulletin) -> Vec<String> {
    prose::paragraphs(b)
}

/// Monthly totals this year against last year: paired columns, legend, axis in the prose's
/// unit (亿元 for yuan indicators).
pub fn chart_months_svg(ind: &IndicatorFigures) -> String {
    svg::months(ind)
}

/// Output by industry: horizontal bars of the top ten industries and 其他.
pub fn chart_industry_svg(ind: &IndicatorFigures) -> String {
    svg::industry(ind)
}

/// Projects over 100 M yuan by stage.
pub fn chart_projects_svg(p: &ProjectFigures) -> String {
    svg::projects(p)
}

/// Title, prose and tables of every indicator, breakdown, the projects and the pools, with the
/// charts referenced as files (see [`charts`]).
pub fn markdown(b: &Bulletin) -> String {
    document::markdown(&document::build(b))
}

#[derive(Template)]
#[template(path = "bulletin.html")]
struct BulletinHtml<'a> {
    doc: &'a document::Doc,
}

/// One standalone HTML document: prose, the charts inline and the same tables as
/// [`markdown`]; no external resources.
pub fn html(b: &Bulletin) -> String {
    let doc = document::build(b);
    // Rendering into a String fails only if a value's Display fails, and ours are Strings and
    // integers, which do not.
    BulletinHtml { doc: &doc }
        .render()
        .expect("the bulletin template renders only strings and integers")
}

/// `(file name, svg)` for every chart [`markdown`] references.
pub fn charts(b: &Bulletin) -> Vec<(String, String)> {
    document::build(b)
        .sections
        .into_iter()
        .flat_map(|s| s.blocks)
        .filter_map(|block| block.chart)
        .map(|c| (c.file, c.svg))
        .collect()
}

/// The workbook: sheets 指标, 行业, 园区, 标签, 月度, 项目 and 市场主体, values as numbers with
/// number formats and Chinese headers.
pub fn xlsx(b: &Bulletin) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    xlsx::workbook(b)
}
