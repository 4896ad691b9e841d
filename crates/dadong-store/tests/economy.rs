//! The economy's figures (SPEC section 3) against small hand-worked cases, and the demo
//! district's bulletin against the seed article, each scenario on SQLite and on PostgreSQL.
//!
//! Every file goes the whole way a real one does: CSV text, the real parsers of
//! `dadong_economy::import`, then the store's imports; the figures are read back from
//! `Store::bulletin`. Amounts in the files are in yuan (or units, persons); the bulletin keeps
//! hundredths of the unit ("centi"), so `331.50` yuan is `33150`. Every expected number below
//! is worked out by hand in the comment beside it.

use dadong_domain::crypto::sha256_hex;
use dadong_domain::{CreditCode, Period};
use dadong_economy::import::{self, FileFormat};
use dadong_economy::{Breakdown, Bulletin, IndicatorFigures, MonthPoint, shipped_indicators};
use dadong_store::economy::{ImportFailure, ImportSummary};
use dadong_store::{Actor, Store};
use dadong_testkit::{Backend, TestDb};
use sqlx::Row;
use std::collections::BTreeMap;

dadong_testkit::on_both_backends!(
    totals_month_totals_and_comparable_growth_count_only_enterprises_above_size_and_pairs_with_a_prior_year,
    a_month_is_a_record_only_when_strictly_higher_than_every_earlier_stored_month,
    a_stock_indicator_totals_month_m_and_compares_month_m_with_the_same_month_a_year_earlier,
    districts_are_ranked_by_one_decimal_growth_with_equal_rates_sharing_a_rank,
    projects_over_100_million_are_counted_as_signed_landed_and_started_or_resumed_with_the_year_before,
    breakdowns_by_industry_park_and_tag_sum_to_the_total_with_their_own_comparable_growth,
    re_importing_one_enterprise_month_moves_total_and_growth_by_exactly_the_difference_and_keeps_the_rest,
    an_indicators_file_naming_an_unregistered_enterprise_is_refused_by_row_and_column_and_stores_nothing,
    the_demo_district_through_august_2022_shows_the_seed_articles_figures,
    every_demo_bulletin_from_2021_01_to_2022_12_matches_plain_sums_over_the_raw_rows,
);

// ---------------------------------------------------------------------------------------
// Fixtures

fn operator() -> Actor {
    Actor::Cli("economy-test".to_string())
}

async fn fresh(backend: Backend, test: &str) -> Option<(TestDb, Store)> {
    let db = TestDb::new(backend, &format!("{test} on {}", backend.name())).await?;
    let store = db.open().await;
    Some((db, store))
}

/// A valid credit code of a Dadong company whose organisation code is the number `n`.
fn code(n: u32) -> String {
    let body = format!("91210104{n:09}");
    let check = CreditCode::check_char(&body).expect("digits are in the alphabet");
    let code = format!("{body}{check}");
    CreditCode::parse(&code).expect("built valid");
    code
}

fn period(text: &str) -> Period {
    Period::parse(text).expect("a period")
}

fn known_indicators() -> Vec<String> {
    shipped_indicators().into_iter().map(|i| i.code).collect()
}

async fn import_enterprises(store: &Store, csv: &str) -> ImportSummary {
    let rows = import::parse_enterprises(csv.as_bytes(), FileFormat::Csv).unwrap_or_else(|e| panic!("enterprises.csv refused by the parser:\n{e}"));
    store
        .import_enterprises(&operator(), "enterprises.csv", &sha256_hex(csv.as_bytes()), &rows)
        .await
        .unwrap_or_else(|e| panic!("enterprises.csv refused by the store: {e}"))
}

async fn try_import_indicators(store: &Store, csv: &str) -> Result<ImportSummary, ImportFailure> {
    let known = known_indicators();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let rows = import::parse_indicators(csv.as_bytes(), FileFormat::Csv, &known).unwrap_or_else(|e| panic!("indicators.csv refused by the parser:\n{e}"));
    store.import_indicators(&operator(), "indicators.csv", &sha256_hex(csv.as_bytes()), &rows).await
}

async fn import_indicators(store: &Store, csv: &str) -> ImportSummary {
    try_import_indicators(store, csv)
        .await
        .unwrap_or_else(|e| panic!("indicators.csv refused by the store: {e}"))
}

async fn import_districts(store: &Store, csv: &str) -> ImportSummary {
    let known = known_indicators();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let rows = import::parse_districts(csv.as_bytes(), FileFormat::Csv, &known).unwrap_or_else(|e| panic!("districts.csv refused by the parser:\n{e}"));
    store
        .import_districts(&operator(), "districts.csv", &sha256_hex(csv.as_bytes()), &rows)
        .await
        .unwrap_or_else(|e| panic!("districts.csv refused by the store: {e}"))
}

async fn import_projects(store: &Store, csv: &str) -> ImportSummary {
    let rows = import::parse_projects(csv.as_bytes(), FileFormat::Csv).unwrap_or_else(|e| panic!("projects.csv refused by the parser:\n{e}"));
    store
        .import_projects(&operator(), "projects.csv", &sha256_hex(csv.as_bytes()), &rows)
        .await
        .unwrap_or_else(|e| panic!("projects.csv refused by the store: {e}"))
}

async fn bulletin(store: &Store, through: &str) -> Bulletin {
    store
        .bulletin(period(through))
        .await
        .unwrap_or_else(|e| panic!("bulletin through {through}: {e}"))
}

/// The figures of one indicator, which must be in the bulletin.
fn figures<'a>(b: &'a Bulletin, indicator: &str) -> &'a IndicatorFigures {
    b.indicators
        .iter()
        .find(|i| i.indicator.code == indicator)
        .unwrap_or_else(|| panic!("{indicator} is missing from the bulletin through {}", b.through))
}

