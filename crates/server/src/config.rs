//! Deployment configuration: `wangge.toml` in the data directory (all keys optional).
//!
//! ```toml
//! time_zone = "Asia/Shanghai"
//! secure_cookies = false        # true behind a TLS-terminating proxy
//! max_requests_in_flight = 512  # API requests served at once; more are answered 503 `overloaded`
//! [security]
//! password_min_length = 8
//! password_min_classes = 3
//! lockout_threshold = 5
//! lockout_minutes = 15
//! session_idle_minutes = 30
//! public_url = "https://wangge.example.cn"  # base of QR-code links; default: the request's host
//! code_profile = "community"    # default levels: community (12+3+2) or digital_urban (12+3)
//! [grids]                       # catalogues and rules; each key optional
//! grid_kinds = [{ key = "basic", name_zh = "基础网格", name_en = "Basic grid" }]
//! business_lines = [{ key = "fire", name_zh = "消防", name_en = "Fire safety" }]
//! tolerance = { overlap_m2 = 1.0, gap_m2 = 1.0, outside_m2 = 1.0 }
//! team_rule = { grid = ["grid_head", "grid_worker_full", "grid_instructor"], micro_grid_heads = 2 }
//! [grids.sizing.urban_grid]     # also rural_grid, industrial_grid, micro_grid, industrial_micro_grid
//! households = { min = 300, max = 600 }
//! [map]
//! tile_url = "https://tiles.example.cn/{z}/{x}/{y}.png"  # the deployment's own map service
//! attribution = "© 本地图源"
//! center = [119.0, 33.0]
//! zoom = 11
//! [cases]                       # the case loop; each key optional
//! office_hours = ["08:30-12:00", "13:30-17:30"]
//! weekdays = [1, 2, 3, 4, 5]    # Monday = 1
//! media_max_mb = 10
//! media_types = ["image/jpeg", "image/png", "image/webp", "video/mp4", "video/quicktime"]
//! unreported_days = 7           # 漏报: no grid report of the category in this many days before
//! first_report_days = 7         # 首报: no other report of the category nearby in this many days
//! reopen_limit = 2              # unsatisfied ratings that reopen a case by themselves
//! reopen_by = "resident"        # resident: at once; operator: an operator decides
//! urgent_level = "town"         # urgent cases start here, and every level above is told
//! auto_escalate = ["grid", "village"]  # levels whose breached cases go up by themselves
//! [[cases.webhooks]]            # notifications out: format json, dingtalk or wecom
//! name = "town-duty"
//! url = "https://oapi.dingtalk.com/robot/send?access_token=…"
//! format = "dingtalk"
//! secret = "SEC…"               # DingTalk signing secret (optional)
//! events = ["created", "escalated", "breached", "supervised", "closed"]
//! [external]                    # external systems (Open311, webhooks, ingest); each key optional
//! jurisdiction_id = "jinhu.gov.cn"  # Open311: if set, other non-empty jurisdiction_ids are 404
//! webhook_attempts = 12         # failed deliveries before a message goes to the dead letters
//! signature_tolerance_s = 300   # ingest: how far the signed timestamp may be from now
//! [[levels]]                    # replaces the default list when given
//! key = "province"
//! name_zh = "省"
//! name_en = "Province"
//! code_length = 2
//! ```

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;
use wangge_domain::grid::{Entry, SizingRules, default_business_lines, default_grid_kinds};
use wangge_domain::password::PasswordPolicy;
use wangge_domain::team::TeamRule;
use wangge_domain::territory::{Level, Levels};
use wangge_geo::topology::Tolerance;

#[derive(Debug, Clone)]
pub struct Config {
    pub levels: Levels,
    pub password_policy: PasswordPolicy,
    pub lockout_threshold: i64,
    pub lockout_ms: i64,
    pub session_idle_ms: i64,
    pub time_zone: jiff::tz::TimeZone,
    pub secure_cookies: bool,
    /// API requests served at once; one more is answered `503 overloaded` at once, so an
    /// overload costs neither memory nor the latency of those already admitted.
    pub max_requests_in_flight: usize,
    pub public_url: Option<String>,
    pub grids: GridConfig,
    pub map: MapConfig,
    pub cases: CaseConfig,
    pub external: ExternalConfig,
    /// Where photos and videos of cases are kept (`DIR/media`).
    pub media_dir: std::path::PathBuf,
}

