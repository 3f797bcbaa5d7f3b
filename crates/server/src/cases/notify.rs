//! Who is told about a case step, in the app and through webhooks (DingTalk and WeCom robots,
//! or plain JSON). Messages are written to the outbox in the step's own transaction and
//! delivered by a background loop with retries and backoff, so they survive restarts.

use super::engine::{CENTRE_ROLES, GRID_ROLES};
use crate::state::AppState;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;
use wangge_store::{Case, NewNotification, NewOutbox, OutboxItem, StoreResult};

/// The stored key of a serde enum (`in_handling`).
pub fn key<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    /// Whoever handles the case now: the departments with open shares, or the grid team at grid
    /// level, or the command centre of the handling level.
    Handlers,
    Operators,
    Leaders,
    /// Leaders of the level above the handling level.
    LevelAbove,
    /// The grid team of the case's grid, who check on site.
    Checkers,
    /// The reporter and the reporters of merged duplicates, if they have accounts.
    Reporter,
    Departments(Vec<i64>),
    /// The command centres of every level from the grid up (urgent cases).
    EveryLevel,
    /// Nobody in the app; webhooks only.
    Webhooks,
}

#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: &'static str,
    pub to: Audience,
}

impl Notice {
    pub fn handlers(kind: &'static str) -> Self {
        Notice {
            kind,
            to: Audience::Handlers,
        }
    }
    pub fn operators(kind: &'static str) -> Self {
        Notice {
            kind,
            to: Audience::Operators,
        }
    }
    pub fn leaders(kind: &'static str) -> Self {
        Notice {
            kind,
            to: Audience::Leaders,
        }
    }
    pub fn level_above(kind: &'static str) -> Self {
        Notice {
            kind,
            to: Audience::LevelAbove,
        }
    }
    pub fn checkers(kind: &'static str) -> Self {
        Notice {
            kind,
            to: Audience::Checkers,
        }
    }
    pub fn reporter(kind: &'static str) -> Self {
        Notice {
            kind,
            to: Audience::Reporter,
        }
    }
    pub fn departments(kind: &'static str, ids: Vec<i64>) -> Self {
        Notice {
            kind,
            to: Audience::Departments(ids),
        }
    }
    pub fn every_level(kind: &'static str) -> Self {
        Notice {
            kind,
            to: Audience::EveryLevel,
        }
    }
    pub fn state_changed() -> Self {
        Notice {
            kind: "state",
            to: Audience::Webhooks,
        }
    }
}

/// Chinese title of a notice.
fn title(kind: &str) -> &'static str {
    match kind {
        "created" => "新案件",
        "urgent" => "紧急案件",
        "escalated" => "案件上报",
        "dispatched" => "派遣案件",
        "returned" => "案件被退回",
        "handled" => "案件待核查",
        "check_failed" => "核查未通过，请返工",
        "reopened" => "群众不满意，案件重新处置",
        "closed" => "案件已结案",
        "not_filed" => "案件不予立案",
        "merged" => "案件已合并",
        "supervised" => "督办",
        "extension_requested" => "延期申请",
        "extension_approved" => "延期已批准",
        "extension_rejected" => "延期未批准",
        "warning_half" => "时限已过半",
        "warning_three_quarters" => "时限已过四分之三",
        "breached" => "案件超期",
        "notice_ended" => "公示期满，请审核",
        "state" => "案件状态变化",
        _ => "案件动态",
    }
}

