//! Grids as data: kinds, business lines (多网合一), area types, sizing rules and code sequences.
//!
//! The catalogues are defaults that a deployment can replace in its configuration.

use crate::DomainError;
use serde::{Deserialize, Serialize};

/// One entry of a small catalogue (grid kinds, business lines, educations, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
}

fn entries(list: &[(&str, &str, &str)]) -> Vec<Entry> {
    list.iter()
        .map(|(k, zh, en)| Entry {
            key: (*k).into(),
            name_zh: (*zh).into(),
            name_en: (*en).into(),
        })
        .collect()
}

/// 基础网格, 专属网格 (schools, hospitals, markets, enterprises, parks), industrial-community and
/// enterprise grids (DB3208/T 200 4.1, DB330424/T).
pub fn default_grid_kinds() -> Vec<Entry> {
    entries(&[
        ("basic", "基础网格", "Basic grid"),
        (
            "dedicated_school",
            "专属网格(学校)",
            "Dedicated grid: school",
        ),
        (
            "dedicated_hospital",
            "专属网格(医院)",
            "Dedicated grid: hospital",
        ),
        (
            "dedicated_market",
            "专属网格(商场市场)",
            "Dedicated grid: market",
        ),
        (
            "dedicated_enterprise",
            "专属网格(企业)",
            "Dedicated grid: enterprise",
        ),
        ("dedicated_park", "专属网格(园区)", "Dedicated grid: park"),
        ("dedicated_other", "专属网格(其他)", "Dedicated grid: other"),
        ("industrial", "工业社区网格", "Industrial-community grid"),
        ("enterprise", "企业网格", "Enterprise grid"),
    ])
}

/// The business lines one base grid carries, so departments never draw their own grids.
pub fn default_business_lines() -> Vec<Entry> {
    entries(&[
        ("party_building", "党建", "Party building"),
        (
            "comprehensive_governance",
            "综治",
            "Comprehensive governance",
        ),
        ("safety_production", "安全生产", "Safety production"),
        ("fire", "消防", "Fire safety"),
        ("environment", "生态环境", "Environment"),
        ("health", "卫生健康", "Health"),
        ("civil_affairs", "民政", "Civil affairs"),
        ("emergency", "应急管理", "Emergency management"),
        ("market_supervision", "市场监管", "Market supervision"),
        ("urban_management", "城市管理", "Urban management"),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AreaType {
    Urban,
    Rural,
    Industrial,
}

impl AreaType {
    pub const ALL: [AreaType; 3] = [AreaType::Urban, AreaType::Rural, AreaType::Industrial];

    pub fn key(self) -> &'static str {
        match self {
            AreaType::Urban => "urban",
            AreaType::Rural => "rural",
            AreaType::Industrial => "industrial",
        }
    }

    pub fn parse(s: &str) -> Option<AreaType> {
        AreaType::ALL.into_iter().find(|a| a.key() == s)
    }

    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            AreaType::Urban => ("城镇", "Urban"),
            AreaType::Rural => ("农村", "Rural"),
            AreaType::Industrial => ("工业园区", "Industrial"),
        }
    }
}

/// An inclusive range; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

const fn range(min: i64, max: i64) -> Range {
    Range {
        min: Some(min),
        max: Some(max),
    }
}

/// The size a grid of one area type should have. Breaking it is a warning, never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizingRule {
    pub households: Range,
    pub population: Range,
    pub enterprises: Range,
}

/// Defaults from DB3208/T 200 4.2, the Zhejiang measures and DB330424/T: urban grids about 500
/// households, rural about 300, 1,000–1,500 people; micro-grids about 100 households; industrial
/// grids 30–50 enterprises, a micro-grid per large enterprise or per 2–5 small ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizingRules {
    pub urban_grid: SizingRule,
    pub rural_grid: SizingRule,
    pub industrial_grid: SizingRule,
    pub micro_grid: SizingRule,
    pub industrial_micro_grid: SizingRule,
}

