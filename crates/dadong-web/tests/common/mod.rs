//! The district both appeals suites start from (`mod common;` in each).

use dadong_appeals::{Category, RoutingRule};
use dadong_store::appeals::{Duty, TargetKind};
use dadong_store::{Actor, Store};
use dadong_testkit::user;

/// Company A, served by cadre_a.
pub const A: &str = "91350100M000100Y43";
/// Company B, served by nobody.
pub const B: &str = "91110000600037341L";

/// The users a suite looks up by id.
#[allow(dead_code)] // each test binary compiles this module, and appeals_http reads neither
pub struct District {
    pub cadre: i64,
    pub leader: i64,
}

/// Two departments (hrss takes labour appeals, land takes land ones), an enterprise agent for
/// each of A and B, hr_clerk, cadre_a serving A, a leader and an analyst.
pub async fn appeals_district(store: &Store, op: &Actor) -> District {
    store.create_department(op, "hrss", "人社局", "Human resources").await.unwrap();
    store.create_department(op, "land", "自然资源局", "Natural resources").await.unwrap();
    store.set_routing_rule(op, &RoutingRule::new(Category::Labour, "hrss")).await.unwrap();
    store.set_routing_rule(op, &RoutingRule::new(Category::Land, "land")).await.unwrap();
    store.create_user(op, user("agent_a", "agent_a", "enterprise").for_company(A)).await.unwrap();
    store.create_user(op, user("agent_b", "agent_b", "enterprise").for_company(B)).await.unwrap();
    store
        .create_user(op, user("hr_clerk", "hr_clerk", "clerk").in_department("hrss"))
        .await
        .unwrap();
    let cadre = store.create_user(op, user("cadre_a", "cadre_a", "cadre")).await.unwrap();
    let leader = store.create_user(op, user("leader", "leader", "leader")).await.unwrap();
    store
        .create_user(op, user("analyst", "analyst", "analyst").in_department("hrss"))
        .await
        .unwrap();
    store.assign(op, TargetKind::Enterprise, A, cadre.id, Duty::Cadre).await.unwrap();
    District {
        cadre: cadre.id,
        leader: leader.id,
    }
}
