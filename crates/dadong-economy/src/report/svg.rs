//! The bulletin's charts, written as SVG by hand.
//!
//! Hand-written rather than with a chart crate: three simple bar charts do not justify a new
//! dependency tree, and writing the markup here keeps XML escaping, CJK font fallbacks and
//! integer-exact scaling under our control. Values stay integers (hundredths of the unit) until
//! they become coordinates; axis labels are formatted from integers.

use super::labels::{industry_label, stage_name};
use super::numbers::{Display, chart_display};
use super::prose::has_data;
use crate::model::{Breakdown, IndicatorFigures, ProjectFigures};
use std::fmt::Write as _;

/// The namespace attribute a standalone SVG file needs and SVG inlined in HTML does not.
pub const XMLNS_ATTR: &str = r#" xmlns="http://www.w3.org/2000/svg""#;

/// CJK fonts first, so that Chinese labels render wherever one of them is installed.
const FONT_FAMILY: &str = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif";
pub(super) const THIS_YEAR: &str = "#c23531";
const LAST_YEAR: &str = "#91a7c8";
pub(super) const INK: &str = "#333";
pub(super) const GRID: &str = "#e0e0e0";
pub(super) const WIDTH: f64 = 720.0;
/// Bars beyond this many rows are summed into 其他 in the industry chart.
const INDUSTRY_ROWS_MAX: usize = 10;
/// Characters of a row label shown before it is cut with an ellipsis; the full label stays in
/// the bar's tooltip.
const LABEL_CHARS_MAX: usize = 14;

/// Text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newlines are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A small SVG writer: every text and attribute value that comes from data goes through
/// [`escape`].
pub(super) struct Svg {
    out: String,
}

impl Svg {
    pub(super) fn new(height: f64, title: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg{XMLNS_ATTR} viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" font-family="{FONT_FAMILY}" font-size="12"><title>{}</title>"#,
            escape(title)
        );
        let _ = write!(out, r##"<rect x="0" y="0" width="{WIDTH}" height="{height:.0}" fill="#fff"/>"##);
        let mut svg = Svg { out };
        svg.text(16.0, 24.0, "start", 15.0, INK, title);
        svg
    }

    pub(super) fn text(&mut self, x: f64, y: f64, anchor: &str, size: f64, fill: &str, content: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-size="{size}" fill="{fill}">{}</text>"#,
            escape(content)
        );
    }

    pub(super) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tooltip: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}""#,
            w.max(0.0),
            h.max(0.0)
        );
        match tooltip {
            Some(t) => {
                let _ = write!(self.out, "><title>{}</title></rect>", escape(t));
            }
            None => self.out.push_str("/>"),
        }
    }

    pub(super) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) {
        let _ = write!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="1"/>"#
        );
    }

    fn legend(&mut self, x: f64, y: f64, items: &[(&str, &str)]) {
        let mut x = x;
        for (color, label) in items {
            self.rect(x, y - 10.0, 12.0, 12.0, color, None);
            self.text(x + 16.0, y, "start", 12.0, INK, label);
            x += 24.0 + 13.0 * label.chars().count() as f64;
        }
    }

    pub(super) fn no_data(&mut self, height: f64) {
        self.text(WIDTH / 2.0, height / 2.0, "middle", 14.0, "#999", "暂无数据");
    }

    pub(super) fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// An axis from zero: a step of 1, 2 or 5 × 10ᵏ hundredths chosen so that about `ticks` steps
/// cover `max`, and the axis's top, a whole number of steps.
pub(super) fn axis(max: i128, ticks: i128) -> (i128, i128) {
    let raw = ((max.max(1) + ticks - 1) / ticks).max(1);
    let mut magnitude = 1i128;
    while magnitude * 10 <= raw {
        magnitude *= 10;
    }
    let step = [1, 2, 5, 10].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10 * magnitude);
    let top = step * ((max.max(1) + step - 1) / step);
    (step, top)
}

