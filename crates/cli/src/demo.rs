//! The demo deployment: 金湖县 (Jinhu county, Huai'an, Jiangsu) with its streets and towns, their
//! communities and villages, grids and micro-grids in one community, and one user per role.
//! Codes follow the national format (6-digit county, 9-digit town, 12-digit village); community
//! committees are numbered 001-199 and village committees 200-399 as in the statistical codes.

use wangge_domain::audit::Actor;
use wangge_domain::import::ImportRow;
use wangge_domain::roles::{Role, Scope};
use wangge_server::AppState;
use wangge_server::auth::hash_password;
use wangge_store::NewUser;

/// The password of every demo user except `admin`.
pub const DEMO_PASSWORD: &str = "Demo#2026";

/// (code, name, kind, [(village sequence, name)])
type Town = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub(crate) const TOWNS: &[Town] = &[
    (
        "320831001",
        "黎城街道",
        "street",
        &[
            ("001", "城南社区"),
            ("002", "城北社区"),
            ("003", "荷花社区"),
            ("004", "金湖路社区"),
            ("201", "新港村"),
            ("202", "衡阳村"),
        ],
    ),
    (
        "320831002",
        "戴楼街道",
        "street",
        &[("001", "戴楼社区"), ("201", "草泽村"), ("202", "淮胜村")],
    ),
    (
        "320831003",
        "金北街道",
        "street",
        &[("001", "金北社区"), ("201", "白马湖村"), ("202", "官塘村")],
    ),
    (
        "320831100",
        "银涂镇",
        "town",
        &[
            ("001", "银涂社区"),
            ("201", "高邮湖村"),
            ("202", "草荡村"),
            ("203", "沿河村"),
        ],
    ),
    (
        "320831101",
        "塔集镇",
        "town",
        &[("001", "塔集社区"), ("201", "八里村"), ("202", "高桥村")],
    ),
    (
        "320831102",
        "吕良镇",
        "town",
        &[("001", "吕良社区"), ("201", "夹沟村"), ("202", "护国村")],
    ),
    (
        "320831103",
        "前锋镇",
        "town",
        &[("001", "前锋社区"), ("201", "中心村"), ("202", "新河村")],
    ),
    (
        "320831104",
        "陈桥镇",
        "town",
        &[("001", "陈桥社区"), ("201", "永丰村"), ("202", "卞塘村")],
    ),
];

/// (username, display name, role, unit code)
const USERS: &[(&str, &str, Role, &str)] = &[
    (
        "leader.county",
        "县指挥中心 王主任",
        Role::CenterLeader,
        "320831",
    ),
    (
        "operator.town",
        "黎城街道指挥中心 李敏",
        Role::CenterOperator,
        "320831001",
    ),
    (
        "dept.handler",
        "县城管局 赵强",
        Role::DepartmentHandler,
        "320831",
    ),
    (
        "head.grid",
        "城南社区第一网格 网格长 陈芳",
        Role::GridHead,
        "320831001001001",
    ),
    (
        "worker.full",
        "专职网格员 刘洋",
        Role::GridWorkerFull,
        "320831001001001",
    ),
    (
        "worker.part",
        "兼职网格员 孙丽",
        Role::GridWorkerPart,
        "320831001001001",
    ),
    (
        "instructor",
        "网格指导员 周杰",
        Role::GridInstructor,
        "320831001001001",
    ),
    (
        "head.micro",
        "微网格长 吴霞",
        Role::MicroGridHead,
        "32083100100100101",
    ),
    (
        "volunteer",
        "志愿者 郑伟",
        Role::Volunteer,
        "32083100100100101",
    ),
    ("resident", "居民 钱红", Role::Resident, "320831001001001"),
];

