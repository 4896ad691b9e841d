//! How the bulletin writes numbers: exchange strings with two decimals, the units of the prose
//! (亿元, 万辆, 万人), the units of the tables, growth in words, and Chinese numerals.
//!
//! Everything is integer arithmetic on hundredths of the unit; rounding is the statistics
//! office's half away from zero, through `dadong_domain::money`.

use dadong_domain::Period;
use dadong_domain::money::format_scaled;

/// Hundredths of a unit in one 亿 (10⁸) of it: fen in one 亿元.
pub const CENTI_PER_YI: i128 = 10_000_000_000;
/// Hundredths of a unit in one 万 (10⁴) of it: fen in one 万元, hundredths of a vehicle in 万辆.
pub const CENTI_PER_WAN: i128 = 1_000_000;

/// A value in hundredths written with exactly two decimals, as exchanged in files and JSON:
/// `12513000000000` is `"125130000000.00"`. The same as `Fen::to_yuan_string`, for `i128`.
pub fn centi_string(value: i128) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A value in hundredths as the number a spreadsheet cell holds. Only used at the cell
/// boundary: the division of an exactly representable integer is correctly rounded.
pub fn centi_to_f64(value: i128) -> f64 {
    value as f64 / 100.0
}

/// How an indicator's values are shown in one place: hundredths per displayed unit, decimals
/// and the unit's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Display {
    pub centi_per_unit: i128,
    pub decimals: u32,
    pub label: &'static str,
}

impl Display {
    pub fn show(self, value: i128) -> String {
        format_scaled(value, self.centi_per_unit, self.decimals)
    }

    pub fn show_with_unit(self, value: i128) -> String {
        format!("{}{}", self.show(value), self.label)
    }
}

/// The prose's units, as the seed article writes them: 1251.3亿元, 28.2万辆.
pub fn prose_display(unit: &str) -> Display {
    match unit {
        "yuan" => Display {
            centi_per_unit: CENTI_PER_YI,
            decimals: 1,
            label: "亿元",
        },
        "units" => Display {
            centi_per_unit: CENTI_PER_WAN,
            decimals: 1,
            label: "万辆",
        },
        "persons" => Display {
            centi_per_unit: CENTI_PER_WAN,
            decimals: 1,
            label: "万人",
        },
        _ => Display {
            centi_per_unit: 100,
            decimals: 2,
            label: "",
        },
    }
}

/// The charts' axis units: the prose's units, so that a chart reads like its sentence.
pub fn chart_display(unit: &str) -> Display {
    prose_display(unit)
}

