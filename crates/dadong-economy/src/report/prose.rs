//! The bulletin's prose, modelled on the data paragraphs of the seed article: one paragraph for
//! the indicators, one for the projects, one for the registry and its pools.
//!
//! Every number comes from the `Bulletin`; a clause whose figure is missing is left out rather
//! than written with a zero or a guess.

use super::labels::monthly_figure_name;
use super::numbers::{count_of_firms, growth_words, parse_tenths, period_label, prose_display, tenths_abs, zh_numeral};
use crate::model::{Aggregation, Bulletin, IndicatorFigures};
use dadong_domain::money::growth_pct;

/// Whether an indicator has anything to say for the period; the SPEC lists only indicators
/// with values, but a caller may pass an empty one and the prose should not report a zero.
pub fn has_data(ind: &IndicatorFigures) -> bool {
    ind.total != 0 || ind.month_total != 0 || ind.growth_pct.is_some() || ind.months.iter().any(|m| m.total != 0)
}

pub fn paragraphs(b: &Bulletin) -> Vec<String> {
    let label = period_label(b.from, b.through);
    [indicators(b, &label), projects(b, &label), enterprises(b)].into_iter().flatten().collect()
}

fn indicators(b: &Bulletin, label: &str) -> Option<String> {
    let month = b.through.month();
    let sentences: Vec<String> = b.indicators.iter().filter(|i| has_data(i)).map(|i| indicator_sentence(b, i, month)).collect();
    if sentences.is_empty() {
        return None;
    }
    Some(format!("{label}，全区{}", sentences.concat()))
}

/// `规模以上工业总产值完成1251.3亿元，同比增长3.9%，增速居九城区第1位，其中8月份产值创历史新高。`
fn indicator_sentence(b: &Bulletin, ind: &IndicatorFigures, month: i8) -> String {
    let i = &ind.indicator;
    let amount = prose_display(&i.unit).show_with_unit(ind.total);
    let mut s = if i.code == "vehicles" {
        format!("{}{amount}", i.name_zh)
    } else if i.aggregation == Aggregation::Stock {
        format!("{}达到{amount}", i.name_zh)
    } else {
        format!("{}完成{amount}", i.name_zh)
    };
    if let Some(g) = &ind.growth_pct {
        s.push('，');
        s.push_str(&growth_words(g));
        if let Some(rank) = ind.rank {
            let among = ind.of.map(|n| format!("{}城区", zh_numeral(n))).unwrap_or_default();
            s.push_str(&format!("，增速居{among}第{rank}位"));
        }
    }
    if ind.month_is_record {
        s.push_str(&format!("，其中{month}月份{}创历史新高", monthly_figure_name(&i.code, &i.name_zh)));
    }
    if i.code == "vehicles" && b.vehicle_makers_output != 0 {
        s.push_str(&format!(
            "，整车制造企业实现产值{}",
            prose_display("yuan").show_with_unit(b.vehicle_makers_output)
        ));
    }
    s.push('。');
    s
}

/// `1—8月，全区亿元以上开复工项目145个，比去年同期增加23个，增长18.9%；签约亿元以上项目113个，落地67个。`
fn projects(b: &Bulletin, label: &str) -> Option<String> {
    let p = &b.projects;
    if p.started_over_100m == 0 && p.started_over_100m_prior == 0 && p.signed_over_100m == 0 && p.landed_over_100m == 0 {
        return None;
    }
    let mut s = format!("{label}，全区亿元以上开复工项目{}个", p.started_over_100m);
    let change = p.started_over_100m - p.started_over_100m_prior;
    let rate = growth_pct(p.started_over_100m.into(), p.started_over_100m_prior.into()).and_then(|g| parse_tenths(&g));
    if change > 0 {
        s.push_str(&format!("，比去年同期增加{change}个"));
        if let Some(t) = rate {
            s.push_str(&format!("，增长{}%", tenths_abs(t)));
        }
    } else if change < 0 {
        s.push_str(&format!("，比去年同期减少{}个", change.unsigned_abs()));
        if let Some(t) = rate {
            s.push_str(&format!("，下降{}%", tenths_abs(t)));
        }
    } else if p.started_over_100m_prior > 0 {
        s.push_str("，与去年同期持平");
    }
    match (p.signed_over_100m, p.landed_over_100m) {
        (0, 0) => {}
        (signed, 0) => s.push_str(&format!("；签约亿元以上项目{signed}个")),
        (0, landed) => s.push_str(&format!("；落地亿元以上项目{landed}个")),
        (signed, landed) => s.push_str(&format!("；签约亿元以上项目{signed}个，落地{landed}个")),
    }
    s.push('。');
    Some(s)
}

/// `截至8月末，全区市场主体达到8.1万家；科技型中小企业128家，新增高新技术企业90家，…`
fn enterprises(b: &Bulletin) -> Option<String> {
    let e = &b.enterprises;
    let pools: Vec<String> = [
        ("科技型中小企业", e.tech_sme),
        ("新增高新技术企业", e.new_high_tech),
        ("雏鹰企业", e.eaglet),
        ("瞪羚企业", e.gazelle),
        ("国家级专精特新“小巨人”企业", e.little_giant_national),
        ("省级专精特新“小巨人”企业", e.little_giant_provincial),
    ]
    .into_iter()
    .filter(|(_, n)| *n != 0)
    .map(|(name, n)| format!("{name}{n}家"))
    .collect();
    let entities = (e.market_entities != 0).then(|| format!("市场主体达到{}", count_of_firms(e.market_entities)));
    let body = match (entities, pools.is_empty()) {
        (None, true) => return None,
        (Some(m), true) => m,
        (None, false) => pools.join("，"),
        (Some(m), false) => format!("{m}；{}", pools.join("，")),
    };
    Some(format!("截至{}月末，全区{body}。", b.through.month()))
}