/// The first `n` characters.
fn clip(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// The units whose grid teams serve the case's place: its grid (and micro-grid) and the
/// village or community right above them.
async fn team_units(st: &AppState, case: &Case) -> StoreResult<Vec<i64>> {
    let chain = st
        .caches
        .unit_chain(st.store.as_ref(), &case.unit_code)
        .await?;
    let (unit, ancestors) = (&chain.0, &chain.1);
    let mut ids = vec![unit.id];
    for a in ancestors.iter().rev() {
        ids.push(a.id);
        if !st.config.levels.is_grid(&a.level) {
            break;
        }
    }
    Ok(ids)
}

async fn users_of(st: &AppState, case: &Case, to: &Audience) -> StoreResult<Vec<i64>> {
    let s = &st.store;
    // who holds these roles at these units, from the cache
    let holders = |units: Vec<i64>, roles: &'static [&'static str]| async move {
        st.caches
            .role_holders(st.store.as_ref(), &units, roles)
            .await
            .map(|h| h.to_vec())
    };
    let grid_level = st.config.levels.is_grid(&case.handling_level);
    let here = [case.handling_unit_id];
    let mut ids = Vec::new();
    match to {
        Audience::Handlers => {
            // a case being created (id 0) has no assignments yet
            let assignments = if case.id == 0 {
                vec![]
            } else {
                s.case_assignments(case.id).await?
            };
            let open: Vec<i64> = assignments
                .iter()
                .filter(|a| a.status == "dispatched" || a.status == "accepted")
                .map(|a| a.department_id)
                .collect();
            if !open.is_empty() {
                for d in open {
                    ids.extend(s.department_user_ids(d).await?);
                }
            } else if grid_level {
                ids.extend(holders(team_units(st, case).await?, &GRID_ROLES).await?);
            } else {
                ids.extend(holders(here.to_vec(), &CENTRE_ROLES).await?);
            }
        }
        Audience::Operators => {
            ids.extend(holders(here.to_vec(), &CENTRE_ROLES).await?);
            if grid_level {
                ids.extend(holders(team_units(st, case).await?, &GRID_ROLES).await?);
            }
        }
        Audience::Leaders => {
            ids.extend(holders(here.to_vec(), &["center_leader"]).await?);
            if grid_level {
                ids.extend(holders(team_units(st, case).await?, &["grid_head"]).await?);
            }
        }
        Audience::LevelAbove => {
            let chain = st
                .caches
                .unit_chain(s.as_ref(), &case.handling_code)
                .await?;
            if let Some(up) = chain.1.last() {
                ids.extend(holders(vec![up.id], &["center_leader"]).await?);
            }
        }
        Audience::Checkers => {
            ids.extend(holders(team_units(st, case).await?, &GRID_ROLES).await?);
        }
        Audience::Reporter => {
            ids.extend(case.reporter_id);
            let merged = wangge_store::CaseFilter {
                merged_into: Some(case.id),
                limit: 1000,
                ..Default::default()
            };
            ids.extend(
                s.case_list(&merged)
                    .await?
                    .0
                    .iter()
                    .filter_map(|c| c.reporter_id),
            );
        }
        Audience::Departments(list) => {
            for d in list {
                ids.extend(s.department_user_ids(*d).await?);
            }
        }
        Audience::EveryLevel => {
            let chain = st.caches.unit_chain(s.as_ref(), &case.unit_code).await?;
            let ids_up: Vec<i64> = std::iter::once(chain.0.id)
                .chain(chain.1.iter().map(|a| a.id))
                .collect();
            ids.extend(holders(ids_up, &CENTRE_ROLES).await?);
        }
        Audience::Webhooks => {}
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The notifications and outbox messages of a step's notices.
pub async fn render(
    st: &AppState,
    case: &Case,
    notices: &[Notice],
) -> StoreResult<(Vec<NewNotification>, Vec<NewOutbox>)> {
    let mut notes: Vec<NewNotification> = Vec::new();
    let mut outbox = Vec::new();
    // a new case has no number yet: the store puts it in front when it saves the case
    let body = format!(
        "{}{}：{}",
        if case.number.is_empty() {
            String::new()
        } else {
            format!("{} ", case.number)
        },
        case.category_name.as_deref().unwrap_or("未分类"),
        clip(&case.description, 60)
    );
    for n in notices {
        for user_id in users_of(st, case, &n.to).await? {
            if !notes
                .iter()
                .any(|x| x.user_id == user_id && x.kind == n.kind)
            {
                notes.push(NewNotification {
                    user_id,
                    kind: n.kind.into(),
                    title: title(n.kind).into(),
                    body: body.clone(),
                });
            }
        }
        for w in &st.config.cases.webhooks {
            if w.events.is_empty() || w.events.iter().any(|e| e == n.kind) {
                outbox.push(NewOutbox {
                    target: w.name.clone(),
                    payload: json!({
                        "event": n.kind,
                        "title": title(n.kind),
                        "case": {
                            "id": case.id,
                            "number": case.number,
                            "state": key(&case.state),
                            "category": case.category_name,
                            "unit": case.unit_name,
                            "handling": case.handling_name,
                            "urgent": case.urgent,
                            "deadline_at": case.deadline_at,
                            "description": clip(&case.description, 200),
                        },
                    }),
                });
            }
        }
    }
    outbox.extend(crate::external::webhook::render(st, case, notices).await?);
    Ok((notes, outbox))
}

/// The body a webhook of `format` expects.
pub fn webhook_body(format: &str, payload: &Value, link: Option<&str>) -> Value {
    let t = payload["title"].as_str().unwrap_or("案件动态");
    let c = &payload["case"];
    let mut text = format!(
        "### {t}\n- 编号：{}\n- 类别：{}\n- 网格：{}\n- 处置层级：{}\n- 状态：{}\n- 描述：{}",
        c["number"].as_str().unwrap_or(""),
        c["category"].as_str().unwrap_or("未分类"),
        c["unit"].as_str().unwrap_or(""),
        c["handling"].as_str().unwrap_or(""),
        c["state"].as_str().unwrap_or(""),
        c["description"].as_str().unwrap_or(""),
    );
    if let Some(l) = link {
        text.push_str(&format!("\n\n[查看案件]({l})"));
    }
    match format {
        "dingtalk" => json!({ "msgtype": "markdown", "markdown": { "title": t, "text": text } }),
        "wecom" => json!({ "msgtype": "markdown", "markdown": { "content": text } }),
        _ => payload.clone(),
    }
}

/// DingTalk's signed URL: `&timestamp=…&sign=…` with HMAC-SHA256 of "timestamp\nsecret".
pub fn dingtalk_signed_url(url: &str, secret: &str, now_ms: i64) -> String {
    let to_sign = format!("{now_ms}\n{secret}");
    let sign = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}timestamp={now_ms}&sign={}",
        percent_encode(&sign)
    )
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Wait after a failed attempt, given the attempts before it: 30 s doubling up to 6 h; after
/// `max` failed attempts the message is dead (`None`).
pub fn backoff_ms(attempts: i64, max: i64) -> Option<i64> {
    (attempts + 1 < max).then(|| (30_000i64 << attempts.clamp(0, 20)).min(6 * 3_600_000))
}

async fn deliver(st: &AppState, client: &reqwest::Client, item: &OutboxItem) -> Result<(), String> {
    if let Some(name) = item.target.strip_prefix("external:") {
        return crate::external::webhook::deliver(st, client, item, name).await;
    }
    let hook = st
        .config
        .cases
        .webhooks
        .iter()
        .find(|w| w.name == item.target)
        .ok_or_else(|| format!("no webhook named {} in the configuration", item.target))?;
    let link = st.config.public_url.as_ref().map(|u| {
        format!(
            "{u}/cases/{}",
            item.payload["case"]["id"].as_i64().unwrap_or(0)
        )
    });
    let body = webhook_body(&hook.format, &item.payload, link.as_deref());
    let url = match (&hook.secret, hook.format.as_str()) {
        (Some(secret), "dingtalk") => dingtalk_signed_url(&hook.url, secret, st.clock.now_ms()),
        _ => hook.url.clone(),
    };
    let resp = client
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", clip(&text, 200)));
    }
    // the robots answer 200 with an error code in the body
    if let Ok(v) = serde_json::from_str::<Value>(&text)
        && let Some(code) = v.get("errcode").and_then(Value::as_i64)
        && code != 0
    {
        return Err(format!(
            "errcode {code}: {}",
            v["errmsg"].as_str().unwrap_or("")
        ));
    }
    Ok(())
}