fn codes(b: &Bulletin) -> Vec<&str> {
    b.indicators.iter().map(|i| i.indicator.code.as_str()).collect()
}

fn growth(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn row(key: &str, total: i128, growth_pct: Option<&str>) -> Breakdown {
    Breakdown {
        key: key.to_string(),
        total,
        growth_pct: growth_pct.map(str::to_string),
    }
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

async fn assert_chain_holds(store: &Store, context: &str) {
    let report = store.verify_audit().await.expect("verify audit");
    assert_eq!(report.first_break, None, "{context}: the audit chain breaks");
    assert_eq!(report.records, count(store, "audit_log").await, "{context}: every audit record verified");
}

/// The actions of the audit records about imports, oldest first.
async fn import_actions(store: &Store) -> Vec<String> {
    let mut records = store.audit_records(1000, None).await.expect("audit records");
    records.reverse();
    records.into_iter().map(|r| r.action).filter(|a| a.starts_with("import.")).collect()
}

/// Every stored indicator value as `(credit code, indicator, YYYYMM, centi)`, sorted.
async fn stored_values(store: &Store) -> Vec<(String, String, i64, i64)> {
    let rows = sqlx::query("SELECT credit_code, indicator, period, value FROM indicator_values ORDER BY credit_code, indicator, period")
        .fetch_all(store.pool())
        .await
        .expect("indicator values");
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
}

const ENTERPRISES_HEADER: &str = "credit_code,name,industry,above_size,park,tags,registered";
const INDICATORS_HEADER: &str = "credit_code,period,indicator,value";

// ---------------------------------------------------------------------------------------
// 1. Totals, month totals and growth on comparable scope

async fn totals_month_totals_and_comparable_growth_count_only_enterprises_above_size_and_pairs_with_a_prior_year(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "comparable growth").await else {
        return;
    };
    let (a, b, c, d) = (code(1), code(2), code(3), code(4));
    import_enterprises(
        &store,
        &format!(
            "{ENTERPRISES_HEADER}
{a},甲装备有限公司,C3612,true,汽车产业园,,2010-05-01
{b},乙新能源有限公司,C3670,true,汽车产业园,,2021-10-08
{c},丙机械有限公司,C3484,true,东部智造园,,2001-03-15
{d},丁科技有限公司,C3612,false,科技创新港,,2015-07-20
"
        ),
    )
    .await;
    // A reports both years; B is new in 2022 (no prior year); C left after 2021 (no 2022);
    // D is below the designated size, so however large its values they stay out.
    import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2021-01,industrial_output,100
{a},2021-02,industrial_output,200
{a},2021-03,industrial_output,300
{a},2022-01,industrial_output,110
{a},2022-02,industrial_output,220
{a},2022-03,industrial_output,331.50
{b},2022-01,industrial_output,50
{b},2022-02,industrial_output,60
{b},2022-03,industrial_output,70
{c},2021-01,industrial_output,400
{c},2021-02,industrial_output,400
{c},2021-03,industrial_output,400
{d},2021-01,industrial_output,1000
{d},2021-02,industrial_output,1000
{d},2021-03,industrial_output,1000
{d},2022-01,industrial_output,5000
{d},2022-02,industrial_output,5000
{d},2022-03,industrial_output,5000
{a},2021-01,revenue,100
{a},2021-02,revenue,200
{a},2021-03,revenue,300
{a},2022-01,revenue,100
{a},2022-02,revenue,200
{a},2022-03,revenue,238.50
{b},2022-01,revenue,1000
{d},2021-01,revenue,10
{d},2022-01,revenue,1000
{b},2022-01,vehicles,10
{d},2022-03,employees,50
"
        ),
    )
    .await;

    let march = bulletin(&store, "2022-03").await;
    assert_eq!((march.from, march.through), (period("2022-01"), period("2022-03")));
    // Only indicators with values of enterprises above size, in catalog order: D's employees
    // are its own, investment and retail sales have no values at all.
    assert_eq!(codes(&march), ["industrial_output", "revenue", "vehicles"]);

    let output = figures(&march, "industrial_output");
    // Total: A 110 + 220 + 331.50 = 661.50, B 50 + 60 + 70 = 180; 841.50 yuan. C has no 2022
    // values, D is not above size.
    assert_eq!(output.total, 84_150);
    // Month total: March, A 331.50 + B 70 = 401.50 yuan.
    assert_eq!(output.month_total, 40_150);
    // Growth on comparable scope: only A's months have a twin a year earlier:
    // 661.50 ÷ (100 + 200 + 300) − 1 = 61.5 ÷ 600 = 10.25 %, half away from zero → 10.3
    // (B, new, counts in the total only; C, departed, in neither; D's 5000 ÷ 1000 in neither).
    assert_eq!(output.growth_pct, growth("10.3"));
    // March 401.50 is below 2021-03's 300 + 400 = 700.
    assert!(!output.month_is_record);
    assert_eq!((output.rank, output.of), (None, None), "no other districts imported");
    // The chart's months: 2022 against 2021, C in the prior totals, D in neither:
    // Jan 110 + 50 = 160 vs 100 + 400 = 500; Feb 220 + 60 = 280 vs 200 + 400 = 600;
    // Mar 401.50 vs 300 + 400 = 700.
    assert_eq!(
        output.months,
        vec![
            MonthPoint {
                period: period("2022-01"),
                total: 16_000,
                prior_total: Some(50_000)
            },
            MonthPoint {
                period: period("2022-02"),
                total: 28_000,
                prior_total: Some(60_000)
            },
            MonthPoint {
                period: period("2022-03"),
                total: 40_150,
                prior_total: Some(70_000)
            },
        ]
    );

    let revenue = figures(&march, "revenue");
    // Total: A 100 + 200 + 238.50 = 538.50 plus B's 1000 (new) = 1538.50 yuan.
    assert_eq!(revenue.total, 153_850);
    assert_eq!(revenue.month_total, 23_850);
    // Comparable: A only, 538.50 ÷ 600 − 1 = −61.5 ÷ 600 = −10.25 %, half away from zero → −10.3.
    assert_eq!(revenue.growth_pct, growth("-10.3"));

    // Vehicles come from B only, which has no 2021: a total without any pair has no growth.
    let vehicles = figures(&march, "vehicles");
    assert_eq!(vehicles.total, 1_000);
    assert_eq!(vehicles.growth_pct, None);

    // January to February: A 110 + 220 = 330 vs 100 + 200 = 300 → 10.0; total 330 + B 110 = 440.
    let february = bulletin(&store, "2022-02").await;
    let output = figures(&february, "industrial_output");
    assert_eq!(output.total, 44_000);
    assert_eq!(output.month_total, 28_000);
    assert_eq!(output.growth_pct, growth("10.0"));

    // 2021 has no prior year stored at all: totals, and no growth anywhere.
    let year_before = bulletin(&store, "2021-03").await;
    assert_eq!(codes(&year_before), ["industrial_output", "revenue"]);
    let output = figures(&year_before, "industrial_output");
    // A 100 + 200 + 300 = 600, C 400 × 3 = 1200: 1800 yuan; March 300 + 400 = 700.
    assert_eq!(output.total, 180_000);
    assert_eq!(output.month_total, 70_000);
    assert_eq!(output.growth_pct, None);
    // Each month was higher than the one before, and 2021-03 is the highest so far.
    assert!(output.month_is_record);
    let revenue = figures(&year_before, "revenue");
    assert_eq!(revenue.total, 60_000);
    assert_eq!(revenue.growth_pct, None);
}

