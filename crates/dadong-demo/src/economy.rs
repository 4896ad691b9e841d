//! The demo district's economy: the registry (81,000 market entities, about 400 above-size
//! industrial enterprises with two vehicle makers, retailers above the quota, small tech
//! firms and their pools), monthly figures for 2021-01 to 2022-12, the other eight urban
//! districts' published figures, and major projects with their dates.
//!
//! The district is *designed* here to be the one the seed article describes: the plan below
//! sets group totals (what Dadong's enterprises produced), and the generator spreads them over
//! enterprises and months with seeded randomness. Nothing on the bulletin's path sees this
//! plan; the bulletin computes its figures from the rows this module imports through the
//! store, like any other district's files.

use crate::{DADONG_DIVISION, credit_code_with_org};
use dadong_domain::{CreditCode, Period};
use dadong_economy::*;
use dadong_store::economy::ImportFailure;
use dadong_store::{Actor, Result, Store, StoreError};
use jiff::civil::{Date, date};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The design of the demo district's 2022 (January to August) and the counts of its registry.
pub struct Plan {
    /// Industrial output of the above-size enterprises, January to August 2022, fen.
    pub industrial_output_fen: i128,
    /// Output of the comparable enterprises against a year earlier, per mille (1039 = +3.9%).
    pub industrial_growth_permille: i128,
    pub vehicle_makers_output_fen: i128,
    pub vehicles_units: i128,
    pub retail_sales_fen: i128,
    pub retail_growth_permille: i128,
    pub market_entities: usize,
    pub tech_sme: usize,
    pub new_high_tech: usize,
    pub eaglet: usize,
    pub gazelle: usize,
    pub little_giants: usize,
}

pub const ARTICLE: Plan = Plan {
    industrial_output_fen: 125_130_000_000 * 100,
    industrial_growth_permille: 1039,
    vehicle_makers_output_fen: 108_220_000_000 * 100,
    vehicles_units: 282_000,
    retail_sales_fen: 16_850_000_000 * 100,
    retail_growth_permille: 1066,
    market_entities: 81_000,
    tech_sme: 128,
    new_high_tech: 90,
    eaglet: 23,
    gazelle: 12,
    little_giants: 5,
};

/// Seasonal weights per month (per mille): August is the year's peak before the autumn.
const SEASON: [i128; 12] = [850, 800, 950, 970, 990, 1020, 1000, 1080, 1050, 1040, 1030, 1060];

const PARKS: &[&str] = &["汽车产业园", "东部智造园", "望花工业园", "科技创新港", "东站商圈", "北海商务区"];

const INDUSTRIES: &[(&str, &str)] = &[
    ("C3670", "汽车零部件"),
    ("C3484", "机械"),
    ("C3511", "重型装备"),
    ("C3824", "电气"),
    ("C3971", "电子"),
    ("C1391", "食品"),
    ("C2614", "化工"),
    ("C3311", "金属制品"),
    ("C3021", "建材"),
    ("C2710", "制药"),
];

const SURNAMES: &[&str] = &[
    "盛", "华", "鑫", "泰", "瑞", "宏", "博", "恒", "远", "嘉", "新", "德", "永", "隆", "兴", "昌", "宇", "辰", "金", "东",
];
const SECOND: &[&str] = &[
    "达", "通", "源", "晟", "联", "科", "创", "信", "丰", "安", "业", "盈", "航", "耀", "锐", "启", "川", "海", "阳", "峰",
];

fn firm_name(rng: &mut ChaCha8Rng, i: usize, trade: &str, form: &str) -> String {
    let a = SURNAMES[rng.gen_range(0..SURNAMES.len())];
    let b = SECOND[rng.gen_range(0..SECOND.len())];
    format!("沈阳{a}{b}{trade}{form}（虚构{i:03}）")
}

/// Splits `total` in proportion to `weights`, exactly, by largest remainder.
pub fn apportion(total: i128, weights: &[i128]) -> Vec<i128> {
    let sum: i128 = weights.iter().sum();
    if sum == 0 || weights.is_empty() {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<i128> = weights.iter().map(|w| total * w / sum).collect();
    let mut rest = total - parts.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((total * weights[i]) % sum));
    for &i in order.iter().cycle() {
        if rest == 0 {
            break;
        }
        if weights[i] > 0 {
            parts[i] += 1;
            rest -= 1;
        }
    }
    parts
}

