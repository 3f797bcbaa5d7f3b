//! Roles, permissions and the scope a user's grants give for a permission.
//!
//! A grant is role × territory unit and covers the unit's whole subtree. A system administrator's
//! grant may have no unit: it then covers everything.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Permission {
    #[serde(rename = "territory.read")]
    TerritoryRead,
    #[serde(rename = "territory.write")]
    TerritoryWrite,
    #[serde(rename = "user.manage")]
    UserManage,
    #[serde(rename = "audit.read")]
    AuditRead,
    /// Read the cases of the territory (departments see only what is assigned to them).
    #[serde(rename = "case.read")]
    CaseRead,
    /// Edit the case catalogue, the departments and the working calendar.
    #[serde(rename = "case.configure")]
    CaseConfigure,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::TerritoryRead,
        Permission::TerritoryWrite,
        Permission::UserManage,
        Permission::AuditRead,
        Permission::CaseRead,
        Permission::CaseConfigure,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Permission::TerritoryRead => "territory.read",
            Permission::TerritoryWrite => "territory.write",
            Permission::UserManage => "user.manage",
            Permission::AuditRead => "audit.read",
            Permission::CaseRead => "case.read",
            Permission::CaseConfigure => "case.configure",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SystemAdmin,
    CenterLeader,
    CenterOperator,
    DepartmentHandler,
    GridHead,
    GridWorkerFull,
    GridWorkerPart,
    GridInstructor,
    MicroGridHead,
    Volunteer,
    Resident,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::SystemAdmin,
        Role::CenterLeader,
        Role::CenterOperator,
        Role::DepartmentHandler,
        Role::GridHead,
        Role::GridWorkerFull,
        Role::GridWorkerPart,
        Role::GridInstructor,
        Role::MicroGridHead,
        Role::Volunteer,
        Role::Resident,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Role::SystemAdmin => "system_admin",
            Role::CenterLeader => "center_leader",
            Role::CenterOperator => "center_operator",
            Role::DepartmentHandler => "department_handler",
            Role::GridHead => "grid_head",
            Role::GridWorkerFull => "grid_worker_full",
            Role::GridWorkerPart => "grid_worker_part",
            Role::GridInstructor => "grid_instructor",
            Role::MicroGridHead => "micro_grid_head",
            Role::Volunteer => "volunteer",
            Role::Resident => "resident",
        }
    }

    pub fn parse(key: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == key)
    }

    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Role::SystemAdmin => ("系统管理员", "System administrator"),
            Role::CenterLeader => ("指挥中心领导", "Command-centre leader"),
            Role::CenterOperator => ("指挥中心操作员", "Command-centre operator"),
            Role::DepartmentHandler => ("部门处置人员", "Department handler"),
            Role::GridHead => ("网格长", "Grid head"),
            Role::GridWorkerFull => ("专职网格员", "Full-time grid worker"),
            Role::GridWorkerPart => ("兼职网格员", "Part-time grid worker"),
            Role::GridInstructor => ("网格指导员", "Grid instructor"),
            Role::MicroGridHead => ("微网格长", "Micro-grid head"),
            Role::Volunteer => ("志愿者", "Volunteer"),
            Role::Resident => ("居民", "Resident"),
        }
    }

    /// What the role may do inside its granted subtree. Least privilege: territory edits are for
    /// command centres (and grid heads, for the micro-grids of their grid); users and the audit log
    /// are for administrators.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::SystemAdmin => &[
                TerritoryRead,
                TerritoryWrite,
                UserManage,
                AuditRead,
                CaseRead,
                CaseConfigure,
            ],
            Role::CenterLeader => &[TerritoryRead, TerritoryWrite, CaseRead, CaseConfigure],
            Role::CenterOperator | Role::GridHead => &[TerritoryRead, TerritoryWrite, CaseRead],
            Role::GridWorkerFull
            | Role::GridWorkerPart
            | Role::GridInstructor
            | Role::MicroGridHead => &[TerritoryRead, CaseRead],
            Role::DepartmentHandler | Role::Volunteer | Role::Resident => &[TerritoryRead],
        }
    }

    pub fn has(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

/// A grant as the access check sees it: the role, and the materialised path of the granted unit
/// (`None`: everything, only for system administrators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantScope {
    pub role: Role,
    pub unit_path: Option<String>,
}

/// Where a permission holds: everywhere, or in the subtrees below these unit paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Subtrees(Vec<String>),
}

impl Scope {
    /// The scope the grants give for `perm`. Nested subtrees are folded into their top.
    pub fn for_permission(grants: &[GrantScope], perm: Permission) -> Scope {
        let mut paths: Vec<String> = Vec::new();
        for g in grants.iter().filter(|g| g.role.has(perm)) {
            match &g.unit_path {
                None => return Scope::All,
                Some(p) => paths.push(p.clone()),
            }
        }
        paths.sort();
        let mut tops: Vec<String> = Vec::new();
        for p in paths {
            if !tops.iter().any(|t| p.starts_with(t.as_str())) {
                tops.push(p);
            }
        }
        Scope::Subtrees(tops)
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Scope::Subtrees(v) if v.is_empty())
    }

    /// Whether a unit with this path lies inside the scope.
    pub fn contains_path(&self, unit_path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Subtrees(tops) => tops.iter().any(|t| unit_path.starts_with(t.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(role: Role, p: Option<&str>) -> GrantScope {
        GrantScope {
            role,
            unit_path: p.map(String::from),
        }
    }

    #[test]
    fn scope_follows_role_permissions() {
        let grants = vec![
            g(Role::Resident, Some("/1/2/")),
            g(Role::CenterOperator, Some("/1/5/")),
        ];
        assert_eq!(
            Scope::for_permission(&grants, Permission::TerritoryRead),
            Scope::Subtrees(vec!["/1/2/".into(), "/1/5/".into()])
        );
        assert_eq!(
            Scope::for_permission(&grants, Permission::TerritoryWrite),
            Scope::Subtrees(vec!["/1/5/".into()])
        );
        assert!(Scope::for_permission(&grants, Permission::UserManage).is_empty());
    }

    #[test]
    fn nested_grants_fold_and_admin_is_global() {
        let grants = vec![
            g(Role::GridHead, Some("/1/2/3/")),
            g(Role::CenterLeader, Some("/1/2/")),
        ];
        assert_eq!(
            Scope::for_permission(&grants, Permission::TerritoryWrite),
            Scope::Subtrees(vec!["/1/2/".into()])
        );
        let admin = vec![g(Role::SystemAdmin, None)];
        assert_eq!(
            Scope::for_permission(&admin, Permission::AuditRead),
            Scope::All
        );
    }

    #[test]
    fn a_subtree_does_not_cover_a_sibling_with_a_longer_id() {
        let s = Scope::Subtrees(vec!["/1/2/".into()]);
        assert!(s.contains_path("/1/2/9/"));
        assert!(!s.contains_path("/1/23/"));
        assert!(!s.contains_path("/1/"));
    }

    #[test]
    fn role_keys_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.key()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