// ---------------------------------------------------------------------------------------
// 2. Record month

async fn a_month_is_a_record_only_when_strictly_higher_than_every_earlier_stored_month(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "record month").await else { return };
    let (a, b, d) = (code(11), code(12), code(14));
    import_enterprises(
        &store,
        &format!(
            "{ENTERPRISES_HEADER}
{a},甲装备有限公司,C3612,true,汽车产业园,,2010-05-01
{b},乙新能源有限公司,C3670,true,汽车产业园,,2012-10-08
{d},丁科技有限公司,C3612,false,,,2015-07-20
"
        ),
    )
    .await;
    // Monthly totals of the enterprises above size:
    //   2021-01 100, 2021-02 300, 2021-03 200,
    //   2022-01 250 + 50 = 300, 2022-02 290, 2022-03 300 + 0.01 = 300.01, 2022-04 99999.
    // D (not above size) adds 10000 to 2022-02 only in its own records.
    import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2021-01,industrial_output,100
{a},2021-02,industrial_output,300
{a},2021-03,industrial_output,200
{a},2022-01,industrial_output,250
{b},2022-01,industrial_output,50
{a},2022-02,industrial_output,290
{d},2022-02,industrial_output,10000
{a},2022-03,industrial_output,300
{b},2022-03,industrial_output,0.01
{a},2022-04,industrial_output,99999
"
        ),
    )
    .await;
    let record = |b: &Bulletin| {
        let f = figures(b, "industrial_output");
        (f.month_total, f.month_is_record)
    };
    // The first month stored: nothing earlier to beat, so it is higher than every earlier one.
    assert_eq!(record(&bulletin(&store, "2021-01").await), (10_000, true));
    // 300 > 100.
    assert_eq!(record(&bulletin(&store, "2021-02").await), (30_000, true));
    // 200 < 300: lower than an earlier month.
    assert_eq!(record(&bulletin(&store, "2021-03").await), (20_000, false));
    // 300 = 2021-02's 300: equal is not strictly higher.
    assert_eq!(record(&bulletin(&store, "2022-01").await), (30_000, false));
    // 290 < 300: lower (with D's 10000 it would have been 10290, a record: D stays out).
    assert_eq!(record(&bulletin(&store, "2022-02").await), (29_000, false));
    // 300.01 > 300, the highest earlier month; the larger 2022-04 comes later and does not count.
    assert_eq!(record(&bulletin(&store, "2022-03").await), (30_001, true));
    assert_eq!(record(&bulletin(&store, "2022-04").await), (9_999_900, true));
}

// ---------------------------------------------------------------------------------------
// 3. A stock indicator

