//! Money and rates, exact: amounts are integer fen (分), never floating point.
//!
//! Figures are shown in the units people use (元, 万元, 亿元) and rounded as the statistics
//! office rounds: half away from zero. Growth rates are shown to one decimal place.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not an amount in yuan")]
    NotANumber(String),
    #[error("'{0}' has more than two decimals")]
    TooManyDecimals(String),
    #[error("'{0}' is negative")]
    Negative(String),
    #[error("'{0}' is too large")]
    TooLarge(String),
}

/// An amount of money in fen (1 yuan = 100 fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn from_yuan(yuan: i64) -> Fen {
        Fen(yuan * 100)
    }

    /// Parses an amount in yuan as written in files and forms: `12`, `12.3`, `-4.56`, at most
    /// two decimals, no exponent, no thousands separators.
    pub fn parse_yuan(input: &str) -> Result<Fen, MoneyError> {
        let s = input.trim();
        let bad = || MoneyError::NotANumber(input.to_string());
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if !frac_part.bytes().all(|b| b.is_ascii_digit()) || (digits.contains('.') && frac_part.is_empty()) {
            return Err(bad());
        }
        if frac_part.len() > 2 {
            return Err(MoneyError::TooManyDecimals(input.to_string()));
        }
        let too_large = || MoneyError::TooLarge(input.to_string());
        let yuan: i64 = int_part.parse().map_err(|_| too_large())?;
        let frac: i64 = format!("{frac_part:0<2}").parse().map_err(|_| bad())?;
        let fen = yuan.checked_mul(100).and_then(|f| f.checked_add(frac)).ok_or_else(too_large)?;
        Ok(Fen(if negative { -fen } else { fen }))
    }

    /// Like [`Fen::parse_yuan`] but refuses negative amounts.
    pub fn parse_yuan_non_negative(input: &str) -> Result<Fen, MoneyError> {
        let fen = Self::parse_yuan(input)?;
        if fen.0 < 0 {
            return Err(MoneyError::Negative(input.to_string()));
        }
        Ok(fen)
    }

    /// The amount in yuan with exactly two decimals, as exchanged in files and JSON: `1234.50`.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// The amount in a display unit, rounded half away from zero to `decimals` places,
    /// followed by the unit's name: `Fen(125_130_000_000_00).in_unit(Unit::Yi, 1)` is `1251.3亿元`.
    pub fn in_unit(self, unit: Unit, decimals: u32) -> String {
        format!("{}{}", format_scaled(self.0 as i128, unit.fen(), decimals), unit.zh())
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}元", self.to_yuan_string())
    }
}

/// The units figures are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Yuan,
    Wan,
    Yi,
}

impl Unit {
    /// How many fen make one of this unit.
    pub fn fen(self) -> i128 {
        match self {
            Unit::Yuan => 100,
            Unit::Wan => 1_000_000,
            Unit::Yi => 10_000_000_000,
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Unit::Yuan => "元",
            Unit::Wan => "万元",
            Unit::Yi => "亿元",
        }
    }
}

/// `numerator / denominator` rounded half away from zero to an integer.
///
/// # Panics
/// If `denominator` is zero; callers decide what a missing base means before dividing.
pub fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    assert!(denominator != 0, "division by zero");
    let negative = (numerator < 0) != (denominator < 0);
    let (n, d) = (numerator.unsigned_abs(), denominator.unsigned_abs());
    // Adding half the divisor before truncating rounds a magnitude whose remainder is at
    // least half up; for an odd divisor no remainder is exactly half.
    let q = ((n + d / 2) / d) as i128;
    if negative { -q } else { q }
}

/// `value / unit` written with `decimals` places, rounded half away from zero.
pub fn format_scaled(value: i128, unit: i128, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let q = div_round_half_away(value * scale, unit);
    let sign = if q < 0 { "-" } else { "" };
    let q = q.unsigned_abs();
    let scale = scale as u128;
    if decimals == 0 {
        format!("{sign}{q}")
    } else {
        format!("{sign}{}.{:0width$}", q / scale, q % scale, width = decimals as usize)
    }
}

