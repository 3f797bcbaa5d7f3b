//! Grid changes (网格调整): split, merge, redraw and retire, proposed, approved by the level
//! above, and taking effect on a date.

use crate::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Split,
    Merge,
    Redraw,
    Retire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// Waiting for the level above.
    Proposed,
    /// Approved; takes effect on its date.
    Approved,
    /// Applied to the territory.
    Effective,
    Rejected,
}

impl ChangeKind {
    pub fn key(self) -> &'static str {
        match self {
            ChangeKind::Split => "split",
            ChangeKind::Merge => "merge",
            ChangeKind::Redraw => "redraw",
            ChangeKind::Retire => "retire",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        [Self::Split, Self::Merge, Self::Redraw, Self::Retire]
            .into_iter()
            .find(|k| k.key() == s)
    }

    /// Checks the number of units and parts. `geometries[i]`: whether part `i` has a geometry.
    pub fn check_shape(self, units: usize, geometries: &[bool]) -> Result<(), DomainError> {
        let bad = |reason: &str| Err(DomainError::ChangeInvalid(reason.into()));
        let parts = geometries.len();
        match self {
            ChangeKind::Split if units != 1 => bad("a split takes exactly one grid"),
            ChangeKind::Split if parts < 2 => bad("a split makes at least two parts"),
            ChangeKind::Split if geometries[..parts - 1].iter().any(|g| !g) => {
                bad("every part but the last needs a geometry")
            }
            ChangeKind::Merge if units < 2 => bad("a merge takes at least two grids"),
            ChangeKind::Merge if parts != 1 => bad("a merge makes exactly one grid"),
            ChangeKind::Redraw if units != 1 || parts != 1 || !geometries[0] => {
                bad("a redraw takes one grid and one geometry")
            }
            ChangeKind::Retire if units != 1 || parts != 0 => {
                bad("a retirement takes one grid and no parts")
            }
            _ => Ok(()),
        }
    }
}

impl ChangeStatus {
    pub fn key(self) -> &'static str {
        match self {
            ChangeStatus::Proposed => "proposed",
            ChangeStatus::Approved => "approved",
            ChangeStatus::Effective => "effective",
            ChangeStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeStatus> {
        [
            Self::Proposed,
            Self::Approved,
            Self::Effective,
            Self::Rejected,
        ]
        .into_iter()
        .find(|k| k.key() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        use ChangeKind::*;
        assert!(Split.check_shape(1, &[true, false]).is_ok());
        assert!(Split.check_shape(1, &[false, true]).is_err());
        assert!(Split.check_shape(1, &[true]).is_err());
        assert!(Merge.check_shape(2, &[false]).is_ok());
        assert!(Merge.check_shape(1, &[false]).is_err());
        assert!(Redraw.check_shape(1, &[true]).is_ok());
        assert!(Redraw.check_shape(1, &[false]).is_err());
        assert!(Retire.check_shape(1, &[]).is_ok());
        assert!(Retire.check_shape(2, &[]).is_err());
        assert_eq!(ChangeKind::parse("merge"), Some(Merge));
        assert_eq!(
            ChangeStatus::parse("effective"),
            Some(ChangeStatus::Effective)
        );
    }
}