/// The decimals an axis label needs so that every tick reads exactly: 0.5亿元 needs one.
pub(super) fn tick_display(display: Display, step: i128) -> Display {
    let decimals = (0..=4).find(|d| (step * 10i128.pow(*d)) % display.centi_per_unit == 0).unwrap_or(4);
    Display { decimals, ..display }
}

/// `value / top` of `length` pixels; negative values draw as nothing.
pub(super) fn scale(value: i128, top: i128, length: f64) -> f64 {
    if top <= 0 { 0.0 } else { value.max(0) as f64 / top as f64 * length }
}

/// Monthly totals of this year against the same months last year, as paired columns.
pub fn months(ind: &IndicatorFigures) -> String {
    const HEIGHT: f64 = 360.0;
    let (left, right, top, bottom) = (72.0, 16.0, 64.0, 36.0);
    let display = chart_display(&ind.indicator.unit);
    let year = ind.months.last().map(|m| m.period.year());
    let title = match year {
        Some(y) => format!("{}：{}年与{}年各月对比（{}）", ind.indicator.name_zh, y, y - 1, display.label),
        None => format!("{}：各月对比", ind.indicator.name_zh),
    };
    let mut svg = Svg::new(HEIGHT, &title);
    if ind.months.is_empty() || !has_data(ind) {
        svg.no_data(HEIGHT);
        return svg.finish();
    }
    let this_year = year.map(|y| format!("{y}年")).unwrap_or_default();
    let last_year = year.map(|y| format!("{}年", y - 1)).unwrap_or_default();
    svg.legend(WIDTH - 200.0, 48.0, &[(THIS_YEAR, &this_year), (LAST_YEAR, &last_year)]);

    let max = ind.months.iter().flat_map(|m| [m.total, m.prior_total.unwrap_or(0)]).max().unwrap_or(0);
    let (step, axis_top) = axis(max, 5);
    let ticks = tick_display(display, step);
    let (plot_w, plot_h) = (WIDTH - left - right, HEIGHT - top - bottom);
    let base = top + plot_h;
    svg.text(left - 8.0, top - 12.0, "end", 11.0, INK, display.label);
    let mut v = 0;
    while v <= axis_top {
        let y = base - scale(v, axis_top, plot_h);
        svg.line(left, y, left + plot_w, y, GRID);
        svg.text(left - 8.0, y + 4.0, "end", 11.0, INK, &ticks.show(v));
        v += step;
    }
    let group = plot_w / ind.months.len() as f64;
    let bar = group * 0.36;
    for (i, m) in ind.months.iter().enumerate() {
        let x0 = left + group * i as f64 + group * 0.14;
        let month = format!("{}月", m.period.month());
        let h = scale(m.total, axis_top, plot_h);
        let tip = format!("{month} {this_year}：{}", display.show_with_unit(m.total));
        svg.rect(x0, base - h, bar, h, THIS_YEAR, Some(&tip));
        if let Some(prior) = m.prior_total {
            let h = scale(prior, axis_top, plot_h);
            let tip = format!("{month} {last_year}：{}", display.show_with_unit(prior));
            svg.rect(x0 + bar, base - h, bar, h, LAST_YEAR, Some(&tip));
        }
        svg.text(left + group * (i as f64 + 0.5), base + 18.0, "middle", 12.0, INK, &month);
    }
    svg.line(left, base, left + plot_w, base, INK);
    svg.finish()
}

/// The top ten rows of a breakdown by total, and 其他 for the rest.
fn top_rows(rows: &[Breakdown]) -> Vec<(String, i128)> {
    let mut sorted: Vec<&Breakdown> = rows.iter().collect();
    sorted.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
    let mut out: Vec<(String, i128)> = sorted.iter().take(INDUSTRY_ROWS_MAX).map(|r| (industry_label(&r.key), r.total)).collect();
    if sorted.len() > INDUSTRY_ROWS_MAX {
        out.push(("其他".to_string(), sorted[INDUSTRY_ROWS_MAX..].iter().map(|r| r.total).sum()));
    }
    out
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS_MAX {
        label.to_string()
    } else {
        let cut: String = label.chars().take(LABEL_CHARS_MAX - 1).collect();
        format!("{cut}…")
    }
}

