//! The demo district's government services: a catalog of about 650 matters across the
//! departments, one-thing bundles composing most of them, and applications in every state from
//! 2021 up to today, each history decided by the lifecycle's own rules.
//!
//! The design says how many matters there are, which are fully online and which are in
//! bundles; the figures (fully-online share, matters in bundles, on-time rate, …) are then
//! counted by the store's general queries.

use std::collections::{BTreeMap, BTreeSet};

use dadong_domain::WorkCalendar;
use dadong_domain::money::Fen;
use dadong_services::bundle::{FieldKind, FieldTarget, FormField, StepDef};
use dadong_services::lifecycle::{self, Application, Event};
use dadong_services::{BundleDef, Channel, Level, Material, Matter, shipped_bundles, shipped_matters};
use dadong_store::services::{HALL_DEPARTMENT, HistoricApplication};
use dadong_store::{Actor, Result, Store};
use jiff::{Timestamp, ToSpan};
use rand::Rng;
use rand::seq::SliceRandom;

/// The catalog's design.
pub struct CatalogPlan {
    pub matters: usize,
    /// Matters not fully online (partly online or at the counter).
    pub not_fully_online: usize,
    /// Distinct matters composed into bundles.
    pub bundled: usize,
    /// Applications of the history.
    pub applications: usize,
}

/// About 650 matters, 96% fully online, 603 in bundles (the seed article).
pub const ARTICLE: CatalogPlan = CatalogPlan {
    matters: 650,
    not_fully_online: 26,
    bundled: 603,
    applications: 600,
};

#[derive(Debug, Clone)]
pub struct ServicesSummary {
    pub matters: usize,
    pub bundles: usize,
    pub applications: usize,
}

/// What each department's matters are about: (objects, kinds of matter).
const TOPICS: &[(&str, &[&str], &[&str])] = &[
    (
        "market",
        &[
            "个体工商户",
            "农民专业合作社",
            "食品经营",
            "特种设备",
            "广告发布",
            "计量器具",
            "股权出质",
            "企业名称",
        ],
        &["登记", "变更登记", "注销登记", "许可", "备案"],
    ),
    (
        "police",
        &[
            "居民身份证",
            "户口迁移",
            "出生登记",
            "临时身份证",
            "机动车",
            "驾驶证",
            "旅馆业特种行业",
            "大型活动",
        ],
        &["办理", "换领", "补领", "许可", "登记"],
    ),
    (
        "tax",
        &["增值税", "个人所得税", "企业所得税", "房产税", "印花税", "出口退税", "税务登记", "纳税信用"],
        &["申报", "减免备案", "证明开具", "退税", "变更"],
    ),
    (
        "bank",
        &["一般存款账户", "专用存款账户", "临时存款账户", "个人结算账户", "企业网银"],
        &["开立", "变更", "撤销", "签约"],
    ),
    (
        "hrss",
        &[
            "就业登记",
            "失业保险金",
            "养老保险",
            "工伤认定",
            "职业技能鉴定",
            "人才引进",
            "社会保障卡",
            "劳动合同备案",
        ],
        &["办理", "申领", "转移接续", "认定", "变更"],
    ),
    (
        "housing_fund",
        &["住房公积金", "公积金贷款", "缴存登记", "提取", "异地转移"],
        &["开户", "申请", "变更", "办理"],
    ),
    (
        "ndrc",
        &["企业投资项目", "政府投资项目", "节能审查", "价格", "粮食收购"],
        &["核准", "备案", "审批", "认定", "许可"],
    ),
    (
        "natural_resources",
        &["建设用地", "不动产", "测绘成果", "国有土地使用权", "规划条件"],
        &["规划许可", "登记", "审核", "出让", "核实"],
    ),
    (
        "construction",
        &["建筑工程", "施工图审查", "消防验收", "商品房预售", "物业服务", "城市道路占用"],
        &["施工许可", "备案", "验收", "许可", "审批"],
    ),
    (
        "ecology",
        &["环境影响评价", "排污许可", "危险废物", "辐射安全", "建设项目竣工环保"],
        &["审批", "登记", "备案", "许可", "验收"],
    ),
    (
        "miit",
        &["企业技术改造", "工业企业", "专精特新", "无线电台", "中小企业"],
        &["备案", "认定", "申报", "许可"],
    ),
    (
        "commerce",
        &["对外贸易经营者", "单用途预付卡", "再生资源回收", "拍卖企业", "成品油零售"],
        &["备案", "登记", "审批", "许可"],
    ),
    (
        "science",
        &["科技型中小企业", "高新技术企业", "技术合同", "科技成果", "研发费用"],
        &["评价", "认定", "登记", "备案", "补助申报"],
    ),
    (
        "finance",
        &["政府采购", "惠企资金", "会计代理记账", "非税收入"],
        &["备案", "拨付", "许可", "缴款"],
    ),
    (
        "statistics",
        &["统计调查项目", "统计执法", "名录库", "统计数据"],
        &["审批", "检查", "登记", "查询"],
    ),
    (
        "business_env",
        &["政务服务", "营商环境投诉", "帮办代办", "证明事项告知承诺"],
        &["受理", "办理", "评价", "核查"],
    ),
];

