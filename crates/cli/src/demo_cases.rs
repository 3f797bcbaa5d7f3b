//! The case loop of the demo county: the command-centre staff of every community, village and
//! town, the county's departments, and a few thousand cases over the last 90 days.
//!
//! The cases are made through the real intake and engine, on a second handle of the database
//! whose clock walks through the 90 days: every case first gets a script (who does what, after
//! how much working time), the scripts of all cases are then played in time order, with the
//! deadline warnings raised as the days pass. So each case's history explains where it stands:
//! most are rated or closed, some wait in every open state, some were not filed, voided, merged
//! into an earlier report, supervised, extended, reopened after an unsatisfied rating, or are
//! overdue now.

use crate::demo::TOWNS;
use anyhow::{Context, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use wangge_domain::audit::Actor;
use wangge_domain::case_flow::{CaseAction, CaseState, Flow, Party};
use wangge_domain::catalogue::{Catalogue, QuestionType, Stage};
use wangge_domain::clock::{Clock, ManualClock};
use wangge_domain::roles::{Role, Scope};
use wangge_domain::sla::Limit;
use wangge_domain::worktime::Calendar;
use wangge_server::AppState;
use wangge_server::auth::{Caller, Via};
use wangge_server::cases::engine::{self, Acting, DepartmentPick, Step};
use wangge_server::cases::intake::{self, Errand, OnSpot, Report, Reporter};
use wangge_server::error::ApiError;
use wangge_store::{CaseFilter, NewDepartment, NewUser};

// ───────────────────────────── staff and departments ─────────────────────────────

/// (code, name, kind, unit served, member, the member's display name)
const DEPARTMENTS: [(&str, &str, &str, &str, &str, &str); 10] = [
    (
        "cg-320831",
        "金湖县城市管理局",
        "urban_management",
        "320831",
        "dept.handler",
        "县城管局 赵强",
    ),
    (
        "sc-320831",
        "金湖县市场监督管理局",
        "market_regulation",
        "320831",
        "dept.market",
        "县市场监管局 钱进",
    ),
    (
        "hb-320831",
        "金湖县生态环境局",
        "environment",
        "320831",
        "dept.env",
        "县生态环境局 孙涛",
    ),
    (
        "zj-320831",
        "金湖县住房和城乡建设局",
        "housing",
        "320831",
        "dept.housing",
        "县住建局 周斌",
    ),
    (
        "ga-320831",
        "金湖县公安局",
        "public_security",
        "320831",
        "dept.police",
        "县公安局 吴刚",
    ),
    (
        "sw-320831",
        "金湖县水务局",
        "water",
        "320831",
        "dept.water",
        "县水务局 郑海",
    ),
    (
        "sf-320831",
        "金湖县司法局",
        "judicial",
        "320831",
        "dept.judicial",
        "县司法局 冯丽",
    ),
    (
        "mz-320831",
        "金湖县民政局",
        "civil_affairs",
        "320831",
        "dept.civil",
        "县民政局 陈静",
    ),
    (
        "yj-320831",
        "金湖县应急管理局",
        "emergency",
        "320831",
        "dept.emergency",
        "县应急管理局 褚明",
    ),
    (
        "cgzd-320831001",
        "黎城街道城管中队",
        "urban_management",
        "320831001",
        "dept.lc",
        "黎城街道城管中队 卫东",
    ),
];

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "梁", "宋", "郑", "韩",
];
const GIVEN: [&str; 24] = [
    "静", "敏", "伟", "芳", "磊", "洋", "婷", "军", "丽", "强", "霞", "杰", "燕", "斌", "红", "波",
    "娟", "涛", "琳", "鹏", "雪", "峰", "慧", "凯",
];

fn person(i: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[i % SURNAMES.len()],
        GIVEN[(i * 7 + i / SURNAMES.len()) % GIVEN.len()]
    )
}

fn town_op(town: &str) -> String {
    if town == "320831001" {
        "operator.town".into()
    } else {
        format!("op.{town}")
    }
}

fn town_lead(town: &str) -> String {
    if town == "320831001" {
        "leader.town".into()
    } else {
        format!("lead.{town}")
    }
}

fn village_op(village: &str) -> String {
    if village == "320831001001" {
        "operator.village".into()
    } else {
        format!("op.{village}")
    }
}

/// The county's 12345 hotline operator, who takes calls and makes the follow-up calls.
const COUNTY_OP: &str = "op.320831";

async fn staff_user(
    state: &AppState,
    hash: &str,
    (username, display): (&str, &str),
    phone: usize,
    grant: Option<(Role, &str)>,
) -> anyhow::Result<i64> {
    let actor = Actor::system("demo");
    let u = state
        .store
        .user_create(
            &actor,
            &NewUser {
                username: username.into(),
                display_name: display.into(),
                password_hash: hash.into(),
                phone: Some(format!("1370523{:04}", 2000 + phone)),
            },
        )
        .await
        .with_context(|| format!("creating {username}"))?;
    if let Some((role, unit)) = grant {
        state
            .store
            .grant_add(&Scope::All, &actor, u.id, role, Some(unit))
            .await?;
    }
    Ok(u.id)
}

/// The command-centre operators and leaders who move cases at every level, and the county's
/// departments with one handler each.
pub async fn seed_staff(state: &AppState, hash: &str) -> anyhow::Result<()> {
    let store = &state.store;
    let actor = Actor::system("demo");
    let mut i = 0;
    for (name, display, role, unit) in [
        (
            "operator.village",
            "城南社区综治中心 何静".to_string(),
            Role::CenterOperator,
            "320831001001",
        ),
        (
            "leader.town",
            "黎城街道指挥中心 郭主任".to_string(),
            Role::CenterLeader,
            "320831001",
        ),
        (
            COUNTY_OP,
            format!("金湖县12345热线 {}", person(3)),
            Role::CenterOperator,
            "320831",
        ),
    ] {
        i += 1;
        staff_user(state, hash, (name, &display), i, Some((role, unit))).await?;
    }
    let (mut ops, mut leads) = (0, 0);
    for (town, town_name, _, villages) in TOWNS {
        if *town != "320831001" {
            i += 1;
            let op = (town_op(town), format!("{town_name}指挥中心 {}", person(i)));
            staff_user(
                state,
                hash,
                (&op.0, &op.1),
                i,
                Some((Role::CenterOperator, town)),
            )
            .await?;
            i += 1;
            let lead = (
                town_lead(town),
                format!("{town_name}指挥中心 {}主任", SURNAMES[i % SURNAMES.len()]),
            );
            staff_user(
                state,
                hash,
                (&lead.0, &lead.1),
                i,
                Some((Role::CenterLeader, town)),
            )
            .await?;
            ops += 1;
            leads += 1;
        }
        for (seq, name) in *villages {
            let code = format!("{town}{seq}");
            if code == "320831001001" {
                continue;
            }
            i += 1;
            let op = (village_op(&code), format!("{name}综治中心 {}", person(i)));
            staff_user(
                state,
                hash,
                (&op.0, &op.1),
                i,
                Some((Role::CenterOperator, &code)),
            )
            .await?;
            ops += 1;
        }
    }
    let mut listed = Vec::new();
    for (n, (code, name, kind, unit, member, display)) in DEPARTMENTS.iter().enumerate() {
        let d = store
            .department_create(
                &Scope::All,
                &actor,
                &NewDepartment {
                    code: code.to_string(),
                    name: name.to_string(),
                    kind: kind.to_string(),
                    unit_code: unit.to_string(),
                    phone: Some(format!("0517-8698{:04}", 1100 + n)),
                },
            )
            .await
            .with_context(|| format!("creating the department {code}"))?;
        let uid = match store.user_credentials(member).await? {
            Some((u, _)) => u.id,
            None => {
                i += 1;
                staff_user(state, hash, (member, display), i, None).await?
            }
        };
        store
            .department_member_set(&Scope::All, &actor, d.id, uid, true)
            .await?;
        listed.push(format!("{code} {name} ({member})"));
    }
    println!(
        "Case-loop staff: operator.village @ 320831001001, leader.town @ 320831001, {COUNTY_OP} (12345 hotline) @ 320831, \
         op.<code> at {ops} more communities, villages and towns, lead.<code> at {leads} more towns."
    );
    println!("Departments: {}.", listed.join(", "));
    Ok(())
}

// ───────────────────────────── who is where ─────────────────────────────

/// The grid of the named demo users (worker.full, head.grid …).
const SHOWCASE_GRID: &str = "320831001001001";

struct GridInfo {
    /// The showcase grid: more of the cases, and some of every open state.
    showcase: bool,
    village: usize,
    rect: crate::demo_map::Rect,
    rural: bool,
    weight: f64,
    workers: Vec<i64>,
    heads: Vec<i64>,
}

struct Area {
    name: String,
    op: i64,
    /// Villages: their town; towns: themselves.
    town: usize,
    lead: i64,
}

struct DeptInfo {
    id: i64,
    code: String,
    name: String,
    user: i64,
}

struct Dir {
    grids: Vec<GridInfo>,
    villages: Vec<Area>,
    towns: Vec<(String, Area)>,
    county_op: i64,
    county_lead: i64,
    depts: Vec<DeptInfo>,
}

async fn user_id(st: &AppState, username: &str) -> anyhow::Result<i64> {
    st.store
        .user_credentials(username)
        .await?
        .map(|(u, _)| u.id)
        .ok_or_else(|| anyhow!("the demo user {username} is missing"))
}

async fn directory(st: &AppState) -> anyhow::Result<Dir> {
    let store = &st.store;
    let rows = crate::demo::rows();
    let rects: BTreeMap<String, crate::demo_map::Rect> =
        crate::demo_map::layout(&rows).into_iter().collect();
    let mut towns = Vec::new();
    let mut villages = Vec::new();
    let mut village_index = BTreeMap::new();
    for (town, town_name, _, vs) in TOWNS {
        let t = towns.len();
        let lead = user_id(st, &town_lead(town)).await?;
        towns.push((
            town.to_string(),
            Area {
                name: town_name.to_string(),
                op: user_id(st, &town_op(town)).await?,
                town: t,
                lead,
            },
        ));
        for (seq, name) in *vs {
            let code = format!("{town}{seq}");
            village_index.insert(code.clone(), villages.len());
            villages.push(Area {
                name: name.to_string(),
                op: user_id(st, &village_op(&code)).await?,
                town: t,
                lead,
            });
        }
    }
    let mut grids = Vec::new();
    for r in rows.iter().filter(|r| r.level == "grid") {
        let (unit, _) = store.unit_get(&Scope::All, &r.code).await?;
        let (Some(&village), Some(&rect)) = (village_index.get(&r.parent_code), rects.get(&r.code))
        else {
            continue;
        };
        let mut workers = store
            .users_with_roles_at(&[unit.id], &["grid_worker_full", "grid_worker_part"])
            .await?;
        let mut heads = store
            .users_with_roles_at(&[unit.id], &["grid_head"])
            .await?;
        workers.sort_unstable();
        heads.sort_unstable();
        if workers.is_empty() {
            workers = heads.clone();
        }
        if heads.is_empty() {
            heads = workers.clone();
        }
        if workers.is_empty() {
            continue;
        }
        let rural = r.code.get(9..10).is_some_and(|d| d >= "2");
        let school = r.kind.as_deref() == Some("dedicated_school");
        let showcase = r.code == SHOWCASE_GRID;
        grids.push(GridInfo {
            showcase,
            village,
            rect,
            rural,
            weight: if showcase {
                12.0
            } else if school {
                0.4
            } else if rural {
                2.0
            } else {
                3.0
            },
            workers,
            heads,
        });
    }
    let mut depts = Vec::new();
    for d in store.department_list().await? {
        if let Some((.., member, _)) = DEPARTMENTS.iter().find(|x| x.0 == d.code) {
            depts.push(DeptInfo {
                id: d.id,
                code: d.code.clone(),
                name: d.name.clone(),
                user: user_id(st, member).await?,
            });
        }
    }
    if grids.is_empty() || depts.len() != DEPARTMENTS.len() {
        bail!("the demo territory or its departments are missing");
    }
    Ok(Dir {
        grids,
        villages,
        towns,
        county_op: user_id(st, COUNTY_OP).await?,
        county_lead: user_id(st, "leader.county").await?,
        depts,
    })
}