/// The case loop's settings (`[cases]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseConfig {
    pub office_hours: Vec<String>,
    pub weekdays: Vec<u8>,
    pub media_max_mb: u64,
    pub media_types: Vec<String>,
    pub unreported_days: i64,
    pub first_report_days: i64,
    pub reopen_limit: i64,
    pub reopen_by: String,
    pub urgent_level: Option<String>,
    pub auto_escalate: Vec<String>,
    pub webhooks: Vec<Webhook>,
}

impl Default for CaseConfig {
    fn default() -> Self {
        CaseConfig {
            office_hours: vec!["08:30-12:00".into(), "13:30-17:30".into()],
            weekdays: vec![1, 2, 3, 4, 5],
            media_max_mb: 10,
            media_types: [
                "image/jpeg",
                "image/png",
                "image/webp",
                "video/mp4",
                "video/quicktime",
            ]
            .map(String::from)
            .to_vec(),
            unreported_days: 7,
            first_report_days: 7,
            reopen_limit: 2,
            reopen_by: "resident".into(),
            urgent_level: Some("town".into()),
            auto_escalate: vec!["grid".into(), "village".into()],
            webhooks: vec![],
        }
    }
}

/// A robot or endpoint that receives case notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    #[serde(default = "json_format")]
    pub format: String,
    pub secret: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
}

fn json_format() -> String {
    "json".into()
}

impl CaseConfig {
    /// The working calendar's week and hours (dated exceptions come from the database).
    pub fn calendar(&self) -> anyhow::Result<wangge_domain::worktime::Calendar> {
        let periods: Vec<&str> = self.office_hours.iter().map(String::as_str).collect();
        let mut cal = wangge_domain::worktime::Calendar::standard();
        cal.hours = wangge_domain::worktime::OfficeHours::parse(&periods)?;
        cal.weekdays = [false; 7];
        for d in &self.weekdays {
            anyhow::ensure!((1..=7).contains(d), "weekdays are 1 (Monday) to 7 (Sunday)");
            cal.weekdays[usize::from(*d - 1)] = true;
        }
        Ok(cal)
    }

    fn check(&self) -> anyhow::Result<()> {
        self.calendar()?;
        anyhow::ensure!(self.media_max_mb >= 1, "media_max_mb must be at least 1");
        anyhow::ensure!(
            ["resident", "operator"].contains(&self.reopen_by.as_str()),
            "reopen_by must be resident or operator"
        );
        for w in &self.webhooks {
            anyhow::ensure!(
                ["json", "dingtalk", "wecom"].contains(&w.format.as_str()),
                "webhook {}: format must be json, dingtalk or wecom",
                w.name
            );
            anyhow::ensure!(
                w.url.starts_with("http://") || w.url.starts_with("https://"),
                "webhook {}: url must start with http:// or https://",
                w.name
            );
        }
        Ok(())
    }
}

/// External systems: Open311, outgoing webhooks, incoming events (`[external]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalConfig {
    pub jurisdiction_id: Option<String>,
    pub webhook_attempts: i64,
    pub signature_tolerance_s: i64,
}

impl Default for ExternalConfig {
    fn default() -> Self {
        ExternalConfig {
            jurisdiction_id: None,
            webhook_attempts: 12,
            signature_tolerance_s: 300,
        }
    }
}

/// Catalogues and rules of grids.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GridConfig {
    pub grid_kinds: Vec<Entry>,
    pub business_lines: Vec<Entry>,
    pub sizing: SizingRules,
    pub team_rule: TeamRule,
    pub tolerance: Tolerance,
}

impl Default for GridConfig {
    fn default() -> Self {
        GridConfig {
            grid_kinds: default_grid_kinds(),
            business_lines: default_business_lines(),
            sizing: SizingRules::default(),
            team_rule: TeamRule::default(),
            tolerance: Tolerance::default(),
        }
    }
}