const MATERIAL_POOL: &[(&str, &str)] = &[
    ("applicant_id", "申请人身份证件"),
    ("application_form", "申请表"),
    ("business_licence", "营业执照"),
    ("premises", "场所使用证明"),
    ("authorization", "授权委托书"),
    ("plan", "方案或说明材料"),
    ("certificate", "相关资格证明"),
    ("contract", "合同或协议"),
];

const THEMES: &[&str] = &[
    "出生",
    "入学",
    "就业",
    "创业",
    "退休",
    "婚育",
    "身后",
    "开餐馆",
    "开超市",
    "开药店",
    "开书店",
    "开便利店",
    "开健身房",
    "开美容店",
    "开宾馆",
    "开网吧",
    "开诊所",
    "开幼儿园",
    "企业迁移",
    "企业注销",
    "员工招聘",
    "人才落户",
    "二手房转移",
    "新建住房",
    "工程建设",
    "技术改造",
    "高企认定",
    "外贸备案",
    "危废处置",
    "排污许可",
    "大型活动",
    "车辆登记",
    "公积金贷款",
    "社保转移",
    "退役军人服务",
    "残疾人服务",
    "老年人优待",
    "助学",
    "企业上市",
    "融资服务",
];

fn matters_for(plan: &CatalogPlan, rng: &mut impl Rng) -> Vec<Matter> {
    let mut matters = shipped_matters();
    let mut codes: BTreeSet<String> = matters.iter().map(|m| m.code.clone()).collect();
    let mut names: BTreeSet<String> = matters.iter().map(|m| m.name.clone()).collect();
    let mut round = 0;
    'fill: while matters.len() < plan.matters {
        for (department, objects, kinds) in TOPICS {
            if matters.len() >= plan.matters {
                break 'fill;
            }
            let object = objects[rng.gen_range(0..objects.len())];
            let kind = kinds[rng.gen_range(0..kinds.len())];
            let mut name = format!("{object}{kind}");
            if names.contains(&name) {
                name = format!("{object}{kind}（{}）", ["个人", "企业", "延续", "首次", "补正", "简易程序"][round % 6]);
            }
            if !names.insert(name.clone()) {
                continue;
            }
            let code = format!("{department}.m{:04}", codes.len());
            codes.insert(code.clone());
            let mut pool: Vec<&(&str, &str)> = MATERIAL_POOL.iter().filter(|(c, _)| *c != "business_licence").collect();
            pool.shuffle(rng);
            let materials = pool[..rng.gen_range(1..=3)]
                .iter()
                .map(|(c, n)| Material {
                    code: c.to_string(),
                    name: n.to_string(),
                    required: true,
                })
                .collect();
            matters.push(Matter {
                code,
                name,
                department: department.to_string(),
                legal_basis: format!("《{}管理办法》", object),
                materials,
                time_limit_days: [0, 1, 3, 5, 10, 15, 20][rng.gen_range(0..7)],
                fee: Fen::ZERO,
                level: Level::FullOnline,
                channels: [Channel::Platform, Channel::Community].into_iter().collect(),
            });
        }
        round += 1;
    }
    // The matters that cannot be done wholly online: among the generated ones.
    let mut generated: Vec<usize> = (shipped_matters().len()..matters.len()).collect();
    generated.shuffle(rng);
    let shipped_offline = matters.iter().filter(|m| m.level != Level::FullOnline).count();
    for &i in generated.iter().take(plan.not_fully_online.saturating_sub(shipped_offline)) {
        matters[i].level = if rng.gen_bool(0.5) { Level::PartlyOnline } else { Level::Counter };
        matters[i].channels = [Channel::Platform, Channel::Community, Channel::MobileHall].into_iter().collect();
    }
    matters
}

