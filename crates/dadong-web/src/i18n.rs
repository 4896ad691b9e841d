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
