//! One enterprise's monthly history of one indicator, as a column chart: the enterprise page
//! shows one per indicator it reports.
//!
//! Written with the bulletin's own SVG writer (`svg.rs`), so every label is escaped the same
//! way and the axis uses the same round steps. The unit is chosen for the enterprise's size:
//! a small firm's output in 亿元 would read 0.0 in every month.

use super::numbers::{CENTI_PER_WAN, CENTI_PER_YI, Display};
use super::svg::{GRID, INK, Svg, THIS_YEAR, WIDTH, axis, scale, tick_display};
use crate::model::Centi;
use dadong_domain::Period;

/// Most months one chart shows; an older history is cut to its latest months.
pub const HISTORY_MONTHS_MAX: usize = 120;

/// How a history in `unit` whose largest value is `max` (hundredths) is best shown: 亿元 from
/// one 亿 up, else 万元 for money; 万辆 or 万人 from ten thousand up, else whole ones.
pub fn history_display(unit: &str, max: Centi) -> Display {
    match unit {
        "yuan" if max >= CENTI_PER_YI => Display {
            centi_per_unit: CENTI_PER_YI,
            decimals: 2,
            label: "亿元",
        },
        "yuan" => Display {
            centi_per_unit: CENTI_PER_WAN,
            decimals: 2,
            label: "万元",
        },
        "units" if max >= CENTI_PER_WAN => Display {
            centi_per_unit: CENTI_PER_WAN,
            decimals: 2,
            label: "万辆",
        },
        "units" => Display {
            centi_per_unit: 100,
            decimals: 0,
            label: "辆",
        },
        "persons" if max >= CENTI_PER_WAN => Display {
            centi_per_unit: CENTI_PER_WAN,
            decimals: 2,
            label: "万人",
        },
        "persons" => Display {
            centi_per_unit: 100,
            decimals: 0,
            label: "人",
        },
        _ => Display {
            centi_per_unit: 100,
            decimals: 2,
            label: "",
        },
    }
}

fn next_month(p: Period) -> Option<Period> {
    if p.month() == 12 {
        Period::new(p.year() + 1, 1).ok()
    } else {
        Period::new(p.year(), p.month() + 1).ok()
    }
}

/// Every month from the first point's to the last's, each with its value if there is one, so
/// that a month without a report shows as a gap rather than closing up; at most the latest
/// [`HISTORY_MONTHS_MAX`] months.
fn months(points: &[(Period, Centi)]) -> Vec<(Period, Option<Centi>)> {
    let mut sorted: Vec<(Period, Centi)> = points.to_vec();
    sorted.sort_by_key(|(p, _)| *p);
    let (Some(first), Some(last)) = (sorted.first().map(|p| p.0), sorted.last().map(|p| p.0)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut p = Some(first);
    while let Some(month) = p.filter(|m| *m <= last) {
        let value = sorted.iter().rev().find(|(q, _)| *q == month).map(|(_, v)| *v);
        out.push((month, value));
        p = next_month(month);
    }
    let skip = out.len().saturating_sub(HISTORY_MONTHS_MAX);
    out.split_off(skip)
}

/// A column per month of `points` (hundredths of `unit`: `yuan`, `units` or `persons`), with
/// the value in each column's tooltip; `title` is shown above the chart and is escaped.
pub fn history_svg(title: &str, unit: &str, points: &[(Period, Centi)]) -> String {
    const HEIGHT: f64 = 300.0;
    let (left, right, top, bottom) = (72.0, 16.0, 56.0, 44.0);
    let series = months(points);
    let max = series.iter().filter_map(|(_, v)| *v).max().unwrap_or(0);
    let display = history_display(unit, max);
    let full_title = if display.label.is_empty() {
        title.to_string()
    } else {
        format!("{title}（{}）", display.label)
    };
    let mut svg = Svg::new(HEIGHT, &full_title);
    if series.is_empty() {
        svg.no_data(HEIGHT);
        return svg.finish();
    }
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
    let slot = plot_w / series.len() as f64;
    // Every month is labelled when a year or less is shown, else the quarters, else Januaries.
    let labelled = |i: usize, period: Period| i == 0 || period.month() == 1 || series.len() <= 12 || (series.len() <= 36 && period.month() % 3 == 1);
    for (i, (period, value)) in series.iter().enumerate() {
        let x = left + slot * i as f64;
        if let Some(value) = value {
            let h = scale(*value, axis_top, plot_h);
            let tip = format!("{period}：{}", display.show_with_unit(*value));
            svg.rect(x + slot * 0.15, base - h, slot * 0.7, h, THIS_YEAR, Some(&tip));
        }
        if labelled(i, *period) {
            let label = if period.month() == 1 || i == 0 {
                format!("{}年{}月", period.year(), period.month())
            } else {
                format!("{}月", period.month())
            };
            svg.text(x + slot * 0.5, base + 18.0, "middle", 11.0, INK, &label);
        }
    }
    svg.line(left, base, left + plot_w, base, INK);
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(y: i16, m: i8) -> Period {
        Period::new(y, m).unwrap()
    }

    #[test]
    fn gaps_between_months_stay_gaps() {
        let series = months(&[(p(2021, 11), 5), (p(2022, 2), 7)]);
        let got: Vec<String> = series.iter().map(|(p, v)| format!("{p}={v:?}")).collect();
        assert_eq!(got, ["2021-11=Some(5)", "2021-12=None", "2022-01=None", "2022-02=Some(7)"]);
    }

    #[test]
    fn long_histories_keep_their_latest_months() {
        let points: Vec<(Period, Centi)> = (2000..2020).flat_map(|y| (1..=12).map(move |m| (p(y, m), 1))).collect();
        let series = months(&points);
        assert_eq!(series.len(), HISTORY_MONTHS_MAX);
        assert_eq!(series.last().unwrap().0, p(2019, 12));
    }

    #[test]
    fn the_unit_follows_the_size_of_the_values() {
        assert_eq!(history_display("yuan", 5 * CENTI_PER_YI).label, "亿元");
        assert_eq!(history_display("yuan", 5 * CENTI_PER_WAN).label, "万元");
        assert_eq!(history_display("persons", 300 * 100).label, "人");
    }

    #[test]
    fn titles_and_labels_are_escaped_and_values_shown() {
        let svg = history_svg("A<B & \"C\"", "yuan", &[(p(2022, 1), 123_456_789), (p(2022, 2), 0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains("A&lt;B &amp; &quot;C&quot;（万元）"), "{svg}");
        assert!(!svg.contains("A<B"));
        assert!(svg.contains("2022-01：123.46万元"), "{svg}");
        assert!(svg.contains("2022年1月"));
    }

    #[test]
    fn no_points_draws_an_honest_empty_chart() {
        let svg = history_svg("营业收入", "yuan", &[]);
        assert!(svg.contains("暂无数据"));
    }
}
