//! A calendar month as statistics use it: `YYYY-MM`.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a period of the form YYYY-MM")]
pub struct PeriodError(pub String);

/// One month; orders chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    year: i16,
    month: i8,
}

impl Period {
    pub fn new(year: i16, month: i8) -> Result<Self, PeriodError> {
        if !(1900..=2200).contains(&year) || !(1..=12).contains(&month) {
            return Err(PeriodError(format!("{year}-{month}")));
        }
        Ok(Self { year, month })
    }

    /// Parses exactly `YYYY-MM` with a four-digit year and a two-digit month.
    pub fn parse(input: &str) -> Result<Self, PeriodError> {
        let err = || PeriodError(input.to_string());
        let b = input.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b.iter().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit()) {
            return Err(err());
        }
        let year: i16 = input[..4].parse().map_err(|_| err())?;
        let month: i8 = input[5..].parse().map_err(|_| err())?;
        Self::new(year, month).map_err(|_| err())
    }

    pub fn year(self) -> i16 {
        self.year
    }

    pub fn month(self) -> i8 {
        self.month
    }

    /// The same month one year earlier.
    pub fn year_before(self) -> Self {
        Self {
            year: self.year - 1,
            month: self.month,
        }
    }

    pub fn first_day(self) -> jiff::civil::Date {
        jiff::civil::date(self.year, self.month, 1)
    }

    pub fn last_day(self) -> jiff::civil::Date {
        self.first_day().last_of_month()
    }

    /// The months January to this one of the same year.
    pub fn year_to_date(self) -> impl Iterator<Item = Period> {
        let year = self.year;
        (1..=self.month).map(move |month| Period { year, month })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl TryFrom<String> for Period {
    type Error = PeriodError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Period> for String {
    fn from(value: Period) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_only_yyyy_mm() {
        assert_eq!(Period::parse("2022-08").unwrap().to_string(), "2022-08");
        for bad in ["2022-8", "2022/08", "2022-13", "2022-00", "22-08", "2022-08-01", "２０２２-08", ""] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        let p = Period::parse("2024-02").unwrap();
        assert_eq!(p.last_day(), jiff::civil::date(2024, 2, 29));
        assert_eq!(p.year_before().to_string(), "2023-02");
        assert_eq!(p.year_to_date().count(), 2);
    }
}
