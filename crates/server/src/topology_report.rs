//! Topology checks of boundary edits against what is stored (siblings, parent, children), and the
//! report the user sees and downloads (JSON, and GeoJSON of the problem areas).

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use std::collections::{HashMap, HashSet};
use wangge_domain::roles::Scope;
use wangge_geo::MultiPolygon;
use wangge_geo::boundary::{Problem, Severity, geometry_from_geojson};
use wangge_geo::topology::{check_cover, check_inside, check_siblings, report_geojson};

/// A boundary about to be stored for the unit `code` (which may not exist yet).
pub struct Edit {
    pub code: String,
    pub parent_code: Option<String>,
    pub feature_index: Option<usize>,
    pub geometry: MultiPolygon<f64>,
}

/// A stored GeoJSON geometry (validated when it was stored), read back.
pub fn stored_geometry(text: &str) -> Option<MultiPolygon<f64>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    geometry_from_geojson(&v)
}

/// Overlaps with siblings, parts outside the parent, gaps once every sibling has a boundary, and
/// children left outside an edited unit. Only problems touching an edited unit are reported.
pub async fn check_edits(st: &AppState, edits: &[Edit]) -> ApiResult<Vec<Problem>> {
    check_edits_replacing(st, edits, &[]).await
}

/// Like [`check_edits`], with the units `replaced` (by a split or merge) left out.
pub async fn check_edits_replacing(
    st: &AppState,
    edits: &[Edit],
    replaced: &[String],
) -> ApiResult<Vec<Problem>> {
    let today = st.today();
    let tol = &st.config.grids.tolerance;
    let edited: HashMap<&str, &Edit> = edits.iter().map(|e| (e.code.as_str(), e)).collect();
    let mut problems = Vec::new();

    let mut parents: Vec<&str> = edits
        .iter()
        .filter_map(|e| e.parent_code.as_deref())
        .collect();
    parents.sort_unstable();
    parents.dedup();
    for parent in parents {
        let view = st.store.map_at(&Scope::All, parent, &today).await?;
        let parent_geom = match edited.get(parent) {
            Some(e) => Some(e.geometry.clone()),
            None => view
                .boundary
                .as_ref()
                .and_then(|b| stored_geometry(&b.geometry)),
        };
        // The children after the edit: stored ones, replaced or joined by the edited ones.
        let mut kids: Vec<(String, Option<MultiPolygon<f64>>)> = view
            .children
            .iter()
            .filter(|(u, _)| !u.retired && !replaced.contains(&u.code))
            .map(|(u, b)| {
                let g = match edited.get(u.code.as_str()) {
                    Some(e) => Some(e.geometry.clone()),
                    None => b.as_ref().and_then(|b| stored_geometry(&b.geometry)),
                };
                (u.code.clone(), g)
            })
            .collect();
        let known: HashSet<String> = kids.iter().map(|(c, _)| c.clone()).collect();
        for e in edits
            .iter()
            .filter(|e| e.parent_code.as_deref() == Some(parent))
        {
            if !known.contains(&e.code) {
                kids.push((e.code.clone(), Some(e.geometry.clone())));
            }
        }
        let drawn: Vec<(&str, &MultiPolygon<f64>)> = kids
            .iter()
            .filter_map(|(c, g)| g.as_ref().map(|g| (c.as_str(), g)))
            .collect();
        let touches = |p: &Problem| {
            [&p.code, &p.other_code]
                .iter()
                .any(|c| c.as_deref().is_some_and(|c| edited.contains_key(c)))
        };
        problems.extend(check_siblings(&drawn, tol).into_iter().filter(touches));
        if let Some(pg) = &parent_geom {
            if drawn.len() == kids.len() {
                problems.extend(
                    check_cover(parent, pg, &drawn, tol)
                        .into_iter()
                        .filter(|p| p.kind == "gap" || touches(p)),
                );
            } else {
                for (code, g) in drawn.iter().filter(|(c, _)| edited.contains_key(c)) {
                    problems.extend(check_inside(parent, pg, code, g, tol));
                }
            }
        }
    }

    // Children of an edited unit must stay inside it.
    for e in edits {
        let Ok(view) = st.store.map_at(&Scope::All, &e.code, &today).await else {
            continue; // a unit being created has no children
        };
        for (child, b) in &view.children {
            let g = match edited.get(child.code.as_str()) {
                Some(ce) => Some(ce.geometry.clone()),
                None => b.as_ref().and_then(|b| stored_geometry(&b.geometry)),
            };
            if let Some(g) = g {
                problems.extend(check_inside(&e.code, &e.geometry, &child.code, &g, tol));
            }
        }
    }

    for p in &mut problems {
        if p.feature_index.is_none()
            && let Some(e) = p.code.as_deref().and_then(|c| edited.get(c))
        {
            p.feature_index = e.feature_index;
        }
    }
    Ok(problems)
}

