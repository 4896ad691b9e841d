//! The bulletin as a document: title, prose, then sections of charts and tables. Markdown and
//! HTML are two renderings of the same `Doc`, so that they always show the same figures and
//! reference the same charts.

use super::labels::{industry_label, stage_name, tag_name};
use super::numbers::{growth_cell, period_label, table_display};
use super::prose::{self, has_data};
use super::svg;
use crate::model::{Breakdown, Bulletin, IndicatorFigures};
use dadong_domain::money::growth_pct;

pub struct Doc {
    pub title: String,
    pub meta: String,
    pub paragraphs: Vec<String>,
    pub sections: Vec<Section>,
}

pub struct Section {
    /// 2 for a section, 3 for a subsection.
    pub level: u8,
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// A chart or a table; a struct of options rather than an enum so that templates can test it
/// with `if let`.
pub struct Block {
    pub chart: Option<Chart>,
    pub table: Option<Table>,
}

pub struct Chart {
    pub file: String,
    pub alt: String,
    pub svg: String,
}

impl Chart {
    /// The SVG for inlining into HTML, where the namespace is implied.
    pub fn inline(&self) -> String {
        self.svg.replacen(svg::XMLNS_ATTR, "", 1)
    }
}

pub struct Table {
    pub headers: Vec<Cell>,
    pub rows: Vec<Vec<Cell>>,
}

pub struct Cell {
    pub text: String,
    /// Numbers are right-aligned.
    pub num: bool,
}

fn t(text: impl Into<String>) -> Cell {
    Cell { text: text.into(), num: false }
}

fn n(text: impl Into<String>) -> Cell {
    Cell { text: text.into(), num: true }
}

fn chart(file: String, alt: String, svg: String) -> Block {
    Block {
        chart: Some(Chart { file, alt, svg }),
        table: None,
    }
}

fn table(headers: Vec<Cell>, rows: Vec<Vec<Cell>>) -> Block {
    Block {
        chart: None,
        table: Some(Table { headers, rows }),
    }
}

/// An indicator code made safe for a file name; the shipped codes are already.
fn file_code(code: &str) -> String {
    code.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .collect()
}

pub fn months_file(code: &str) -> String {
    format!("chart-months-{}.svg", file_code(code))
}

pub fn industry_file(code: &str) -> String {
    format!("chart-industry-{}.svg", file_code(code))
}

pub const PROJECTS_FILE: &str = "chart-projects.svg";

pub fn build(b: &Bulletin) -> Doc {
    let label = period_label(b.from, b.through);
    let month = b.through.month();
    let mut sections = vec![Section {
        level: 2,
        heading: "主要指标".into(),
        blocks: vec![summary(b, &label, month)],
    }];
    for ind in b.indicators.iter().filter(|i| has_data(i)) {
        sections.extend(indicator_sections(ind));
    }
    sections.push(projects_section(b));
    sections.push(enterprises_section(b));
    Doc {
        title: format!("{}{}年{}经济运行简报", b.district, b.through.year(), label),
        meta: format!("统计期：{}至{}；规模以上（限额以上）企业口径，同比增速按同口径计算。", b.from, b.through),
        paragraphs: prose::paragraphs(b),
        sections,
    }
}

fn summary(b: &Bulletin, label: &str, month: i8) -> Block {
    let headers = vec![
        t("指标"),
        t("单位"),
        n(format!("{label}累计")),
        n(format!("{month}月")),
        n("同比增长（%）"),
        t(format!("{month}月创历史新高")),
        t("增速排名"),
    ];
    let rows = b
        .indicators
        .iter()
        .map(|i| {
            let d = table_display(&i.indicator.unit);
            let rank = match (i.rank, i.of) {
                (Some(r), Some(of)) => format!("{r}/{of}"),
                (Some(r), None) => r.to_string(),
                _ => "—".into(),
            };
            vec![
                t(i.indicator.name_zh.clone()),
                t(d.label),
                n(d.show(i.total)),
                n(d.show(i.month_total)),
                n(growth_cell(i.growth_pct.as_deref())),
                t(if i.month_is_record { "是" } else { "否" }),
                t(rank),
            ]
        })
        .collect();
    table(headers, rows)
}

fn breakdown_table(key_header: &str, unit: &str, rows: &[Breakdown], key_label: impl Fn(&str) -> String) -> Block {
    let d = table_display(unit);
    let headers = vec![t(key_header), n(format!("累计（{}）", d.label)), n("同比增长（%）")];
    let rows = rows
        .iter()
        .map(|r| vec![t(key_label(&r.key)), n(d.show(r.total)), n(growth_cell(r.growth_pct.as_deref()))])
        .collect();
    table(headers, rows)
}

fn indicator_sections(ind: &IndicatorFigures) -> Vec<Section> {
    let i = &ind.indicator;
    let d = table_display(&i.unit);
    let mut head = vec![chart(months_file(&i.code), format!("{}各月对比", i.name_zh), svg::months(ind))];
    if !ind.months.is_empty() {
        let rows = ind
            .months
            .iter()
            .map(|m| {
                let growth = m.prior_total.and_then(|p| growth_pct(m.total, p));
                vec![
                    t(format!("{}年{}月", m.period.year(), m.period.month())),
                    n(d.show(m.total)),
                    n(m.prior_total.map(|p| d.show(p)).unwrap_or_else(|| "—".into())),
                    n(growth_cell(growth.as_deref())),
                ]
            })
            .collect();
        let headers = vec![
            t("月份"),
            n(format!("本年（{}）", d.label)),
            n(format!("上年同月（{}）", d.label)),
            n("比上年同月（%）"),
        ];
        head.push(table(headers, rows));
    }
    let mut out = vec![Section {
        level: 2,
        heading: i.name_zh.clone(),
        blocks: head,
    }];
    if !ind.by_industry.is_empty() {
        out.push(Section {
            level: 3,
            heading: "分行业".into(),
            blocks: vec![
                chart(industry_file(&i.code), format!("{}分行业", i.name_zh), svg::industry(ind)),
                breakdown_table("行业", &i.unit, &ind.by_industry, industry_label),
            ],
        });
    }
    if !ind.by_park.is_empty() {
        out.push(Section {
            level: 3,
            heading: "分园区".into(),
            blocks: vec![breakdown_table("园区", &i.unit, &ind.by_park, str::to_string)],
        });
    }
    if !ind.by_tag.is_empty() {
        out.push(Section {
            level: 3,
            heading: "分企业培育库".into(),
            blocks: vec![breakdown_table("培育库", &i.unit, &ind.by_tag, |k| tag_name(k).to_string())],
        });
    }
    out
}

/// One row of the project table: this period, a year before, the change and its rate.
pub fn project_rows(b: &Bulletin) -> Vec<(&'static str, i64, i64)> {
    let p = &b.projects;
    vec![
        ("开复工亿元以上项目", p.started_over_100m, p.started_over_100m_prior),
        ("签约亿元以上项目", p.signed_over_100m, p.signed_over_100m_prior),
        ("落地亿元以上项目", p.landed_over_100m, p.landed_over_100m_prior),
    ]
}

fn signed(change: i64) -> String {
    if change > 0 { format!("+{change}") } else { change.to_string() }
}

fn projects_section(b: &Bulletin) -> Section {
    let rows = project_rows(b)
        .into_iter()
        .map(|(name, now, prior)| {
            let rate = growth_pct(now.into(), prior.into());
            vec![
                t(name),
                n(now.to_string()),
                n(prior.to_string()),
                n(signed(now - prior)),
                n(growth_cell(rate.as_deref())),
            ]
        })
        .collect();
    let headers = vec![t("类别"), n("本期（个）"), n("去年同期（个）"), n("增减（个）"), n("增长（%）")];
    let mut blocks = vec![table(headers, rows)];
    if !b.projects.by_stage.is_empty() {
        blocks.push(chart(PROJECTS_FILE.into(), "亿元以上项目按阶段".into(), svg::projects(&b.projects)));
        let rows = b.projects.by_stage.iter().map(|(s, c)| vec![t(stage_name(s)), n(c.to_string())]).collect();
        blocks.push(table(vec![t("阶段"), n("项目数（个）")], rows));
    }
    Section {
        level: 2,
        heading: "重大项目（亿元以上）".into(),
        blocks,
    }
}

/// The registry's counts and the vehicle makers, in the order of the article.
pub fn enterprise_rows(b: &Bulletin) -> Vec<(&'static str, i64)> {
    let e = &b.enterprises;
    vec![
        ("市场主体", e.market_entities),
        ("科技型中小企业", e.tech_sme),
        ("新增高新技术企业", e.new_high_tech),
        ("雏鹰企业", e.eaglet),
        ("瞪羚企业", e.gazelle),
        ("国家级专精特新“小巨人”企业", e.little_giant_national),
        ("省级专精特新“小巨人”企业", e.little_giant_provincial),
        ("整车制造企业", b.vehicle_makers),
    ]
}

fn enterprises_section(b: &Bulletin) -> Section {
    let mut rows: Vec<Vec<Cell>> = enterprise_rows(b).into_iter().map(|(name, c)| vec![t(name), n(c.to_string())]).collect();
    let yuan = table_display("yuan");
    rows.push(vec![t(format!("整车制造企业产值（{}）", yuan.label)), n(yuan.show(b.vehicle_makers_output))]);
    Section {
        level: 2,
        heading: "市场主体与企业培育库".into(),
        blocks: vec![table(vec![t("项目"), n("数量（家）")], rows)],
    }
}

/// Text for a Markdown table cell or paragraph: no line breaks, pipes escaped, and the
/// characters a renderer would take for HTML written as entities.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Alt text and link targets in `![alt](file)` may not contain brackets.
fn md_alt(text: &str) -> String {
    md(text).replace('[', "\\[").replace(']', "\\]")
}

pub fn markdown(doc: &Doc) -> String {
    let mut out = format!("# {}\n\n{}\n\n", md(&doc.title), md(&doc.meta));
    for p in &doc.paragraphs {
        out.push_str(&md(p));
        out.push_str("\n\n");
    }
    for s in &doc.sections {
        out.push_str(&format!("{} {}\n\n", "#".repeat(s.level.into()), md(&s.heading)));
        for block in &s.blocks {
            if let Some(c) = &block.chart {
                out.push_str(&format!("![{}]({})\n\n", md_alt(&c.alt), c.file));
            }
            if let Some(tb) = &block.table {
                let row = |cells: &[Cell]| format!("| {} |\n", cells.iter().map(|c| md(&c.text)).collect::<Vec<_>>().join(" | "));
                out.push_str(&row(&tb.headers));
                let rule: Vec<&str> = tb.headers.iter().map(|h| if h.num { "---:" } else { "---" }).collect();
                out.push_str(&format!("| {} |\n", rule.join(" | ")));
                for r in &tb.rows {
                    out.push_str(&row(r));
                }
                out.push('\n');
            }
        }
    }
    out
}
