//! The demo county on the map and its people: every unit from the county down to the micro-grids
//! gets a boundary that tiles its parent exactly (no gaps, no overlaps), every grid a full
//! "1+3+N" team and every micro-grid its two heads.

use std::collections::BTreeMap;
use wangge_domain::audit::Actor;
use wangge_domain::import::ImportRow;
use wangge_domain::roles::{Role, Scope};
use wangge_domain::team::team_role;
use wangge_geo::boundary::geometry_from_geojson;
use wangge_geo::topology::area_m2;
use wangge_server::AppState;
use wangge_store::{NewAssignment, NewBoundary, NewUser, UnitPatch, UserPatch};

/// Jinhu county, roughly: 118.85–119.25°E, 32.85–33.25°N.
const COUNTY: Rect = Rect {
    w: 118.85,
    s: 32.85,
    e: 119.25,
    n: 33.25,
};
const SINCE: &str = "2024-01-01";

#[derive(Clone, Copy)]
pub(crate) struct Rect {
    pub(crate) w: f64,
    pub(crate) s: f64,
    pub(crate) e: f64,
    pub(crate) n: f64,
}

/// `n` cells tiling `r` in rows from the north-west, the last row stretched; neighbours compute
/// their shared edge with the same expression, so it is the same number on both sides.
fn tile(r: Rect, n: usize) -> Vec<Rect> {
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols);
    let h = (r.n - r.s) / rows as f64;
    let mut out = Vec::with_capacity(n);
    for row in 0..rows {
        let in_row = if row + 1 == rows {
            n - cols * (rows - 1)
        } else {
            cols
        };
        let w = (r.e - r.w) / in_row as f64;
        let north = r.n - h * row as f64;
        let south = if row + 1 == rows {
            r.s
        } else {
            r.n - h * (row + 1) as f64
        };
        for c in 0..in_row {
            let east = if c + 1 == in_row {
                r.e
            } else {
                r.w + w * (c + 1) as f64
            };
            out.push(Rect {
                w: r.w + w * c as f64,
                s: south,
                e: east,
                n: north,
            });
        }
    }
    out
}

fn polygon(r: Rect) -> serde_json::Value {
    serde_json::json!({"type": "Polygon", "coordinates": [[
        [r.w, r.s], [r.e, r.s], [r.e, r.n], [r.w, r.n], [r.w, r.s]
    ]]})
}

/// The rectangle of every unit from the county down, children in code order.
pub(crate) fn layout(rows: &[ImportRow]) -> Vec<(String, Rect)> {
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in rows {
        children
            .entry(r.parent_code.as_str())
            .or_default()
            .push(r.code.as_str());
    }
    let mut out = vec![("320831".to_string(), COUNTY)];
    let mut i = 0;
    while i < out.len() {
        let (code, rect) = out[i].clone();
        if let Some(kids) = children.get(code.as_str()) {
            let mut kids = kids.clone();
            kids.sort_unstable();
            for (k, cell) in kids.iter().zip(tile(rect, kids.len())) {
                out.push((k.to_string(), cell));
            }
        }
        i += 1;
    }
    out
}

/// The team role a demo user with this territory role takes on, if any.
pub fn team_role_of(role: Role) -> Option<&'static str> {
    match role {
        Role::GridHead => Some("grid_head"),
        Role::GridWorkerFull => Some("grid_worker_full"),
        Role::GridWorkerPart => Some("grid_worker_part"),
        Role::GridInstructor => Some("grid_instructor"),
        Role::MicroGridHead => Some("micro_grid_head"),
        Role::Volunteer => Some("contact_volunteer"),
        _ => None,
    }
}

pub async fn assign(state: &AppState, user_id: i64, role: &str, unit: &str) -> anyhow::Result<()> {
    let grant_role = team_role(role)
        .map(|r| r.grant)
        .ok_or_else(|| anyhow::anyhow!("no team role {role}"))?;
    let duty = match role {
        "grid_head" => "统筹网格工作,组织议事协商",
        "grid_worker_full" => "巡查走访、信息采集、事件上报",
        "grid_worker_part" => "协助巡查,联系群众",
        "grid_instructor" => "指导网格工作,督促问题解决",
        "micro_grid_head" => "联系微网格住户,发现报告问题",
        _ => "协助网格服务",
    };
    let new = NewAssignment {
        user_id,
        role: role.into(),
        grant_role,
        duty: Some(duty.into()),
        start_date: SINCE.into(),
        exception_reason: None,
    };
    state
        .store
        .team_add(
            &Scope::All,
            &Actor::system("demo"),
            unit,
            &new,
            &state.today(),
        )
        .await?;
    Ok(())
}

const SURNAMES: &[char] = &[
    '王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭',
    '何', '高', '林', '罗',
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀兰", "桂英", "建国", "海燕", "志强",
];

/// Makes people for the demo teams, with phones and qualifications.
struct People<'a> {
    state: &'a AppState,
    hash: &'a str,
    made: usize,
}

impl People<'_> {
    async fn person(
        &mut self,
        username: String,
        birth: &str,
        education: &str,
        certified: bool,
    ) -> anyhow::Result<i64> {
        let i = self.made;
        self.made += 1;
        let name = format!(
            "{}{}",
            SURNAMES[i % SURNAMES.len()],
            GIVEN[(i * 7 + i / SURNAMES.len()) % GIVEN.len()]
        );
        let actor = Actor::system("demo");
        let store = &self.state.store;
        let u = store
            .user_create(
                &actor,
                &NewUser {
                    username,
                    display_name: name,
                    password_hash: self.hash.to_string(),
                    phone: Some(format!("139{:08}", 52_310_000 + i)),
                },
            )
            .await?;
        qualify(
            self.state,
            u.id,
            birth,
            education,
            certified.then(|| format!("JH-2024-{:04}", i + 1)),
        )
        .await?;
        Ok(u.id)
    }
}