pub(crate) fn rows() -> Vec<ImportRow> {
    let mut out = Vec::new();
    let mut add = |code: String, name: String, parent: &str, level: &str, kind: &str| {
        out.push(ImportRow {
            row: out.len() as u64 + 2,
            code,
            name,
            parent_code: parent.to_string(),
            level: level.to_string(),
            kind: Some(kind.to_string()),
            valid_from: Some("2024-01-01".to_string()),
        });
    };
    add("32".into(), "江苏省".into(), "", "province", "province");
    add("3208".into(), "淮安市".into(), "32", "city", "city");
    add("320831".into(), "金湖县".into(), "3208", "county", "county");
    for (town, town_name, kind, villages) in TOWNS {
        add(
            town.to_string(),
            town_name.to_string(),
            "320831",
            "town",
            kind,
        );
        for (seq, name) in *villages {
            let kind = if is_community(seq) {
                "community"
            } else {
                "village"
            };
            add(
                format!("{town}{seq}"),
                name.to_string(),
                town,
                "village",
                kind,
            );
        }
    }
    for (town, _, _, villages) in TOWNS {
        for (seq, village_name) in *villages {
            let village = format!("{town}{seq}");
            let community = is_community(seq);
            let grids = if community { 3 } else { 2 };
            for g in 1..=grids {
                let grid = format!("{village}{g:03}");
                add(
                    grid.clone(),
                    format!("{village_name}第{}网格", NUMERALS[g - 1]),
                    &village,
                    "grid",
                    "basic",
                );
                let micros = match (community, grid.as_str()) {
                    (false, _) => 0,
                    (true, "320831001001001") => 4,
                    (true, _) => 2,
                };
                for m in 1..=micros {
                    add(
                        format!("{grid}{m:02}"),
                        format!("{village_name}第{}网格第{m}微网格", NUMERALS[g - 1]),
                        &grid,
                        "micro_grid",
                        "basic",
                    );
                }
            }
        }
    }
    add(
        "320831001001901".into(),
        "金湖县实验小学专属网格".into(),
        "320831001001",
        "grid",
        "dedicated_school",
    );
    out
}

const NUMERALS: [&str; 4] = ["一", "二", "三", "四"];

/// Communities (社区) are numbered 001-199, villages (村) 200-399.
fn is_community(seq: &str) -> bool {
    seq.starts_with('0') || seq.starts_with('1')
}

/// Seeds the county, its people and the case loop's staff, then `cases` demo cases over the 90
/// days before `now_ms` (through a second handle on the database at `url`).
pub async fn seed(state: &AppState, url: &str, cases: usize, now_ms: i64) -> anyhow::Result<()> {
    let store = &state.store;
    let actor = Actor::system("demo");
    let n = store
        .unit_import(&Scope::All, &actor, &state.config.levels, rows(), &|_| {})
        .await?;
    let hash = hash_password(DEMO_PASSWORD)?;
    println!(
        "Demo data: {n} territory units of 金湖县 (320831). Demo users, all with the password {DEMO_PASSWORD}:"
    );
    for (i, (username, display_name, role, unit)) in USERS.iter().enumerate() {
        let user = store
            .user_create(
                &actor,
                &NewUser {
                    username: username.to_string(),
                    display_name: display_name.to_string(),
                    password_hash: hash.clone(),
                    phone: Some(format!("1380523{:04}", 1001 + i)),
                },
            )
            .await?;
        match crate::demo_map::team_role_of(*role) {
            Some(team_role) => crate::demo_map::assign(state, user.id, team_role, unit).await?,
            None => {
                store
                    .grant_add(&Scope::All, &actor, user.id, *role, Some(unit))
                    .await?;
            }
        }
        println!("  {username:<14} {:<22} @ {unit}", role.key());
    }
    let rows = rows();
    let (boundaries, people) = crate::demo_map::seed(state, &rows, &hash).await?;
    println!(
        "Grid boundaries: {boundaries} units tiled without gaps or overlaps; {people} more team members (password {DEMO_PASSWORD})."
    );
    crate::demo_cases::seed_staff(state, &hash).await?;
    if cases > 0 {
        crate::demo_cases::seed_cases(state, url, cases, now_ms).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wangge_domain::territory::Levels;

    #[test]
    fn demo_tree_is_a_valid_import() {
        let rows = rows();
        let n = rows.len();
        let ok = wangge_domain::import::validate_import(
            rows,
            &Levels::default_levels(),
            &|_| None,
            true,
        );
        assert_eq!(ok.map(|r| r.len()), Ok(n));
    }
}