fn p(year: i16, month: i8) -> Period {
    Period::new(year, month).expect("valid month")
}

fn random_date(rng: &mut ChaCha8Rng, from: Date, to: Date) -> Date {
    let days = (to - from).get_days().max(0);
    from.checked_add(jiff::Span::new().days(rng.gen_range(0..=days) as i64)).expect("in range")
}

/// `n` dates in `[from, to]`, in order.
fn sorted_dates(rng: &mut ChaCha8Rng, n: usize, from: Date, to: Date) -> Vec<Date> {
    let mut v: Vec<Date> = (0..n).map(|_| random_date(rng, from, to)).collect();
    v.sort();
    v
}

struct Firm {
    row: EnterpriseRow,
    weight: i128,
    /// Months of 2021 and 2022 with figures: `active[0]` is 2021, `active[1]` is 2022.
    active: [bool; 2],
}

/// A group of enterprises whose January–August 2022 total and comparable growth are designed.
struct Group<'a> {
    firms: Vec<&'a Firm>,
    indicator: &'static str,
    total_ytd: i128,
    growth_permille: i128,
    /// How far each firm's own growth may stray from the group's, per mille.
    spread_permille: i128,
    /// The smallest amount a value moves by, in hundredths: 1 for money (a fen), 100 for
    /// things counted whole (a vehicle).
    step: i128,
}

/// Monthly values of one indicator for a group: 2022 January–August sum to the group's total
/// exactly; the comparable firms' 2021 January–August values sum to total ÷ growth exactly.
fn group_values(rng: &mut ChaCha8Rng, g: &Group<'_>) -> Vec<IndicatorRow> {
    let mut out = Vec::new();
    let season_ytd: i128 = SEASON[..8].iter().sum();
    // Everything below is in steps; values are multiplied back when the rows are written.
    let total_ytd = g.total_ytd / g.step;
    let months_2022 = apportion(total_ytd, &SEASON[..8]);
    let level = total_ytd * 1000 / season_ytd; // per-mille base for months 9 to 12
    let weights_2022: Vec<i128> = g.firms.iter().map(|f| if f.active[1] { f.weight } else { 0 }).collect();
    // current[firm][month] for 2022.
    let mut current = vec![vec![0i128; 12]; g.firms.len()];
    for m in 0..12 {
        let month_total = if m < 8 { months_2022[m] } else { level * SEASON[m] / 1000 };
        let noisy: Vec<i128> = weights_2022.iter().map(|w| w * rng.gen_range(900..1100)).collect();
        for (i, v) in apportion(month_total, &noisy).into_iter().enumerate() {
            current[i][m] = v;
        }
    }
    // Prior year: each comparable firm's own growth near the group's, then the comparable
    // January–August values rescaled so the group's growth is exactly the designed one.
    let own_growth: Vec<i128> = g
        .firms
        .iter()
        .map(|_| g.growth_permille + rng.gen_range(-g.spread_permille..=g.spread_permille))
        .collect();
    let mut prior = vec![vec![0i128; 12]; g.firms.len()];
    let mut comparable_raw = Vec::new();
    let mut comparable_index = Vec::new();
    let mut comparable_current = 0i128;
    for (i, f) in g.firms.iter().enumerate() {
        for m in 0..12 {
            if f.active[0] && f.active[1] {
                prior[i][m] = current[i][m] * 1000 / own_growth[i].max(1);
                if m < 8 {
                    comparable_raw.push(prior[i][m]);
                    comparable_index.push((i, m));
                    comparable_current += current[i][m];
                }
            } else if f.active[0] {
                // Left before 2022: last year's figures only, on the same seasonal curve.
                prior[i][m] = level * SEASON[m] / 1000 * f.weight / 2000 / 1000;
            }
        }
    }
    let comparable_prior = comparable_current * 1000 / g.growth_permille;
    for ((i, m), v) in comparable_index.into_iter().zip(apportion(comparable_prior, &comparable_raw)) {
        prior[i][m] = v;
    }
    for (i, f) in g.firms.iter().enumerate() {
        for m in 0..12 {
            for (year, values, active) in [(2021, &prior, f.active[0]), (2022, &current, f.active[1])] {
                if active && values[i][m] > 0 {
                    out.push(IndicatorRow {
                        row: 0,
                        credit_code: f.row.credit_code.clone(),
                        period: p(year, m as i8 + 1),
                        indicator: g.indicator.into(),
                        value: values[i][m] * g.step,
                    });
                }
            }
        }
    }
    out
}

