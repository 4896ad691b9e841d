//! The economy's records and the figures of a bulletin.
//!
//! Indicator values are kept as integers in hundredths of the indicator's unit ("centi"):
//! fen for yuan, hundredths of a vehicle or a person, so that every file value with at most
//! two decimals is exact and sums never use floating point.

use dadong_domain::{CreditCode, Period};
use jiff::civil::Date;
use serde::Serialize;

/// Hundredths of an indicator's unit.
pub type Centi = i128;

/// Whether monthly values add up over a period, or the latest one counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    Flow,
    Stock,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// `yuan`, `units` or `persons`.
    pub unit: String,
    pub aggregation: Aggregation,
}

/// The six indicators the platform ships with (SPEC section 3).
pub fn shipped_indicators() -> Vec<Indicator> {
    let i = |code: &str, zh: &str, en: &str, unit: &str, aggregation| Indicator {
        code: code.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        unit: unit.into(),
        aggregation,
    };
    vec![
        i("industrial_output", "规模以上工业总产值", "Industrial output", "yuan", Aggregation::Flow),
        i(
            "retail_sales",
            "限额以上社会消费品零售额",
            "Retail sales above quota",
            "yuan",
            Aggregation::Flow,
        ),
        i("revenue", "营业收入", "Revenue", "yuan", Aggregation::Flow),
        i("employees", "从业人员", "Employees", "persons", Aggregation::Stock),
        i("vehicles", "整车产量", "Vehicles built", "units", Aggregation::Flow),
        i("investment", "固定资产投资", "Fixed-asset investment", "yuan", Aggregation::Flow),
    ]
}

/// The pools (tags) an enterprise can be in.
pub const TAGS: &[&str] = &[
    "tech_sme",
    "high_tech",
    "eaglet",
    "gazelle",
    "little_giant_national",
    "little_giant_provincial",
    "key",
];

pub const PROJECT_KINDS: &[&str] = &["industrial", "commercial", "livelihood", "infrastructure"];

/// A row of `enterprises.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseRow {
    pub credit_code: CreditCode,
    pub name: String,
    /// GB/T 4754-2017: a section letter and two to four digits (`C36`, `C3612`).
    pub industry: String,
    pub above_size: bool,
    pub park: Option<String>,
    pub tags: Vec<TagEntry>,
    pub registered: Date,
}

/// A pool membership in `enterprises.csv`: `high_tech` or, with the date the enterprise
/// entered the pool, `high_tech@2022-05-10`. Without a date the store records the date of the
/// import that first saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagEntry {
    pub tag: String,
    pub entered: Option<Date>,
}

/// A row of `indicators.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorRow {
    /// The spreadsheet row it was read from (the header is row 1); 0 for rows built in code.
    pub row: usize,
    pub credit_code: CreditCode,
    pub period: Period,
    pub indicator: String,
    pub value: Centi,
}

/// A row of `districts.csv`: another district's published cumulative figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictRow {
    pub district: String,
    pub period: Period,
    pub indicator: String,
    pub total: Centi,
    /// Tenths of a percent, as published (`5.2` is 52); `None` when not published.
    pub growth_tenths: Option<i64>,
}

/// A row of `projects.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    pub project_id: String,
    pub name: String,
    /// Fen.
    pub investment: Centi,
    pub industry: String,
    pub kind: String,
    pub signed: Option<Date>,
    pub landed: Option<Date>,
    pub started: Option<Date>,
    pub completed: Option<Date>,
}

/// One row of a breakdown (by industry, park or tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    pub key: String,
    pub total: Centi,
    pub growth_pct: Option<String>,
}

/// One month of the chart: this year's total against last year's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthPoint {
    pub period: Period,
    pub total: Centi,
    pub prior_total: Option<Centi>,
}

/// The figures of one indicator for January to M.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorFigures {
    pub indicator: Indicator,
    /// Σ of months 1…M (flows) or month M's value (stocks), in hundredths of the unit.
    pub total: Centi,
    pub month_total: Centi,
    /// Growth on comparable scope, one decimal, half away from zero; `None` without pairs.
    pub growth_pct: Option<String>,
    pub month_is_record: bool,
    pub rank: Option<u32>,
    pub of: Option<u32>,
    pub months: Vec<MonthPoint>,
    pub by_industry: Vec<Breakdown>,
    pub by_park: Vec<Breakdown>,
    pub by_tag: Vec<Breakdown>,
}

/// Counts of projects over 100 million yuan for a period, with the year before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectFigures {
    pub started_over_100m: i64,
    pub started_over_100m_prior: i64,
    pub signed_over_100m: i64,
    pub signed_over_100m_prior: i64,
    pub landed_over_100m: i64,
    pub landed_over_100m_prior: i64,
    /// Projects over 100 M yuan by stage at the period's end: signed, landed, started, completed.
    pub by_stage: Vec<(String, i64)>,
}

/// The registry's counts at the period's end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnterpriseFigures {
    pub market_entities: i64,
    pub tech_sme: i64,
    /// High-tech enterprises that entered the pool in the period's year up to its end.
    pub new_high_tech: i64,
    pub eaglet: i64,
    pub gazelle: i64,
    pub little_giant_national: i64,
    pub little_giant_provincial: i64,
}

/// Everything a bulletin for January to `through` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bulletin {
    pub district: String,
    pub from: Period,
    pub through: Period,
    pub indicators: Vec<IndicatorFigures>,
    pub projects: ProjectFigures,
    pub enterprises: EnterpriseFigures,
    /// Vehicle makers: the above-size enterprises of industry group C361 (汽车整车制造) with
    /// output in the period, how many they are and their industrial output (fen) over it.
    pub vehicle_makers: i64,
    pub vehicle_makers_output: Centi,
}