/// Growth of `current` over `prior` in percent to one decimal, `(current ÷ prior − 1) × 100`,
/// rounded half away from zero; `None` when there is no positive base to compare with.
pub fn growth_pct(current: i128, prior: i128) -> Option<String> {
    if prior <= 0 {
        return None;
    }
    Some(format_scaled((current - prior) * 100, prior, 1))
}

/// `part ÷ whole` in percent to one decimal; `None` when `whole` is zero.
pub fn share_pct(part: i128, whole: i128) -> Option<String> {
    if whole == 0 {
        return None;
    }
    Some(format_scaled(part * 100, whole, 1))
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // amounts in fen are written yuan_fen
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(Fen::parse_yuan("12"), Ok(Fen(1200)));
        assert_eq!(Fen::parse_yuan("12.3"), Ok(Fen(1230)));
        assert_eq!(Fen::parse_yuan(" 12.34 "), Ok(Fen(1234)));
        assert_eq!(Fen::parse_yuan("-0.05"), Ok(Fen(-5)));
        assert!(matches!(Fen::parse_yuan("12.345"), Err(MoneyError::TooManyDecimals(_))));
        for bad in ["", "abc", "1e5", "1,000", "12.", ".5", "--1", "1.2.3", "１２"] {
            assert!(matches!(Fen::parse_yuan(bad), Err(MoneyError::NotANumber(_))), "{bad}");
        }
        assert!(matches!(Fen::parse_yuan("99999999999999999999"), Err(MoneyError::TooLarge(_))));
        assert!(matches!(Fen::parse_yuan_non_negative("-1"), Err(MoneyError::Negative(_))));
    }

    #[test]
    fn units_round_half_away_from_zero() {
        assert_eq!(Fen(125_130_000_000_00).in_unit(Unit::Yi, 1), "1251.3亿元");
        assert_eq!(Fen(125_125_000_000_00).in_unit(Unit::Yi, 1), "1251.3亿元");
        assert_eq!(Fen(125_124_999_999_99).in_unit(Unit::Yi, 1), "1251.2亿元");
        assert_eq!(Fen(-125_125_000_000_00).in_unit(Unit::Yi, 1), "-1251.3亿元");
        assert_eq!(Fen(2_600_000_000).in_unit(Unit::Wan, 0), "2600万元");
        assert_eq!(Fen(150).in_unit(Unit::Yuan, 0), "2元");
        assert_eq!(Fen(-150).in_unit(Unit::Yuan, 0), "-2元");
        assert_eq!(Fen(-5).to_yuan_string(), "-0.05");
    }

    #[test]
    fn growth_is_rounded_to_one_decimal_half_away_from_zero() {
        assert_eq!(growth_pct(1039, 1000).as_deref(), Some("3.9"));
        assert_eq!(growth_pct(10395, 10000).as_deref(), Some("4.0"));
        assert_eq!(growth_pct(10394, 10000).as_deref(), Some("3.9"));
        assert_eq!(growth_pct(9845, 10000).as_deref(), Some("-1.6"));
        assert_eq!(growth_pct(145, 122).as_deref(), Some("18.9"));
        assert_eq!(growth_pct(5, 0), None);
        assert_eq!(share_pct(624, 650).as_deref(), Some("96.0"));
    }

    proptest! {
        #[test]
        fn rounding_matches_exact_rational_arithmetic(n in -1_000_000i128..1_000_000, d in 1i128..5000) {
            let q = div_round_half_away(n, d);
            // |n/d - q| <= 1/2, and exactly 1/2 only when q is the one further from zero.
            let diff2 = (n * 2 - q * 2 * d).abs();
            prop_assert!(diff2 <= d);
            if diff2 == d { prop_assert!(q.abs() * d > n.abs()); }
        }

        #[test]
        fn yuan_strings_round_trip(fen in -10_000_000_000_000i64..10_000_000_000_000) {
            prop_assert_eq!(Fen::parse_yuan(&Fen(fen).to_yuan_string()), Ok(Fen(fen)));
        }
    }
}
