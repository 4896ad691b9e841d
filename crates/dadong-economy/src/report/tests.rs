//! The write-up of a small hand-made bulletin: JSON keys and values, prose wording, charts that
//! parse as XML, Markdown and HTML tables, and a workbook that reads back.

use super::*;
use crate::model::{Aggregation, Breakdown, EnterpriseFigures, Indicator, MonthPoint};
use dadong_domain::Period;

fn period(y: i16, m: i8) -> Period {
    Period::new(y, m).unwrap()
}

fn indicator(code: &str, name_zh: &str, unit: &str) -> Indicator {
    Indicator {
        code: code.into(),
        name_zh: name_zh.into(),
        name_en: code.into(),
        unit: unit.into(),
        aggregation: Aggregation::Flow,
    }
}

fn row(key: &str, total: i128, growth: Option<&str>) -> Breakdown {
    Breakdown {
        key: key.into(),
        total,
        growth_pct: growth.map(str::to_string),
    }
}

/// 1251.3亿元 of output, +3.9%, first of nine, a record August; 28.2万辆, −1.2%, no rank.
fn bulletin() -> Bulletin {
    let mut industries = vec![row("C36", 9_000_000_000_000, Some("4.1")), row("A&B<C", 800_000_000_000, None)];
    for (i, code) in ["C33", "C34", "C35", "C38", "C39", "C40", "C29", "C30", "C26", "C27"].into_iter().enumerate() {
        industries.push(row(code, 200_000_000_000 - i as i128 * 10_000_000_000, Some("-0.5")));
    }
    let output = IndicatorFigures {
        indicator: indicator("industrial_output", "规模以上工业总产值", "yuan"),
        total: 12_513_000_000_000,
        month_total: 1_700_000_000_000,
        growth_pct: Some("3.9".into()),
        month_is_record: true,
        rank: Some(1),
        of: Some(9),
        months: vec![
            MonthPoint {
                period: period(2022, 6),
                total: 1_500_000_000_000,
                prior_total: Some(1_450_000_000_000),
            },
            MonthPoint {
                period: period(2022, 7),
                total: 1_600_000_000_000,
                prior_total: Some(1_550_000_000_000),
            },
            MonthPoint {
                period: period(2022, 8),
                total: 1_700_000_000_000,
                prior_total: None,
            },
        ],
        by_industry: industries,
        by_park: vec![row("东湖|园区", 5_000_000_000_000, Some("2.0"))],
        by_tag: vec![row("high_tech", 3_000_000_000_000, Some("10.0"))],
    };
    let vehicles = IndicatorFigures {
        indicator: indicator("vehicles", "整车产量", "units"),
        total: 28_200_000,
        month_total: 4_000_000,
        growth_pct: Some("-1.2".into()),
        month_is_record: false,
        rank: None,
        of: None,
        months: vec![MonthPoint {
            period: period(2022, 8),
            total: 4_000_000,
            prior_total: Some(4_100_000),
        }],
        by_industry: vec![row("C3611", 28_200_000, Some("-1.2"))],
        by_park: vec![],
        by_tag: vec![],
    };
    Bulletin {
        district: "大东区".into(),
        from: period(2022, 1),
        through: period(2022, 8),
        indicators: vec![output, vehicles],
        projects: ProjectFigures {
            started_over_100m: 145,
            started_over_100m_prior: 122,
            signed_over_100m: 113,
            signed_over_100m_prior: 100,
            landed_over_100m: 67,
            landed_over_100m_prior: 50,
            by_stage: vec![("signed".into(), 113), ("landed".into(), 67), ("started".into(), 145), ("completed".into(), 20)],
        },
        enterprises: EnterpriseFigures {
            market_entities: 81_000,
            tech_sme: 128,
            new_high_tech: 90,
            eaglet: 23,
            gazelle: 12,
            little_giant_national: 5,
            little_giant_provincial: 5,
        },
        vehicle_makers: 2,
        vehicle_makers_output: 10_822_000_000_000,
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[test]
fn the_json_has_the_spec_keys_types_and_values() {
    let v = to_json(&bulletin(), &Map::new());
    assert_eq!(
        keys(&v),
        ["district", "enterprises", "from", "indicators", "projects", "through", "vehicle_makers"]
    );
    assert_eq!(v["district"], "大东区");
    assert_eq!(v["from"], "2022-01");
    assert_eq!(v["through"], "2022-08");
    let inds = v["indicators"].as_array().unwrap();
    assert_eq!(inds.len(), 2);
    assert_eq!(keys(&inds[0]), ["code", "growth_pct", "month_is_record", "month_total", "of", "rank", "total"]);
    assert_eq!(inds[0]["code"], "industrial_output");
    assert_eq!(inds[0]["total"], "125130000000.00");
    assert_eq!(inds[0]["month_total"], "17000000000.00");
    assert_eq!(inds[0]["growth_pct"], "3.9");
    assert_eq!(inds[0]["month_is_record"], true);
    assert_eq!(inds[0]["rank"], 1);
    assert_eq!(inds[0]["of"], 9);
    assert_eq!(inds[1]["code"], "vehicles");
    assert_eq!(inds[1]["total"], "282000.00");
    assert_eq!(inds[1]["growth_pct"], "-1.2");
    assert!(inds[1]["rank"].is_null() && inds[1]["of"].is_null());
    let p = &v["projects"];
    assert_eq!(p["started_over_100m"], 145);
    assert_eq!(p["started_over_100m_prior"], 122);
    assert_eq!(p["signed_over_100m"], 113);
    assert_eq!(p["landed_over_100m"], 67);
    assert_eq!(p["started_change"], 23);
    assert_eq!(p["started_change_pct"], "18.9");
    let e = &v["enterprises"];
    for (k, n) in [
        ("market_entities", 81_000),
        ("tech_sme", 128),
        ("new_high_tech", 90),
        ("eaglet", 23),
        ("gazelle", 12),
    ] {
        assert_eq!(e[k], n, "{k}");
    }
    assert_eq!(v["vehicle_makers"]["count"], 2);
    assert_eq!(v["vehicle_makers"]["output"], "108220000000.00");
}

#[test]
fn the_json_growth_is_null_without_a_comparable_prior() {
    let mut b = bulletin();
    b.indicators[0].growth_pct = None;
    let v = to_json(&b, &Map::new());
    assert!(v["indicators"][0]["growth_pct"].is_null());
}

#[test]
fn extra_sections_are_merged_without_changing_the_stable_keys() {
    let extra = json!({
        "services": {"matters": 650, "fully_online_pct": "96.0"},
        "district": "somewhere else",
        "enterprises": {"market_entities": 1, "specialised_products": 40},
    });
    let v = to_json(&bulletin(), extra.as_object().unwrap());
    assert_eq!(v["services"]["matters"], 650);
    assert_eq!(v["district"], "大东区");
    assert_eq!(v["enterprises"]["market_entities"], 81_000);
    assert_eq!(v["enterprises"]["specialised_products"], 40);
}

#[test]
fn the_prose_reads_like_the_article_with_figures_from_the_bulletin() {
    let prose = prose_zh(&bulletin());
    assert_eq!(
        prose,
        [
            "1—8月，全区规模以上工业总产值完成1251.3亿元，同比增长3.9%，增速居九城区第1位，其中8月份产值创历史新高。\
             整车产量28.2万辆，同比下降1.2%，整车制造企业实现产值1082.2亿元。",
            "1—8月，全区亿元以上开复工项目145个，比去年同期增加23个，增长18.9%；签约亿元以上项目113个，落地67个。",
            "截至8月末，全区市场主体达到8.1万家；科技型中小企业128家，新增高新技术企业90家，雏鹰企业23家，瞪羚企业12家，\
             国家级专精特新“小巨人”企业5家，省级专精特新“小巨人”企业5家。",
        ]
    );
}

#[test]
fn the_prose_says_decrease_omits_a_missing_rank_and_record_and_skips_empty_indicators() {
    let mut b = bulletin();
    b.through = period(2022, 1);
    b.indicators[0].growth_pct = Some("-2.0".into());
    b.indicators[0].rank = None;
    b.indicators[0].of = None;
    b.indicators[0].month_is_record = false;
    b.indicators[1] = IndicatorFigures {
        total: 0,
        month_total: 0,
        growth_pct: None,
        months: vec![],
        ..b.indicators[1].clone()
    };
    b.projects.started_over_100m = 100;
    let prose = prose_zh(&b);
    assert_eq!(prose[0], "1月，全区规模以上工业总产值完成1251.3亿元，同比下降2.0%。");
    assert_eq!(
        prose[1],
        "1月，全区亿元以上开复工项目100个，比去年同期减少22个，下降18.0%；签约亿元以上项目113个，落地67个。"
    );
    assert!(prose.iter().all(|p| !p.contains("增速居") && !p.contains("整车")));
}

#[test]
fn the_rank_clause_names_the_number_of_districts_in_chinese() {
    let mut b = bulletin();
    b.indicators[0].rank = Some(3);
    b.indicators[0].of = Some(12);
    assert!(prose_zh(&b)[0].contains("增速居十二城区第3位"));
}

/// A small well-formedness check: balanced tags with one root, quoted attributes, and `&`
/// only as a known entity, so that a broken chart fails here rather than in a browser.
fn assert_well_formed(xml: &str) {
    fn check_entities(text: &str) {
        let mut rest = text;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').unwrap_or_else(|| panic!("unterminated entity in {text:?}"));
            let name = &after[..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || name.strip_prefix('#').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            assert!(ok, "bad entity &{name}; in {text:?}");
            rest = &after[end + 1..];
        }
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = xml.trim();
    while let Some(open) = rest.find('<') {
        check_entities(&rest[..open]);
        assert!(!stack.is_empty() || rest[..open].trim().is_empty(), "text outside the root");
        let tag_start = &rest[open + 1..];
        // The tag ends at the first '>' outside quotes.
        let mut quote = None;
        let close = tag_start
            .char_indices()
            .find(|&(_, c)| match quote {
                Some(q) if c == q => {
                    quote = None;
                    false
                }
                Some(_) => false,
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    false
                }
                None => c == '>',
            })
            .map(|(i, _)| i)
            .expect("unterminated tag");
        let tag = &tag_start[..close];
        rest = &tag_start[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
            continue;
        }
        assert!(!tag.starts_with('!') && !tag.starts_with('?'), "unexpected <{tag}>");
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = &body[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
            "bad tag <{tag}>"
        );
        let mut attrs = body[name_end..].trim_start();
        while !attrs.is_empty() {
            let eq = attrs.find('=').unwrap_or_else(|| panic!("attribute without value in <{tag}>"));
            let attr = attrs[..eq].trim();
            assert!(
                !attr.is_empty() && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                "bad attribute in <{tag}>"
            );
            let value = &attrs[eq + 1..];
            let q = value.chars().next().filter(|c| *c == '"' || *c == '\'').expect("unquoted attribute");
            let end = value[1..].find(q).expect("unterminated attribute") + 1;
            let v = &value[1..end];
            assert!(!v.contains('<'), "'<' in an attribute of <{tag}>");
            check_entities(v);
            attrs = value[end + 1..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    assert!(rest.trim().is_empty(), "text after the root");
    assert!(stack.is_empty(), "unclosed tags {stack:?}");
    assert_eq!(roots, 1, "one root element");
}

#[test]
fn the_well_formedness_check_catches_broken_markup() {
    assert_well_formed(r#"<svg a="1"><g><text>A &amp; B</text></g><rect/></svg>"#);
    for bad in ["<svg><g></svg>", "<svg>A & B</svg>", "<svg a=1/>", "<svg/><svg/>", r#"<svg a="<"/>"#] {
        assert!(std::panic::catch_unwind(|| assert_well_formed(bad)).is_err(), "{bad}");
    }
}

#[test]
fn every_chart_is_well_formed_svg_with_a_title_and_its_labels() {
    let b = bulletin();
    let months = chart_months_svg(&b.indicators[0]);
    let industry = chart_industry_svg(&b.indicators[0]);
    let projects = chart_projects_svg(&b.projects);
    for svg in [
        &months,
        &industry,
        &projects,
        &chart_months_svg(&b.indicators[1]),
        &chart_industry_svg(&b.indicators[1]),
    ] {
        assert_well_formed(svg);
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="#), "{svg}");
        assert!(svg.contains(r#"width="100%""#) && svg.contains("<title>") && svg.contains("Noto Sans CJK SC"));
    }
    for label in ["2022年", "2021年", "亿元", "6月", "8月", ">150<", "8月 2022年：170.0亿元"] {
        assert!(months.contains(label), "{label} missing from the months chart");
    }
    assert!(chart_months_svg(&b.indicators[1]).contains("万辆"));
    for label in ["C36 汽车制造业", "其他", "900.0亿元"] {
        assert!(industry.contains(label), "{label} missing from the industry chart");
    }
    // Eleven bars: the top ten and 其他.
    assert_eq!(industry.matches("<rect").count() - 1, 11);
    for label in ["签约", "落地", "开复工", "竣工", ">145<"] {
        assert!(projects.contains(label), "{label} missing from the projects chart");
    }
}

#[test]
fn chart_text_from_data_is_escaped() {
    let svg = chart_industry_svg(&bulletin().indicators[0]);
    assert!(svg.contains("A&amp;B&lt;C"));
    assert!(!svg.contains("A&B<C"));
    let mut ind = bulletin().indicators[0].clone();
    ind.indicator.name_zh = "产值 & <\"引号\">".into();
    let svg = chart_months_svg(&ind);
    assert_well_formed(&svg);
    assert!(svg.contains("产值 &amp; &lt;&quot;引号&quot;&gt;"));
}

#[test]
fn charts_without_data_say_so_and_stay_well_formed() {
    let mut ind = bulletin().indicators[1].clone();
    ind.months.clear();
    ind.by_industry.clear();
    for svg in [chart_months_svg(&ind), chart_industry_svg(&ind), chart_projects_svg(&ProjectFigures::default())] {
        assert_well_formed(&svg);
        assert!(svg.contains("暂无数据"));
    }
}

#[test]
fn the_markdown_has_the_prose_the_tables_and_a_file_for_every_chart_it_references() {
    let b = bulletin();
    let md = markdown(&b);
    assert!(md.starts_with("# 大东区2022年1—8月经济运行简报\n"));
    assert!(md.contains("全区规模以上工业总产值完成1251.3亿元"));
    assert!(md.contains("| 指标 | 单位 | 1—8月累计 | 8月 | 同比增长（%） | 8月创历史新高 | 增速排名 |"));
    assert!(md.contains("| 规模以上工业总产值 | 万元 | 12513000.00 | 1700000.00 | 3.9 | 是 | 1/9 |"));
    assert!(md.contains("| 整车产量 | 辆 | 282000 | 40000 | -1.2 | 否 | — |"));
    assert!(md.contains("| C36 汽车制造业 | 9000000.00 | 4.1 |"));
    assert!(md.contains("| A&amp;B&lt;C 农、林、牧、渔业 |"));
    assert!(md.contains("| 东湖\\|园区 | 5000000.00 | 2.0 |"));
    assert!(md.contains("| 高新技术企业 | 3000000.00 | 10.0 |"));
    assert!(md.contains("| 开复工亿元以上项目 | 145 | 122 | +23 | 18.9 |"));
    assert!(md.contains("| 市场主体 | 81000 |"));
    assert!(md.contains("| 整车制造企业产值（万元） | 10822000.00 |"));
    let files: Vec<String> = charts(&b).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        files,
        [
            "chart-months-industrial_output.svg",
            "chart-industry-industrial_output.svg",
            "chart-months-vehicles.svg",
            "chart-industry-vehicles.svg",
            "chart-projects.svg"
        ]
    );
    for f in &files {
        assert!(md.contains(&format!("]({f})")), "{f} not referenced");
    }
    assert_eq!(md.matches("](chart-").count(), files.len());
}

#[test]
fn the_html_is_standalone_with_inline_svg_and_the_same_tables() {
    let mut b = bulletin();
    b.district = "大东区<&>".into();
    let html = html(&b);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(r#"<html lang="zh-CN">"#));
    assert!(html.contains(r#"<meta name="viewport""#));
    assert_eq!(html.matches("<svg ").count(), charts(&b).len());
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<link") && !html.contains("<script") && !html.contains(" src="));
    assert!(
        html.contains("大东区&#60;&#38;&#62;") || html.contains("大东区&lt;&amp;&gt;"),
        "the district is escaped"
    );
    assert!(html.contains("全区规模以上工业总产值完成1251.3亿元"));
    assert!(html.contains(r#"<td class="num">12513000.00</td>"#));
    assert!(html.contains("<td>开复工亿元以上项目</td>"));
    // The inline charts keep their escaping once inside the page.
    assert!(html.contains("A&amp;B&lt;C"));
}

#[test]
fn the_workbook_reads_back_with_its_sheets_and_indicator_rows() {
    use calamine::{Data, Reader, open_workbook_auto_from_rs};
    let bytes = xlsx(&bulletin()).unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names(), ["指标", "行业", "园区", "标签", "月度", "项目", "市场主体"]);

    let sheet = wb.worksheet_range("指标").unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], Data::String("指标代码".into()));
    assert_eq!(rows[1][0], Data::String("industrial_output".into()));
    assert_eq!(rows[1][2], Data::String("元".into()));
    assert_eq!(rows[1][5], Data::Float(125_130_000_000.0));
    assert_eq!(rows[1][7], Data::Float(3.9));
    assert_eq!(rows[1][9], Data::Float(1.0));
    assert_eq!(rows[2][0], Data::String("vehicles".into()));
    assert_eq!(rows[2][5], Data::Float(282_000.0));
    assert_eq!(rows[2][7], Data::Float(-1.2));
    assert_eq!(rows[2][9], Data::Empty);

    let industry = wb.worksheet_range("行业").unwrap();
    assert_eq!(industry.rows().count(), 1 + 12 + 1);
    let months = wb.worksheet_range("月度").unwrap();
    assert_eq!(months.rows().count(), 1 + 3 + 1);
    let projects = wb.worksheet_range("项目").unwrap();
    let first: Vec<Data> = projects.rows().nth(1).unwrap().to_vec();
    assert_eq!(
        first[..5],
        [
            Data::String("开复工亿元以上项目".into()),
            Data::Float(145.0),
            Data::Float(122.0),
            Data::Float(23.0),
            Data::Float(18.9)
        ]
    );
    let pools = wb.worksheet_range("市场主体").unwrap();
    assert_eq!(pools.rows().nth(1).unwrap()[..2], [Data::String("市场主体".into()), Data::Float(81_000.0)]);
}