/// The map of the web app: no tiles unless the deployment names its own tile service.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MapConfig {
    pub tile_url: Option<String>,
    pub attribution: Option<String>,
    pub center: [f64; 2],
    pub zoom: u8,
}

impl Default for MapConfig {
    fn default() -> Self {
        // Jinhu county, where DB3208/T 200 was drafted.
        MapConfig {
            tile_url: None,
            attribution: None,
            center: [119.02, 33.02],
            zoom: 10,
        }
    }
}

/// Enough for a province's command centres and grid workers at their busiest (requests take
/// milliseconds), and a bound on what an overload holds in memory (BENCHMARKS.md, B5).
pub const DEFAULT_MAX_REQUESTS_IN_FLIGHT: usize = 512;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    time_zone: Option<String>,
    secure_cookies: Option<bool>,
    max_requests_in_flight: Option<usize>,
    #[serde(default)]
    security: Security,
    levels: Option<Vec<Level>>,
    public_url: Option<String>,
    code_profile: Option<String>,
    #[serde(default)]
    grids: GridConfig,
    #[serde(default)]
    map: MapConfig,
    #[serde(default)]
    cases: CaseConfig,
    #[serde(default)]
    external: ExternalConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Security {
    password_min_length: usize,
    password_min_classes: usize,
    lockout_threshold: i64,
    lockout_minutes: i64,
    session_idle_minutes: i64,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            password_min_length: 8,
            password_min_classes: 3,
            lockout_threshold: 5,
            lockout_minutes: 15,
            session_idle_minutes: 30,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::from_file_config(FileConfig::default()).unwrap_or_else(|_| unreachable_default())
    }
}

// The default file config always validates; this keeps `Default` free of panics.
fn unreachable_default() -> Config {
    Config {
        levels: Levels::default_levels(),
        password_policy: PasswordPolicy::default(),
        lockout_threshold: 5,
        lockout_ms: 15 * 60_000,
        session_idle_ms: 30 * 60_000,
        time_zone: jiff::tz::TimeZone::UTC,
        secure_cookies: false,
        max_requests_in_flight: DEFAULT_MAX_REQUESTS_IN_FLIGHT,
        public_url: None,
        grids: GridConfig::default(),
        map: MapConfig::default(),
        cases: CaseConfig::default(),
        external: ExternalConfig::default(),
        media_dir: std::env::temp_dir().join("wangge-media"),
    }
}

impl Config {
    /// Reads `DIR/wangge.toml` if it exists; the defaults otherwise.
    pub fn load(data_dir: &Path) -> anyhow::Result<Config> {
        let file = data_dir.join("wangge.toml");
        let mut config = if file.exists() {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            Config::parse(&text).with_context(|| format!("in {}", file.display()))?
        } else {
            Config::default()
        };
        config.media_dir = data_dir.join("media");
        Ok(config)
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        Config::from_file_config(toml::from_str(text)?)
    }

