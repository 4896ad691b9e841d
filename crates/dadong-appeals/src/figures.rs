//! Key enterprises' daily or weekly figures (日调度) and how the dispatch board flags them
//! against the month's plan.

use jiff::civil::Date;

/// What a key enterprise reports. Amounts of money are integer fen; counts are whole units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Output value of the day, fen (产值).
    Output,
    /// New orders of the day, fen (订单).
    Orders,
    /// People at work, persons (用工).
    Headcount,
    /// Parts in stock, days of production (零部件库存天数).
    PartsStock,
}

impl Metric {
    pub const ALL: [Metric; 4] = [Metric::Output, Metric::Orders, Metric::Headcount, Metric::PartsStock];

    pub fn code(self) -> &'static str {
        match self {
            Metric::Output => "output",
            Metric::Orders => "orders",
            Metric::Headcount => "headcount",
            Metric::PartsStock => "parts_stock",
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.code() == text.trim())
    }

    /// Flows add up over a month (output, orders); stocks are read at their latest value.
    pub fn is_flow(self) -> bool {
        matches!(self, Metric::Output | Metric::Orders)
    }

    /// True when the value is money in fen.
    pub fn is_money(self) -> bool {
        self.is_flow()
    }
}

/// One day's (or week's, dated on its last day) figures of a key enterprise, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyFigure {
    pub date: Date,
    pub values: Vec<(Metric, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    #[error("date: {date} lies in the future (today is {today}); report what has happened")]
    FutureDate { date: Date, today: Date },
    #[error("{metric}: must not be negative (got {value})")]
    Negative { metric: &'static str, value: i64 },
    #[error("{0}: given twice")]
    Twice(&'static str),
    #[error("give at least one of output, orders, headcount, parts_stock")]
    Empty,
}

impl DailyFigure {
    /// Checks a report against today's date in Asia/Shanghai.
    pub fn validate(&self, today: Date) -> Result<(), FigureError> {
        if self.date > today {
            return Err(FigureError::FutureDate { date: self.date, today });
        }
        if self.values.is_empty() {
            return Err(FigureError::Empty);
        }
        let mut seen = Vec::new();
        for &(metric, value) in &self.values {
            if value < 0 {
                return Err(FigureError::Negative { metric: metric.code(), value });
            }
            if seen.contains(&metric) {
                return Err(FigureError::Twice(metric.code()));
            }
            seen.push(metric);
        }
        Ok(())
    }
}

/// How a month-to-date figure stands against its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanFlag {
    /// At or above the plan's share for the days gone.
    Green,
    /// Below it, by less than a tenth.
    Yellow,
    /// A tenth or more below it.
    Red,
}

/// Flags a month-to-date flow `actual` against the monthly `plan` after `days_gone` of
/// `days_in_month` days (the plan's share is pro rata). Exact integer arithmetic; `None` when
/// there is no plan.
pub fn plan_flag(actual: i64, plan: i64, days_gone: i64, days_in_month: i64) -> Option<PlanFlag> {
    if plan <= 0 || days_in_month <= 0 {
        return None;
    }
    let days_gone = days_gone.clamp(0, days_in_month) as i128;
    // actual / (plan × gone / days) compared with 1 and 0.9, cross-multiplied.
    let lhs = actual as i128 * days_in_month as i128 * 10;
    let share = plan as i128 * days_gone;
    Some(if lhs >= share * 10 {
        PlanFlag::Green
    } else if lhs >= share * 9 {
        PlanFlag::Yellow
    } else {
        PlanFlag::Red
    })
}

/// Growth over last year in tenths of a percent, rounded half away from zero; `None` without
/// a positive base.
pub fn growth_tenths(now: i64, last_year: i64) -> Option<i64> {
    if last_year <= 0 {
        return None;
    }
    let num = (now as i128 - last_year as i128) * 1000;
    let den = last_year as i128;
    let q = num / den;
    let r = num % den;
    let rounded = if 2 * r.abs() >= den { q + num.signum() } else { q };
    Some(rounded as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    #[test]
    fn a_figure_for_a_future_date_or_a_negative_amount_is_refused() {
        let today = date(2026, 11, 28);
        let f = DailyFigure {
            date: date(2026, 11, 29),
            values: vec![(Metric::Output, 1)],
        };
        assert_eq!(
            f.validate(today).unwrap_err().to_string(),
            "date: 2026-11-29 lies in the future (today is 2026-11-28); report what has happened"
        );
        let f = DailyFigure {
            date: today,
            values: vec![(Metric::Orders, -5)],
        };
        assert_eq!(f.validate(today).unwrap_err().to_string(), "orders: must not be negative (got -5)");
        let f = DailyFigure {
            date: today,
            values: vec![(Metric::Headcount, 120), (Metric::PartsStock, 0)],
        };
        assert_eq!(f.validate(today), Ok(()));
    }

    #[test]
    fn the_plan_flag_is_green_at_the_pro_rata_share_yellow_within_a_tenth_red_below() {
        // Plan 300 over 30 days; after 10 days the share is 100.
        assert_eq!(plan_flag(100, 300, 10, 30), Some(PlanFlag::Green));
        assert_eq!(plan_flag(90, 300, 10, 30), Some(PlanFlag::Yellow));
        assert_eq!(plan_flag(89, 300, 10, 30), Some(PlanFlag::Red));
        assert_eq!(plan_flag(5, 0, 10, 30), None);
    }

    #[test]
    fn growth_is_rounded_half_away_from_zero_in_tenths() {
        assert_eq!(growth_tenths(1039, 1000), Some(39));
        assert_eq!(growth_tenths(10395, 10000), Some(40));
        assert_eq!(growth_tenths(9605, 10000), Some(-40));
        assert_eq!(growth_tenths(5, 0), None);
    }

    proptest! {
        #[test]
        fn more_output_never_gives_a_worse_flag(a in 0i64..1_000_000_000, extra in 0i64..1_000_000, plan in 1i64..1_000_000_000, gone in 0i64..=31) {
            let f1 = plan_flag(a, plan, gone, 31).unwrap();
            let f2 = plan_flag(a + extra, plan, gone, 31).unwrap();
            prop_assert!(f2 <= f1);
        }

        #[test]
        fn non_negative_figures_for_today_or_earlier_are_accepted(v in 0i64..i64::MAX, back in 0i32..3000) {
            let today = date(2026, 11, 28);
            let f = DailyFigure { date: today.checked_sub(jiff::Span::new().days(back)).unwrap(), values: vec![(Metric::Output, v)] };
            prop_assert_eq!(f.validate(today), Ok(()));
        }
    }
}