// ───────────────────────────── what people write ─────────────────────────────

/// (classifier key, how often, share the grid settles itself, how much more often in villages)
const CATEGORIES: [(&str, f64, f64, f64); 37] = [
    ("exposed_garbage", 10.0, 0.55, 1.0),
    ("road_cleaning", 5.0, 0.6, 0.7),
    ("illegal_construction", 4.0, 0.05, 1.2),
    ("illegal_advertising", 5.0, 0.7, 0.6),
    ("greenery_damage", 3.0, 0.2, 0.6),
    ("road_occupation_business", 7.0, 0.45, 0.5),
    ("illegal_parking", 7.0, 0.4, 0.4),
    ("neighbour_dispute", 5.0, 0.65, 1.2),
    ("family_dispute", 2.0, 0.55, 1.3),
    ("wage_arrears", 2.0, 0.1, 1.0),
    ("property_dispute", 3.0, 0.35, 0.2),
    ("land_dispute", 1.5, 0.3, 4.0),
    ("consumer_dispute", 2.0, 0.2, 0.6),
    ("fire_hazard_corridor", 5.0, 0.7, 0.5),
    ("ebike_charging", 5.0, 0.65, 0.6),
    ("gas_hazard", 1.0, 0.0, 0.8),
    ("building_hazard", 1.0, 0.0, 1.0),
    ("theft", 2.0, 0.0, 1.0),
    ("fraud", 1.5, 0.0, 1.0),
    ("fighting", 1.0, 0.0, 1.0),
    ("dog_nuisance", 3.0, 0.45, 0.8),
    ("manhole_cover", 3.0, 0.05, 0.5),
    ("street_light", 5.0, 0.05, 0.8),
    ("road_damage", 4.0, 0.05, 1.2),
    ("water_supply", 2.0, 0.05, 0.8),
    ("drainage_blockage", 4.0, 0.15, 1.0),
    ("elevator_fault", 2.0, 0.05, 0.1),
    ("water_pollution", 2.0, 0.05, 2.5),
    ("noise", 5.0, 0.3, 0.5),
    ("cooking_fume", 3.0, 0.2, 0.4),
    ("open_burning", 2.0, 0.3, 4.0),
    ("elderly_assistance", 3.0, 0.7, 1.5),
    ("social_security", 2.0, 0.85, 1.0),
    ("mental_patient", 1.0, 0.5, 1.0),
    ("correction_release", 1.0, 0.6, 1.0),
    ("fire_incident", 0.4, 0.0, 1.0),
    ("waterlogging", 0.8, 0.0, 1.0),
];

/// What the handler reports, by classifier key.
fn result_note(key: &str, rng: &mut StdRng) -> String {
    let n = rng.random_range(2..9);
    let amount = rng.random_range(20..300) * 100;
    match key {
        "exposed_garbage" => {
            format!("已协调环卫所清运垃圾约{n}车，现场已消杀，安排保洁员每日巡查。")
        }
        "road_cleaning" => "已通知保洁公司对该路段冲洗清扫，路面已恢复整洁。".into(),
        "illegal_construction" => format!(
            "已下达限期整改通知书，当事人已自行拆除违建约{}平方米。",
            n * 6
        ),
        "illegal_advertising" => format!(
            "已组织人员清除小广告{}处，对涉及号码通知运营商处置。",
            n * 3
        ),
        "greenery_damage" => "已安排园林养护人员补植绿化、修剪枝杈，现场已恢复。".into(),
        "road_occupation_business" => format!("执法队员现场劝离流动摊贩，规范出店经营{n}户。"),
        "illegal_parking" => "已联系车主挪车，并在该处施划禁停标线。".into(),
        "neighbour_dispute" => "经人民调解员组织双方调解，达成书面调解协议，双方签字确认。".into(),
        "family_dispute" => "已上门开展调解，双方达成和解，网格员将持续回访。".into(),
        "wage_arrears" => format!("经协调，用工方已支付拖欠工资{amount}元，劳动者确认无异议。"),
        "property_dispute" => "已约谈物业公司负责人，物业承诺整改并向业主公示整改结果。".into(),
        "land_dispute" => "经司法所调解，双方重新确认地界并签订调解协议。".into(),
        "consumer_dispute" => format!("经调解，商家同意退款{amount}元，消费者表示认可。"),
        "fire_hazard_corridor" => "已督促住户清理楼道堆放杂物，消防通道已畅通。".into(),
        "ebike_charging" => "已拆除私拉电线，劝导住户到集中充电点充电。".into(),
        "gas_hazard" => "燃气公司抢修人员到场更换老化软管，检测无泄漏。".into(),
        "building_hazard" => "已设置警戒区域并拆除松动构件，委托专业单位检测加固。".into(),
        "theft" => "派出所已受理立案，调取周边监控开展侦查，并加强夜间巡逻。".into(),
        "fraud" => "民警已联系当事人，指导紧急止付并立案侦查，同时开展反诈宣传。".into(),
        "fighting" => "民警到场处置，涉事人员已带回派出所依法处理。".into(),
        "dog_nuisance" => "已约谈犬主，要求文明养犬、出户拴绳，并开展养犬管理宣传。".into(),
        "manhole_cover" => "已更换缺损井盖并设置警示标志，道路通行恢复正常。".into(),
        "street_light" => "已更换损坏灯具及线路，路灯恢复正常照明。".into(),
        "road_damage" => format!("已对破损路面进行修补，修补面积约{}平方米。", n * 4),
        "water_supply" => "已抢修爆裂管道，恢复正常供水。".into(),
        "drainage_blockage" => "已组织疏通管道并清掏淤泥，排水恢复通畅。".into(),
        "elevator_fault" => "已督促维保单位完成维修，电梯经检测恢复运行。".into(),
        "water_pollution" => "已对排污口排查封堵，并对河道水质取样监测。".into(),
        "noise" => "已责令相关单位停止夜间作业，噪声扰民问题已解决。".into(),
        "cooking_fume" => "已责令餐饮店清洗油烟管道并加装油烟净化设施。".into(),
        "open_burning" => "已扑灭焚烧火点，对当事人批评教育并开展禁烧宣传。".into(),
        "elderly_assistance" => "已上门走访，协助申请临时救助并落实助餐服务。".into(),
        "social_security" => "已协助居民完成社保医保业务办理。".into(),
        "mental_patient" => "已联系监护人和社区医生，协助患者按时服药，落实监护责任。".into(),
        "correction_release" => "已与司法所对接，落实帮教措施，当事人已按时报到。".into(),
        "fire_incident" => "消防救援人员到场扑灭明火，无人员伤亡，已开展隐患排查。".into(),
        "waterlogging" => "已调派抽水泵排水，积水已排除，道路恢复通行。".into(),
        _ => "已为居民代办完成，结果已告知本人。".into(),
    }
}

/// What a grid worker writes after settling a matter on the spot.
fn on_spot_note(key: &str) -> &'static str {
    match key {
        "exposed_garbage" => "已现场联系保洁员清理，垃圾已清运完毕",
        "road_cleaning" => "已通知保洁员现场清扫，路面已干净",
        "illegal_advertising" => "已现场铲除小广告",
        "fire_hazard_corridor" => "已现场劝导住户清理楼道杂物，消防通道已畅通",
        "ebike_charging" => "已现场劝导拔除飞线充电，告知集中充电点位置",
        "dog_nuisance" => "已现场劝导犬主牵绳遛狗并清理粪便",
        "neighbour_dispute" => "已现场调解，双方达成谅解",
        "family_dispute" => "已上门劝解，双方情绪平复",
        "elderly_assistance" => "已上门探望，帮助老人解决生活所需",
        "social_security" => "已现场指导居民通过手机完成办理",
        "road_occupation_business" => "已现场劝导摊贩退回店内经营",
        "illegal_parking" => "已联系车主将车辆挪走",
        "mental_patient" => "已联系监护人到场，患者情绪稳定",
        "correction_release" => "已联系当事人按时到司法所报到",
        "noise" => "已现场劝导降低音量，居民表示认可",
        "property_dispute" => "已现场协调物业与业主沟通，达成一致",
        "consumer_dispute" => "已现场协调商家与消费者协商解决",
        "drainage_blockage" => "已现场组织人员疏通",
        "greenery_damage" => "已现场劝阻毁绿种菜行为，恢复绿地",
        "cooking_fume" => "已劝导店主开启油烟净化设施",
        "open_burning" => "已现场扑灭焚烧火点并劝导当事人",
        _ => "已现场处置完毕",
    }
}

const ERRANDS: [&str; 10] = [
    "独居老人{name}腿脚不便，委托网格员代办高龄津贴年审",
    "{name}家属委托代办残疾证换证，已收取身份证和照片",
    "居民{name}委托代开居住证明，用于子女入学",
    "代居民{name}办理城乡居民医保缴费",
    "为{name}代办老年优待证，材料已收齐",
    "居民{name}委托代为申领失业登记证明",
    "代独居老人{name}办理养老金资格认证",
    "帮{name}预约办理电动自行车登记上牌",
    "代{name}办理新生儿户口登记材料预审",
    "为困难家庭{name}代办临时救助申请材料",
];

const MATTERS: [&str; 5] = [
    "最低生活保障",
    "临时救助",
    "残疾人两项补贴",
    "特困人员救助供养",
    "高龄津贴",
];

const ROADS: [&str; 10] = [
    "金湖路",
    "健康路",
    "工园路",
    "环城西路",
    "建设路",
    "人民路",
    "黎城路",
    "衡阳路",
    "荷花路",
    "银湖路",
];

fn pick<'a>(rng: &mut StdRng, items: &'a [&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or("")
}

fn escalate_note(level: usize, rng: &mut StdRng) -> String {
    let notes: &[&str] = match level {
        0 => &[
            "网格内无法处置，需社区协调",
            "涉及执法事项，网格员无执法权，提请社区处理",
            "需专业部门维修，报社区协调",
            "当事人不配合，网格劝导无效，上报社区",
        ],
        1 => &[
            "超出社区处置能力，上报街道指挥中心",
            "需街道协调职能部门处置",
            "社区多次协调未果，提请街道处理",
        ],
        _ => &["涉及县级部门职权，上报县指挥中心"],
    };
    pick(rng, notes).into()
}

fn answers(cat: &Catalogue, code: &str, rng: &mut StdRng) -> Map<String, Value> {
    let mut m = Map::new();
    for q in cat.effective_questions(code) {
        if !q.required && rng.random_bool(0.5) {
            continue;
        }
        let v = match q.kind {
            QuestionType::Number => json!(match q.key.as_str() {
                "parties" => rng.random_range(2..6),
                "amount" => rng.random_range(20..600) * 100,
                "loss" => rng.random_range(5..300) * 100,
                "area_mu" => rng.random_range(1..12),
                "area_m2" => rng.random_range(8..90),
                "depth_cm" => rng.random_range(10..60),
                _ => rng.random_range(1..6),
            }),
            QuestionType::Bool => json!(match q.key.as_str() {
                "reported_119" => true,
                "in_progress" | "missing" | "leaking" | "living_alone" => rng.random_bool(0.5),
                "people_at_risk" | "injured" => rng.random_bool(0.3),
                _ => rng.random_bool(0.1),
            }),
            QuestionType::Single => match q.options.choose(rng) {
                Some(o) => json!(o),
                None => continue,
            },
            QuestionType::Multi => match q.options.choose(rng) {
                Some(o) => json!([o]),
                None => continue,
            },
            QuestionType::String if q.key == "employer" => json!("某建筑劳务公司"),
            QuestionType::String | QuestionType::Text if q.required => json!("详见事件描述"),
            _ => continue,
        };
        m.insert(q.key.clone(), v);
    }
    m
}

