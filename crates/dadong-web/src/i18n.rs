//! The interface's words in Simplified Chinese (the default) and English.
//!
//! Every string a page shows comes from [`STRINGS`]; a test checks that each key has both
//! languages. The language is chosen by the `dadong_lang` cookie, set from the header's switch.

use dadong_domain::Role;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim() {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch in the header.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// `(key, 中文, English)`.
pub const STRINGS: &[(&str, &str, &str)] = &[
    ("app.name", "数字大东", "Digital Dadong"),
    (
        "app.tagline",
        "大东区经济运行与政务服务平台",
        "Dadong District economy and government services platform",
    ),
    ("lang.switch", "English", "中文"),
    ("nav.home", "首页", "Home"),
    ("nav.users", "用户管理", "Users"),
    ("nav.departments", "部门管理", "Departments"),
    ("nav.audit", "审计日志", "Audit log"),
    ("nav.logout", "退出", "Sign out"),
    ("nav.login", "登录", "Sign in"),
    ("login.title", "登录数字大东", "Sign in to Digital Dadong"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Sign in"),
    ("login.failed", "用户名或密码错误", "Wrong username or password"),
    ("login.throttled", "登录失败次数过多，请稍后再试", "Too many failed sign-ins; try again later"),
    ("home.welcome", "欢迎", "Welcome"),
    ("home.role", "角色", "Role"),
    ("home.scope", "工作范围", "Scope"),
    ("home.scope.district", "全区", "The whole district"),
    ("home.scope.department", "本部门", "Own department"),
    ("home.scope.company", "所代表企业", "Company acted for"),
    ("home.scope.assigned", "包保企业", "Assigned enterprises"),
    ("home.scope.own", "本人事项", "Own records"),
    ("home.scope.none", "暂无", "None yet"),
    ("home.available", "可用功能", "Available now"),
    ("home.duties", "职责", "Duties"),
    (
        "duty.citizen",
        "办理政务服务事项、查询进度并评价；领取和使用消费券。",
        "Apply for services, follow them and rate them; claim and spend consumption vouchers.",
    ),
    (
        "duty.enterprise",
        "代表本企业办理事项、提出诉求、申报惠企政策和月度数据。",
        "Act for your company: applications, appeals, policy benefits and monthly figures.",
    ),
    (
        "duty.merchant",
        "参加消费券活动：核销消费券、查看结算。",
        "Take part in voucher campaigns: redeem vouchers and see settlements.",
    ),
    (
        "duty.clerk",
        "办理本部门的政务服务事项和企业诉求工单。",
        "Work your department's service tasks and appeal tickets.",
    ),
    (
        "duty.cadre",
        "包保联系企业和项目：走访、记录、协调解决问题。",
        "Serve the enterprises and projects assigned to you: visits, logs, problems raised.",
    ),
    (
        "duty.analyst",
        "导入经济指标数据，生成经济运行简报。",
        "Import the economy's figures and produce the bulletin.",
    ),
    (
        "duty.leader",
        "查看全区数据、驾驶舱和日调度。",
        "Read the whole district's figures, dashboards and the dispatch board.",
    ),
    (
        "duty.admin",
        "管理用户、角色、部门、目录、活动和系统配置。",
        "Manage users, roles, departments, catalogs, campaigns and configuration.",
    ),
    ("tile.users", "创建和查看平台用户", "Create and list the platform's users"),
    ("tile.departments", "区政府各部门", "The district government's departments"),
    (
        "tile.audit",
        "所有状态变更的哈希链记录及校验",
        "Every change of state, hash-chained, and its check",
    ),
    ("users.title", "用户管理", "Users"),
    ("users.new", "新建用户", "New user"),
    ("users.created", "已创建用户", "Created user"),
    ("field.username", "用户名", "Username"),
    ("field.display_name", "姓名", "Name"),
    ("field.password", "初始密码", "Initial password"),
    ("field.role", "角色", "Role"),
    ("field.department", "部门", "Department"),
    ("field.company_code", "企业统一社会信用代码", "Company credit code"),
    ("field.phone", "手机号", "Mobile"),
    ("field.id_number", "身份证号", "Resident ID"),
    ("field.active", "状态", "Status"),
    ("field.code", "编码", "Code"),
    ("field.name_zh", "中文名称", "Chinese name"),
    ("field.name_en", "英文名称", "English name"),
    ("field.none", "（无）", "(none)"),
    ("status.active", "正常", "Active"),
    ("status.inactive", "停用", "Inactive"),
    ("form.create", "创建", "Create"),
    ("form.errors", "请修改以下内容：", "Please correct the following:"),
    ("departments.title", "部门管理", "Departments"),
    ("departments.new", "新建部门", "New department"),
    ("departments.created", "已创建部门", "Created department"),
    ("audit.title", "审计日志", "Audit log"),
    ("audit.verify", "校验哈希链", "Verify the chain"),
    ("audit.ok", "哈希链完整：已校验记录数", "The chain holds; records checked"),
    ("audit.broken", "哈希链被破坏", "The chain is broken"),
    ("audit.seq", "序号", "No."),
    ("audit.at", "时间", "Time"),
    ("audit.actor", "操作人", "Actor"),
    ("audit.action", "操作", "Action"),
    ("audit.object", "对象", "Object"),
    ("audit.after", "变更后", "After"),
    ("audit.older", "更早的记录", "Older records"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.back", "返回首页", "Back to the home page"),
    ("error.not_found", "页面不存在", "There is no such page"),
    ("error.forbidden", "您无权访问此页面", "You may not open this page"),
    ("error.csrf", "表单已过期，请返回重新提交", "The form has expired; go back and submit it again"),
    ("error.bad_request", "请求无效", "The request is not valid"),
    ("error.internal", "系统内部错误，已记录", "An internal error occurred and was logged"),
    ("error.too_large", "提交的内容过大", "What was sent is too large"),
    ("error.method", "不支持此请求方法", "This method is not allowed here"),
    ("nav.bulletin", "经济运行简报", "Bulletin"),
    ("nav.enterprises", "企业", "Enterprises"),
    ("nav.projects", "重大项目", "Projects"),
    ("nav.import", "数据导入", "Import"),
    (
        "tile.bulletin",
        "按月份查看全区经济运行简报并下载",
        "The district's economic bulletin by month, with downloads",
    ),
    (
        "tile.enterprises",
        "企业档案、培育库和指标历史",
        "Enterprise profiles, pools and indicator history",
    ),
    ("tile.projects", "重大项目及其推进阶段", "Major projects and their stages"),
    (
        "tile.import",
        "上传企业、指标、兄弟城区和项目数据文件",
        "Upload the enterprise, indicator, district and project files",
    ),
    ("word.yes", "是", "Yes"),
    ("word.no", "否", "No"),
    ("list.total", "共计", "Total"),
    ("list.page", "第", "Page"),
    ("list.pages", "分页", "Pages"),
    ("list.prev", "上一页", "Previous"),
    ("list.next", "下一页", "Next"),
    ("unit.yi_yuan", "亿元", "100 million yuan"),
    ("unit.yi_yuan_short", "亿元", "× 100M yuan"),
    ("unit.wan_yuan", "万元", "× 10k yuan"),
    ("unit.wan_units", "万辆", "10,000 vehicles"),
    ("unit.wan_persons", "万人", "10,000 persons"),
    ("unit.none", "—", "—"),
    ("tag.tech_sme", "科技型中小企业", "Tech-based SMEs"),
    ("tag.high_tech", "高新技术企业", "High-tech enterprises"),
    ("tag.eaglet", "雏鹰企业", "Eaglet enterprises"),
    ("tag.gazelle", "瞪羚企业", "Gazelle enterprises"),
    (
        "tag.little_giant_national",
        "国家级专精特新“小巨人”企业",
        "National specialised “little giants”",
    ),
    (
        "tag.little_giant_provincial",
        "省级专精特新“小巨人”企业",
        "Provincial specialised “little giants”",
    ),
    ("tag.key", "骨干企业", "Backbone enterprises"),
    ("bulletin.title", "经济运行简报", "Economic bulletin"),
    ("bulletin.through", "统计截至月份", "Through month"),
    ("bulletin.show", "查看", "Show"),
    (
        "bulletin.bad_through",
        "月份无效，请按 YYYY-MM 选择：",
        "That month is not valid; pick one as YYYY-MM:",
    ),
    (
        "bulletin.nothing_stored",
        "尚未导入任何指标数据，请由统计人员在“数据导入”页面上传。",
        "No indicator values are stored yet; an analyst uploads them on the import page.",
    ),
    ("bulletin.no_data", "本统计期没有指标数据：", "There are no indicator values for this period:"),
    ("bulletin.download", "下载", "Download"),
    (
        "bulletin.prose_in_chinese",
        "简报正文以中文撰写。",
        "The bulletin's text is written in Chinese.",
    ),
    (
        "bulletin.scope_note",
        "规模以上（限额以上）企业口径；同比增速按同口径计算，保留一位小数。",
        "Enterprises above designated size (above quota for retail); growth on comparable scope, to one decimal.",
    ),
    ("bulletin.indicators", "主要指标", "Main indicators"),
    ("bulletin.col.indicator", "指标", "Indicator"),
    ("bulletin.col.unit", "单位", "Unit"),
    ("bulletin.col.total", "累计", "Year to date"),
    ("bulletin.col.month", "当月", "Month"),
    ("bulletin.col.growth", "同比增长（%）", "Growth (%)"),
    ("bulletin.col.record", "当月创历史新高", "Record month"),
    ("bulletin.col.rank", "增速排名", "Growth rank"),
    ("bulletin.charts", "图表", "Charts"),
    ("bulletin.by_industry", "分行业", "By industry"),
    ("bulletin.projects", "重大项目（亿元以上）", "Major projects (over 100 million yuan)"),
    ("bulletin.projects.started", "开复工项目", "Started or resumed"),
    ("bulletin.projects.signed", "签约项目", "Signed"),
    ("bulletin.projects.landed", "落地项目", "Landed"),
    ("bulletin.col.now", "本期（个）", "This period"),
    ("bulletin.col.prior", "去年同期（个）", "A year earlier"),
    ("bulletin.col.change", "增减（个）", "Change"),
    ("bulletin.pools", "市场主体与企业培育库", "Market entities and enterprise pools"),
    ("bulletin.market_entities", "市场主体（家）", "Market entities"),
    ("bulletin.new_high_tech", "新增高新技术企业", "New high-tech enterprises"),
    ("bulletin.vehicle_makers", "整车制造企业", "Vehicle makers"),
    ("enterprises.title", "企业", "Enterprises"),
    ("enterprises.scoped", "仅显示您有权查看的企业。", "Only the enterprises you may see are listed."),
    ("enterprises.search", "名称或统一社会信用代码", "Name or credit code"),
    ("enterprises.search_button", "搜索", "Search"),
    ("enterprises.none", "没有可显示的企业。", "There are no enterprises to show."),
    ("enterprises.back", "返回企业列表", "Back to the enterprises"),
    ("enterprise.code", "统一社会信用代码", "Credit code"),
    ("enterprise.name", "企业名称", "Name"),
    ("enterprise.industry", "行业", "Industry"),
    ("enterprise.above_size", "规模以上", "Above designated size"),
    ("enterprise.park", "园区", "Park"),
    ("enterprise.registered", "注册日期", "Registered"),
    ("enterprise.pools", "企业培育库", "Pools"),
    ("enterprise.pool", "培育库", "Pool"),
    ("enterprise.entered", "入库日期", "Entered"),
    ("enterprise.no_pools", "未入任何培育库。", "In no pool."),
    ("enterprise.history", "指标历史", "Indicator history"),
    ("enterprise.no_values", "暂无指标数据。", "No indicator values yet."),
    ("enterprise.period", "月份", "Month"),
    ("projects.title", "重大项目", "Major projects"),
    ("projects.none", "暂无项目。", "No projects yet."),
    ("projects.back", "返回项目列表", "Back to the projects"),
    ("project.id", "项目编号", "Project ID"),
    ("project.name", "项目名称", "Name"),
    ("project.investment", "总投资", "Total investment"),
    ("project.industry", "行业", "Industry"),
    ("project.kind", "类型", "Kind"),
    ("project.stage", "当前阶段", "Current stage"),
    ("project.over_100m", "亿元以上项目", "Over 100 million yuan"),
    ("project.timeline", "推进历程", "Stage timeline"),
    ("project.no_stages", "暂无阶段记录。", "No stages recorded yet."),
    ("project.recorded", "记录于", "recorded"),
    ("project.kind.industrial", "工业项目", "Industrial"),
    ("project.kind.commercial", "商贸项目", "Commercial"),
    ("project.kind.livelihood", "民生项目", "Livelihood"),
    ("project.kind.infrastructure", "基础设施项目", "Infrastructure"),
    ("project.kind.other", "其他", "Other"),
    ("project.stage.signed", "签约", "Signed"),
    ("project.stage.landed", "落地", "Landed"),
    ("project.stage.started", "开工", "Started"),
    ("project.stage.completed", "竣工", "Completed"),
    ("project.stage.none", "未签约", "Not signed"),
    ("import.title", "数据导入", "Import"),
    ("import.upload", "上传文件", "Upload a file"),
    ("import.kind", "数据类型", "Kind"),
    ("import.kind.enterprises", "企业名录", "Enterprises"),
    ("import.kind.indicators", "月度指标", "Monthly indicators"),
    ("import.kind.districts", "兄弟城区数据", "Other districts' figures"),
    ("import.kind.projects", "重大项目", "Major projects"),
    ("import.file", "文件", "File"),
    (
        "import.hint",
        "CSV（UTF-8）或 XLSX，首行为下表所列列名；整份文件要么全部导入，要么全部不导入。文件上限",
        "CSV (UTF-8) or XLSX with the header below in its first row; a file is imported whole or not at all. At most",
    ),
    ("import.submit", "导入", "Import"),
    ("import.done", "已导入", "Imported"),
    ("import.rows", "行数", "Rows"),
    ("import.inserted", "新增", "new"),
    ("import.replaced", "替换", "replaced"),
    ("import.refused", "文件未导入，未保存任何数据。", "The file was refused; nothing was stored."),
    ("import.problems", "处问题", "problems"),
    ("import.row", "行", "Row"),
    ("import.column", "列", "Column"),
    ("import.value", "值", "Value"),
    ("import.reason", "原因", "Reason"),
    ("import.formats", "文件格式", "File formats"),
    ("import.recent", "最近导入", "Recent imports"),
    ("import.none_yet", "尚无导入记录。", "No imports yet."),
    (
        "import.choose_kind",
        "请选择数据类型：企业名录、月度指标、兄弟城区数据或重大项目。",
        "Choose the kind: enterprises, indicators, districts or projects.",
    ),
    ("import.choose_file", "请选择要上传的文件。", "Choose a file to upload."),
    // Vouchers (issue 5).
    ("nav.vouchers", "消费券", "Vouchers"),
    ("vouchers.title", "乐享大东 消费券活动", "Consumption voucher campaigns"),
    ("vouchers.none", "暂无活动", "No campaigns yet"),
    ("vouchers.budget", "预算", "Budget"),
    ("vouchers.left", "剩余", "Left"),
    ("vouchers.limit", "每人限领", "Per person"),
    ("vouchers.mode", "领取方式", "Claim mode"),
    ("vouchers.window", "领取时间", "Claim window"),
    ("vouchers.valid", "有效期", "Valid"),
    ("vouchers.kind", "券种", "Kind"),
    ("vouchers.category", "类别", "Category"),
    ("vouchers.threshold", "满", "Threshold"),
    ("vouchers.discount", "减", "Discount"),
    ("vouchers.stock", "剩余/总量", "Left / stock"),
    ("vouchers.claim", "领取", "Claim"),
    ("vouchers.claimed", "领取成功", "Claimed"),
    ("vouchers.refused", "未能领取", "Not claimed"),
    ("vouchers.wallet", "我的券包", "My vouchers"),
    ("vouchers.wallet.empty", "券包为空", "No vouchers yet"),
    ("vouchers.valid_until", "有效至", "Valid until"),
    ("vouchers.status.claimed", "未使用", "Unused"),
    ("vouchers.status.redeemed", "已使用", "Used"),
    ("vouchers.status.settled", "已使用（已结算）", "Used (settled)"),
    ("vouchers.status.expired", "已过期", "Expired"),
    ("vouchers.merchant", "商户核销", "Merchant counter"),
    ("vouchers.redeem", "核销", "Redeem"),
    ("vouchers.token", "券码", "Voucher code"),
    ("vouchers.purchase", "消费金额（元）", "Purchase (yuan)"),
    ("vouchers.history", "核销记录", "History"),
    ("vouchers.action", "操作", "Action"),
    ("vouchers.action.redeem", "核销", "Redeemed"),
    ("vouchers.action.refund", "退款退券", "Refunded"),
    ("vouchers.at", "时间", "Time"),
    ("vouchers.settlements", "结算", "Settlements"),
    ("vouchers.day", "结算日", "Day"),
    ("vouchers.count", "张数", "Vouchers"),
    ("vouchers.apply", "申请参加", "Apply to take part"),
    ("vouchers.applied", "申请已提交，等待审核", "Application sent; waiting for approval"),
    ("vouchers.credit_code", "统一社会信用代码", "Credit code"),
    ("vouchers.merchant_name", "商户名称", "Merchant name"),
    ("vouchers.approval.pending", "待审核", "Pending"),
    ("vouchers.approval.approved", "已批准", "Approved"),
    ("vouchers.approval.rejected", "未批准", "Rejected"),
    ("vouchers.not_merchant", "本账号尚未申请为商户", "This account has not applied as a merchant"),
    ("vouchers.redeemed", "核销成功，补贴", "Redeemed; discount"),
    ("vouchers.pay", "顾客实付", "customer pays"),
    ("vouchers.yuan", "元", "yuan"),
    ("vouchers.admin", "消费券管理", "Voucher administration"),
    ("vouchers.figures", "补贴与拉动消费", "Subsidy and consumption"),
    ("vouchers.subsidy", "补贴（元）", "Subsidy (yuan)"),
    ("vouchers.consumption", "拉动消费（元）", "Consumption (yuan)"),
    ("vouchers.leverage", "杠杆率", "Leverage"),
    ("vouchers.season", "购物季 / 类别", "Season / category"),
    ("vouchers.ledger", "台账核验", "Ledger check"),
    ("vouchers.ledger.ok", "台账完整", "The ledger holds"),
    ("vouchers.merchants", "商户审核", "Merchants"),
    ("vouchers.approve", "批准", "Approve"),
    ("vouchers.reject", "驳回", "Reject"),
    ("vouchers.settle", "执行结算", "Settle"),
    ("vouchers.xlsx", "下载对账表（XLSX）", "Download the reconciliation (XLSX)"),
    ("vouchers.fraud", "风险核查", "Fraud review"),
    ("vouchers.confirm", "确认异常", "Confirm"),
    ("vouchers.clear", "排除", "Clear"),
    ("vouchers.decided", "审核已记录", "Decision recorded"),
    ("vouchers.settled", "结算笔数", "Settlements made"),
    ("vouchers.reviewed", "核查已记录", "Review recorded"),
];

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static TABLE: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| STRINGS.iter().map(|(k, zh, en)| (*k, (*zh, *en))).collect())
}

/// The translator handed to every template as `t`.
#[derive(Debug, Clone, Copy, Default)]
pub struct T {
    pub lang: Lang,
}

impl T {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    /// The string for `key`; an unknown key shows itself, so a gap is visible, never blank.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        match table().get(key) {
            Some((zh, en)) => match self.lang {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => key,
        }
    }

    pub fn role(&self, role: &Role) -> &'static str {
        match self.lang {
            Lang::Zh => role.name_zh(),
            Lang::En => role.name_en(),
        }
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_has_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in STRINGS {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
    }

    #[test]
    fn every_key_used_in_a_template_exists() {
        // Templates call t.t("key"); find each such key in the template sources.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in text.split("t.t(\"").skip(1) {
                let key = part.split('"').next().unwrap();
                assert!(table().contains_key(key), "template uses unknown key {key}");
            }
        }
    }
}
