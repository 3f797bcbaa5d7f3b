//! Each grid's team ("1+3+N"): team roles, the team rule and the qualification rules.

use crate::grid::{Entry, Warning};
use crate::roles::Role;
use serde::{Deserialize, Serialize};

/// A role in a grid's team, and the territory role it grants on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamRole {
    pub key: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub grant: Role,
}

const fn tr(key: &'static str, zh: &'static str, en: &'static str, grant: Role) -> TeamRole {
    TeamRole {
        key,
        name_zh: zh,
        name_en: en,
        grant,
    }
}

/// Grid head, full- and part-time workers, instructor, micro-grid head and worker, and the "N"
/// contacts. Contacts and micro-grid workers get read access only.
pub const TEAM_ROLES: [TeamRole; 9] = [
    tr("grid_head", "网格长", "Grid head", Role::GridHead),
    tr(
        "grid_worker_full",
        "专职网格员",
        "Full-time grid worker",
        Role::GridWorkerFull,
    ),
    tr(
        "grid_worker_part",
        "兼职网格员",
        "Part-time grid worker",
        Role::GridWorkerPart,
    ),
    tr(
        "grid_instructor",
        "网格指导员",
        "Grid instructor",
        Role::GridInstructor,
    ),
    tr(
        "micro_grid_head",
        "微网格长",
        "Micro-grid head",
        Role::MicroGridHead,
    ),
    tr(
        "micro_grid_worker",
        "微格员",
        "Micro-grid worker",
        Role::Volunteer,
    ),
    tr(
        "contact_law",
        "执法力量",
        "Law-enforcement contact",
        Role::Volunteer,
    ),
    tr(
        "contact_cadre",
        "包联干部",
        "Cadre contact",
        Role::Volunteer,
    ),
    tr("contact_volunteer", "志愿者", "Volunteer", Role::Volunteer),
];

pub fn team_role(key: &str) -> Option<&'static TeamRole> {
    TEAM_ROLES.iter().find(|r| r.key == key)
}

/// Which roles every grid must have, and how many heads a micro-grid has (default "1+3+N":
/// a head, at least one full-time worker and an instructor; two heads per micro-grid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct TeamRule {
    pub grid: Vec<String>,
    pub micro_grid_heads: u32,
}

impl Default for TeamRule {
    fn default() -> Self {
        TeamRule {
            grid: vec![
                "grid_head".into(),
                "grid_worker_full".into(),
                "grid_instructor".into(),
            ],
            micro_grid_heads: 2,
        }
    }
}

impl TeamRule {
    /// The roles a grid (or micro-grid) lacks, given the roles of its active members.
    pub fn missing<'a>(
        &self,
        micro: bool,
        active: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let active: Vec<&str> = active.into_iter().collect();
        if micro {
            let heads = active.iter().filter(|r| **r == "micro_grid_head").count();
            return if (heads as u32) < self.micro_grid_heads {
                vec!["micro_grid_head".into()]
            } else {
                Vec::new()
            };
        }
        self.grid
            .iter()
            .filter(|r| !active.contains(&r.as_str()))
            .cloned()
            .collect()
    }
}

/// Education levels; 大专 (college) and above count as "college level".
pub const EDUCATIONS: [(&str, &str, &str); 8] = [
    ("primary", "小学", "Primary school"),
    ("junior_high", "初中", "Junior high school"),
    ("senior_high", "高中", "Senior high school"),
    ("vocational", "中专", "Vocational school"),
    ("college", "大专", "College"),
    ("bachelor", "本科", "Bachelor"),
    ("master", "硕士", "Master"),
    ("doctorate", "博士", "Doctorate"),
];

pub fn educations() -> Vec<Entry> {
    EDUCATIONS
        .iter()
        .map(|(k, zh, en)| Entry {
            key: (*k).into(),
            name_zh: (*zh).into(),
            name_en: (*en).into(),
        })
        .collect()
}

pub fn is_education(key: &str) -> bool {
    EDUCATIONS.iter().any(|(k, _, _)| *k == key)
}