/// Themed bundles over `plan.bundled` distinct matters (the shipped bundles' included): each
/// starts with one matter, the rest in parallel after it, across departments.
fn bundles_for(plan: &CatalogPlan, matters: &[Matter], rng: &mut impl Rng) -> Vec<BundleDef> {
    let mut bundles = shipped_bundles();
    let in_shipped: BTreeSet<&str> = bundles.iter().flat_map(|b| b.steps.iter().map(|s| s.matter.as_str())).collect();
    let mut pool: Vec<&Matter> = matters.iter().filter(|m| !in_shipped.contains(m.code.as_str())).collect();
    pool.shuffle(rng);
    pool.truncate(plan.bundled.saturating_sub(in_shipped.len()));
    let mut n = 0;
    while !pool.is_empty() {
        let size = rng.gen_range(4..=10).min(pool.len());
        let group: Vec<&Matter> = pool.drain(..size).collect();
        let theme = THEMES[n % THEMES.len()];
        let name = if n < THEMES.len() {
            format!("{theme}一件事")
        } else {
            format!("{theme}一件事（{}）", n / THEMES.len() + 1)
        };
        let steps: Vec<StepDef> = group
            .iter()
            .enumerate()
            .map(|(i, m)| StepDef {
                id: format!("s{i}"),
                matter: m.code.clone(),
                department: m.department.clone(),
                needs: if i == 0 { Vec::new() } else { vec!["s0".to_string()] },
                produces: Vec::new(),
            })
            .collect();
        let form = vec![FormField {
            id: "applicant_name".into(),
            label: "申请人".into(),
            kind: FieldKind::Text,
            required: true,
            fills: group
                .iter()
                .map(|m| FieldTarget {
                    matter: m.code.clone(),
                    field: "applicant_name".into(),
                })
                .collect(),
        }];
        bundles.push(BundleDef {
            id: format!("theme_{n:03}"),
            name,
            steps,
            form,
        });
        n += 1;
    }
    bundles
}