// ───────────────────────────── scripts ─────────────────────────────

/// Who takes a step: grid staff, a command-centre operator or leader, a department's handler
/// (their user ids), the resident with the tracking code, or the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Grid(i64),
    Op(i64),
    Lead(i64),
    Dept(i64),
    Resident,
    System,
}

impl Who {
    fn party(self) -> Party {
        match self {
            Who::Grid(_) => Party::GridStaff,
            Who::Op(_) => Party::Operator,
            Who::Lead(_) => Party::Leader,
            Who::Dept(_) => Party::Department,
            Who::Resident => Party::Resident,
            Who::System => Party::System,
        }
    }

    fn user(self) -> Option<i64> {
        match self {
            Who::Grid(u) | Who::Op(u) | Who::Lead(u) | Who::Dept(u) => Some(u),
            Who::Resident | Who::System => None,
        }
    }
}

/// Time between two steps: working minutes on the calendar, or plain minutes (residents).
#[derive(Debug, Clone, Copy)]
enum Delay {
    Work(i64),
    Wall(i64),
}

struct Planned {
    delay: Delay,
    who: Who,
    /// `None`: the public notice ends and the platform sends the matter up.
    action: Option<CaseAction>,
    step: Step,
    /// Merge: into the spec's original.
    merge: bool,
    /// Supervise: a new deadline this many working days after the step.
    deadline_days: Option<i64>,
    /// The state the case is in afterwards.
    state: CaseState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ch {
    Grid,
    Resident,
    Hotline,
    Errand,
}

/// What becomes of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    NotFiled,
    Voided,
    Merged,
    Approval,
    /// Stops in this open state.
    Stall(CaseState),
    /// A normal case that surely has this in its history.
    Supervised,
    Extended,
    Reopened,
}

/// The special cases and their share; each appears at least once.
const SPECIALS: [(Kind, f64); 17] = [
    (Kind::Stall(CaseState::Reported), 0.006),
    (Kind::Stall(CaseState::Accepted), 0.004),
    (Kind::Stall(CaseState::Filed), 0.004),
    (Kind::Stall(CaseState::Dispatched), 0.006),
    (Kind::Stall(CaseState::InHandling), 0.015),
    (Kind::Stall(CaseState::Handled), 0.005),
    (Kind::Stall(CaseState::InCheck), 0.005),
    (Kind::Stall(CaseState::Rework), 0.004),
    (Kind::Stall(CaseState::Parked), 0.005),
    (Kind::Stall(CaseState::Deferred), 0.004),
    (Kind::NotFiled, 0.03),
    (Kind::Voided, 0.015),
    (Kind::Merged, 0.025),
    (Kind::Approval, 0.008),
    (Kind::Supervised, 0.01),
    (Kind::Extended, 0.01),
    (Kind::Reopened, 0.01),
];

struct Plan {
    kind: Kind,
    on_spot: bool,
    /// A resident's report the grid worker goes out and settles.
    spot_later: bool,
    dept: bool,
    rating: Option<&'static str>,
    reopen: bool,
    check_fail: bool,
    extension: Option<bool>,
    supervise: bool,
    late: bool,
    park: Option<CaseAction>,
    transfer: bool,
    give_back: bool,
    joint: bool,
}

struct Spec {
    report: Report,
    by: Who,
    steps: Vec<Planned>,
    /// The submission, then one per step.
    times: Vec<i64>,
    /// Merged duplicates: the spec of the original.
    original: Option<usize>,
    /// Promised errands: the promise, in days after the submission.
    promise_days: Option<i64>,
    key: String,
    grid: usize,
    lat: f64,
    lng: f64,
    dept: bool,
    /// Overdue stalls wait longer.
    overdue: bool,
}

struct CatInfo {
    key: &'static str,
    code: String,
    weight: f64,
    grid_share: f64,
    rural: f64,
    dept_kind: String,
}

struct Cx {
    st: AppState,
    dir: Dir,
    cat: Arc<Catalogue>,
    cal: Arc<Calendar>,
    now: i64,
    auto_reopen: bool,
    urgent_level: Option<usize>,
    cats: Vec<CatInfo>,
    texts: BTreeMap<String, Vec<String>>,
}

fn level_index(key: &str) -> usize {
    match key {
        "grid" | "micro_grid" => 0,
        "village" => 1,
        "town" => 2,
        "county" => 3,
        _ => 4,
    }
}

fn limit_minutes(cx: &Cx, code: &str, stage: Stage) -> i64 {
    let limit = cx
        .cat
        .effective_limits(code)
        .get(stage)
        .unwrap_or(match stage {
            Stage::Handle => Limit::WorkingDays(5),
            Stage::Check => Limit::WorkingDays(1),
            _ => Limit::WorkingHours(4),
        });
    limit.minutes(&cx.cal)
}

/// Actions grid staff take only while the case is at grid level (as the engine has them).
const GRID_LEVEL: [CaseAction; 9] = [
    CaseAction::Accept,
    CaseAction::File,
    CaseAction::NotFile,
    CaseAction::Take,
    CaseAction::Escalate,
    CaseAction::ReportResult,
    CaseAction::ResumeRework,
    CaseAction::RequestExtension,
    CaseAction::Merge,
];

fn note(text: impl Into<String>) -> Step {
    Step {
        note: text.into(),
        ..Step::default()
    }
}

/// Writes one case's script, checking every step against the state machine as it goes.
struct Builder<'a> {
    cx: &'a Cx,
    rng: &'a mut StdRng,
    code: String,
    key: String,
    grid: usize,
    /// The grid worker who follows the case.
    worker: i64,
    flow: Flow,
    level: usize,
    /// Working minutes used of the current stage's time.
    used: i64,
    steps: Vec<Planned>,
    urgent: bool,
    ch: Ch,
    /// The second department of a joint case.
    joint_user: Option<i64>,
    /// An errand's own handling time (its promise).
    handle_minutes: Option<i64>,
}