async fn qualify(
    state: &AppState,
    user_id: i64,
    birth: &str,
    education: &str,
    cert: Option<String>,
) -> anyhow::Result<()> {
    let patch = UserPatch {
        birth_date: Some(Some(birth.into())),
        education: Some(Some(education.into())),
        certificate_no: Some(cert),
        ..UserPatch::default()
    };
    state
        .store
        .user_update(&Actor::system("demo"), user_id, &patch)
        .await?;
    Ok(())
}

/// Boundaries, grid attributes and teams; returns (boundaries stored, people made).
pub async fn seed(
    state: &AppState,
    rows: &[ImportRow],
    hash: &str,
) -> anyhow::Result<(usize, usize)> {
    let store = &state.store;
    let actor = Actor::system("demo");
    let cells = layout(rows);
    let mut items = Vec::with_capacity(cells.len());
    for (code, rect) in &cells {
        let geometry = polygon(*rect);
        let area = geometry_from_geojson(&geometry)
            .map(|g| area_m2(&g))
            .unwrap_or(0.0);
        items.push(NewBoundary {
            code: code.clone(),
            geometry: geometry.to_string(),
            area_m2: area,
        });
    }
    store
        .boundaries_set(&Scope::All, &actor, &items, SINCE, "demo")
        .await?;

    // The demo users of the foundation already serve 城南社区第一网格; give them qualifications.
    for (name, birth, edu) in [
        ("head.grid", "1979-03-02", "bachelor"),
        ("worker.full", "1996-05-12", "bachelor"),
        ("worker.part", "1988-09-30", "college"),
        ("instructor", "1975-11-08", "master"),
        ("head.micro", "1968-01-20", "senior_high"),
        ("volunteer", "2001-07-07", "bachelor"),
    ] {
        if let Some((u, _)) = store.user_credentials(name).await? {
            qualify(state, u.id, birth, edu, Some(format!("JH-2023-{}", u.id))).await?;
        }
    }

    let levels = &state.config.levels;
    let lines: Vec<String> = [
        "party_building",
        "comprehensive_governance",
        "safety_production",
        "fire",
        "civil_affairs",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut people = People {
        state,
        hash,
        made: 0,
    };
    let mut instructors: BTreeMap<String, i64> = BTreeMap::new();
    for (n, r) in rows
        .iter()
        .enumerate()
        .filter(|(_, r)| levels.is_grid(&r.level))
    {
        let micro = levels.is_micro(&r.level);
        let rural = r.code.get(9..10).is_some_and(|d| d >= "2");
        let households = if micro {
            90 + (n % 5) as i64 * 5
        } else if rural {
            280 + (n % 6) as i64 * 10
        } else {
            430 + (n % 8) as i64 * 15
        };
        let patch = UnitPatch {
            business_lines: Some(lines.clone()),
            area_type: Some(Some(if rural { "rural" } else { "urban" }.into())),
            households: Some(Some(households)),
            population: Some(Some(households * 28 / 10)),
            ..UnitPatch::default()
        };
        store
            .unit_update(&Scope::All, &actor, &r.code, &patch)
            .await?;

        let today = state.today();
        let held: Vec<String> = store
            .team_list(&Scope::All, &r.code, false, &today)
            .await?
            .into_iter()
            .map(|a| a.role)
            .collect();
        let code = &r.code;
        if micro {
            let heads = held.iter().filter(|h| *h == "micro_grid_head").count();
            for k in heads..2 {
                // A few micro-grid heads still wait for their training: the team report shows them.
                let certified = n % 17 != 3;
                let id = people
                    .person(
                        format!("wg.{code}.head{}", k + 1),
                        "1965-04-18",
                        "junior_high",
                        certified,
                    )
                    .await?;
                assign(state, id, "micro_grid_head", code).await?;
            }
            continue;
        }
        for (role, birth, edu) in [
            ("grid_head", "1978-06-01", "bachelor"),
            ("grid_worker_full", "1995-02-14", "college"),
            ("grid_worker_part", "1984-10-10", "senior_high"),
        ] {
            if held.iter().any(|h| h == role) || (rural && role == "grid_worker_part") {
                continue;
            }
            let short = role.trim_start_matches("grid_").replace('_', "-");
            let id = people
                .person(format!("wg.{code}.{short}"), birth, edu, true)
                .await?;
            assign(state, id, role, code).await?;
        }
        if !held.iter().any(|h| h == "grid_instructor") {
            // One instructor (a village cadre) guides every grid of the village.
            let village = r.parent_code.clone();
            let id = match instructors.get(&village) {
                Some(id) => *id,
                None => {
                    let id = people
                        .person(
                            format!("wg.{village}.instructor"),
                            "1976-12-03",
                            "bachelor",
                            true,
                        )
                        .await?;
                    instructors.insert(village, id);
                    id
                }
            };
            assign(state, id, "grid_instructor", code).await?;
        }
    }
    Ok((items.len(), people.made))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_share_their_edges_exactly() {
        for n in 1..=9 {
            let t = tile(COUNTY, n);
            assert_eq!(t.len(), n);
            let area: f64 = t.iter().map(|r| (r.e - r.w) * (r.n - r.s)).sum();
            let whole = (COUNTY.e - COUNTY.w) * (COUNTY.n - COUNTY.s);
            assert!((area - whole).abs() < 1e-12, "{n}: {area} vs {whole}");
        }
    }
}