async fn a_stock_indicator_totals_month_m_and_compares_month_m_with_the_same_month_a_year_earlier(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "stock indicator").await else {
        return;
    };
    let (a, b, c, d, e) = (code(21), code(22), code(23), code(24), code(25));
    import_enterprises(
        &store,
        &format!(
            "{ENTERPRISES_HEADER}
{a},甲装备有限公司,C3612,true,汽车产业园,,2010-05-01
{b},乙新能源有限公司,C3670,true,汽车产业园,,2021-10-08
{c},丙机械有限公司,C3484,true,东部智造园,,2001-03-15
{d},丁科技有限公司,C3612,false,,,2015-07-20
{e},戊电气有限公司,C3824,true,望花工业园,,2005-09-09
"
        ),
    )
    .await;
    import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2021-01,employees,100
{a},2021-02,employees,110
{a},2021-03,employees,120
{a},2022-01,employees,130
{a},2022-02,employees,125
{a},2022-03,employees,133
{b},2022-03,employees,40
{c},2021-03,employees,70
{d},2021-03,employees,500
{d},2022-03,employees,900
{e},2021-02,employees,50
{e},2022-03,employees,60
"
        ),
    )
    .await;
    let march = bulletin(&store, "2022-03").await;
    let employees = figures(&march, "employees");
    // Headcount is a stock: the total is March's, A 133 + B 40 + E 60 = 233 persons (not the
    // sum of three months, and without D, not above size).
    assert_eq!(employees.total, 23_300);
    assert_eq!(employees.month_total, 23_300);
    // Growth: March against March 2021 on pairs only. A 133 vs 120; B has no 2021-03, C no
    // 2022-03, E's 2021 value is February's: 133 ÷ 120 − 1 = 10.833 % → 10.8.
    // (A flow's January-to-March comparison would be 388 ÷ 330 − 1 = 17.6 %.)
    assert_eq!(employees.growth_pct, growth("10.8"));

    let february = bulletin(&store, "2022-02").await;
    let employees = figures(&february, "employees");
    // February: A 125 only (E has no 2022-02); 125 ÷ 110 − 1 = 13.636 % → 13.6.
    assert_eq!(employees.total, 12_500);
    assert_eq!(employees.growth_pct, growth("13.6"));
}

// ---------------------------------------------------------------------------------------
// 4. Rank among the districts

async fn districts_are_ranked_by_one_decimal_growth_with_equal_rates_sharing_a_rank(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "district rank").await else { return };
    let a = code(31);
    import_enterprises(
        &store,
        &format!(
            "{ENTERPRISES_HEADER}
{a},甲装备有限公司,C3612,true,汽车产业园,,2010-05-01
"
        ),
    )
    .await;
    // Own growth, January 2022:
    //   industrial_output 1052.50 ÷ 1000 − 1 = 5.25 % → 5.3 (half away from zero);
    //   retail_sales 210 ÷ 200 − 1 = 5.0 %; revenue 110 ÷ 100 − 1 = 10.0 %.
    import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2021-01,industrial_output,1000
{a},2022-01,industrial_output,1052.50
{a},2021-01,retail_sales,200
{a},2022-01,retail_sales,210
{a},2021-01,revenue,100
{a},2022-01,revenue,110
"
        ),
    )
    .await;
    let before = bulletin(&store, "2022-01").await;
    for f in &before.indicators {
        assert_eq!((f.rank, f.of), (None, None), "{}: no districts imported yet", f.indicator.code);
    }
    assert_eq!(figures(&before, "industrial_output").growth_pct, growth("5.3"));
    assert_eq!(figures(&before, "retail_sales").growth_pct, growth("5.0"));

    import_districts(
        &store,
        "district,period,indicator,total,growth_pct
和平区,2022-01,industrial_output,5000,6.1
沈河区,2022-01,industrial_output,4000,5.3
皇姑区,2022-01,industrial_output,3000,4
铁西区,2022-02,industrial_output,9000,9.9
和平区,2022-01,retail_sales,800,6.0
沈河区,2022-01,retail_sales,700,6
皇姑区,2022-01,retail_sales,600,5.0
铁西区,2022-01,retail_sales,500,4.9
",
    )
    .await;
    let after = bulletin(&store, "2022-01").await;
    // Industrial output, January: 和平 6.1 → 1; 大东 5.3 and 沈河 5.3 → 2 and 2; 皇姑 4.0 → 4.
    // 铁西's figure is for February and does not take part. (Were the own 5.25 % rounded down
    // to 5.2, the district would be 3rd.)
    let output = figures(&after, "industrial_output");
    assert_eq!((output.rank, output.of), (Some(2), Some(4)));
    // Retail sales: 和平 6.0 and 沈河 6.0 → 1 and 1; 大东 5.0 and 皇姑 5.0 → 3 and 3 (two
    // share the rank above); 铁西 4.9 → 5.
    let retail = figures(&after, "retail_sales");
    assert_eq!((retail.rank, retail.of), (Some(3), Some(5)));
    // No district published revenue: no rank.
    let revenue = figures(&after, "revenue");
    assert_eq!(revenue.growth_pct, growth("10.0"));
    assert_eq!((revenue.rank, revenue.of), (None, None));
}

// ---------------------------------------------------------------------------------------
// 5. Projects