/// One round of the outbox: every due message is tried once.
pub async fn outbox_round(st: &AppState, client: &reqwest::Client) -> anyhow::Result<usize> {
    let due = st.store.outbox_due(st.clock.now_ms(), 100).await?;
    let n = due.len();
    for item in due {
        match deliver(st, client, &item).await {
            Ok(()) => st.store.outbox_attempt(item.id, None, None).await?,
            Err(e) => {
                let next = backoff_ms(item.attempts, st.config.external.webhook_attempts)
                    .map(|b| st.clock.now_ms() + b);
                tracing::warn!("webhook {} message {}: {e}", item.target, item.id);
                st.store.outbox_attempt(item.id, Some(&e), next).await?;
            }
        }
    }
    Ok(n)
}

/// Delivers the outbox every few seconds until the process ends.
pub fn spawn_outbox(st: AppState) {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("webhook client: {e}");
                return;
            }
        };
        let mut every = tokio::time::interval(Duration::from_secs(3));
        loop {
            every.tick().await;
            if let Err(e) = outbox_round(&st, &client).await {
                tracing::error!("outbox round failed: {e:#}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dingtalk_signature_matches_the_documented_algorithm() {
        // HMAC-SHA256("1700000000000\nSECabc", key "SECabc"), base64, percent-encoded
        let url = dingtalk_signed_url(
            "https://oapi.dingtalk.com/robot/send?access_token=x",
            "SECabc",
            1_700_000_000_000,
        );
        assert!(url.starts_with(
            "https://oapi.dingtalk.com/robot/send?access_token=x&timestamp=1700000000000&sign="
        ));
        let sign = url.rsplit("sign=").next().unwrap();
        assert!(sign.ends_with("%3D"), "{sign}");
    }

    #[test]
    fn backoff_doubles_then_gives_up() {
        assert_eq!(backoff_ms(0, 12), Some(30_000));
        assert_eq!(backoff_ms(1, 12), Some(60_000));
        assert_eq!(backoff_ms(10, 12), Some(6 * 3_600_000));
        assert_eq!(backoff_ms(11, 12), None);
        assert_eq!(backoff_ms(0, 1), None);
    }

    #[test]
    fn robot_formats() {
        let p =
            json!({"title": "新案件", "case": {"number": "20261122-00001", "state": "reported"}});
        assert_eq!(webhook_body("dingtalk", &p, None)["msgtype"], "markdown");
        assert!(
            webhook_body("wecom", &p, Some("http://x/cases/1"))["markdown"]["content"]
                .as_str()
                .unwrap()
                .contains("http://x/cases/1")
        );
        assert_eq!(webhook_body("json", &p, None), p);
    }
}
