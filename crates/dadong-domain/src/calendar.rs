//! The national working-day calendar: weekends, statutory holidays and make-up working days
//! (调休上班), from the State Council's yearly notices kept in `data/cn-work-calendar.csv`.
//!
//! Service and appeal deadlines count working days on this calendar. A year whose notice is
//! not in the file is *provisional*: it counts weekends only, and says so, rather than guess.

use jiff::civil::{Date, Weekday};
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// The calendar file compiled into the binary; new years are added as rows in the same form.
pub const NATIONAL_CSV: &str = include_str!("../data/cn-work-calendar.csv");

/// The years the platform is built to serve; a year here without rows in the file is provisional.
pub const SUPPORTED_YEARS: std::ops::RangeInclusive<i16> = 2021..=2027;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// A day off inside a holiday period (weekends inside it included).
    Holiday,
    /// A weekend day that is a working day to make up for a holiday.
    Workday,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub kind: DayKind,
    pub holiday_en: String,
    pub holiday_zh: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar row {row}: {reason}")]
    Row { row: usize, reason: String },
}

#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    special: HashMap<Date, SpecialDay>,
    years: BTreeSet<i16>,
}

impl WorkCalendar {
    /// The national calendar shipped with the platform.
    pub fn national() -> &'static WorkCalendar {
        static NATIONAL: OnceLock<WorkCalendar> = OnceLock::new();
        NATIONAL.get_or_init(|| WorkCalendar::from_csv(NATIONAL_CSV).expect("the shipped calendar parses"))
    }

    /// Reads rows `date,kind,holiday,holiday_zh` with a header row.
    pub fn from_csv(text: &str) -> Result<WorkCalendar, CalendarError> {
        let mut cal = WorkCalendar::default();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for (i, record) in reader.records().enumerate() {
            let row = i + 2;
            let err = |reason: String| CalendarError::Row { row, reason };
            let record = record.map_err(|e| err(e.to_string()))?;
            let field = |n: usize| record.get(n).unwrap_or("").trim().to_string();
            let date: Date = field(0).parse().map_err(|e| err(format!("bad date '{}': {e}", field(0))))?;
            let kind = match field(1).as_str() {
                "holiday" => DayKind::Holiday,
                "workday" => DayKind::Workday,
                other => return Err(err(format!("kind must be holiday or workday, not '{other}'"))),
            };
            cal.add(
                date,
                SpecialDay {
                    kind,
                    holiday_en: field(2),
                    holiday_zh: field(3),
                },
            );
        }
        Ok(cal)
    }

    /// Adds or replaces one day, as an administrator's override would.
    pub fn add(&mut self, date: Date, day: SpecialDay) {
        self.years.insert(date.year());
        self.special.insert(date, day);
    }

    /// True when no notice for `year` is known, so only weekends are counted.
    pub fn is_provisional(&self, year: i16) -> bool {
        !self.years.contains(&year)
    }

    /// The years for which the calendar holds the official notice.
    pub fn official_years(&self) -> impl Iterator<Item = i16> + '_ {
        self.years.iter().copied()
    }

    pub fn special_day(&self, date: Date) -> Option<&SpecialDay> {
        self.special.get(&date)
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        match self.special.get(&date).map(|d| d.kind) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// The `n`th working day after `start` (the day of submission is not counted, as a promise
    /// of "one working day" made on Friday is kept on Monday). `n = 0` gives `start` itself.
    pub fn add_working_days(&self, start: Date, n: u32) -> Date {
        let mut date = start;
        let mut left = n;
        while left > 0 {
            date = date.tomorrow().expect("dates stay far inside jiff's range");
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// How many working days lie after `from` up to and including `to`; zero when `to <= from`.
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut count = 0;
        let mut date = from;
        while date < to {
            date = date.tomorrow().expect("dates stay far inside jiff's range");
            if self.is_working_day(date) {
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn cal() -> &'static WorkCalendar {
        WorkCalendar::national()
    }

    #[test]
    fn the_shipped_calendar_covers_2021_to_2026_and_says_2027_is_provisional() {
        for year in 2021..=2026 {
            assert!(!cal().is_provisional(year), "{year}");
        }
        assert!(cal().is_provisional(2027));
        // A provisional year still counts weekends.
        assert!(!cal().is_working_day(date(2027, 1, 2)));
        assert!(cal().is_working_day(date(2027, 1, 4)));
    }

    #[test]
    fn national_day_2022_is_skipped_and_its_make_up_weekend_counts() {
        // Friday 30 September; 1 to 7 October off; Saturday 8 and Sunday 9 October are working days.
        assert_eq!(cal().add_working_days(date(2022, 9, 30), 1), date(2022, 10, 8));
        assert_eq!(cal().add_working_days(date(2022, 9, 30), 2), date(2022, 10, 9));
        assert_eq!(cal().add_working_days(date(2022, 9, 30), 3), date(2022, 10, 10));
        assert_eq!(cal().special_day(date(2022, 10, 3)).unwrap().holiday_zh, "国庆节");
    }

    #[test]
    fn spring_festival_2022_is_skipped_and_its_make_up_weekend_counts() {
        // Friday 28 January; Saturday 29 and Sunday 30 are working days; 31 Jan to 6 Feb off.
        assert_eq!(cal().add_working_days(date(2022, 1, 28), 1), date(2022, 1, 29));
        assert_eq!(cal().add_working_days(date(2022, 1, 28), 2), date(2022, 1, 30));
        assert_eq!(cal().add_working_days(date(2022, 1, 28), 3), date(2022, 2, 7));
        assert_eq!(cal().working_days_between(date(2022, 1, 28), date(2022, 2, 7)), 3);
    }

    #[test]
    fn national_day_2024_uses_the_sunday_before_and_the_saturday_after() {
        // Friday 27 September 2024: next working day is Sunday 29 September (make-up day).
        assert_eq!(cal().add_working_days(date(2024, 9, 27), 1), date(2024, 9, 29));
        // Monday 30 September: 1 to 7 October off, so the next is Tuesday 8 October.
        assert_eq!(cal().add_working_days(date(2024, 9, 30), 1), date(2024, 10, 8));
        // Friday 11 October: Saturday 12 October is a make-up working day.
        assert_eq!(cal().add_working_days(date(2024, 10, 11), 1), date(2024, 10, 12));
    }

    #[test]
    fn spring_festival_2024_counts_both_make_up_sundays() {
        // Sunday 4 February 2024 and Sunday 18 February are working days; 10 to 17 February off.
        assert!(cal().is_working_day(date(2024, 2, 4)));
        assert_eq!(cal().add_working_days(date(2024, 2, 9), 1), date(2024, 2, 18));
        assert_eq!(cal().add_working_days(date(2024, 2, 2), 1), date(2024, 2, 4));
        assert_eq!(cal().add_working_days(date(2024, 2, 8), 3), date(2024, 2, 19));
    }

    #[test]
    fn zero_working_days_is_the_start_itself_and_bad_rows_are_refused() {
        assert_eq!(cal().add_working_days(date(2022, 10, 1), 0), date(2022, 10, 1));
        let err = WorkCalendar::from_csv("date,kind,holiday,holiday_zh\n2022-13-01,holiday,x,y\n").unwrap_err();
        assert!(err.to_string().contains("row 2"));
        assert!(WorkCalendar::from_csv("date,kind,holiday,holiday_zh\n2022-10-01,off,x,y\n").is_err());
    }
}