async fn projects_over_100_million_are_counted_as_signed_landed_and_started_or_resumed_with_the_year_before(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "projects").await else { return };
    import_projects(
        &store,
        "project_id,name,investment,industry,kind,signed,landed,started,completed
P01,恰好一亿元项目,100000000.00,C3670,industrial,2022-02-01,2022-03-01,2022-04-01,
P02,差一分一亿元项目,99999999.99,C3670,industrial,2022-02-01,2022-03-01,2022-04-01,
P03,去年年底竣工项目,200000000,C3670,industrial,2020-05-01,2020-06-01,2020-07-01,2021-12-31
P04,期内竣工项目,300000000,E4813,infrastructure,2020-01-10,2020-02-10,2020-03-10,2022-05-20
P05,期后开工项目,150000000,C3670,industrial,2022-06-01,2022-07-01,2022-09-01,
P06,去年开工续建项目,120000000,C3670,commercial,2021-03-01,2021-04-01,2021-05-01,
P07,期初首日竣工项目,500000000,E4813,livelihood,2019-01-01,2019-02-01,2019-03-01,2022-01-01
P08,期末末日开工项目,100000000,C3670,industrial,2022-08-31,2022-08-31,2022-08-31,
P09,去年签约今年落地项目,180000000,C3670,industrial,2021-09-01,2022-01-05,,
P10,去年同期末日签约项目,250000000,C3670,industrial,2021-08-31,,,
P11,去年开工小项目,99999999.99,C3670,industrial,2021-03-01,2021-04-01,2021-05-01,
",
    )
    .await;

    // January to August 2022 (2022-01-01 … 2022-08-31), prior 2021-01-01 … 2021-08-31.
    // P02 and P11 are one fen under 100 M yuan and never count; P01 and P08, exactly 100 M, do.
    let p = bulletin(&store, "2022-08").await.projects;
    // Started or resumed: started by 2022-08-31 and not completed before 2022-01-01:
    // P01 (started 04-01), P04 (completed 05-20, inside), P06 (started 2021, going on),
    // P07 (completed on the first day itself), P08 (started on the last day) = 5.
    // Not: P03 (completed 2021-12-31, before), P05 (started 09-01, after), P09 and P10 (not started).
    assert_eq!(p.started_over_100m, 5);
    // A year earlier: started by 2021-08-31, not completed before 2021-01-01:
    // P03, P04, P06 (started 2021-05-01), P07 = 4.
    assert_eq!(p.started_over_100m_prior, 4);
    // Signed in the period: P01 (02-01), P05 (06-01), P08 (08-31) = 3; P09 signed 2021-09-01.
    assert_eq!(p.signed_over_100m, 3);
    // Signed a year earlier: P06 (2021-03-01), P10 (2021-08-31, the last day) = 2.
    assert_eq!(p.signed_over_100m_prior, 2);
    // Landed in the period: P01 (03-01), P05 (07-01), P08 (08-31), P09 (01-05) = 4.
    assert_eq!(p.landed_over_100m, 4);
    // Landed a year earlier: P06 (2021-04-01) = 1.
    assert_eq!(p.landed_over_100m_prior, 1);
    // Stage on 2022-08-31 of the ones signed by then: signed P10; landed P05, P09;
    // started P01, P06, P08; completed P03, P04, P07.
    let stages: Vec<(&str, i64)> = p.by_stage.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    assert_eq!(stages, [("signed", 1), ("landed", 2), ("started", 3), ("completed", 3)]);

    // January to March 2022 (… 2022-03-31), prior 2021-01-01 … 2021-03-31.
    let p = bulletin(&store, "2022-03").await.projects;
    // Started or resumed: P04, P06, P07 = 3 (P01 starts 04-01, after the period's end).
    assert_eq!(p.started_over_100m, 3);
    // A year earlier: P03, P04, P07 = 3 (P06 started 2021-05-01, after 2021-03-31).
    assert_eq!(p.started_over_100m_prior, 3);
    // Signed: P01 = 1; a year earlier P06 (2021-03-01) = 1.
    assert_eq!((p.signed_over_100m, p.signed_over_100m_prior), (1, 1));
    // Landed: P01 (03-01), P09 (01-05) = 2; a year earlier none (P06 landed 2021-04-01).
    assert_eq!((p.landed_over_100m, p.landed_over_100m_prior), (2, 0));

    // The JSON carries the change: 5 − 4 = +1, 1 ÷ 4 = 25.0 %.
    let json = dadong_economy::report::to_json(&bulletin(&store, "2022-08").await, &Default::default());
    assert_eq!(json["projects"]["started_change"], 1);
    assert_eq!(json["projects"]["started_change_pct"], "25.0");
}

// ---------------------------------------------------------------------------------------
// 6. Breakdowns

async fn breakdowns_by_industry_park_and_tag_sum_to_the_total_with_their_own_comparable_growth(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "breakdowns").await else { return };
    let (a, b, c, d, e) = (code(41), code(42), code(43), code(44), code(45));
    // Each enterprise above size is in exactly one pool, so that the tag breakdown, like the
    // others, partitions the district (an enterprise in two pools would count in both).
    import_enterprises(
        &store,
        &format!(
            "{ENTERPRISES_HEADER}
{a},甲装备有限公司,C3612,true,汽车产业园,key@2021-01-01,2010-05-01
{b},乙新能源有限公司,C3670,true,汽车产业园,high_tech@2021-06-01,2019-10-08
{c},丙机械有限公司,C3484,true,东部智造园,tech_sme@2020-02-02,2001-03-15
{d},丁科技有限公司,C3612,false,汽车产业园,key@2021-01-01,2015-07-20
{e},戊机械有限公司,C3484,true,,key@2021-01-01,2005-09-09
"
        ),
    )
    .await;
    import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2021-01,industrial_output,100
{a},2021-02,industrial_output,100
{a},2022-01,industrial_output,120
{a},2022-02,industrial_output,130
{b},2022-01,industrial_output,40
{b},2022-02,industrial_output,60
{c},2021-01,industrial_output,300
{c},2022-01,industrial_output,280
{c},2022-02,industrial_output,290
{e},2021-02,industrial_output,50
{e},2022-02,industrial_output,55
{d},2021-01,industrial_output,1
{d},2022-01,industrial_output,9999
"
        ),
    )
    .await;
    let f = figures(&bulletin(&store, "2022-02").await, "industrial_output").clone();
    // Total: A 250 + B 100 + C 570 + E 55 = 975 yuan (D is not above size).
    assert_eq!(f.total, 97_500);
    // Pairs: A Jan 120/100 and Feb 130/100, C Jan 280/300, E Feb 55/50 (B new, C's Feb alone):
    // 585 ÷ 550 − 1 = 6.364 % → 6.4.
    assert_eq!(f.growth_pct, growth("6.4"));

    // Industry, the code's first three characters: C36 = A + B = 350, pairs 250 ÷ 200 → 25.0;
    // C34 = C + E = 625, pairs (280 + 55) ÷ (300 + 50) − 1 = −4.286 % → −4.3. Largest first.
    assert_eq!(f.by_industry, vec![row("C34", 62_500, Some("-4.3")), row("C36", 35_000, Some("25.0"))]);

    // Park: 东部智造园 = C 570, 280 ÷ 300 − 1 = −6.667 % → −6.7; 汽车产业园 = A + B = 350 → 25.0;
    // E has no park: 55, 55 ÷ 50 → 10.0.
    assert_eq!(f.by_park.len(), 3, "{:?}", f.by_park);
    assert_eq!(f.by_park[0], row("东部智造园", 57_000, Some("-6.7")));
    assert_eq!(f.by_park[1], row("汽车产业园", 35_000, Some("25.0")));
    assert_eq!((f.by_park[2].total, f.by_park[2].growth_pct.as_deref()), (5_500, Some("10.0")));

    // Tag: tech_sme = C 570 → −6.7; key = A + E = 305 (D is not above size),
    // pairs (250 + 55) ÷ (200 + 50) − 1 = 22.0 %; high_tech = B 100, new: no growth.
    assert_eq!(
        f.by_tag,
        vec![
            row("tech_sme", 57_000, Some("-6.7")),
            row("key", 30_500, Some("22.0")),
            row("high_tech", 10_000, None)
        ]
    );

    for (name, list) in [("industry", &f.by_industry), ("park", &f.by_park), ("tag", &f.by_tag)] {
        assert_eq!(list.iter().map(|r| r.total).sum::<i128>(), f.total, "the {name} breakdown sums to the total");
    }
}