/// The tables' units: 万元 with two decimals, whole vehicles and persons, so that small parks
/// and industries do not round to zero as they would in 亿元.
pub fn table_display(unit: &str) -> Display {
    match unit {
        "yuan" => Display {
            centi_per_unit: CENTI_PER_WAN,
            decimals: 2,
            label: "万元",
        },
        "units" => Display {
            centi_per_unit: 100,
            decimals: 0,
            label: "辆",
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

/// The name of the base unit in the workbook, where values are kept in the unit itself.
pub fn base_unit_zh(unit: &str) -> &str {
    match unit {
        "yuan" => "元",
        "units" => "辆",
        "persons" => "人",
        other => other,
    }
}

/// A growth rate as published (`3.9`, `-1.2`, `3`) in tenths of a percent.
pub fn parse_tenths(rate: &str) -> Option<i64> {
    let s = rate.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, "0"));
    if int_part.is_empty() || frac_part.len() != 1 {
        return None;
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tenths = int_part.parse::<i64>().ok()?.checked_mul(10)?.checked_add(frac_part.parse::<i64>().ok()?)?;
    Some(if negative { -tenths } else { tenths })
}

/// Tenths of a percent written with one decimal, without a sign: 39 is `3.9`, -12 is `1.2`.
pub fn tenths_abs(tenths: i64) -> String {
    let abs = tenths.unsigned_abs();
    format!("{}.{}", abs / 10, abs % 10)
}

/// A growth rate in words, one decimal always: `同比增长3.9%`, `同比下降1.2%`, `同比持平`.
/// A rate that does not parse is written as given rather than dropped.
pub fn growth_words(rate: &str) -> String {
    match parse_tenths(rate) {
        Some(0) => "同比持平".to_string(),
        Some(t) if t < 0 => format!("同比下降{}%", tenths_abs(t)),
        Some(t) => format!("同比增长{}%", tenths_abs(t)),
        None => format!("同比增长{rate}%"),
    }
}

/// A growth rate for a table cell, one decimal always (`3.9`, `-1.2`), or `—` without one.
pub fn growth_cell(rate: Option<&str>) -> String {
    match rate {
        Some(r) => match parse_tenths(r) {
            Some(t) if t < 0 => format!("-{}", tenths_abs(t)),
            Some(t) => tenths_abs(t),
            None => r.to_string(),
        },
        None => "—".to_string(),
    }
}

/// 1 to 99 in Chinese numerals (9 is 九, 12 is 十二, 20 is 二十); other numbers in digits,
/// which Chinese prose also uses.
pub fn zh_numeral(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        1..=9 => DIGITS[n as usize].to_string(),
        10..=99 => {
            let (tens, ones) = (n / 10, n % 10);
            let tens = if tens == 1 { String::new() } else { DIGITS[tens as usize].to_string() };
            let ones = if ones == 0 { "" } else { DIGITS[ones as usize] };
            format!("{tens}十{ones}")
        }
        _ => n.to_string(),
    }
}

/// The period as the prose names it: `1—8月`, or `1月` when it is one month.
pub fn period_label(from: Period, through: Period) -> String {
    if from == through {
        format!("{}月", through.month())
    } else if from.year() == through.year() {
        format!("{}—{}月", from.month(), through.month())
    } else {
        format!("{}年{}月—{}年{}月", from.year(), from.month(), through.year(), through.month())
    }
}

/// A count of enterprises as the article writes it: `8.1万家` from ten thousand on, else `128家`.
pub fn count_of_firms(n: i64) -> String {
    if n.unsigned_abs() >= 10_000 {
        format!("{}万家", format_scaled(n.into(), 10_000, 1))
    } else {
        format!("{n}家")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_decimal_strings_match_the_exchange_format() {
        assert_eq!(centi_string(12_513_000_000_000), "125130000000.00");
        assert_eq!(centi_string(-5), "-0.05");
        assert_eq!(centi_string(0), "0.00");
    }

    #[test]
    fn chinese_numerals_cover_one_to_ninety_nine() {
        let cases = [
            (1, "一"),
            (9, "九"),
            (10, "十"),
            (11, "十一"),
            (20, "二十"),
            (21, "二十一"),
            (99, "九十九"),
            (100, "100"),
            (0, "0"),
        ];
        for (n, zh) in cases {
            assert_eq!(zh_numeral(n), zh, "{n}");
        }
    }

    #[test]
    fn growth_reads_as_increase_decrease_or_flat_with_one_decimal() {
        assert_eq!(growth_words("3.9"), "同比增长3.9%");
        assert_eq!(growth_words("-1.2"), "同比下降1.2%");
        assert_eq!(growth_words("-0.5"), "同比下降0.5%");
        assert_eq!(growth_words("3"), "同比增长3.0%");
        assert_eq!(growth_words("0.0"), "同比持平");
        assert_eq!(growth_cell(Some("-1.2")), "-1.2");
        assert_eq!(growth_cell(None), "—");
    }

    #[test]
    fn period_labels_follow_the_article() {
        let p = |y, m| Period::new(y, m).unwrap();
        assert_eq!(period_label(p(2022, 1), p(2022, 8)), "1—8月");
        assert_eq!(period_label(p(2022, 1), p(2022, 1)), "1月");
    }

    #[test]
    fn firm_counts_switch_to_wan_from_ten_thousand() {
        assert_eq!(count_of_firms(81_000), "8.1万家");
        assert_eq!(count_of_firms(128), "128家");
    }
}