/// Loads the catalog, the bundles and the applications' history up to `today`.
pub async fn load(store: &Store, rng: &mut impl Rng, plan: &CatalogPlan, applicants: &[i64], now: Timestamp) -> Result<ServicesSummary> {
    let actor = Actor::Cli("demo".into());
    let matters = matters_for(plan, rng);
    store.upsert_matters(&actor, &matters, "demo catalog", "-").await?;
    let bundles = bundles_for(plan, &matters, rng);
    let mut valid = BTreeMap::new();
    for b in &bundles {
        valid.insert(b.id.clone(), store.save_bundle(&actor, b).await?);
    }
    let calendar = WorkCalendar::national();
    let start = Timestamp::from_second(1_609_430_400).expect("2021-01-01 in range"); // 2021-01-01T00:00+08:00
    let span_s = (now.as_second() - start.as_second()).max(1);
    let bundle_ids: Vec<&String> = valid.keys().collect();
    let mut history = Vec::with_capacity(plan.applications);
    for i in 0..plan.applications {
        // A third open companies; the rest spread over the other bundles. The last tenth is
        // recent (the last two weeks), so today's queues hold live work.
        let id = if i % 3 == 0 {
            "open_company"
        } else {
            bundle_ids[rng.gen_range(0..bundle_ids.len())].as_str()
        };
        let bundle = &valid[id];
        let offset = if i % 10 == 9 {
            span_s - rng.gen_range(0..14 * 86_400)
        } else {
            rng.gen_range(0..span_s)
        };
        // Office hours: 8:30 to 17:00 Shanghai.
        let day = Timestamp::from_second(start.as_second() + offset - offset.rem_euclid(86_400)).expect("in range");
        let created = day + (30_600 + rng.gen_range(0..30_600i64)).seconds();
        if created >= now {
            continue;
        }
        let mut app = Application::draft(bundle);
        let provided: BTreeSet<String> = app.materials.iter().map(|m| m.code.clone()).collect();
        let mut t = created;
        let step = |t: Timestamp, rng: &mut dyn rand::RngCore| t + (rng.gen_range(600..14_400i64)).seconds();
        let apply = |app: &mut Application, event: Event, at: Timestamp| -> bool {
            if at >= now {
                return false;
            }
            match lifecycle::apply(app, event, at, calendar) {
                Ok(t) => {
                    *app = t.application;
                    true
                }
                Err(_) => false,
            }
        };
        let roll: f64 = rng.r#gen();
        let mut ratings = Vec::new();
        'life: {
            if roll < 0.05 {
                break 'life; // left as a draft
            }
            t = step(t, rng);
            if !apply(&mut app, Event::Submit { materials: provided.clone() }, t) {
                break 'life;
            }
            if roll < 0.10 {
                break 'life; // waiting for the hall
            }
            t = step(t, rng);
            if roll < 0.13 {
                apply(
                    &mut app,
                    Event::NotAccept {
                        reason: "不属于本部门受理范围".into(),
                    },
                    t,
                );
                break 'life;
            }
            if roll < 0.17 {
                apply(
                    &mut app,
                    Event::RequestCorrection {
                        items: vec!["申请表签字页缺失".into(), "场所证明不清晰".into()],
                    },
                    t,
                );
                break 'life;
            }
            if !apply(&mut app, Event::Accept, t) {
                break 'life;
            }
            // Departments work the steps as they become ready; a few are slow.
            let slow = roll > 0.93;
            let stop_early = roll < 0.30;
            loop {
                let ready: Vec<(String, String)> = app
                    .steps
                    .iter()
                    .filter(|s| s.state.code() == "ready")
                    .map(|s| (s.id.clone(), s.department.clone()))
                    .collect();
                if ready.is_empty() {
                    break;
                }
                let mut latest = t;
                for (k, (step_id, department)) in ready.iter().enumerate() {
                    if stop_early && k > 0 {
                        break 'life;
                    }
                    let begin = step(t, rng);
                    if !apply(
                        &mut app,
                        Event::StartStep {
                            step: step_id.clone(),
                            department: department.clone(),
                        },
                        begin,
                    ) {
                        break 'life;
                    }
                    let days = if slow { rng.gen_range(2..6) } else { rng.gen_range(0..2) };
                    let done = begin + (days * 86_400 + rng.gen_range(600..7_200i64)).seconds();
                    if roll > 0.985 {
                        apply(
                            &mut app,
                            Event::RefuseStep {
                                step: step_id.clone(),
                                department: department.clone(),
                                reason: "材料与实际不符".into(),
                            },
                            done,
                        );
                        break 'life;
                    }
                    if !apply(
                        &mut app,
                        Event::CompleteStep {
                            step: step_id.clone(),
                            department: department.clone(),
                        },
                        done,
                    ) {
                        break 'life;
                    }
                    latest = latest.max(done);
                }
                t = latest;
            }
            t = step(t, rng);
            if !apply(&mut app, Event::Deliver, t) {
                break 'life;
            }
            if rng.gen_bool(0.8) {
                let departments: BTreeSet<String> = app.steps.iter().map(|s| s.department.clone()).chain([HALL_DEPARTMENT.to_string()]).collect();
                for d in departments {
                    let level = match rng.gen_range(0..100) {
                        0..=2 => 2,
                        3 => 1,
                        4..=9 => 3,
                        10..=34 => 4,
                        _ => 5,
                    };
                    ratings.push((d, level, if level <= 2 { "办理时间较长".to_string() } else { String::new() }));
                }
            }
        }
        history.push(HistoricApplication {
            applicant_id: applicants[i % applicants.len()],
            kind: "bundle".into(),
            subject: id.to_string(),
            promised_days: bundle.critical_path_days(),
            app,
            created_at: created,
            ratings,
        });
    }
    store.import_application_history(&actor, "demo history", &history).await?;
    Ok(ServicesSummary {
        matters: matters.len(),
        bundles: bundles.len(),
        applications: history.len(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_has_every_department_the_shipped_bundles_and_the_hall_need() {
        let codes: Vec<&str> = crate::DEPARTMENTS.iter().map(|(code, _, _)| *code).collect();
        for needed in dadong_services::bundle::SHIPPED_DEPARTMENTS
            .iter()
            .chain([&dadong_store::services::HALL_DEPARTMENT])
        {
            assert!(codes.contains(needed), "the demo lacks department {needed}");
        }
        for (department, _, _) in super::TOPICS {
            assert!(codes.contains(department), "a catalog topic names department {department}");
        }
    }
}