impl Builder<'_> {
    fn lim(&self, stage: Stage) -> i64 {
        match (stage, self.handle_minutes) {
            (Stage::Handle, Some(m)) => m,
            _ => limit_minutes(self.cx, &self.code, stage),
        }
    }

    /// At this share of the stage's time.
    fn at(&mut self, stage: Stage, lo: f64, hi: f64) -> Delay {
        let target = (self.lim(stage) as f64 * self.rng.random_range(lo..hi)) as i64;
        Delay::Work((target - self.used).max(3))
    }

    fn mins(&mut self, lo: i64, hi: i64) -> Delay {
        Delay::Work(self.rng.random_range(lo..=hi))
    }

    fn village(&self) -> &Area {
        &self.cx.dir.villages[self.cx.dir.grids[self.grid].village]
    }

    fn town(&self) -> &(String, Area) {
        &self.cx.dir.towns[self.village().town]
    }

    /// Who handles the case at its level.
    fn actor(&self) -> Who {
        match self.level {
            0 => Who::Grid(self.worker),
            1 => Who::Op(self.village().op),
            2 => Who::Op(self.town().1.op),
            _ => Who::Op(self.cx.dir.county_op),
        }
    }

    fn leader(&mut self) -> Who {
        if self.level >= 3 || self.rng.random_bool(0.15) {
            Who::Lead(self.cx.dir.county_lead)
        } else {
            Who::Lead(self.town().1.lead)
        }
    }

    fn checker(&mut self) -> Who {
        let g = &self.cx.dir.grids[self.grid];
        if self.level == 0 && self.rng.random_bool(0.25) {
            return Who::Op(self.village().op);
        }
        let heads = g.heads.clone();
        match heads.choose(self.rng) {
            Some(h) if self.rng.random_bool(0.6) => Who::Grid(*h),
            _ => Who::Grid(self.worker),
        }
    }

    fn rater(&self) -> Who {
        match (self.ch, self.level) {
            (Ch::Resident, _) => Who::Resident,
            (Ch::Hotline, _) | (_, 3..) => Who::Op(self.cx.dir.county_op),
            (_, 0 | 1) => Who::Op(self.village().op),
            _ => Who::Op(self.town().1.op),
        }
    }

    fn push(
        &mut self,
        delay: Delay,
        who: Who,
        action: CaseAction,
        step: Step,
    ) -> anyhow::Result<()> {
        let party = who.party();
        if party == Party::GridStaff && self.level > 0 && GRID_LEVEL.contains(&action) {
            bail!(
                "{action:?} by grid staff at level {} of {}",
                self.level,
                self.key
            );
        }
        let before = engine::stage_of(self.flow.state);
        let mut next = self
            .flow
            .apply(action, party)
            .map_err(|e| anyhow!("{action:?} by {party:?} in {:?}: {e}", self.flow.state))?;
        let mut restart = action == CaseAction::Escalate;
        if action == CaseAction::Escalate {
            self.level += 1;
        }
        if action == CaseAction::Rate
            && step.rating.as_deref() == Some("unsatisfied")
            && self.cx.auto_reopen
        {
            next = next
                .apply(CaseAction::Reopen, party)
                .map_err(|e| anyhow!("reopen: {e}"))?;
            restart = true;
        }
        if let Delay::Work(m) = delay {
            self.used += m;
        }
        if restart || engine::stage_of(next.state) != before {
            self.used = 0;
        }
        self.flow = next;
        self.steps.push(Planned {
            delay,
            who,
            action: Some(action),
            step,
            merge: false,
            deadline_days: None,
            state: next.state,
        });
        Ok(())
    }

    /// A department's own share of a joint case: the state does not move.
    fn share(&mut self, delay: Delay, user: i64, action: CaseAction, text: &str) {
        if let Delay::Work(m) = delay {
            self.used += m;
        }
        self.steps.push(Planned {
            delay,
            who: Who::Dept(user),
            action: Some(action),
            step: note(text),
            merge: false,
            deadline_days: None,
            state: self.flow.state,
        });
    }

    fn dept_index(&self, prefix: &str) -> usize {
        self.cx
            .dir
            .depts
            .iter()
            .position(|d| d.code.starts_with(&format!("{prefix}-")))
            .unwrap_or(0)
    }

    /// The department that answers for the category where the case is.
    fn lead_dept(&mut self) -> usize {
        let kind = self
            .cx
            .cats
            .iter()
            .find(|c| c.key == self.key)
            .map(|c| c.dept_kind.as_str())
            .unwrap_or(if self.code == "G0703" {
                "civil_affairs"
            } else {
                "urban_management"
            });
        let prefix = match kind {
            "market_regulation" => "sc",
            "environment" => "hb",
            "housing" | "gas" => "zj",
            "public_security" | "traffic_police" | "health" => "ga",
            "water" | "water_company" => "sw",
            "judicial" | "human_resources" | "natural_resources" => "sf",
            "civil_affairs" | "street_office" | "letters" => "mz",
            "emergency" | "fire" => "yj",
            _ => "cg",
        };
        if prefix == "cg"
            && self.level == 2
            && self.town().0 == "320831001"
            && self.rng.random_bool(0.6)
        {
            return self.dept_index("cgzd");
        }
        self.dept_index(prefix)
    }

    /// A department often confused with this one, or the partner of a joint case.
    fn partner(&self, d: usize) -> usize {
        let code = &self.cx.dir.depts[d].code;
        let other = match code.split('-').next().unwrap_or("") {
            "cg" | "cgzd" => "zj",
            "hb" => "sw",
            "sw" => "cg",
            "zj" => "yj",
            "yj" => "ga",
            "ga" => "cg",
            "sc" => "cg",
            "sf" => "mz",
            _ => "sf",
        };
        self.dept_index(other)
    }

    fn dept_user(&self, d: usize) -> Who {
        Who::Dept(self.cx.dir.depts[d].user)
    }

    fn run(&mut self, p: &Plan) -> anyhow::Result<()> {
        use CaseAction as A;
        if p.on_spot {
            self.check(p, None)?;
            return self.rate(p, None);
        }
        if p.kind == Kind::Approval {
            return self.approval();
        }
        if p.spot_later {
            let d = self.at(Stage::Accept, 0.1, 0.45);
            let who = Who::Grid(self.worker);
            let text = on_spot_note(&self.key);
            self.push(d, who, A::HandleOnSpot, note(text))?;
            self.check(p, None)?;
            return self.rate(p, None);
        }
        if p.kind == Kind::Merged {
            let who = self.actor();
            let d = self.at(Stage::Accept, 0.05, 0.35);
            self.push(d, who, A::Merge, note("与已登记事项重复，合并办理"))?;
            if let Some(last) = self.steps.last_mut() {
                last.merge = true;
            }
            return Ok(());
        }
        if p.kind == Kind::Voided && self.rng.random_bool(0.4) {
            let who = self.leader();
            let d = self.mins(15, 180);
            let reason = pick(
                self.rng,
                &[
                    "群众来电称问题已解决，误报作废",
                    "重复录入，作废",
                    "录入信息有误，已重新登记",
                ],
            );
            return self.push(d, who, A::Void, note(reason));
        }
        let target = if p.dept {
            self.level.max(2)
        } else {
            self.level
        };
        while self.level < target {
            let who = self.actor();
            let d = self.at(Stage::Accept, 0.05, 0.35);
            let text = escalate_note(self.level, self.rng);
            self.push(d, who, A::Escalate, note(text))?;
        }
        let who = self.actor();
        let (lo, hi) = if self.urgent {
            (0.02, 0.15)
        } else {
            (0.05, 0.35)
        };
        let d = self.at(Stage::Accept, lo, hi);
        let step = Step {
            category: Some(self.code.clone()),
            ..Step::default()
        };
        self.push(d, who, A::Accept, step)?;
        if p.kind == Kind::NotFiled {
            let d = self.at(Stage::Accept, 0.3, 0.6);
            let reason = pick(
                self.rng,
                &[
                    "经现场核实，反映问题已自行解决，不予立案",
                    "属民事纠纷，已告知当事人通过诉讼途径解决，不予立案",
                    "经核实情况不属实，不予立案",
                    "不属于网格化服务管理事项，已告知相关办理渠道",
                    "诉求超出政策范围，已做好解释工作，不予立案",
                ],
            );
            return self.push(d, who, A::NotFile, note(reason));
        }
        let d = self.at(Stage::Accept, 0.1, 0.45);
        self.push(d, who, A::File, Step::default())?;
        if p.kind == Kind::Voided {
            let lead = self.leader();
            let d = self.mins(20, 300);
            let reason = pick(
                self.rng,
                &[
                    "经核实为重复反映，作废处理",
                    "群众来电称问题已解决，作废",
                    "经核实为恶意举报，作废处理",
                ],
            );
            return self.push(d, lead, A::Void, note(reason));
        }
        if let Some(action) = p.park {
            let lead = self.leader();
            let d = self.at(Stage::Dispatch, 0.1, 0.5);
            let reason = if action == A::Park {
                pick(
                    self.rng,
                    &[
                        "涉及历史遗留问题，需待规划调整后统一解决，暂予挂账",
                        "需纳入年度改造计划统一实施，挂账跟踪",
                    ],
                )
            } else {
                pick(
                    self.rng,
                    &[
                        "受天气影响暂缓施工，待条件具备后办理",
                        "当事人住院治疗，暂缓办理",
                        "待相关部门出具鉴定意见后办理",
                    ],
                )
            };
            self.push(d, lead, action, note(reason))?;
            let days = self.rng.random_range(2..15);
            let daily = self.cx.cal.hours.daily_minutes();
            self.push(
                Delay::Work(days * daily),
                lead,
                A::Resume,
                note("条件已具备，恢复办理"),
            )?;
        }
        let handler = if p.dept {
            self.dispatch(p)?
        } else {
            let d = self.at(Stage::Dispatch, 0.05, 0.4);
            let who = Who::Grid(self.worker);
            self.push(d, who, A::Take, Step::default())?;
            who
        };
        self.handle(p, handler)?;
        self.check(p, Some(handler))?;
        self.rate(p, Some(handler))
    }

    /// Dispatch (perhaps to the wrong department first); the handler of the lead department.
    fn dispatch(&mut self, p: &Plan) -> anyhow::Result<Who> {
        use CaseAction as A;
        let lead = self.lead_dept();
        let other = self.partner(lead);
        let op = if self.rng.random_bool(0.85) {
            self.actor()
        } else {
            self.leader()
        };
        let (lo, hi) = if self.urgent {
            (0.03, 0.25)
        } else {
            (0.05, 0.45)
        };
        if p.give_back {
            let d = self.at(Stage::Dispatch, lo, hi);
            let step = Step {
                departments: vec![DepartmentPick {
                    id: self.cx.dir.depts[other].id,
                    lead: true,
                }],
                ..Step::default()
            };
            self.push(d, op, A::Dispatch, step)?;
            let d = self.at(Stage::Receive, 0.1, 0.6);
            let who = self.dept_user(other);
            let reason = pick(
                self.rng,
                &[
                    "该事项不属于本单位职责，请重新派遣",
                    "经核实属其他部门职责，退回改派",
                ],
            );
            self.push(d, who, A::Return, note(reason))?;
        }
        let transfer = p.transfer && !p.give_back;
        let first = if transfer { other } else { lead };
        let mut departments = vec![DepartmentPick {
            id: self.cx.dir.depts[first].id,
            lead: true,
        }];
        let joint = p.joint && !transfer;
        if joint {
            departments.push(DepartmentPick {
                id: self.cx.dir.depts[other].id,
                lead: false,
            });
        }
        let d = self.at(Stage::Dispatch, lo, hi);
        self.push(
            d,
            op,
            A::Dispatch,
            Step {
                departments,
                ..Step::default()
            },
        )?;
        let (lo, hi) = if p.late && self.rng.random_bool(0.5) {
            (1.1, 1.8)
        } else {
            (0.05, 0.45)
        };
        let d = self.at(Stage::Receive, lo, hi);
        let who = self.dept_user(first);
        let text = pick(self.rng, &["已签收，安排人员前往处置", "已接单", ""]);
        self.push(d, who, A::DeptAccept, note(text))?;
        if transfer {
            let to = &self.cx.dir.depts[lead];
            let step = Step {
                note: format!("经现场核实，该事项属于{}职责，移交办理", to.name),
                department_id: Some(to.id),
                ..Step::default()
            };
            let d = self.mins(60, 480);
            self.push(d, who, A::Transfer, step)?;
            let d = self.at(Stage::Receive, 0.05, 0.45);
            let who = self.dept_user(lead);
            self.push(d, who, A::DeptAccept, note("已签收"))?;
        }
        if joint {
            let d = self.mins(20, 240);
            let user = self.cx.dir.depts[other].user;
            self.share(d, user, A::DeptAccept, "配合单位已签收");
            self.joint_user = Some(user);
        }
        Ok(self.dept_user(lead))
    }

    fn handle(&mut self, p: &Plan, handler: Who) -> anyhow::Result<()> {
        use CaseAction as A;
        let mut extra = 0;
        if let Some(approved) = p.extension {
            let d = self.at(Stage::Handle, 0.5, 0.75);
            let long = self.lim(Stage::Handle) >= self.cx.cal.hours.daily_minutes();
            let (hours, days) = if long {
                (None, Some(self.rng.random_range(2..6)))
            } else {
                (Some(self.rng.random_range(2..9)), None)
            };
            let reason = pick(
                self.rng,
                &[
                    "需协调施工队伍及采购材料，申请延期",
                    "涉及多方协调，需延长处置时间",
                    "需等待检测结果，申请延期",
                ],
            );
            let step = Step {
                note: reason.into(),
                hours,
                days,
                ..Step::default()
            };
            self.push(d, handler, A::RequestExtension, step)?;
            let lead = self.leader();
            let d = self.mins(30, 240);
            let step = Step {
                approve: Some(approved),
                note: if approved {
                    ""
                } else {
                    "理由不充分，请按期办结"
                }
                .into(),
                ..Step::default()
            };
            self.push(d, lead, A::ApproveExtension, step)?;
            if approved {
                extra = hours.map_or(0, |h| i64::from(h) * 60)
                    + days.map_or(0, |d| i64::from(d) * self.cx.cal.hours.daily_minutes());
            }
        }
        let handle = self.lim(Stage::Handle) + extra;
        if p.supervise {
            let share = if p.late {
                self.rng.random_range(1.02..1.3)
            } else {
                self.rng.random_range(0.6..0.85)
            };
            let d = Delay::Work(((handle as f64 * share) as i64 - self.used).max(5));
            let lead = self.leader();
            let text = pick(
                self.rng,
                &[
                    "该件已临近或超过时限，请承办单位加快办理并及时反馈",
                    "群众多次反映，请高度重视，限期办结",
                    "请加强协调，按期办结",
                ],
            );
            self.push(d, lead, A::Supervise, note(text))?;
            if let Some(last) = self.steps.last_mut() {
                last.deadline_days = Some(self.rng.random_range(2..5));
            }
        }
        if let Some(u) = self.joint_user {
            let d = self.mins(60, 600);
            self.share(d, u, A::ReportResult, "配合单位已完成职责范围内处置");
        }
        let share = if p.late {
            self.rng.random_range(1.1..2.2)
        } else {
            self.rng.random_range(0.15..0.75)
        };
        let d = Delay::Work(((handle as f64 * share) as i64 - self.used).max(10));
        let text = result_note(&self.key, self.rng);
        self.push(d, handler, A::ReportResult, note(text))
    }

    /// The on-site check, failing once when planned; `handler` reworks (None: handled on the spot).
    fn check(&mut self, p: &Plan, handler: Option<Who>) -> anyhow::Result<()> {
        use CaseAction as A;
        let checker = if handler.is_none() {
            let g = &self.cx.dir.grids[self.grid];
            match g.heads.iter().find(|h| **h != self.worker) {
                Some(h) if self.rng.random_bool(0.7) => Who::Grid(*h),
                _ => Who::Op(self.village().op),
            }
        } else {
            self.checker()
        };
        if handler.is_some() {
            let d = self.at(Stage::Check, 0.05, 0.3);
            self.push(d, checker, A::StartCheck, Step::default())?;
        }
        if p.check_fail {
            let d = self.at(Stage::Check, 0.2, 0.5);
            let text = pick(
                self.rng,
                &[
                    "现场复核仍有残留，未达到结案标准",
                    "群众反映问题仍未解决，请返工",
                    "整改不彻底，需再次处置",
                ],
            );
            self.push(d, checker, A::CheckFail, note(text))?;
            let handler = handler.unwrap_or(Who::Grid(self.worker));
            self.rework(handler)?;
            let d = self.at(Stage::Check, 0.05, 0.3);
            self.push(d, checker, A::StartCheck, Step::default())?;
        }
        let d = self.at(Stage::Check, 0.15, 0.55);
        self.push(d, checker, A::CheckPass, Step::default())
    }

    fn rework(&mut self, handler: Who) -> anyhow::Result<()> {
        use CaseAction as A;
        let d = self.mins(10, 180);
        self.push(d, handler, A::ResumeRework, note("已安排人员再次处置"))?;
        let d = self.at(Stage::Handle, 0.1, 0.5);
        let text = format!("已返工。{}", result_note(&self.key, self.rng));
        self.push(d, handler, A::ReportResult, note(text))
    }

    fn rate(&mut self, p: &Plan, handler: Option<Who>) -> anyhow::Result<()> {
        use CaseAction as A;
        let Some(rating) = p.rating else {
            return Ok(());
        };
        let rater = self.rater();
        let delay = if rater == Who::Resident {
            Delay::Wall(self.rng.random_range(60..4320))
        } else {
            self.mins(60, 960)
        };
        if p.reopen {
            let text = pick(
                self.rng,
                &[
                    "问题没有彻底解决",
                    "处理敷衍，现场还是老样子",
                    "反映多次仍未解决",
                ],
            );
            let step = Step {
                rating: Some("unsatisfied".into()),
                note: text.into(),
                ..Step::default()
            };
            self.push(delay, rater, A::Rate, step)?;
            if !self.cx.auto_reopen {
                let op = Who::Op(self.village().op);
                let who = if self.level == 0 { op } else { self.actor() };
                let d = self.mins(30, 240);
                self.push(d, who, A::Reopen, note("群众评价不满意，重新处置"))?;
            }
            let handler = handler.unwrap_or(Who::Grid(self.worker));
            self.rework(handler)?;
            let checker = self.checker();
            let d = self.at(Stage::Check, 0.05, 0.3);
            self.push(d, checker, A::StartCheck, Step::default())?;
            let d = self.at(Stage::Check, 0.15, 0.55);
            self.push(d, checker, A::CheckPass, Step::default())?;
            let again = if self.rng.random_bool(0.6) {
                "basically_satisfied"
            } else {
                "satisfied"
            };
            let delay = if rater == Who::Resident {
                Delay::Wall(self.rng.random_range(60..2880))
            } else {
                self.mins(60, 960)
            };
            let step = Step {
                rating: Some(again.into()),
                note: "这次处理到位了".into(),
                ..Step::default()
            };
            return self.push(delay, rater, A::Rate, step);
        }
        let text = match rating {
            "satisfied" => pick(
                self.rng,
                &[
                    "处理很及时，满意",
                    "网格员很负责，点赞",
                    "问题解决了，谢谢",
                    "",
                ],
            ),
            _ => pick(
                self.rng,
                &["基本解决，希望以后多巡查", "处理还行，就是慢了点", ""],
            ),
        };
        let step = Step {
            rating: Some(rating.into()),
            note: text.into(),
            ..Step::default()
        };
        self.push(delay, rater, A::Rate, step)
    }

    /// An approval matter: the community reviews and notices it, the town reviews and notices
    /// it, the county approves through the civil-affairs bureau.
    fn approval(&mut self) -> anyhow::Result<()> {
        use CaseAction as A;
        let d = self.at(Stage::Accept, 0.1, 0.4);
        let who = Who::Grid(self.worker);
        self.push(d, who, A::Escalate, note("材料齐全，报社区受理"))?;
        for text in [
            "经入户调查和民主评议，家庭情况属实，予以公示",
            "经街道审核，材料真实完整，予以公示",
        ] {
            let d = self.at(Stage::Accept, 0.1, 0.5);
            let who = self.actor();
            let step = Step {
                note: text.into(),
                days: Some(5),
                ..Step::default()
            };
            self.push(d, who, A::Review, step)?;
            // the notice ends after 5 working days; the platform sends it up
            let wait = 5 * self.cx.cal.hours.daily_minutes() + self.rng.random_range(5..60);
            self.flow = self
                .flow
                .apply(A::Escalate, Party::System)
                .map_err(|e| anyhow!("notice: {e}"))?;
            self.level += 1;
            self.used = 0;
            self.steps.push(Planned {
                delay: Delay::Work(wait),
                who: Who::System,
                action: None,
                step: Step::default(),
                merge: false,
                deadline_days: None,
                state: self.flow.state,
            });
        }
        let who = self.actor();
        let d = self.at(Stage::Accept, 0.1, 0.4);
        self.push(d, who, A::Accept, Step::default())?;
        let d = self.at(Stage::Accept, 0.5, 0.75);
        self.push(d, who, A::File, Step::default())?;
        let mz = self.dept_index("mz");
        let step = Step {
            departments: vec![DepartmentPick {
                id: self.cx.dir.depts[mz].id,
                lead: true,
            }],
            ..Step::default()
        };
        let d = self.at(Stage::Dispatch, 0.1, 0.6);
        self.push(d, who, A::Dispatch, step)?;
        let handler = self.dept_user(mz);
        let d = self.at(Stage::Receive, 0.1, 0.6);
        self.push(d, handler, A::DeptAccept, note("已签收"))?;
        let d = self.at(Stage::Handle, 0.3, 0.8);
        self.push(
            d,
            handler,
            A::ReportResult,
            note("经县民政局审批，同意申请，自下月起按规定发放"),
        )?;
        let checker = Who::Grid(self.worker);
        let d = self.at(Stage::Check, 0.05, 0.4);
        self.push(d, checker, A::StartCheck, Step::default())?;
        let d = self.at(Stage::Check, 0.4, 0.85);
        self.push(d, checker, A::CheckPass, Step::default())
    }
}

