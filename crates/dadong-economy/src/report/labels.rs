//! Chinese names for the codes a bulletin carries: GB/T 4754-2017 industries, pools (tags) and
//! project stages. Unknown codes are shown as they are, never dropped.

/// The sections (门类) of GB/T 4754-2017.
const SECTIONS: &[(&str, &str)] = &[
    ("A", "农、林、牧、渔业"),
    ("B", "采矿业"),
    ("C", "制造业"),
    ("D", "电力、热力、燃气及水生产和供应业"),
    ("E", "建筑业"),
    ("F", "批发和零售业"),
    ("G", "交通运输、仓储和邮政业"),
    ("H", "住宿和餐饮业"),
    ("I", "信息传输、软件和信息技术服务业"),
    ("J", "金融业"),
    ("K", "房地产业"),
    ("L", "租赁和商务服务业"),
    ("M", "科学研究和技术服务业"),
    ("N", "水利、环境和公共设施管理业"),
    ("O", "居民服务、修理和其他服务业"),
    ("P", "教育"),
    ("Q", "卫生和社会工作"),
    ("R", "文化、体育和娱乐业"),
    ("S", "公共管理、社会保障和社会组织"),
    ("T", "国际组织"),
];

/// The divisions (大类) a district's industrial and retail figures mostly fall in: all of
/// manufacturing, and trade and catering.
const DIVISIONS: &[(&str, &str)] = &[
    ("C13", "农副食品加工业"),
    ("C14", "食品制造业"),
    ("C15", "酒、饮料和精制茶制造业"),
    ("C16", "烟草制品业"),
    ("C17", "纺织业"),
    ("C18", "纺织服装、服饰业"),
    ("C19", "皮革、毛皮、羽毛及其制品和制鞋业"),
    ("C20", "木材加工和木、竹、藤、棕、草制品业"),
    ("C21", "家具制造业"),
    ("C22", "造纸和纸制品业"),
    ("C23", "印刷和记录媒介复制业"),
    ("C24", "文教、工美、体育和娱乐用品制造业"),
    ("C25", "石油、煤炭及其他燃料加工业"),
    ("C26", "化学原料和化学制品制造业"),
    ("C27", "医药制造业"),
    ("C28", "化学纤维制造业"),
    ("C29", "橡胶和塑料制品业"),
    ("C30", "非金属矿物制品业"),
    ("C31", "黑色金属冶炼和压延加工业"),
    ("C32", "有色金属冶炼和压延加工业"),
    ("C33", "金属制品业"),
    ("C34", "通用设备制造业"),
    ("C35", "专用设备制造业"),
    ("C36", "汽车制造业"),
    ("C37", "铁路、船舶、航空航天和其他运输设备制造业"),
    ("C38", "电气机械和器材制造业"),
    ("C39", "计算机、通信和其他电子设备制造业"),
    ("C40", "仪器仪表制造业"),
    ("C41", "其他制造业"),
    ("C42", "废弃资源综合利用业"),
    ("C43", "金属制品、机械和设备修理业"),
    ("F51", "批发业"),
    ("F52", "零售业"),
    ("H61", "住宿业"),
    ("H62", "餐饮业"),
];

/// The Chinese name of an industry code's division (`C3612` → 汽车制造业), else its section,
/// else `None`.
pub fn industry_name(code: &str) -> Option<&'static str> {
    let division = code.get(..3).and_then(|d| DIVISIONS.iter().find(|(c, _)| *c == d));
    let section = code.get(..1).and_then(|s| SECTIONS.iter().find(|(c, _)| *c == s));
    division.or(section).map(|(_, name)| *name)
}

/// An industry as a chart or table shows it: `C36 汽车制造业`, or the code alone.
pub fn industry_label(code: &str) -> String {
    match industry_name(code) {
        Some(name) => format!("{code} {name}"),
        None => code.to_string(),
    }
}

/// The Chinese name of a pool (SPEC section 3's tags).
pub fn tag_name(tag: &str) -> &str {
    match tag {
        "tech_sme" => "科技型中小企业",
        "high_tech" => "高新技术企业",
        "eaglet" => "雏鹰企业",
        "gazelle" => "瞪羚企业",
        "little_giant_national" => "国家级专精特新“小巨人”企业",
        "little_giant_provincial" => "省级专精特新“小巨人”企业",
        "key" => "骨干企业",
        other => other,
    }
}

/// The Chinese name of a project stage in `ProjectFigures::by_stage`.
pub fn stage_name(stage: &str) -> &str {
    match stage {
        "signed" => "签约",
        "landed" => "落地",
        "started" => "开复工",
        "completed" => "竣工",
        other => other,
    }
}

/// What the record-month clause calls an indicator's monthly figure: 8月份产值创历史新高.
pub fn monthly_figure_name<'a>(code: &str, name_zh: &'a str) -> &'a str {
    match code {
        "industrial_output" => "产值",
        "retail_sales" => "零售额",
        "revenue" => "营业收入",
        "vehicles" => "整车产量",
        "investment" => "投资额",
        "employees" => "从业人员数",
        _ => name_zh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn industry_codes_get_their_division_or_section_name() {
        assert_eq!(industry_label("C36"), "C36 汽车制造业");
        assert_eq!(industry_label("C3612"), "C3612 汽车制造业");
        assert_eq!(industry_label("K70"), "K70 房地产业");
        assert_eq!(industry_label("Z99"), "Z99");
        assert_eq!(industry_label("其他"), "其他");
    }
}