    fn from_file_config(f: FileConfig) -> anyhow::Result<Config> {
        let s = f.security;
        anyhow::ensure!(
            s.password_min_length >= 6,
            "password_min_length must be at least 6"
        );
        anyhow::ensure!(
            (1..=4).contains(&s.password_min_classes),
            "password_min_classes must be 1-4"
        );
        anyhow::ensure!(
            s.lockout_threshold >= 1,
            "lockout_threshold must be at least 1"
        );
        anyhow::ensure!(s.lockout_minutes >= 1, "lockout_minutes must be at least 1");
        anyhow::ensure!(
            s.session_idle_minutes >= 1,
            "session_idle_minutes must be at least 1"
        );
        let tz_name = f.time_zone.unwrap_or_else(|| "Asia/Shanghai".into());
        let time_zone = jiff::tz::TimeZone::get(&tz_name)
            .with_context(|| format!("unknown time zone {tz_name}"))?;
        let levels = match (f.levels, f.code_profile.as_deref()) {
            (Some(l), _) => Levels::new(l)?,
            (None, None | Some("community")) => Levels::default_levels(),
            (None, Some("digital_urban")) => Levels::digital_urban_levels(),
            (None, Some(p)) => anyhow::bail!("unknown code_profile {p} (community, digital_urban)"),
        };
        if let Some(u) = &f.public_url {
            anyhow::ensure!(
                u.starts_with("http://") || u.starts_with("https://"),
                "public_url must start with http:// or https://"
            );
        }
        f.cases.check()?;
        let max_requests_in_flight = f
            .max_requests_in_flight
            .unwrap_or(DEFAULT_MAX_REQUESTS_IN_FLIGHT);
        anyhow::ensure!(
            max_requests_in_flight >= 16,
            "max_requests_in_flight must be at least 16"
        );
        anyhow::ensure!(
            (1..=30).contains(&f.external.webhook_attempts),
            "webhook_attempts must be 1-30"
        );
        anyhow::ensure!(
            f.external.signature_tolerance_s >= 10,
            "signature_tolerance_s must be at least 10"
        );
        Ok(Config {
            levels,
            password_policy: PasswordPolicy {
                min_length: s.password_min_length,
                min_classes: s.password_min_classes,
            },
            lockout_threshold: s.lockout_threshold,
            lockout_ms: s.lockout_minutes * 60_000,
            session_idle_ms: s.session_idle_minutes * 60_000,
            time_zone,
            secure_cookies: f.secure_cookies.unwrap_or(false),
            max_requests_in_flight,
            public_url: f.public_url.map(|u| u.trim_end_matches('/').to_string()),
            grids: f.grids,
            map: f.map,
            cases: f.cases,
            external: f.external,
            media_dir: std::env::temp_dir().join("wangge-media"),
        })
    }

    /// Today's date in the deployment's time zone.
    pub fn today(&self, now_ms: i64) -> String {
        wangge_domain::clock::local_date(now_ms, &self.time_zone)
    }

    /// An instant as ISO 8601 with the deployment's offset: `2026-11-22T09:30:00+08:00`.
    pub fn iso_time(&self, ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| {
                t.to_zoned(self.time_zone.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::default();
        assert_eq!(c.lockout_threshold, 5);
        assert_eq!(c.session_idle_ms, 30 * 60_000);
        assert_eq!(c.levels.all().len(), 7);
        let c = Config::parse("[security]\nlockout_threshold = 3\nsession_idle_minutes = 10\n")
            .unwrap();
        assert_eq!(c.lockout_threshold, 3);
        assert_eq!(c.session_idle_ms, 600_000);
        assert_eq!(c.password_policy.min_length, 8);
    }

    #[test]
    fn bad_config_is_refused() {
        assert!(Config::parse("[security]\nlockout_treshold = 3\n").is_err());
        assert!(Config::parse("time_zone = \"Mars/Olympus\"\n").is_err());
        assert!(Config::parse("[security]\npassword_min_length = 2\n").is_err());
    }

    #[test]
    fn grid_settings() {
        let c = Config::parse(
            "code_profile = \"digital_urban\"\n[grids.sizing.urban_grid]\nhouseholds = { min = 100, max = 200 }\n\
             [map]\ntile_url = \"https://t.example/{z}/{x}/{y}.png\"\n",
        )
        .unwrap();
        assert_eq!(c.levels.all().last().unwrap().key, "unit_grid");
        assert_eq!(c.grids.sizing.urban_grid.households.max, Some(200));
        assert_eq!(c.grids.sizing.rural_grid.households.max, Some(500));
        assert!(c.map.tile_url.is_some());
        assert!(Config::parse("code_profile = \"x\"\n").is_err());
    }

    #[test]
    fn custom_levels() {
        let c = Config::parse(
            "[[levels]]\nkey = \"county\"\nname_zh = \"县\"\nname_en = \"County\"\ncode_length = 6\n\
             [[levels]]\nkey = \"compound\"\nname_zh = \"小区\"\nname_en = \"Compound\"\ncode_extends_parent = false\n",
        )
        .unwrap();
        assert_eq!(c.levels.all().len(), 2);
        assert_eq!(c.levels.all()[1].code_length, None);
    }
}