/// The problem in Chinese, naming the feature like the English message does.
pub fn problem_zh(p: &Problem) -> String {
    let subject = match (p.feature_index, p.code.as_deref()) {
        (Some(i), Some(c)) => format!("第{}个要素(编码{c})", i + 1),
        (Some(i), None) => format!("第{}个要素", i + 1),
        (None, Some(c)) => format!("单元{c}"),
        (None, None) => "该图形".to_string(),
    };
    let area = p
        .area_m2
        .map(|a| format!("约{a:.1}平方米"))
        .unwrap_or_default();
    let other = p.other_code.as_deref().unwrap_or("");
    let what = match p.kind {
        "invalid_json" => "不是有效的 JSON".to_string(),
        "not_feature_collection" => "不是 GeoJSON 要素集合".to_string(),
        "missing_geometry" => "缺少几何图形".to_string(),
        "unsupported_geometry" => "几何类型不受支持(须为面)".to_string(),
        "missing_code" => "缺少编码属性".to_string(),
        "duplicate_code" => "编码在文件中重复".to_string(),
        "unknown_code" => "编码不存在或不在权限范围内".to_string(),
        "unclosed_ring" => "环未闭合(首尾坐标不同)".to_string(),
        "too_few_points" => "环的点数少于4个".to_string(),
        "invalid_coordinate" => "坐标无效或超出范围".to_string(),
        "self_intersection" => "多边形自相交".to_string(),
        "empty_geometry" => "几何图形为空".to_string(),
        "invalid_zip" => "不是有效的 zip 文件".to_string(),
        "invalid_shapefile" => "Shapefile 文件无法读取".to_string(),
        "missing_shapefile_part" => "缺少 Shapefile 组成文件(.shp/.dbf)".to_string(),
        "unsupported_projection" => "不支持投影坐标系(须为 WGS-84/CGCS2000 经纬度)".to_string(),
        "boundary_change_required" => "已有边界,须通过网格调整重新划定".to_string(),
        "unit_retired" => "单元已撤销".to_string(),
        "overlap" => format!("与{other}重叠{area}"),
        "gap" => format!("下级未覆盖的缝隙{area}"),
        "outside_parent" => format!("超出上级{other}范围{area}"),
        other_kind => other_kind.to_string(),
    };
    format!("{subject}:{what}")
}

/// The report as the API shows it.
pub fn report_json(id: Option<&str>, problems: &[Problem]) -> serde_json::Value {
    let count = |s: Severity| problems.iter().filter(|p| p.severity == s).count();
    let items: Vec<serde_json::Value> = problems
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or_default();
            v["message_zh"] = problem_zh(p).into();
            v
        })
        .collect();
    serde_json::json!({
        "id": id,
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "problems": items,
    })
}

/// Saves a report for download (when it has problems) and returns it.
pub async fn save(
    st: &AppState,
    user_id: Option<i64>,
    problems: &[Problem],
) -> ApiResult<serde_json::Value> {
    if problems.is_empty() {
        return Ok(report_json(None, problems));
    }
    let id = crate::auth::random_token()[..24].to_string();
    let report = report_json(Some(&id), problems);
    st.store
        .topology_report_save(&id, user_id, &report.to_string(), &report_geojson(problems))
        .await?;
    Ok(report)
}

/// Saves the report of `problems` and refuses with `error_code` when it has errors, or with
/// `topology_warnings` when it has warnings the caller did not accept; otherwise returns it.
pub async fn judge(
    st: &AppState,
    user_id: Option<i64>,
    problems: &[Problem],
    error_code: &'static str,
    accept_warnings: bool,
) -> ApiResult<serde_json::Value> {
    let report = save(st, user_id, problems).await?;
    decide(&report, error_code, accept_warnings)?;
    Ok(report)
}

/// Saves the report of `problems` (errors found before any check could run) and refuses with it.
pub async fn refuse<T>(
    st: &AppState,
    user_id: Option<i64>,
    problems: &[Problem],
    error_code: &'static str,
) -> ApiResult<T> {
    let report = save(st, user_id, problems).await?;
    Err(ApiError::new(error_code).details(report))
}

fn decide(
    report: &serde_json::Value,
    error_code: &'static str,
    accept_warnings: bool,
) -> ApiResult<()> {
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    if n("errors") > 0 {
        return Err(ApiError::new(error_code).details(report.clone()));
    }
    if n("warnings") > 0 && !accept_warnings {
        return Err(ApiError::new("topology_warnings").details(report.clone()));
    }
    Ok(())
}