// ---------------------------------------------------------------------------------------
// 7. Re-import

async fn re_importing_one_enterprise_month_moves_total_and_growth_by_exactly_the_difference_and_keeps_the_rest(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "re-import").await else { return };
    let (a, b) = (code(51), code(52));
    import_enterprises(
        &store,
        &format!(
            "{ENTERPRISES_HEADER}
{a},甲装备有限公司,C3612,true,汽车产业园,,2010-05-01
{b},乙机械有限公司,C3484,true,东部智造园,,2001-03-15
"
        ),
    )
    .await;
    import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2021-01,industrial_output,100
{a},2021-02,industrial_output,100
{b},2021-01,industrial_output,200
{a},2022-01,industrial_output,110
{a},2022-02,industrial_output,120
{b},2022-01,industrial_output,190
"
        ),
    )
    .await;
    // January: 110 + 190 = 300 vs 100 + 200 = 300 → 0.0.
    let jan = figures(&bulletin(&store, "2022-01").await, "industrial_output").clone();
    assert_eq!((jan.total, jan.growth_pct.as_deref()), (30_000, Some("0.0")));
    // January to February: 300 + 120 = 420 vs 300 + 100 = 400 → 5.0.
    let feb = figures(&bulletin(&store, "2022-02").await, "industrial_output").clone();
    assert_eq!((feb.total, feb.growth_pct.as_deref()), (42_000, Some("5.0")));

    // B's January 2022 again, 190 → 205.55: +15.55 yuan.
    let summary = import_indicators(&store, &format!("{INDICATORS_HEADER}\n{b},2022-01,industrial_output,205.55\n")).await;
    assert_eq!((summary.rows, summary.inserted, summary.replaced), (1, 0, 1));
    let jan_after = figures(&bulletin(&store, "2022-01").await, "industrial_output").clone();
    assert_eq!(jan_after.total - jan.total, 1_555, "the total moves by exactly 205.55 − 190");
    assert_eq!(jan_after.month_total, 31_555);
    // 315.55 ÷ 300 − 1 = 5.183 % → 5.2.
    assert_eq!(jan_after.growth_pct, growth("5.2"));
    let feb_after = figures(&bulletin(&store, "2022-02").await, "industrial_output").clone();
    assert_eq!(feb_after.total - feb.total, 1_555);
    // 435.55 ÷ 400 − 1 = 8.8875 % → 8.9.
    assert_eq!(feb_after.growth_pct, growth("8.9"));

    // A prior-year value again (A 2021-01, 100 → 90) and a new month (A 2022-03, 130): the
    // 2022 totals stay, the growth is recomputed against the new prior.
    let summary = import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2021-01,industrial_output,90
{a},2022-03,industrial_output,130
"
        ),
    )
    .await;
    assert_eq!((summary.rows, summary.inserted, summary.replaced), (2, 1, 1));
    let jan_again = figures(&bulletin(&store, "2022-01").await, "industrial_output").clone();
    assert_eq!(jan_again.total, 31_555);
    // 315.55 ÷ (90 + 200) − 1 = 8.810 % → 8.8.
    assert_eq!(jan_again.growth_pct, growth("8.8"));
    // 2021-01 itself: 90 + 200 = 290.
    assert_eq!(figures(&bulletin(&store, "2021-01").await, "industrial_output").total, 29_000);
    // January to March: 435.55 + 130 = 565.55; A's March has no twin, so pairs are
    // 110/90 + 205.55/200 + 120/100 = 435.55 ÷ 390 − 1 = 11.679 % → 11.7.
    let mar = figures(&bulletin(&store, "2022-03").await, "industrial_output").clone();
    assert_eq!((mar.total, mar.month_total), (56_555, 13_000));
    assert_eq!(mar.growth_pct, growth("11.7"));

    // Every other stored value stayed as it was.
    let mut expected = vec![
        (a.clone(), "industrial_output".to_string(), 202101, 9_000),
        (a.clone(), "industrial_output".to_string(), 202102, 10_000),
        (a.clone(), "industrial_output".to_string(), 202201, 11_000),
        (a.clone(), "industrial_output".to_string(), 202202, 12_000),
        (a.clone(), "industrial_output".to_string(), 202203, 13_000),
        (b.clone(), "industrial_output".to_string(), 202101, 20_000),
        (b.clone(), "industrial_output".to_string(), 202201, 20_555),
    ];
    expected.sort();
    assert_eq!(stored_values(&store).await, expected);

    // One audit record per import, and the chain holds.
    assert_eq!(
        import_actions(&store).await,
        ["import.enterprises", "import.indicators", "import.indicators", "import.indicators"]
    );
    assert_eq!(count(&store, "imports").await, 4);
    assert_chain_holds(&store, "after the re-imports").await;
}