impl Default for SizingRules {
    fn default() -> Self {
        let none = Range::default();
        SizingRules {
            urban_grid: SizingRule {
                households: range(300, 600),
                population: range(1000, 1500),
                enterprises: none,
            },
            rural_grid: SizingRule {
                households: range(200, 500),
                population: range(1000, 1500),
                enterprises: none,
            },
            industrial_grid: SizingRule {
                households: none,
                population: none,
                enterprises: range(30, 50),
            },
            micro_grid: SizingRule {
                households: range(50, 150),
                population: none,
                enterprises: none,
            },
            industrial_micro_grid: SizingRule {
                households: none,
                population: none,
                enterprises: range(1, 5),
            },
        }
    }
}

/// A rule the data breaks, shown to the user but not refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    pub code: String,
    pub message: String,
    pub message_zh: String,
}

impl Warning {
    pub fn new(code: &str, message: String, message_zh: String) -> Self {
        Warning {
            code: code.into(),
            message,
            message_zh,
        }
    }
}

/// The counts a grid holds (entered now; computed from the registers later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub households: Option<i64>,
    pub population: Option<i64>,
    pub enterprises: Option<i64>,
}

impl SizingRules {
    /// Sizing warnings for a grid (`micro` false) or micro-grid of the given area type.
    pub fn check(&self, micro: bool, area: Option<AreaType>, c: Counts) -> Vec<Warning> {
        let rule = match (micro, area) {
            (false, Some(AreaType::Urban)) => &self.urban_grid,
            (false, Some(AreaType::Rural)) => &self.rural_grid,
            (false, Some(AreaType::Industrial)) => &self.industrial_grid,
            (true, Some(AreaType::Industrial)) => &self.industrial_micro_grid,
            (true, _) => &self.micro_grid,
            (false, None) => return Vec::new(),
        };
        let mut out = Vec::new();
        let fields = [
            ("households", "户数", c.households, rule.households),
            ("population", "人口", c.population, rule.population),
            ("enterprises", "企业数", c.enterprises, rule.enterprises),
        ];
        for (field, zh, value, r) in fields {
            let Some(v) = value else { continue };
            if let Some(min) = r.min
                && v < min
            {
                out.push(Warning::new(
                    &format!("sizing_{field}_low"),
                    format!("{v} {field}, below the recommended {min}"),
                    format!("{zh}{v},低于建议的{min}"),
                ));
            }
            if let Some(max) = r.max
                && v > max
            {
                out.push(Warning::new(
                    &format!("sizing_{field}_high"),
                    format!("{v} {field}, above the recommended {max}"),
                    format!("{zh}{v},高于建议的{max}"),
                ));
            }
        }
        out
    }
}

/// The next code below `parent_code` with a `digits`-long sequence: one past the highest sequence
/// ever used there (`existing` includes retired units), so a code is never reused.
pub fn next_code<'a>(
    parent_code: &str,
    digits: usize,
    existing: impl IntoIterator<Item = &'a str>,
) -> Result<String, DomainError> {
    let max = existing
        .into_iter()
        .filter_map(|c| c.strip_prefix(parent_code))
        .filter(|s| s.len() == digits)
        .filter_map(|s| s.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let next = max + 1;
    if next.to_string().len() > digits {
        return Err(DomainError::validation(
            "code",
            format!("no free {digits}-digit sequence left below {parent_code}"),
        ));
    }
    Ok(format!("{parent_code}{next:0digits$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_code_never_reuses_and_pads() {
        assert_eq!(next_code("320831001001", 3, []).unwrap(), "320831001001001");
        let existing = [
            "320831001001001",
            "320831001001007",
            "3208310010010071",
            "x",
        ];
        assert_eq!(
            next_code("320831001001", 3, existing).unwrap(),
            "320831001001008"
        );
        assert!(next_code("1", 1, ["19"]).is_err());
    }

    #[test]
    fn sizing_warns_outside_ranges_only() {
        let r = SizingRules::default();
        let c = Counts {
            households: Some(800),
            population: Some(1200),
            enterprises: None,
        };
        let w = r.check(false, Some(AreaType::Urban), c);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "sizing_households_high");
        assert!(r.check(false, None, c).is_empty());
        let micro = Counts {
            households: Some(20),
            ..Counts::default()
        };
        assert_eq!(
            r.check(true, Some(AreaType::Urban), micro)[0].code,
            "sizing_households_low"
        );
        let ind = Counts {
            enterprises: Some(60),
            ..Counts::default()
        };
        assert_eq!(
            r.check(false, Some(AreaType::Industrial), ind)[0].code,
            "sizing_enterprises_high"
        );
    }
}