// ───────────────────────────── making the specs ─────────────────────────────

fn weighted<T>(rng: &mut StdRng, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
    for (i, it) in items.iter().enumerate() {
        x -= weight(it);
        if x < 0.0 {
            return i;
        }
    }
    items.len().saturating_sub(1)
}

fn kinds(n: usize, rng: &mut StdRng) -> Vec<Kind> {
    let mut out = Vec::with_capacity(n);
    for (kind, share) in SPECIALS {
        let count = ((n as f64 * share).round() as usize).max(1);
        for _ in 0..count {
            if out.len() < n {
                out.push(kind);
            }
        }
    }
    while out.len() < n {
        out.push(Kind::Normal);
    }
    out.shuffle(rng);
    out
}

fn choose_channel(rng: &mut StdRng, kind: Kind) -> Ch {
    match kind {
        Kind::Approval => Ch::Errand,
        Kind::Merged => {
            if rng.random_bool(0.6) {
                Ch::Resident
            } else {
                Ch::Hotline
            }
        }
        _ => {
            let x: f64 = rng.random();
            if x < 0.55 {
                Ch::Grid
            } else if x < 0.77 {
                Ch::Resident
            } else if x < 0.95 {
                Ch::Hotline
            } else {
                Ch::Errand
            }
        }
    }
}

fn address(rng: &mut StdRng, village: &str, rural: bool) -> String {
    let n = rng.random_range(1..40);
    if rural {
        if rng.random_bool(0.5) {
            format!("{village}{}组", rng.random_range(1..13))
        } else {
            format!("{village}{}组{n}号", rng.random_range(1..13))
        }
    } else if rng.random_bool(0.5) {
        format!("{village}{n}号楼{}单元", rng.random_range(1..5))
    } else {
        format!("{}{}号", pick(rng, &ROADS), n * 3)
    }
}

fn caller_name(rng: &mut StdRng) -> String {
    format!(
        "{}{}",
        pick(rng, &SURNAMES),
        if rng.random_bool(0.5) {
            "先生"
        } else {
            "女士"
        }
    )
}

fn phone(rng: &mut StdRng) -> String {
    format!(
        "1{}{:09}",
        pick(rng, &["3", "5", "8", "9"]),
        rng.random_range(0..1_000_000_000u32)
    )
}