/// Derived monthly values (revenue from output, headcount as a stock) for firms with figures.
fn derived_values(
    rng: &mut ChaCha8Rng,
    firms: &[&Firm],
    base: &[IndicatorRow],
    indicator: &'static str,
    per_mille: std::ops::Range<i128>,
) -> Vec<IndicatorRow> {
    let factors: std::collections::HashMap<&str, i128> = firms.iter().map(|f| (f.row.credit_code.as_str(), rng.gen_range(per_mille.clone()))).collect();
    base.iter()
        .filter_map(|r| {
            factors.get(r.credit_code.as_str()).map(|f| IndicatorRow {
                indicator: indicator.into(),
                value: r.value * f / 1000 / 100 * 100,
                ..r.clone()
            })
        })
        .collect()
}

fn headcounts(rng: &mut ChaCha8Rng, firms: &[&Firm], sizes: &[i128]) -> Vec<IndicatorRow> {
    let mut out = Vec::new();
    for (f, size) in firms.iter().zip(sizes) {
        let mut n = *size;
        for (year, active) in [(2021i16, f.active[0]), (2022, f.active[1])] {
            for m in 1..=12 {
                n = (n * rng.gen_range(985..1020) / 1000).max(5);
                if active {
                    out.push(IndicatorRow {
                        row: 0,
                        credit_code: f.row.credit_code.clone(),
                        period: p(year, m),
                        indicator: "employees".into(),
                        value: n * 100,
                    });
                }
            }
        }
    }
    out
}

async fn import<T>(result: std::result::Result<T, ImportFailure>) -> Result<T> {
    result.map_err(|e| match e {
        ImportFailure::Store(e) => e,
        rows => StoreError::Config(format!("the demo built a file the importer refused: {rows}")),
    })
}

/// What the economy part of the demo created.
#[derive(Debug, Clone, Default)]
pub struct EconomySummary {
    pub market_entities: usize,
    pub enterprises: usize,
    pub indicator_rows: usize,
    pub projects: usize,
}