/// Output by industry as horizontal bars, largest first.
pub fn industry(ind: &IndicatorFigures) -> String {
    let display = chart_display(&ind.indicator.unit);
    let rows = top_rows(&ind.by_industry);
    let (left, right, top, row_h) = (200.0, 96.0, 48.0, 28.0);
    let height = top + row_h * rows.len().max(3) as f64 + 32.0;
    let mut svg = Svg::new(height, &format!("{}：分行业（{}）", ind.indicator.name_zh, display.label));
    if rows.is_empty() {
        svg.no_data(height);
        return svg.finish();
    }
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let (_, axis_top) = axis(max, 5);
    let plot_w = WIDTH - left - right;
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = scale(*value, axis_top, plot_w);
        let shown = display.show_with_unit(*value);
        svg.text(left - 8.0, y + 18.0, "end", 12.0, INK, &shorten(label));
        svg.rect(left, y + 6.0, w, row_h - 10.0, THIS_YEAR, Some(&format!("{label}：{shown}")));
        svg.text(left + w + 6.0, y + 18.0, "start", 11.0, INK, &shown);
    }
    let base = top + row_h * rows.len() as f64 + 4.0;
    svg.line(left, top, left, base, INK);
    svg.finish()
}

/// Projects over 100 M yuan by stage at the period's end, as columns with their counts.
pub fn projects(p: &ProjectFigures) -> String {
    const HEIGHT: f64 = 320.0;
    let (left, right, top, bottom) = (56.0, 16.0, 56.0, 36.0);
    let mut svg = Svg::new(HEIGHT, "亿元以上项目：按阶段（个）");
    if p.by_stage.is_empty() {
        svg.no_data(HEIGHT);
        return svg.finish();
    }
    let max = p.by_stage.iter().map(|(_, n)| i128::from(*n)).max().unwrap_or(0);
    let (step, axis_top) = axis(max, 5);
    let (plot_w, plot_h) = (WIDTH - left - right, HEIGHT - top - bottom);
    let base = top + plot_h;
    svg.text(left - 8.0, top - 12.0, "end", 11.0, INK, "个");
    let mut v = 0;
    while v <= axis_top {
        let y = base - scale(v, axis_top, plot_h);
        svg.line(left, y, left + plot_w, y, GRID);
        svg.text(left - 8.0, y + 4.0, "end", 11.0, INK, &v.to_string());
        v += step;
    }
    let group = plot_w / p.by_stage.len() as f64;
    for (i, (stage, n)) in p.by_stage.iter().enumerate() {
        let name = stage_name(stage);
        let h = scale((*n).into(), axis_top, plot_h);
        let x = left + group * i as f64 + group * 0.25;
        svg.rect(x, base - h, group * 0.5, h, THIS_YEAR, Some(&format!("{name}：{n}个")));
        svg.text(x + group * 0.25, base - h - 6.0, "middle", 12.0, INK, &n.to_string());
        svg.text(x + group * 0.25, base + 18.0, "middle", 12.0, INK, name);
    }
    svg.line(left, base, left + plot_w, base, INK);
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_use_round_steps_that_cover_the_maximum() {
        assert_eq!(axis(145, 5), (50, 150));
        assert_eq!(axis(1, 5), (1, 1));
        assert_eq!(axis(0, 5), (1, 1));
        let (step, top) = axis(1_563_000_000_000, 5);
        assert_eq!((step, top), (500_000_000_000, 2_000_000_000_000));
    }

    #[test]
    fn tick_labels_get_the_decimals_their_step_needs() {
        let yi = chart_display("yuan");
        assert_eq!(tick_display(yi, 500_000_000_000).decimals, 0);
        assert_eq!(tick_display(yi, 5_000_000_000).decimals, 1);
    }
}