/// A case's script, before it is given times. `like`: the original a duplicate repeats.
fn make_spec(
    cx: &Cx,
    rng: &mut StdRng,
    idx: usize,
    kind: Kind,
    like: Option<&Spec>,
    overdue: bool,
) -> anyhow::Result<Spec> {
    let dir = &cx.dir;
    let ch = choose_channel(rng, kind);
    let showcase = dir.grids.iter().position(|g| g.showcase);
    let grid = match (like, showcase) {
        (Some(o), _) => o.grid,
        (None, Some(i)) if matches!(kind, Kind::Stall(_)) && rng.random_bool(0.3) => i,
        (None, _) => weighted(rng, &dir.grids, |g| g.weight),
    };
    let g = &dir.grids[grid];
    let village = &dir.villages[g.village];
    let (town_code, _) = &dir.towns[village.town];
    // the category and what is written
    let errand_kind = match (ch, kind) {
        (_, Kind::Approval) => Some("approval"),
        (Ch::Errand, _) => Some(
            *[
                "immediate",
                "immediate",
                "promised",
                "promised",
                "supplement",
                "report_up",
            ]
            .choose(rng)
            .unwrap_or(&"immediate"),
        ),
        _ => None,
    };
    let (key, code) = if let Some(o) = like {
        (o.key.clone(), String::new())
    } else if kind == Kind::Approval {
        ("elderly_assistance".to_string(), String::new())
    } else if ch == Ch::Errand && rng.random_bool(0.7) {
        ("errand".to_string(), "G0703".to_string())
    } else {
        let rural = g.rural;
        let i = weighted(rng, &cx.cats, |c| {
            let w = c.weight * if rural { c.rural } else { 1.0 };
            // errands are services; hotlines rarely report a fire in progress
            if ch == Ch::Errand && !["elderly_assistance", "social_security"].contains(&c.key) {
                0.0
            } else {
                w
            }
        });
        (cx.cats[i].key.to_string(), String::new())
    };
    let code = if code.is_empty() {
        cx.cats
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.code.clone())
            .ok_or_else(|| anyhow!("no category for {key}"))?
    } else {
        code
    };
    let info = cx.cats.iter().find(|c| c.key == key);
    let grid_share = info.map_or(0.8, |c| c.grid_share);
    let name = person(rng.random_range(0..600));
    let description = if kind == Kind::Approval {
        let matter = pick(rng, &MATTERS);
        format!("{name}申请{matter}，网格员入户核实家庭情况，申请材料已收齐")
    } else if key == "errand" {
        pick(rng, &ERRANDS).replace("{name}", &name)
    } else {
        let all = cx.texts.get(&key).cloned().unwrap_or_default();
        let fits: Vec<&String> = all
            .iter()
            .filter(|t| {
                let hotline = ["来电", "市民", "热线", "居民称", "群众反映"]
                    .iter()
                    .any(|m| t.contains(m));
                let grid = t.contains("网格员");
                match ch {
                    Ch::Grid | Ch::Errand => !hotline,
                    Ch::Hotline => !grid,
                    Ch::Resident => !hotline && !grid,
                }
            })
            .collect();
        let from: Vec<&String> = if fits.is_empty() {
            all.iter().collect()
        } else {
            fits
        };
        let mut text = from
            .choose(rng)
            .map(|s| s.to_string())
            .ok_or_else(|| anyhow!("no texts for {key}"))?;
        if let Some(o) = like
            && text == o.report.description
            && let Some(t) = from.choose(rng)
        {
            text = t.to_string();
        }
        text
    };
    // where
    let r = g.rect;
    let (lat, lng) = match like {
        Some(o) => (
            o.lat + rng.random_range(-0.0003..0.0003),
            o.lng + rng.random_range(-0.0003..0.0003),
        ),
        None => (
            r.s + (r.n - r.s) * rng.random_range(0.08..0.92),
            r.w + (r.e - r.w) * rng.random_range(0.08..0.92),
        ),
    };
    // how it starts
    let stall = match kind {
        Kind::Stall(s) => Some(s),
        _ => None,
    };
    let cat_urgent = cx.cat.is_urgent(&code);
    let urgent_extra = errand_kind.is_none() && !cat_urgent && rng.random_bool(0.02);
    let urgent = errand_kind.is_none() && (cat_urgent || urgent_extra);
    let hotline_county = ch == Ch::Hotline && rng.random_bool(0.3);
    let mut level = match (ch, errand_kind) {
        (Ch::Hotline, _) if hotline_county => 3,
        (Ch::Hotline, _) => 2,
        (_, Some("report_up")) => 1,
        _ => 0,
    };
    if urgent && let Some(u) = cx.urgent_level.filter(|u| level < *u) {
        level = u;
    }
    let grid_ok = level == 0 && kind != Kind::Approval;
    let must_dept = matches!(
        stall,
        Some(CaseState::Dispatched | CaseState::InHandling | CaseState::Rework)
    ) || matches!(kind, Kind::Supervised | Kind::Extended);
    let dept = !grid_ok || must_dept || rng.random_range(0.0..1.0) >= grid_share;
    let on_spot = ch == Ch::Grid
        && grid_ok
        && !dept
        && matches!(kind, Kind::Normal | Kind::Stall(CaseState::InCheck))
        && rng.random_bool(0.6);
    let rating = match ch {
        Ch::Resident if rng.random_bool(0.8) => Some(()),
        Ch::Hotline if rng.random_bool(0.92) => Some(()),
        Ch::Grid if rng.random_bool(0.35) => Some(()),
        Ch::Errand if rng.random_bool(0.6) => Some(()),
        _ => None,
    }
    .map(|()| {
        if rng.random_bool(0.76) {
            "satisfied"
        } else {
            "basically_satisfied"
        }
    });
    let reopen = kind == Kind::Reopened || (rating.is_some() && rng.random_bool(0.05));
    let spot_later = ch == Ch::Resident
        && grid_ok
        && !dept
        && matches!(kind, Kind::Normal | Kind::Stall(CaseState::InCheck))
        && rng.random_bool(0.4);
    let plan = Plan {
        kind,
        on_spot,
        spot_later,
        dept,
        rating: if reopen {
            Some("unsatisfied")
        } else if kind == Kind::Reopened {
            Some("satisfied")
        } else {
            rating
        },
        reopen,
        check_fail: stall == Some(CaseState::Rework) || rng.random_bool(0.05),
        extension: (kind == Kind::Extended || rng.random_bool(if dept { 0.07 } else { 0.02 }))
            .then(|| kind == Kind::Extended || rng.random_bool(0.85)),
        supervise: kind == Kind::Supervised || (dept && rng.random_bool(0.03)),
        late: kind == Kind::Supervised || (dept && rng.random_bool(0.1)),
        park: match stall {
            Some(CaseState::Parked) => Some(CaseAction::Park),
            Some(CaseState::Deferred) => Some(CaseAction::Defer),
            _ if kind == Kind::Normal && rng.random_bool(0.015) => Some(CaseAction::Park),
            _ if kind == Kind::Normal && rng.random_bool(0.01) => Some(CaseAction::Defer),
            _ => None,
        },
        transfer: dept && rng.random_bool(0.03),
        give_back: dept && rng.random_bool(0.02),
        joint: dept && rng.random_bool(0.08),
    };
    let plan = match stall {
        // a stall in handling waits; late and supervised on every second one
        Some(CaseState::InHandling) => Plan {
            supervise: overdue,
            late: overdue,
            ..plan
        },
        _ => Plan {
            supervise: plan.supervise || (plan.late && rng.random_bool(0.5)),
            ..plan
        },
    };
    // who reports
    let worker = *g.workers.choose(rng).unwrap_or(&0);
    let by = match ch {
        Ch::Grid | Ch::Errand => {
            if ch == Ch::Grid && rng.random_bool(0.15) {
                Who::Grid(*g.heads.choose(rng).unwrap_or(&worker))
            } else {
                Who::Grid(worker)
            }
        }
        Ch::Resident => Who::Resident,
        Ch::Hotline => Who::Op(dir.county_op),
    };
    // residents often leave the category to the centre, but pick the emergencies themselves
    let given = match ch {
        Ch::Resident => cat_urgent || rng.random_bool(0.4),
        _ => true,
    };
    let nature = match ch {
        Ch::Hotline => {
            let x: f64 = rng.random();
            if x < 0.3 {
                "complaint"
            } else if x < 0.36 {
                "inquiry"
            } else if x < 0.39 {
                "suggestion"
            } else {
                "demand"
            }
        }
        Ch::Resident if rng.random_bool(0.15) => "complaint",
        _ => "demand",
    };
    let (reporter_name, reporter_phone) = match ch {
        Ch::Hotline => (Some(caller_name(rng)), Some(phone(rng))),
        Ch::Resident if rng.random_bool(0.5) => (Some(caller_name(rng)), Some(phone(rng))),
        Ch::Errand => (Some(name.clone()), Some(phone(rng))),
        _ => (None, None),
    };
    let errand = errand_kind.map(|k| Errand {
        kind: k.into(),
        promised_date: None,
        missing: if k == "supplement" {
            vec!["户口簿复印件".into(), "近期一寸免冠照片".into()]
        } else {
            vec![]
        },
        units: vec![],
        matter: (k == "approval").then(|| {
            MATTERS
                .iter()
                .find(|m| description.contains(*m))
                .unwrap_or(&MATTERS[0])
                .to_string()
        }),
    });
    let report = Report {
        client_id: format!("demo-{idx:06}"),
        channel: match ch {
            Ch::Grid => Some("grid".into()),
            Ch::Resident => None,
            Ch::Hotline => Some("hotline".into()),
            Ch::Errand => Some("errand".into()),
        },
        lat: Some(lat),
        lng: Some(lng),
        crs: None,
        unit_code: None,
        handling_code: (ch == Ch::Hotline).then(|| {
            if hotline_county {
                "320831".to_string()
            } else {
                town_code.clone()
            }
        }),
        address: address(rng, &village.name, g.rural),
        category: given.then(|| code.clone()),
        description,
        nature: Some(nature.into()),
        urgent: urgent_extra,
        answers: if given {
            answers(&cx.cat, &code, rng)
        } else {
            Map::new()
        },
        media: vec![],
        reporter_name,
        reporter_phone,
        on_spot: on_spot.then(|| OnSpot {
            note: on_spot_note(&key).into(),
            media: vec![],
        }),
        errand,
        source: None,
    };
    let start = if on_spot {
        CaseState::InCheck
    } else {
        CaseState::Reported
    };
    let mut b = Builder {
        cx,
        rng,
        code,
        key: key.clone(),
        grid,
        worker,
        flow: Flow {
            state: start,
            resume_to: None,
        },
        level,
        used: 0,
        steps: Vec::new(),
        urgent,
        ch,
        joint_user: None,
        handle_minutes: match errand_kind {
            Some("immediate") => Some(150),
            Some("promised") => Some(2 * cx.cal.hours.daily_minutes()),
            _ => None,
        },
    };
    b.run(&plan)?;
    let mut steps = b.steps;
    if let Some(target) = stall {
        let first = if start == target {
            Some(0)
        } else {
            steps.iter().position(|s| s.state == target).map(|i| i + 1)
        }
        .ok_or_else(|| anyhow!("the script of {key} never reaches {target:?}"))?;
        let mut end = first;
        if !(target == CaseState::Reported && rng.random_bool(0.5)) {
            while end < steps.len() && steps[end].state == target {
                end += 1;
            }
        }
        steps.truncate(end);
    }
    Ok(Spec {
        report,
        by,
        steps,
        times: Vec::new(),
        original: None,
        promise_days: (errand_kind == Some("promised")).then(|| rng.random_range(3..8)),
        key,
        grid,
        lat,
        lng,
        dept,
        overdue,
    })
}

// ───────────────────────────── times ─────────────────────────────

fn civil(cx: &Cx, ms: i64) -> jiff::civil::DateTime {
    engine::civil(&cx.st, ms)
}

fn to_ms(cx: &Cx, dt: jiff::civil::DateTime) -> Option<i64> {
    engine::to_ms(&cx.st, dt)
}

fn add_work(cx: &Cx, t: i64, minutes: i64) -> i64 {
    cx.cal
        .add_minutes(civil(cx, t), minutes)
        .and_then(|d| to_ms(cx, d))
        .unwrap_or(t + minutes * 60_000)
}