pub async fn load(store: &Store, rng: &mut ChaCha8Rng, plan: &Plan) -> Result<EconomySummary> {
    let actor = Actor::Cli("demo".into());
    let mut firms: Vec<Firm> = Vec::new();
    let mut next_org = 0usize;
    let mut code = |rng: &mut ChaCha8Rng| {
        next_org += 1;
        credit_code_with_org(rng, "91", next_org)
    };
    let firm = |row: EnterpriseRow, weight: i128, active: [bool; 2]| Firm { row, weight, active };
    let ent = |credit_code: CreditCode, name: String, industry: &str, above_size: bool, park: Option<&str>, registered: Date| EnterpriseRow {
        credit_code,
        name,
        industry: industry.into(),
        above_size,
        park: park.map(str::to_string),
        tags: Vec::new(),
        registered,
    };

    // Two vehicle makers, then the other industrial enterprises above designated size.
    for (i, (industry, weight)) in [("C3611", 7), ("C3612", 3)].into_iter().enumerate() {
        let c = code(rng);
        let name = format!("{}汽车制造有限公司（虚构）", ["华晨东方", "沈东新能源"][i]);
        firms.push(firm(
            ent(c, name, industry, true, Some(PARKS[0]), date(2003 + i as i16 * 12, 6, 18)),
            weight,
            [true, true],
        ));
    }
    let industrial_start = firms.len();
    for i in 0..398 {
        let (industry, trade) = if i < 60 { INDUSTRIES[0] } else { INDUSTRIES[1 + i % (INDUSTRIES.len() - 1)] };
        // About 16 opened in late 2021 (figures from 2022) and 14 closed at the end of 2021.
        let active = if i % 25 == 3 {
            [false, true]
        } else if i % 28 == 5 {
            [true, false]
        } else {
            [true, true]
        };
        let registered = if active[0] {
            random_date(rng, date(1995, 1, 1), date(2020, 12, 31))
        } else {
            random_date(rng, date(2021, 9, 1), date(2021, 12, 20))
        };
        let weight = (rng.gen_range(10..100i128)).pow(2);
        let c = code(rng);
        let name = firm_name(rng, i, trade, "有限公司");
        firms.push(firm(ent(c, name, industry, true, Some(PARKS[i % 4]), registered), weight, active));
    }
    let retail_start = firms.len();
    let retail_trades = [
        ("F5211", "百货"),
        ("F5212", "超市"),
        ("F5261", "汽车销售"),
        ("F5271", "家电"),
        ("F5281", "家居建材"),
    ];
    for i in 0..150 {
        let (industry, trade) = retail_trades[i % retail_trades.len()];
        let active = if i % 30 == 7 {
            [false, true]
        } else if i % 37 == 11 {
            [true, false]
        } else {
            [true, true]
        };
        let registered = if active[0] {
            random_date(rng, date(1998, 1, 1), date(2020, 12, 31))
        } else {
            random_date(rng, date(2021, 9, 1), date(2021, 12, 20))
        };
        let c = code(rng);
        let name = firm_name(rng, i, trade, "商贸有限公司");
        firms.push(firm(
            ent(c, name, industry, true, Some(PARKS[4 + i % 2]), registered),
            rng.gen_range(5..60i128).pow(2),
            active,
        ));
    }
    let small_start = firms.len();
    let small_trades = [
        ("I6513", "软件"),
        ("M7320", "研发"),
        ("C3971", "微电子"),
        ("M7517", "技术服务"),
        ("I6450", "数据"),
    ];
    for i in 0..320 {
        let (industry, trade) = small_trades[i % small_trades.len()];
        let registered = random_date(rng, date(2008, 1, 1), date(2022, 6, 30));
        let c = code(rng);
        let name = firm_name(rng, i, trade, "科技有限公司");
        firms.push(firm(
            ent(c, name, industry, false, Some(PARKS[3]), registered),
            rng.gen_range(1..20i128),
            [registered.year() < 2021, true],
        ));
    }

    // Pools, with the date each firm entered them; some entered after August 2022.
    let tag = |firms: &mut Vec<Firm>, i: usize, t: &str, entered: Date| {
        firms[i].row.tags.push(TagEntry {
            tag: t.into(),
            entered: Some(entered),
        })
    };
    let small: Vec<usize> = (small_start..firms.len()).collect();
    for (k, &i) in small.iter().take(plan.tech_sme + 10).enumerate() {
        let entered = if k < plan.tech_sme {
            random_date(rng, date(2019, 3, 1), date(2022, 8, 31))
        } else {
            random_date(rng, date(2022, 9, 1), date(2022, 12, 31))
        };
        tag(&mut firms, i, "tech_sme", entered);
    }
    let high_tech: Vec<usize> = small.iter().rev().take(160).copied().chain(industrial_start..industrial_start + 20).collect();
    for (k, &i) in high_tech.iter().enumerate() {
        let entered = if k < plan.new_high_tech {
            random_date(rng, date(2022, 1, 1), date(2022, 8, 31))
        } else if k < plan.new_high_tech + 8 {
            random_date(rng, date(2022, 9, 1), date(2022, 12, 31))
        } else {
            random_date(rng, date(2018, 1, 1), date(2021, 12, 31))
        };
        tag(&mut firms, i, "high_tech", entered);
    }
    for (t, n, later) in [
        ("eaglet", plan.eaglet, 2usize),
        ("gazelle", plan.gazelle, 1),
        ("little_giant_national", plan.little_giants, 0),
        ("little_giant_provincial", plan.little_giants, 1),
    ] {
        let offset = rng.gen_range(0..40);
        for k in 0..n + later {
            let i = small[(offset + k * 7 + t.len()) % small.len()];
            let entered = if k < n {
                random_date(rng, date(2019, 1, 1), date(2022, 8, 31))
            } else {
                random_date(rng, date(2022, 9, 1), date(2022, 12, 31))
            };
            if !firms[i].row.tags.iter().any(|e| e.tag == t) {
                tag(&mut firms, i, t, entered);
            } else {
                tag(&mut firms, small[(k * 13 + 5) % small.len()], t, entered);
            }
        }
    }
    for i in (0..2).chain(industrial_start..industrial_start + 30).chain(retail_start..retail_start + 10) {
        tag(&mut firms, i, "key", date(2021, 1, 1));
    }
    for f in firms.iter_mut() {
        let mut seen = std::collections::HashSet::new();
        f.row.tags.retain(|t| seen.insert(t.tag.clone()));
    }

    let rows: Vec<EnterpriseRow> = firms.iter().map(|f| f.row.clone()).collect();
    import(store.import_enterprises(&actor, "demo-enterprises.csv", "demo", &rows).await).await?;

    // Figures.
    let makers: Vec<&Firm> = firms[..industrial_start].iter().collect();
    let industrial: Vec<&Firm> = firms[industrial_start..retail_start].iter().collect();
    let retail: Vec<&Firm> = firms[retail_start..small_start].iter().collect();
    let smalls: Vec<&Firm> = firms[small_start..].iter().collect();
    let mut values = Vec::new();
    let maker_output = group_values(
        rng,
        &Group {
            firms: makers.clone(),
            indicator: "industrial_output",
            total_ytd: plan.vehicle_makers_output_fen,
            growth_permille: plan.industrial_growth_permille,
            spread_permille: 3,
            step: 1,
        },
    );
    let other_output = group_values(
        rng,
        &Group {
            firms: industrial.clone(),
            indicator: "industrial_output",
            total_ytd: plan.industrial_output_fen - plan.vehicle_makers_output_fen,
            growth_permille: plan.industrial_growth_permille,
            spread_permille: 80,
            step: 1,
        },
    );
    let vehicles = group_values(
        rng,
        &Group {
            firms: makers.clone(),
            indicator: "vehicles",
            total_ytd: plan.vehicles_units * 100,
            growth_permille: 1025,
            spread_permille: 10,
            step: 100,
        },
    );
    let retail_sales = group_values(
        rng,
        &Group {
            firms: retail.clone(),
            indicator: "retail_sales",
            total_ytd: plan.retail_sales_fen,
            growth_permille: plan.retail_growth_permille,
            spread_permille: 90,
            step: 1,
        },
    );
    let all_industrial: Vec<&Firm> = makers.iter().chain(industrial.iter()).copied().collect();
    let output: Vec<IndicatorRow> = maker_output.iter().chain(other_output.iter()).cloned().collect();
    values.extend(derived_values(rng, &all_industrial, &output, "revenue", 950..1100));
    values.extend(derived_values(rng, &retail, &retail_sales, "revenue", 1030..1150));
    let investing: Vec<&Firm> = all_industrial.iter().step_by(3).copied().collect();
    values.extend(derived_values(rng, &investing, &output, "investment", 30..120));
    let sizes: Vec<i128> = all_industrial
        .iter()
        .map(|f| {
            if f.weight < 20 {
                16_000 / (f.weight.max(1) / 3 + 1)
            } else {
                (f.weight / 20).clamp(30, 2500)
            }
        })
        .collect();
    values.extend(headcounts(rng, &all_industrial, &sizes));
    let retail_sizes: Vec<i128> = retail.iter().map(|f| (f.weight / 10).clamp(20, 800)).collect();
    values.extend(headcounts(rng, &retail, &retail_sizes));
    let small_sizes: Vec<i128> = smalls.iter().map(|f| f.weight * 4 + 10).collect();
    values.extend(headcounts(rng, &smalls, &small_sizes));
    let small_revenue: Vec<IndicatorRow> = smalls
        .iter()
        .flat_map(|f| {
            let base = f.weight * rng.gen_range(20..60) * 1_000_000;
            let active = f.active;
            let code = f.row.credit_code.clone();
            (0..24).filter(move |k| active[k / 12]).map(move |k| IndicatorRow {
                row: 0,
                credit_code: code.clone(),
                period: p(2021 + (k / 12) as i16, (k % 12) as i8 + 1),
                indicator: "revenue".into(),
                value: base * SEASON[k % 12] / 1000,
            })
        })
        .collect();
    values.extend(small_revenue);
    values.extend(maker_output);
    values.extend(other_output);
    values.extend(vehicles);
    values.extend(retail_sales);
    let indicator_rows = values.len();
    import(store.import_indicators(&actor, "demo-indicators.csv", "demo", &values).await).await?;

    // The other eight urban districts' published cumulative figures for every month of 2022.
    let districts: Vec<(&str, &str)> = dadong_domain::SHENYANG_DISTRICTS_CSV
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?, f.next()?))
        })
        .filter(|(code, _)| *code != DADONG_DIVISION)
        .collect();
    let mut district_rows = Vec::new();
    for (_, name) in &districts {
        let industry_size = rng.gen_range(300..2500i128) * 100_000_000 * 100 / 12;
        let retail_size = rng.gen_range(80..400i128) * 100_000_000 * 100 / 12;
        let (g_ind, g_ret) = (rng.gen_range(-60..120i64), rng.gen_range(-90..60i64));
        for m in 1..=12 {
            for (indicator, size, growth) in [("industrial_output", industry_size, g_ind), ("retail_sales", retail_size, g_ret)] {
                let month_growth = growth + rng.gen_range(-4..=4);
                district_rows.push(DistrictRow {
                    district: name.to_string(),
                    period: p(2022, m),
                    indicator: indicator.into(),
                    total: size * m as i128 / 100 * 100,
                    growth_tenths: Some(month_growth),
                });
            }
        }
    }
    import(store.import_districts(&actor, "demo-districts.csv", "demo", &district_rows).await).await?;

    let projects = projects(rng);
    let project_count = projects.len();
    import(store.import_projects(&actor, "demo-projects.csv", "demo", &projects).await).await?;

    // The lightweight registry: companies and individual businesses, some registered after
    // August 2022 and some deregistered before it, so that the count is a count.
    let profiles_by_aug = firms.iter().filter(|f| f.row.registered <= date(2022, 8, 31)).count();
    let mut entities = Vec::new();
    let lightweight = plan.market_entities - profiles_by_aug;
    for k in 0..lightweight + 1_800 + 2_400 {
        let individual = k % 3 != 0;
        let (registered, deregistered) = if k < lightweight {
            (random_date(rng, date(1995, 1, 1), date(2022, 8, 31)), None)
        } else if k < lightweight + 1_800 {
            (random_date(rng, date(2022, 9, 1), date(2026, 10, 31)), None)
        } else {
            let r = random_date(rng, date(2005, 1, 1), date(2020, 12, 31));
            (r, Some(random_date(rng, date(2021, 1, 1), date(2022, 8, 31)).to_string()))
        };
        let c = credit_code_with_org(rng, if individual { "92" } else { "91" }, 100_000 + k);
        let name = if individual {
            format!("大东区个体工商户{k:05}（虚构）")
        } else {
            format!("沈阳虚构市场主体{k:05}有限公司")
        };
        entities.push((
            c.to_string(),
            name,
            if individual { "individual" } else { "company" }.to_string(),
            registered.to_string(),
            deregistered,
        ));
    }
    store.add_market_entities(&actor, &entities).await?;
    Ok(EconomySummary {
        market_entities: entities.len() + firms.len(),
        enterprises: firms.len(),
        indicator_rows,
        projects: project_count,
    })
}