// ---------------------------------------------------------------------------------------
// 8. A refused import

async fn an_indicators_file_naming_an_unregistered_enterprise_is_refused_by_row_and_column_and_stores_nothing(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "refused import").await else { return };
    let (a, x, y) = (code(61), code(62), code(63));
    import_enterprises(
        &store,
        &format!(
            "{ENTERPRISES_HEADER}
{a},甲装备有限公司,C3612,true,汽车产业园,,2010-05-01
"
        ),
    )
    .await;
    import_indicators(&store, &format!("{INDICATORS_HEADER}\n{a},2022-01,industrial_output,100\n")).await;
    let rows_before = store.indicator_row_count().await.expect("row count");
    let audit_before = count(&store, "audit_log").await;
    let imports_before = count(&store, "imports").await;

    // X and Y have valid credit codes but are not in the registry. The valid rows around them
    // (a replacement of A's January and a new February) must not land either.
    let refused = try_import_indicators(
        &store,
        &format!(
            "{INDICATORS_HEADER}
{a},2022-01,industrial_output,150
{x},2022-01,industrial_output,70
{a},2022-02,industrial_output,80
{y},2022-02,industrial_output,90
"
        ),
    )
    .await;
    let errors = match refused {
        Err(ImportFailure::Rows(errors)) => errors,
        Err(ImportFailure::Store(e)) => panic!("refused with a store error instead of row errors: {e}"),
        Ok(summary) => panic!("a file naming unregistered enterprises was imported: {summary:?}"),
    };
    let places: Vec<(usize, &str, &str)> = errors.iter().map(|e| (e.row, e.column.as_str(), e.value.as_str())).collect();
    // The header is row 1: X is on row 3, Y on row 5.
    assert_eq!(places, [(3, "credit_code", x.as_str()), (5, "credit_code", y.as_str())]);
    assert!(errors.iter().all(|e| !e.reason.is_empty()));

    assert_eq!(store.indicator_row_count().await.expect("row count"), rows_before);
    assert_eq!(stored_values(&store).await, [(a.clone(), "industrial_output".to_string(), 202201, 10_000)]);
    let b = bulletin(&store, "2022-02").await;
    let output = figures(&b, "industrial_output");
    // Still January's 100 alone; February has nothing.
    assert_eq!((output.total, output.month_total), (10_000, 0));
    assert_eq!(count(&store, "audit_log").await, audit_before, "a refused file leaves no audit record");
    assert_eq!(count(&store, "imports").await, imports_before);
    assert_chain_holds(&store, "after the refused import").await;
}

// ---------------------------------------------------------------------------------------
// 9. The demo district against the seed article

async fn the_demo_district_through_august_2022_shows_the_seed_articles_figures(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "demo bulletin").await else { return };
    dadong_demo::load(&store, dadong_demo::DEFAULT_SEED).await.expect("the demo loads");
    let b = bulletin(&store, "2022-08").await;
    let json = dadong_economy::report::to_json(&b, &Default::default());
    let indicator = |code: &str| {
        json["indicators"]
            .as_array()
            .expect("indicators")
            .iter()
            .find(|i| i["code"] == code)
            .unwrap_or_else(|| panic!("{code} is missing from the JSON"))
            .clone()
    };

    // 规模以上工业总产值 1251.3亿元, +3.9 %, August the record month.
    let output = indicator("industrial_output");
    assert_eq!(output["total"], "125130000000.00");
    assert_eq!(output["growth_pct"], "3.9");
    assert_eq!(output["month_is_record"], true);
    // 限额以上社会消费品零售额 +6.6 %, first of the nine urban districts.
    let retail = indicator("retail_sales");
    assert_eq!(retail["growth_pct"], "6.6");
    assert_eq!((retail["rank"].clone(), retail["of"].clone()), (serde_json::json!(1), serde_json::json!(9)));
    // 28.2万辆 = 282,000 vehicles = 28,200,000 hundredths.
    assert_eq!(figures(&b, "vehicles").total, 28_200_000);
    // The vehicle makers' output, 1082.2亿元 = 108,220,000,000 yuan.
    assert_eq!(b.vehicle_makers, 2);
    assert_eq!(b.vehicle_makers_output, 10_822_000_000_000);

    // 145 projects over 100 M yuan started or resumed against 122 (+23, +18.9 %), 113 signed, 67 landed.
    let p = &b.projects;
    assert_eq!((p.started_over_100m, p.started_over_100m_prior), (145, 122));
    assert_eq!((p.signed_over_100m, p.landed_over_100m), (113, 67));
    assert_eq!(json["projects"]["started_change"], 23);
    assert_eq!(json["projects"]["started_change_pct"], "18.9");

    let e = &b.enterprises;
    assert_eq!(e.market_entities, 81_000);
    assert_eq!((e.tech_sme, e.new_high_tech, e.eaglet, e.gazelle), (128, 90, 23, 12));
    assert_eq!(json["enterprises"]["market_entities"], 81_000);

    let prose = dadong_economy::report::prose_zh(&b).join("\n");
    for phrase in ["1251.3亿元", "3.9%", "8月份", "145个", "增加23个", "18.9%"] {
        assert!(prose.contains(phrase), "the prose lacks {phrase}:\n{prose}");
    }
}