fn college_or_above(key: &str) -> bool {
    matches!(key, "college" | "bachelor" | "master" | "doctorate")
}

/// What the rules need to know about a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qualification<'a> {
    pub birth_date: Option<&'a str>,
    pub education: Option<&'a str>,
    pub certificate_no: Option<&'a str>,
}

/// Full years between two `YYYY-MM-DD` dates.
pub fn age_on(birth: &str, on: &str) -> Option<i64> {
    let parse = |d: &str| -> Option<(i64, i64, i64)> {
        let mut it = d.split('-').map(|p| p.parse::<i64>().ok());
        Some((it.next()??, it.next()??, it.next()??))
    };
    let (by, bm, bd) = parse(birth)?;
    let (y, m, d) = parse(on)?;
    Some(y - by - i64::from((m, d) < (bm, bd)))
}

/// Why taking this person on in this role needs a recorded exception (DB3208/T 200 6.1: new
/// full-time workers about 35 or younger, college level). Empty: no exception needed.
pub fn exception_reasons(role: &str, q: &Qualification, start_date: &str) -> Vec<Warning> {
    if role != "grid_worker_full" {
        return Vec::new();
    }
    let mut out = Vec::new();
    match q.birth_date.and_then(|b| age_on(b, start_date)) {
        Some(age) if age > 35 => out.push(Warning::new(
            "qualification_over_35",
            format!("{age} years old on the start date, over 35"),
            format!("入职时{age}岁,超过35岁"),
        )),
        Some(_) => {}
        None => out.push(Warning::new(
            "qualification_unknown_age",
            "birth date not recorded".into(),
            "未登记出生日期".into(),
        )),
    }
    match q.education {
        Some(e) if college_or_above(e) => {}
        Some(_) => out.push(Warning::new(
            "qualification_below_college",
            "education below college level".into(),
            "学历低于大专".into(),
        )),
        None => out.push(Warning::new(
            "qualification_unknown_education",
            "education not recorded".into(),
            "未登记学历".into(),
        )),
    }
    out
}

/// Nobody works without a training certificate (持证上岗).
pub fn certificate_warning(q: &Qualification) -> Option<Warning> {
    match q.certificate_no {
        Some(c) if !c.trim().is_empty() => None,
        _ => Some(Warning::new(
            "uncertified",
            "no training certificate recorded".into(),
            "未取得培训合格证".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_lists_missing_roles() {
        let r = TeamRule::default();
        assert_eq!(
            r.missing(false, ["grid_head", "grid_worker_part"]),
            vec!["grid_worker_full", "grid_instructor"]
        );
        assert!(
            r.missing(false, ["grid_instructor", "grid_head", "grid_worker_full"])
                .is_empty()
        );
        assert_eq!(
            r.missing(true, ["micro_grid_head"]),
            vec!["micro_grid_head"]
        );
        assert!(
            r.missing(true, ["micro_grid_head", "micro_grid_head"])
                .is_empty()
        );
    }

    #[test]
    fn ages_and_exceptions() {
        assert_eq!(age_on("1990-06-15", "2026-06-14"), Some(35));
        assert_eq!(age_on("1990-06-15", "2026-06-15"), Some(36));
        let young = Qualification {
            birth_date: Some("1995-01-01"),
            education: Some("bachelor"),
            certificate_no: Some("JH-001"),
        };
        assert!(exception_reasons("grid_worker_full", &young, "2026-11-22").is_empty());
        assert!(certificate_warning(&young).is_none());
        let old = Qualification {
            birth_date: Some("1980-01-01"),
            education: Some("senior_high"),
            certificate_no: None,
        };
        let codes: Vec<_> = exception_reasons("grid_worker_full", &old, "2026-11-22")
            .into_iter()
            .map(|w| w.code)
            .collect();
        assert_eq!(
            codes,
            ["qualification_over_35", "qualification_below_college"]
        );
        assert!(exception_reasons("grid_head", &old, "2026-11-22").is_empty());
        assert!(certificate_warning(&old).is_some());
    }
}