/// Major projects with dates that make each one's story: signed, landed, started, completed.
fn projects(rng: &mut ChaCha8Rng) -> Vec<ProjectRow> {
    let mut out = Vec::new();
    let kinds = ["industrial", "industrial", "industrial", "commercial", "livelihood", "infrastructure"];
    let names = [
        "汽车零部件智能制造基地",
        "新能源电池配套项目",
        "智能装备产业园",
        "商业综合体",
        "老旧小区改造",
        "城市道路提升工程",
        "数字经济产业园",
        "冷链物流中心",
    ];
    let mut push = |rng: &mut ChaCha8Rng, over: bool, signed: Option<Date>, landed: Option<Date>, started: Option<Date>, completed: Option<Date>| {
        let n = out.len() + 1;
        let investment = if over {
            rng.gen_range(10..500i128) * 10_000_000 * 100
        } else {
            rng.gen_range(10..99i128) * 1_000_000 * 100
        };
        let kind = kinds[rng.gen_range(0..kinds.len())];
        out.push(ProjectRow {
            project_id: format!("DD-{n:04}"),
            name: format!("{}{}（虚构）", SURNAMES[rng.gen_range(0..SURNAMES.len())], names[rng.gen_range(0..names.len())]),
            investment,
            industry: if kind == "industrial" { "C3670".into() } else { "E4813".into() },
            kind: kind.into(),
            signed,
            landed,
            started,
            completed,
        });
    };
    let d = date;
    // Finished before 2021.
    for _ in 0..20 {
        let v = sorted_dates(rng, 4, d(2017, 1, 1), d(2020, 12, 31));
        push(rng, true, Some(v[0]), Some(v[1]), Some(v[2]), Some(v[3]));
    }
    // Under way in 2021 and finished during 2021.
    for _ in 0..32 {
        let started = random_date(rng, d(2020, 3, 1), d(2020, 12, 31));
        let v = sorted_dates(rng, 2, d(2019, 1, 1), started);
        let completed = random_date(rng, d(2021, 2, 1), d(2021, 12, 31));
        push(rng, true, Some(v[0]), Some(v[1]), Some(started), Some(completed));
    }
    // Started by August 2021 and still under way in 2022.
    for k in 0..90 {
        let started = random_date(rng, d(2020, 6, 1), d(2021, 8, 31));
        let v = sorted_dates(rng, 2, d(2019, 6, 1), started);
        let completed = (k % 9 == 0).then(|| random_date(rng, d(2022, 9, 1), d(2022, 12, 31)));
        push(rng, true, Some(v[0]), Some(v[1]), Some(started), completed);
    }
    // Started between September 2021 and December 2021.
    for _ in 0..20 {
        let started = random_date(rng, d(2021, 9, 1), d(2021, 12, 31));
        let v = sorted_dates(rng, 2, d(2021, 1, 1), d(2021, 8, 31));
        push(rng, true, Some(v[0]), Some(v[1]), Some(started), None);
    }
    // Signed, landed and started within January to August 2022.
    for _ in 0..30 {
        let v = sorted_dates(rng, 3, d(2022, 1, 1), d(2022, 8, 31));
        push(rng, true, Some(v[0]), Some(v[1]), Some(v[2]), None);
    }
    // Signed late in 2021, landed and started in 2022.
    for _ in 0..5 {
        let v = sorted_dates(rng, 2, d(2022, 1, 1), d(2022, 8, 31));
        let signed = random_date(rng, d(2021, 9, 1), d(2021, 12, 31));
        push(rng, true, Some(signed), Some(v[0]), Some(v[1]), None);
    }
    // Signed in January to August 2022, started from September.
    for k in 0..25 {
        let signed = random_date(rng, d(2022, 1, 1), d(2022, 8, 31));
        let landed = if k < 20 {
            random_date(rng, signed, d(2022, 8, 31))
        } else {
            random_date(rng, d(2022, 9, 1), d(2022, 10, 31))
        };
        let started = random_date(rng, landed.max(d(2022, 9, 1)), d(2022, 12, 31));
        push(rng, true, Some(signed), Some(landed), Some(started.max(landed)), None);
    }
    // Signed in January to August 2022, not yet started.
    for k in 0..58 {
        let signed = random_date(rng, d(2022, 1, 1), d(2022, 8, 31));
        let landed = (k < 12).then(|| random_date(rng, signed, d(2022, 8, 31)));
        push(rng, true, Some(signed), landed, None, None);
    }
    // Smaller projects, under 100 million yuan, all through the two years.
    for _ in 0..60 {
        let v = sorted_dates(rng, 3, d(2021, 1, 1), d(2022, 12, 31));
        push(rng, false, Some(v[0]), Some(v[1]), Some(v[2]), None);
    }
    out
}