// ---------------------------------------------------------------------------------------
// 10. Every month of the demo against plain sums

/// Per (indicator, YYYYMM), the sum of the above-size enterprises' values: one GROUP BY.
async fn plain_monthly_sums(store: &Store) -> BTreeMap<(String, i64), i128> {
    let rows = sqlx::query(
        "SELECT v.indicator, v.period, CAST(SUM(v.value) AS BIGINT) FROM indicator_values v
         JOIN enterprises e ON e.credit_code = v.credit_code
         WHERE e.above_size = 1 GROUP BY v.indicator, v.period",
    )
    .fetch_all(store.pool())
    .await
    .expect("monthly sums");
    rows.iter()
        .map(|r| ((r.get::<String, _>(0), r.get::<i64, _>(1)), r.get::<i64, _>(2) as i128))
        .collect()
}

/// Per (indicator, YYYYMM), the sums of the values that have a twin a year earlier and of
/// those twins, for the above-size enterprises.
async fn plain_paired_sums(store: &Store) -> BTreeMap<(String, i64), (i128, i128)> {
    let rows = sqlx::query(
        "SELECT c.indicator, c.period, CAST(SUM(c.value) AS BIGINT), CAST(SUM(p.value) AS BIGINT) FROM indicator_values c
         JOIN enterprises e ON e.credit_code = c.credit_code
         JOIN indicator_values p ON p.credit_code = c.credit_code AND p.indicator = c.indicator AND p.period = c.period - 100
         WHERE e.above_size = 1 GROUP BY c.indicator, c.period",
    )
    .fetch_all(store.pool())
    .await
    .expect("paired sums");
    rows.iter()
        .map(|r| {
            (
                (r.get::<String, _>(0), r.get::<i64, _>(1)),
                (r.get::<i64, _>(2) as i128, r.get::<i64, _>(3) as i128),
            )
        })
        .collect()
}

/// One indicator's total from the raw rows and a plain query, with the period fixed by binds.
async fn plain_total(store: &Store, indicator: &str, from: i64, to: i64) -> i128 {
    let sum: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(v.value) AS BIGINT) FROM indicator_values v JOIN enterprises e ON e.credit_code = v.credit_code
         WHERE e.above_size = 1 AND v.indicator = $1 AND v.period BETWEEN $2 AND $3",
    )
    .bind(indicator)
    .bind(from)
    .bind(to)
    .fetch_one(store.pool())
    .await
    .expect("plain total");
    sum.unwrap_or(0) as i128
}

async fn every_demo_bulletin_from_2021_01_to_2022_12_matches_plain_sums_over_the_raw_rows(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "demo every month").await else {
        return;
    };
    dadong_demo::load(&store, dadong_demo::DEFAULT_SEED).await.expect("the demo loads");
    let monthly = plain_monthly_sums(&store).await;
    let paired = plain_paired_sums(&store).await;
    let catalog = shipped_indicators();
    for year in [2021i16, 2022] {
        for month in 1..=12i8 {
            let through = Period::new(year, month).expect("month");
            let b = store.bulletin(through).await.unwrap_or_else(|e| panic!("bulletin through {through}: {e}"));
            // The rollups the imports keep give exactly the bulletin of the raw rows.
            let raw = store
                .bulletin_from_raw_rows(through)
                .await
                .unwrap_or_else(|e| panic!("raw bulletin through {through}: {e}"));
            assert_eq!(b, raw, "rollups and raw rows differ through {through}");
            let (p_from, p_to) = (year as i64 * 100 + 1, year as i64 * 100 + month as i64);
            let expected_codes: Vec<&str> = catalog
                .iter()
                .filter(|i| (p_from..=p_to).any(|p| monthly.contains_key(&(i.code.clone(), p))))
                .map(|i| i.code.as_str())
                .collect();
            assert_eq!(codes(&b), expected_codes, "indicators through {through}");
            for f in &b.indicators {
                let ind = &f.indicator.code;
                let stock = f.indicator.aggregation == dadong_economy::Aggregation::Stock;
                let (t_from, t_to) = if stock { (p_to, p_to) } else { (p_from, p_to) };
                let month_sum = |p: i64| monthly.get(&(ind.clone(), p)).copied().unwrap_or(0);
                let total: i128 = (t_from..=t_to).map(month_sum).sum();
                assert_eq!(f.total, total, "{ind} total through {through}");
                assert_eq!(
                    f.total,
                    plain_total(&store, ind, t_from, t_to).await,
                    "{ind} total through {through}, one query"
                );
                assert_eq!(f.month_total, month_sum(p_to), "{ind} month total of {through}");
                let record =
                    monthly.contains_key(&(ind.clone(), p_to)) && monthly.iter().filter(|((i, p), _)| i == ind && *p < p_to).all(|(_, v)| *v < month_sum(p_to));
                assert_eq!(f.month_is_record, record, "{ind} record month {through}");
                let (cur, prior) = (t_from..=t_to)
                    .filter_map(|p| paired.get(&(ind.clone(), p)))
                    .fold((0i128, 0i128), |(c, q), (pc, pq)| (c + pc, q + pq));
                let expected_growth = if prior > 0 { dadong_domain::money::growth_pct(cur, prior) } else { None };
                assert_eq!(f.growth_pct, expected_growth, "{ind} growth through {through}");
                if year == 2021 {
                    assert_eq!(f.growth_pct, None, "{ind}: nothing stored for 2020, so no pairs through {through}");
                }
                for (name, list) in [("industry", &f.by_industry), ("park", &f.by_park)] {
                    assert_eq!(list.iter().map(|r| r.total).sum::<i128>(), f.total, "{ind} by {name} through {through}");
                }
            }
        }
    }
}