/// The latest moment `minutes` working minutes before `end`.
fn sub_work(cx: &Cx, end: i64, minutes: i64) -> i64 {
    if minutes <= 0 {
        return end;
    }
    let daily = cx.cal.hours.daily_minutes().max(1);
    let span_days = (minutes / daily + 2) * 2 + 20;
    let end_dt = civil(cx, end);
    let used = |t: i64| cx.cal.minutes_between(civil(cx, t), end_dt);
    let (mut lo, mut hi) = (end - span_days * 86_400_000, end);
    if used(lo) < minutes {
        return end - minutes * 60_000;
    }
    while hi - lo > 60_000 {
        let mid = lo + (hi - lo) / 2;
        if used(mid) >= minutes {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

fn forward(cx: &Cx, rng: &mut StdRng, spec: &mut Spec, start: i64) {
    let mut t = start;
    spec.times = vec![start];
    for s in &spec.steps {
        let next = match s.delay {
            Delay::Work(m) => add_work(cx, t, m),
            Delay::Wall(m) => t + m * 60_000,
        } + rng.random_range(0..25_000);
        t = next.max(t + 20_000);
        spec.times.push(t);
    }
}

fn backward(cx: &Cx, rng: &mut StdRng, spec: &mut Spec, end: i64) {
    let mut t = end;
    let mut times = vec![end];
    for s in spec.steps.iter().rev() {
        t = match s.delay {
            Delay::Work(m) => sub_work(cx, t, m),
            Delay::Wall(m) => t - m * 60_000,
        };
        times.push(t);
    }
    times.reverse();
    for i in 0..times.len() {
        times[i] += rng.random_range(0..20_000);
        if i > 0 {
            times[i] = times[i].max(times[i - 1] + 10_000);
        }
    }
    spec.times = times;
}

/// When a report comes in, `min_days` to `max_days` before now: grid workers and errands in
/// office hours on working days, residents and the hotline from morning to night every day.
fn sample_start(cx: &Cx, rng: &mut StdRng, ch: Ch, min_days: f64, max_days: f64) -> i64 {
    let mut fallback = cx.now - (min_days.max(0.1) * 86_400_000.0) as i64;
    for _ in 0..200 {
        let age = rng.random_range(min_days..max_days.max(min_days + 0.01));
        let day = civil(cx, cx.now - (age * 86_400_000.0) as i64).date();
        let working = cx.cal.is_working_day(day);
        let keep = match ch {
            Ch::Grid | Ch::Errand => working || rng.random_bool(0.12),
            _ => working || rng.random_bool(0.7),
        };
        if !keep {
            continue;
        }
        let minute: i64 = match ch {
            Ch::Grid | Ch::Errand => {
                if rng.random_bool(0.45) {
                    rng.random_range(510..720)
                } else {
                    rng.random_range(810..1050)
                }
            }
            Ch::Hotline => rng.random_range(480..1260),
            Ch::Resident => {
                let x: f64 = rng.random();
                if x < 0.45 {
                    rng.random_range(450..720)
                } else if x < 0.75 {
                    rng.random_range(780..1080)
                } else {
                    rng.random_range(1080..1350)
                }
            }
        };
        let Ok(time) = jiff::civil::Time::new(
            (minute / 60) as i8,
            (minute % 60) as i8,
            rng.random_range(0..60),
            0,
        ) else {
            continue;
        };
        let Some(t) = to_ms(cx, day.to_datetime(time)) else {
            continue;
        };
        if t < cx.now - 120_000 {
            return t;
        }
        fallback = fallback.min(t - 86_400_000);
    }
    fallback
}

/// How long before now a stall's last step happened, in working minutes.
fn stall_gap(cx: &Cx, rng: &mut StdRng, spec: &Spec, state: CaseState) -> i64 {
    let code = spec
        .report
        .category
        .clone()
        .or_else(|| {
            cx.cats
                .iter()
                .find(|c| c.key == spec.key)
                .map(|c| c.code.clone())
        })
        .unwrap_or_default();
    let lim = |s: Stage| limit_minutes(cx, &code, s) as f64;
    let daily = cx.cal.hours.daily_minutes() as f64;
    let g = match state {
        CaseState::Reported => lim(Stage::Accept) * rng.random_range(0.0..0.2),
        CaseState::Accepted => lim(Stage::Accept) * rng.random_range(0.0..0.15),
        CaseState::Filed => lim(Stage::Dispatch) * rng.random_range(0.0..0.4),
        CaseState::Dispatched => lim(Stage::Receive) * rng.random_range(0.0..1.6),
        CaseState::InHandling if spec.overdue => lim(Stage::Handle) * rng.random_range(1.2..2.5),
        CaseState::InHandling => lim(Stage::Handle) * rng.random_range(0.05..0.6),
        CaseState::Handled => lim(Stage::Check) * rng.random_range(0.0..1.4),
        CaseState::InCheck => lim(Stage::Check) * rng.random_range(0.0..0.9),
        CaseState::Rework => lim(Stage::Handle) * rng.random_range(0.05..1.5),
        _ => daily * rng.random_range(1.0..25.0),
    };
    g as i64
}

// ───────────────────────────── playing the scripts ─────────────────────────────

/// How the seeding went.
#[derive(Debug, Default)]
pub struct Seeded {
    pub cases: usize,
    pub steps: usize,
    /// Steps the engine refused (and scripts that could not be written); 0 when all is well.
    pub failures: usize,
    /// Steps that left a case in another state than the script expected.
    pub mismatches: usize,
    pub warnings: usize,
    pub seconds: f64,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow!("{}: {}", e.code, e.message.unwrap_or_default())
}

struct Player {
    sim: AppState,
    clock: Arc<ManualClock>,
    callers: HashMap<i64, Caller>,
    /// When each case's next deadline warning is due, earliest first (stale entries skipped).
    due: BinaryHeap<Reverse<(i64, i64)>>,
    next_alert: HashMap<i64, i64>,
    last_round: i64,
    warnings: usize,
    rounds: usize,
    /// Each case as the last step left it (a step on a stale copy is retried).
    cases: HashMap<i64, wangge_store::Case>,
}

impl Player {
    fn set_clock(&self, t: i64) {
        self.clock.advance_ms(t - self.clock.now_ms());
    }

    /// Keeps the case as it now is, and when its next deadline warning is due.
    fn watch(&mut self, case: &wangge_store::Case, after: i64) {
        self.cases.insert(case.id, case.clone());
        // A warning the round left due is looked at again at the next working minute: the
        // engine puts a threshold at floor(limit × share) minutes while the alert level
        // needs the share reached in full, so at the end of an office period the level only
        // moves on the next working day (the server's scheduler would write the unchanged
        // level again every minute until then).
        let retry = || {
            let cal = self.sim.cases.calendar();
            cal.add_minutes(engine::civil(&self.sim, after), 1)
                .and_then(|d| engine::to_ms(&self.sim, d))
                .unwrap_or(after + 60_000)
                .max(after + 60_000)
        };
        match case
            .next_alert_at
            .map(|n| if n > after { n } else { retry() })
        {
            Some(n) => {
                self.next_alert.insert(case.id, n);
                self.due.push(Reverse((n, case.id)));
            }
            None => {
                self.next_alert.remove(&case.id);
            }
        }
    }

    /// Raises the deadline warnings due up to `t`, each at its own time.
    async fn alerts_until(&mut self, t: i64) -> anyhow::Result<()> {
        while let Some(Reverse((at, id))) = self.due.peek().copied() {
            if at > t {
                break;
            }
            self.due.pop();
            if self.next_alert.get(&id) != Some(&at) {
                continue;
            }
            if at > self.last_round {
                self.set_clock(at);
                self.warnings += engine::alerts_round(&self.sim).await?;
                self.rounds += 1;
                self.last_round = at;
            }
            let case = self.sim.store.case_get(id).await?;
            self.watch(&case, at);
        }
        Ok(())
    }

    async fn caller(&mut self, user: i64) -> anyhow::Result<Caller> {
        if let Some(c) = self.callers.get(&user) {
            return Ok(c.clone());
        }
        let c = Caller {
            user: self.sim.store.user_get(user).await?,
            grants: self.sim.store.grants_of(user).await?,
            via: Via::Token { id: 0 },
            ip: "demo".into(),
        };
        self.callers.insert(user, c.clone());
        Ok(c)
    }

    async fn submit(&mut self, spec: &Spec) -> anyhow::Result<wangge_store::Case> {
        let report = spec.report.clone();
        let (case, _) = match spec.by.user() {
            Some(u) => {
                let c = self.caller(u).await?;
                intake::submit(&self.sim, Reporter::Staff { caller: &c }, report).await
            }
            None => {
                intake::submit(&self.sim, Reporter::Resident { ip: "demo".into() }, report).await
            }
        }
        .map_err(api)?;
        Ok(case)
    }

    async fn step(
        &mut self,
        id: i64,
        p: &Planned,
        into: Option<i64>,
        at: i64,
    ) -> anyhow::Result<wangge_store::Case> {
        let Some(action) = p.action else {
            // the public notice ended: the platform sends the matter up
            engine::notices_round(&self.sim).await?;
            return Ok(self.sim.store.case_get(id).await?);
        };
        let mut step = p.step.clone();
        if p.merge {
            step.into = into;
        }
        if let Some(days) = p.deadline_days {
            let cal = self.sim.cases.calendar();
            step.deadline = cal
                .add_days(engine::civil(&self.sim, at), days)
                .map(|d| d.date().to_string());
        }
        let case = match self.cases.get(&id) {
            Some(c) => c.clone(),
            None => self.sim.store.case_get(id).await?,
        };
        match self.act(case, p.who, action, step.clone()).await {
            Err(e) if e.code == "case_conflict" => {
                // something else moved the case meanwhile (a public notice ending)
                let fresh = self.sim.store.case_get(id).await?;
                self.act(fresh, p.who, action, step).await.map_err(api)
            }
            r => r.map_err(api),
        }
    }

    async fn act(
        &mut self,
        case: wangge_store::Case,
        who: Who,
        action: CaseAction,
        mut step: Step,
    ) -> Result<wangge_store::Case, ApiError> {
        let acting = match who.user() {
            Some(u) => {
                let c = self
                    .caller(u)
                    .await
                    .map_err(|e| ApiError::new("internal_error").msg(format!("{e:#}")))?;
                engine::acting(&self.sim, &c, &case).await?
            }
            None if who == Who::Resident => Acting::resident("demo"),
            None => Acting::system(),
        };
        step.version = case.version;
        let case = engine::act(&self.sim, &acting, case.id, action, step).await?;
        if action == CaseAction::Rate {
            engine::after_rating(&self.sim, &acting, case).await
        } else {
            Ok(case)
        }
    }
}

/// Seeds `n` demo cases over the 90 days before `now_ms`, through a second handle on the
/// database at `url` whose clock walks through those days.
pub async fn seed_cases(
    state: &AppState,
    url: &str,
    n: usize,
    now_ms: i64,
) -> anyhow::Result<Seeded> {
    let started = std::time::Instant::now();
    let clock = Arc::new(ManualClock::new(now_ms - 91 * 86_400_000));
    let store = wangge_store::open_in(
        &seeding_url(url),
        clock.clone(),
        state.config.time_zone.clone(),
    )
    .await
    .context("opening a second handle on the database")?;
    // webhooks stay quiet about the past; breaches escalate only at the end, as the scripts
    // keep grid and community cases within their time
    let mut quiet = (*state.config).clone();
    quiet.cases.webhooks.clear();
    let mut config = quiet.clone();
    config.cases.auto_escalate.clear();
    let sim = AppState {
        store,
        config: Arc::new(config),
        clock: clock.clone(),
        grids: Arc::default(),
        cases: Arc::default(),
        // no external systems exist yet, so none hears of the past
        external: Arc::default(),
        caches: Arc::default(),
        in_flight: state.in_flight.clone(),
    };
    sim.load_grids().await?;
    sim.cases.load(sim.store.as_ref(), &sim.config).await?;
    let cat = sim.cases.catalogue();
    let mut cats = Vec::new();
    for (key, weight, grid_share, rural) in CATEGORIES {
        if let Some(c) = cat.by_key(key) {
            cats.push(CatInfo {
                key,
                code: c.code.clone(),
                weight,
                grid_share,
                rural,
                dept_kind: cat.effective_department(&c.code).unwrap_or_default(),
            });
        }
    }
    let mut texts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, text) in wangge_text::builtin_examples() {
        texts.entry(key).or_default().push(text);
    }
    let cfg = &state.config.cases;
    let cx = Cx {
        dir: directory(&sim).await?,
        cal: sim.cases.calendar(),
        cat,
        now: now_ms,
        auto_reopen: cfg.reopen_by == "resident" && cfg.reopen_limit > 0,
        urgent_level: cfg.urgent_level.as_deref().map(level_index),
        cats,
        texts,
        st: sim.clone(),
    };
    if cx.cats.is_empty() {
        bail!("the catalogue has none of the demo's categories");
    }

    // the scripts
    let mut rng = StdRng::seed_from_u64(20_260_101);
    let kinds = kinds(n, &mut rng);
    let mut specs: Vec<Option<Spec>> = Vec::with_capacity(n);
    let mut result = Seeded::default();
    let mut in_handling = 0;
    for (i, kind) in kinds.iter().enumerate() {
        if *kind == Kind::Merged {
            specs.push(None);
            continue;
        }
        let overdue = *kind == Kind::Stall(CaseState::InHandling) && {
            in_handling += 1;
            in_handling % 2 == 1
        };
        let mut spec = match make_spec(&cx, &mut rng, i, *kind, None, overdue) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("demo case {i}: {e:#}");
                result.failures += 1;
                specs.push(None);
                continue;
            }
        };
        match kind {
            Kind::Stall(state) => {
                let gap = stall_gap(&cx, &mut rng, &spec, *state);
                let end = sub_work(&cx, now_ms - 120_000, gap.max(1));
                backward(&cx, &mut rng, &mut spec, end);
            }
            Kind::Normal | Kind::NotFiled | Kind::Voided => {
                let ch = spec_channel(&spec);
                let start = sample_start(&cx, &mut rng, ch, 0.0, 90.0);
                forward(&cx, &mut rng, &mut spec, start);
            }
            _ => {
                let ch = spec_channel(&spec);
                let start = sample_start(&cx, &mut rng, ch, 25.0, 85.0);
                forward(&cx, &mut rng, &mut spec, start);
            }
        }
        specs.push(Some(spec));
    }
    // duplicates of cases still open when the second report comes in
    for i in 0..n {
        if kinds[i] != Kind::Merged {
            continue;
        }
        let candidates: Vec<usize> = (0..n)
            .filter(|j| {
                kinds[*j] == Kind::Normal
                    && specs[*j]
                        .as_ref()
                        .is_some_and(|s| s.dept && s.report.errand.is_none())
            })
            .collect();
        let mut made = None;
        for _ in 0..60 {
            let Some(&j) = candidates.choose(&mut rng) else {
                break;
            };
            let Some(orig) = specs[j].as_ref() else {
                continue;
            };
            let Ok(mut dup) = make_spec(&cx, &mut rng, i, Kind::Merged, Some(orig), false) else {
                continue;
            };
            let mut start = orig.times[0] + rng.random_range(30..900) * 60_000;
            // nobody calls about it in the small hours
            let hour = civil(&cx, start).hour();
            if !(7..22).contains(&hour) {
                start += i64::from((31 - hour) % 24) * 3_600_000;
            }
            forward(&cx, &mut rng, &mut dup, start);
            let merge_at = dup.times.last().copied().unwrap_or(i64::MAX);
            // the original must still be open then
            let open_until = orig
                .steps
                .iter()
                .zip(&orig.times[1..])
                .find(|(s, _)| {
                    matches!(
                        s.state,
                        CaseState::Closed
                            | CaseState::Rated
                            | CaseState::NotFiled
                            | CaseState::Voided
                    )
                })
                .map_or(i64::MAX, |(_, t)| *t);
            if merge_at < open_until.min(now_ms - 60_000) && start > orig.times[0] {
                dup.original = Some(j);
                made = Some(dup);
                break;
            }
        }
        match made {
            Some(dup) => specs[i] = Some(dup),
            None => {
                // nothing to merge into: an ordinary case instead
                let mut spec = make_spec(&cx, &mut rng, i, Kind::Normal, None, false)?;
                let start = sample_start(&cx, &mut rng, spec_channel(&spec), 0.0, 90.0);
                forward(&cx, &mut rng, &mut spec, start);
                specs[i] = Some(spec);
            }
        }
    }
    for s in specs.iter_mut().flatten() {
        if let Some(days) = s.promise_days {
            let date = civil(&cx, s.times[0]).date();
            if let Some(e) = s.report.errand.as_mut() {
                e.promised_date = date
                    .checked_add(jiff::Span::new().days(days))
                    .ok()
                    .map(|d| d.to_string());
            }
        }
    }

    tracing::debug!(
        "demo cases: scripts written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // play them in time order
    let mut events: Vec<(i64, usize, usize)> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        if let Some(s) = s {
            for (k, t) in s.times.iter().enumerate() {
                if *t <= now_ms {
                    events.push((*t, i, k));
                }
            }
        }
    }
    events.sort_unstable();
    let bar = ProgressBar::new(events.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("demo cases [{bar:40}] {pos}/{len} steps ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut player = Player {
        sim: sim.clone(),
        clock: clock.clone(),
        callers: HashMap::new(),
        due: BinaryHeap::new(),
        next_alert: HashMap::new(),
        last_round: 0,
        warnings: 0,
        rounds: 0,
        cases: HashMap::new(),
    };
    let mut ids: Vec<Option<i64>> = vec![None; n];
    let mut broken = vec![false; n];
    for (done, (t, i, k)) in events.iter().enumerate() {
        if done % 256 == 0 {
            bar.set_position(done as u64);
        }
        let Some(spec) = specs[*i].as_ref() else {
            continue;
        };
        if broken[*i] {
            continue;
        }
        player.alerts_until(*t).await?;
        player.set_clock(*t);
        let outcome = if *k == 0 {
            player.submit(spec).await.map(|case| {
                ids[*i] = Some(case.id);
                player.watch(&case, *t);
                None
            })
        } else {
            let p = &spec.steps[*k - 1];
            let into = spec.original.and_then(|o| ids[o]);
            match ids[*i] {
                Some(id) => player.step(id, p, into, *t).await.map(Some),
                None => Err(anyhow!("not created")),
            }
        };
        match outcome {
            Ok(Some(case)) => {
                result.steps += 1;
                player.watch(&case, *t);
                let state = case.state;
                let p = &spec.steps[*k - 1];
                if state != p.state {
                    result.mismatches += 1;
                    tracing::warn!(
                        "demo case {i} ({}): {:?} left it {state:?}, not {:?}",
                        spec.key,
                        p.action,
                        p.state
                    );
                    broken[*i] = true;
                }
            }
            Ok(None) => result.cases += 1,
            Err(e) => {
                result.failures += 1;
                broken[*i] = true;
                let what = if *k == 0 {
                    "submit".to_string()
                } else {
                    format!("{:?}", spec.steps[*k - 1].action)
                };
                tracing::warn!("demo case {i} ({}), {what}: {e:#}", spec.key);
            }
        }
    }
    bar.finish_and_clear();

    // now: the deadlines that passed while nobody looked, with the deployment's escalation rules
    player.alerts_until(now_ms).await?;
    result.warnings += player.warnings;
    tracing::debug!(
        "demo cases: {} deadline rounds, {} warnings",
        player.rounds,
        player.warnings
    );
    player.set_clock(now_ms);
    let now_state = AppState {
        config: Arc::new(quiet),
        ..sim.clone()
    };
    engine::notices_round(&now_state).await?;
    for _ in 0..50 {
        // a round takes at most 500 cases
        let k = engine::alerts_round(&now_state).await?;
        result.warnings += k;
        if k < 500 {
            break;
        }
    }
    sim.store.close().await;
    result.seconds = started.elapsed().as_secs_f64();
    summary(state, &result).await?;
    Ok(result)
}

/// The database URL for seeding: on PostgreSQL without waiting for the disk at each commit
/// (a crash while seeding loses the last few steps of demo data, nothing else).
fn seeding_url(url: &str) -> String {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return url.to_string();
    }
    const OFF: &str = "-c%20synchronous_commit%3Doff";
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    match params.iter_mut().find(|p| p.starts_with("options=")) {
        Some(p) => {
            p.push_str("%20");
            p.push_str(OFF);
        }
        None => params.push(format!("options={OFF}")),
    }
    format!("{base}?{}", params.join("&"))
}

fn spec_channel(s: &Spec) -> Ch {
    match s.report.channel.as_deref() {
        Some("grid") => Ch::Grid,
        Some("hotline") => Ch::Hotline,
        Some("errand") => Ch::Errand,
        _ => Ch::Resident,
    }
}

async fn summary(state: &AppState, r: &Seeded) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    for s in [
        CaseState::Rated,
        CaseState::Closed,
        CaseState::Reported,
        CaseState::Accepted,
        CaseState::Filed,
        CaseState::Dispatched,
        CaseState::InHandling,
        CaseState::Handled,
        CaseState::InCheck,
        CaseState::Rework,
        CaseState::Parked,
        CaseState::Deferred,
        CaseState::NotFiled,
        CaseState::Voided,
    ] {
        let f = CaseFilter {
            states: vec![s],
            limit: 1,
            ..CaseFilter::default()
        };
        let (_, total) = state.store.case_list(&f).await?;
        parts.push(format!("{} {total}", wangge_server::cases::notify::key(&s)));
    }
    println!(
        "Demo cases: {} over the last 90 days through the case engine, {} steps, {} deadline warnings, in {:.1} s ({}).",
        r.cases,
        r.steps,
        r.warnings,
        r.seconds,
        parts.join(", ")
    );
    if r.failures + r.mismatches > 0 {
        println!(
            "  ({} steps were refused and {} went elsewhere than planned; see the log)",
            r.failures, r.mismatches
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn seeding_on_postgres_does_not_wait_for_each_commit() {
        assert_eq!(
            seeding_url("sqlite:///x/wangge.db"),
            "sqlite:///x/wangge.db"
        );
        assert_eq!(
            seeding_url("postgres://u@h/db"),
            "postgres://u@h/db?options=-c%20synchronous_commit%3Doff"
        );
        assert_eq!(
            seeding_url("postgres://u@h/db?sslmode=disable&options=-c%20search_path%3Ddemo"),
            "postgres://u@h/db?sslmode=disable&options=-c%20search_path%3Ddemo%20-c%20synchronous_commit%3Doff"
        );
    }
    use wangge_domain::case_flow::replay;

    /// A Tuesday afternoon, a Monday just after the office opens, a Sunday night.
    #[tokio::test]
    async fn demo_cases_reach_every_state_through_histories_that_replay() {
        for (day, hour, minute) in [(17, 15, 20), (16, 8, 40), (15, 22, 10)] {
            seed_and_check(jiff::civil::date(2026, 11, day).at(hour, minute, 0, 0)).await;
        }
    }

    async fn seed_and_check(local_now: jiff::civil::DateTime) {
        let tmp = tempfile::tempdir().unwrap();
        let env = crate::setup::Env::open(tmp.path(), None).await.unwrap();
        let now = local_now
            .to_zoned(env.state.config.time_zone.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        crate::demo::seed(&env.state, &env.url, 0, now)
            .await
            .unwrap();
        let seeded = seed_cases(&env.state, &env.url, 60, now).await.unwrap();
        assert_eq!(
            (seeded.failures, seeded.mismatches),
            (0, 0),
            "{local_now}: {seeded:?}"
        );
        assert_eq!(seeded.cases, 60);

        let store = &env.state.store;
        assert_eq!(store.case_count().await.unwrap(), 60);
        let f = CaseFilter {
            limit: 1000,
            ..CaseFilter::default()
        };
        let (cases, total) = store.case_list(&f).await.unwrap();
        assert_eq!((cases.len(), total), (60, 60));
        let states: BTreeSet<CaseState> = cases.iter().map(|c| c.state).collect();
        use CaseState as S;
        for s in [
            S::Reported,
            S::Accepted,
            S::Filed,
            S::Dispatched,
            S::InHandling,
            S::Handled,
            S::InCheck,
            S::Rework,
            S::Parked,
            S::Deferred,
            S::NotFiled,
            S::Voided,
            S::Closed,
            S::Rated,
        ] {
            assert!(
                states.contains(&s),
                "{local_now}: no case is {s:?}: {states:?}"
            );
        }
        assert!(cases.iter().any(|c| c.merged_into.is_some()), "merged");
        assert!(cases.iter().any(|c| c.supervision.is_some()), "supervised");
        assert!(cases.iter().any(|c| c.extension_count > 0), "extended");
        assert!(cases.iter().any(|c| c.reopen_count > 0), "reopened");
        assert!(
            cases.iter().any(|c| c.deadline_at.is_some_and(|d| d < now)),
            "overdue"
        );
        let channels: BTreeSet<&str> = cases.iter().map(|c| c.channel.as_str()).collect();
        assert!(channels.len() >= 3, "{channels:?}");
        // the dashboards' aggregates, kept by every engine step, equal a full recount; a
        // damaged cell is found and repaired
        let check = store.case_aggregates_check(false).await.unwrap();
        assert_eq!(check.cases, 60);
        assert!(
            check.differences.is_empty(),
            "{local_now}: {:?}",
            check.differences
        );
        {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&env.url).await.unwrap();
            // a root's cell one too high, a grid's day gone, figures for a unit without cases
            for damage in [
                "UPDATE case_counts SET n = n + 1 WHERE (unit_id, state, category, overdue) = \
                 (SELECT unit_id, state, category, overdue FROM case_counts ORDER BY unit_id LIMIT 1)",
                "DELETE FROM case_daily WHERE unit_id = (SELECT unit_id FROM cases ORDER BY id LIMIT 1) \
                 AND day = (SELECT MIN(day) FROM case_daily WHERE unit_id = (SELECT unit_id FROM cases ORDER BY id LIMIT 1))",
                "INSERT INTO case_counts (unit_id, state, category, overdue, n) \
                 SELECT MAX(id), 'reported', '', 0, 2 FROM units WHERE id NOT IN (SELECT unit_id FROM case_counts)",
            ] {
                let done = sqlx::query(damage).execute(&mut conn).await.unwrap();
                assert_eq!(done.rows_affected(), 1, "{damage}");
            }
            conn.close().await.unwrap();
        }
        let check = store.case_aggregates_check(false).await.unwrap();
        assert!(!check.repaired);
        assert_eq!(check.difference_count, 3, "{:?}", check.differences);
        assert_eq!(check.differences.len(), 3);
        assert!(store.case_aggregates_check(true).await.unwrap().repaired);
        assert!(
            store
                .case_aggregates_check(false)
                .await
                .unwrap()
                .differences
                .is_empty()
        );

        for c in &cases {
            assert!(
                c.created_at >= now - 91 * 86_400_000 && c.created_at <= now,
                "{}",
                c.number
            );
            let events = store.case_events(c.id).await.unwrap();
            let mut flow = Flow::new();
            let mut steps = Vec::new();
            let mut last = 0;
            for e in &events {
                let what = format!("{} event {} {}", c.number, e.id, e.action);
                assert_eq!(e.from_state, flow.state, "{what}: the chain breaks");
                assert!(e.at >= last && e.at <= now, "{what}: out of time order");
                last = e.at;
                let action: Option<CaseAction> = serde_json::from_value(json!(e.action)).ok();
                let party: Party = serde_json::from_value(json!(e.party)).unwrap();
                // a joint case's second department acts on its own share only
                match action {
                    Some(a) if e.data.get("share").is_none() => {
                        flow = flow
                            .apply(a, party)
                            .unwrap_or_else(|err| panic!("{what}: {err}"));
                        steps.push((a, party));
                    }
                    _ => {}
                }
                assert_eq!(flow.state, e.to_state, "{what}");
            }
            assert_eq!(flow.state, c.state, "{}", c.number);
            let warnings = events
                .iter()
                .filter(|e| e.action.starts_with("warning_") || e.action == "breached")
                .count();
            assert!(warnings <= 12, "{}: {warnings} deadline warnings", c.number);
            assert_eq!(replay(&steps).map(|f| f.state), Ok(c.state), "{}", c.number);
        }
    }
}
