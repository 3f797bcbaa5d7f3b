//! The case closed loop as an explicit state machine: which action moves a case from which state
//! to which, and who may take it (GB/T 30428.8 / CJ/T 315 with the side paths of grid practice).
//!
//! ```text
//! draft → reported → accepted → filed → dispatched → in_handling → handled → in_check → closed → rated
//!            │           └→ not_filed                  ↑    │                    └→ rework ┘
//!            └→ in_check (handled on the spot)        return/transfer, extension, park, defer, void
//! ```

use crate::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Draft,
    Reported,
    Accepted,
    Filed,
    /// 不予立案, with a reason. Final.
    NotFiled,
    Dispatched,
    InHandling,
    /// The handler reported the result (反馈).
    Handled,
    InCheck,
    /// Failed its check or reopened: back with the handler.
    Rework,
    Closed,
    Rated,
    /// 挂账: the clock stops until it is resumed.
    Parked,
    /// 缓办: out of the on-time denominators until resumed.
    Deferred,
    /// 作废. Final.
    Voided,
}

impl CaseState {
    /// States whose cases are no longer open: settled, final, or not yet reported.
    pub const NOT_OPEN: [CaseState; 5] = [
        CaseState::Closed,
        CaseState::Rated,
        CaseState::NotFiled,
        CaseState::Voided,
        CaseState::Draft,
    ];

    /// Whether a case in this state is open (counts as overdue when its deadline is breached).
    pub fn is_open(self) -> bool {
        !Self::NOT_OPEN.contains(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseAction {
    Submit,
    Accept,
    File,
    NotFile,
    /// A grid worker settles a simple matter at once; it goes straight to the check.
    HandleOnSpot,
    /// To the next level up (grid → village → town → county), which receives it as a report.
    Escalate,
    Dispatch,
    /// The handling unit's own staff take a filed case into handling (no department needed).
    Take,
    DeptAccept,
    /// 回退: the department sends it back for re-dispatch (改派).
    Return,
    /// 移交: from one department to another.
    Transfer,
    ReportResult,
    StartCheck,
    CheckPass,
    CheckFail,
    ResumeRework,
    Rate,
    /// An unsatisfied rating (or a leader) reopens the case for rework.
    Reopen,
    RequestExtension,
    ApproveExtension,
    Park,
    Defer,
    /// Out of parking or deferral, back where it was.
    Resume,
    /// 督办: a flag with a comment and a new deadline; the state stays.
    Supervise,
    Void,
    /// A duplicate joins the original case: it ends here and its reporter follows the original.
    Merge,
    /// An approval-type matter passes this level's review and is publicly noticed (公示) before
    /// it goes up to the next level; the state stays.
    Review,
}

/// Who acts, as the case loop sees the roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// Grid heads and workers, micro-grid heads, instructors of the case's grid.
    GridStaff,
    /// Command-centre operators (受理员, 派遣员) and hotline operators.
    Operator,
    /// Command-centre leaders (值班长) of the level handling the case.
    Leader,
    /// A department handling its assignment.
    Department,
    /// The resident who reported (tracking code) or anyone reporting from a grid's page.
    Resident,
    /// The platform itself: API clients, sensors, deadline clocks.
    System,
}

use CaseAction as A;
use CaseState as S;
use Party as P;

/// Where an action leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    To(CaseState),
    /// The state does not change (escalation, supervision, extensions).
    Same,
    /// Back to the state the case was parked or deferred from.
    Back,
}

struct Rule {
    action: CaseAction,
    from: &'static [CaseState],
    to: Target,
    who: &'static [Party],
}

const OPEN: &[CaseState] = &[
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
];

const RULES: &[Rule] = &[
    Rule {
        action: A::Submit,
        from: &[S::Draft],
        to: Target::To(S::Reported),
        who: &[P::GridStaff, P::Operator, P::Resident, P::System],
    },
    Rule {
        action: A::Accept,
        from: &[S::Reported],
        to: Target::To(S::Accepted),
        who: &[P::Operator, P::Leader, P::GridStaff],
    },
    Rule {
        action: A::File,
        from: &[S::Accepted],
        to: Target::To(S::Filed),
        who: &[P::Operator, P::Leader, P::GridStaff],
    },
    Rule {
        action: A::NotFile,
        from: &[S::Accepted],
        to: Target::To(S::NotFiled),
        who: &[P::Operator, P::Leader, P::GridStaff],
    },
    Rule {
        action: A::HandleOnSpot,
        from: &[S::Draft, S::Reported],
        to: Target::To(S::InCheck),
        who: &[P::GridStaff],
    },
    Rule {
        action: A::Escalate,
        from: &[S::Reported, S::Accepted, S::Filed, S::InHandling, S::Rework],
        to: Target::To(S::Reported),
        who: &[P::GridStaff, P::Operator, P::Leader, P::System],
    },
    Rule {
        action: A::Take,
        from: &[S::Filed],
        to: Target::To(S::InHandling),
        who: &[P::GridStaff, P::Operator],
    },
    Rule {
        action: A::Dispatch,
        from: &[S::Filed],
        to: Target::To(S::Dispatched),
        who: &[P::Operator, P::Leader],
    },
    Rule {
        action: A::DeptAccept,
        from: &[S::Dispatched],
        to: Target::To(S::InHandling),
        who: &[P::Department, P::GridStaff],
    },
    Rule {
        action: A::Return,
        from: &[S::Dispatched],
        to: Target::To(S::Filed),
        who: &[P::Department],
    },
    Rule {
        action: A::Transfer,
        from: &[S::Dispatched, S::InHandling],
        to: Target::To(S::Dispatched),
        who: &[P::Department, P::Operator, P::Leader],
    },
    Rule {
        action: A::ReportResult,
        from: &[S::InHandling, S::Rework],
        to: Target::To(S::Handled),
        who: &[P::Department, P::GridStaff, P::Operator],
    },
    Rule {
        action: A::StartCheck,
        from: &[S::Handled],
        to: Target::To(S::InCheck),
        who: &[P::GridStaff, P::Operator, P::Leader],
    },
    Rule {
        action: A::CheckPass,
        from: &[S::InCheck],
        to: Target::To(S::Closed),
        who: &[P::GridStaff, P::Operator, P::Leader],
    },
    Rule {
        action: A::CheckFail,
        from: &[S::InCheck],
        to: Target::To(S::Rework),
        who: &[P::GridStaff, P::Operator, P::Leader],
    },
    Rule {
        action: A::ResumeRework,
        from: &[S::Rework],
        to: Target::To(S::InHandling),
        who: &[P::Department, P::GridStaff, P::Operator],
    },
    Rule {
        action: A::Rate,
        from: &[S::Closed],
        to: Target::To(S::Rated),
        who: &[P::Resident, P::Operator],
    },
    Rule {
        action: A::Reopen,
        from: &[S::Closed, S::Rated],
        to: Target::To(S::Rework),
        who: &[P::Resident, P::Operator, P::Leader],
    },
    Rule {
        action: A::RequestExtension,
        from: &[S::InHandling, S::Rework],
        to: Target::Same,
        who: &[P::Department, P::GridStaff],
    },
    Rule {
        action: A::ApproveExtension,
        from: &[S::InHandling, S::Rework],
        to: Target::Same,
        who: &[P::Leader],
    },
    Rule {
        action: A::Park,
        from: &[S::Filed, S::Dispatched, S::InHandling, S::Rework],
        to: Target::To(S::Parked),
        who: &[P::Leader],
    },
    Rule {
        action: A::Defer,
        from: &[S::Filed, S::Dispatched, S::InHandling, S::Rework],
        to: Target::To(S::Deferred),
        who: &[P::Leader],
    },
    Rule {
        action: A::Resume,
        from: &[S::Parked, S::Deferred],
        to: Target::Back,
        who: &[P::Leader, P::System],
    },
    Rule {
        action: A::Supervise,
        from: OPEN,
        to: Target::Same,
        who: &[P::Leader],
    },
    Rule {
        action: A::Void,
        from: OPEN,
        to: Target::To(S::Voided),
        who: &[P::Leader],
    },
    Rule {
        action: A::Review,
        from: &[S::Reported, S::Accepted],
        to: Target::Same,
        who: &[P::Operator, P::Leader],
    },
    Rule {
        action: A::Merge,
        from: &[S::Reported, S::Accepted, S::Filed],
        to: Target::To(S::Voided),
        who: &[P::Operator, P::Leader, P::GridStaff],
    },
];

/// Where a case stands: its state, and for a parked or deferred case where it resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub state: CaseState,
    pub resume_to: Option<CaseState>,
}

impl Flow {
    pub fn new() -> Self {
        Flow {
            state: S::Draft,
            resume_to: None,
        }
    }

    /// The flow after `action` by `who`, or why not: `illegal_transition` when the action does
    /// not leave this state, `forbidden` when it does but not for this party.
    pub fn apply(&self, action: CaseAction, who: Party) -> Result<Flow, DomainError> {
        let rule = RULES
            .iter()
            .find(|r| r.action == action && r.from.contains(&self.state))
            .ok_or(DomainError::IllegalTransition {
                state: self.state,
                action,
            })?;
        if !rule.who.contains(&who) {
            return Err(DomainError::ActionForbidden { action, party: who });
        }
        Ok(match rule.to {
            Target::Same => *self,
            Target::To(s @ (S::Parked | S::Deferred)) => Flow {
                state: s,
                resume_to: Some(self.state),
            },
            Target::To(s) => Flow {
                state: s,
                resume_to: None,
            },
            Target::Back => Flow {
                state: self.resume_to.unwrap_or(S::Filed),
                resume_to: None,
            },
        })
    }

    /// The actions `who` may take now, for showing only those in the UI.
    pub fn allowed(&self, who: Party) -> Vec<CaseAction> {
        RULES
            .iter()
            .filter(|r| r.from.contains(&self.state) && r.who.contains(&who))
            .map(|r| r.action)
            .collect()
    }

    /// Whether the case's clock runs (not parked, deferred, closed or final).
    pub fn clock_runs(&self) -> bool {
        !matches!(
            self.state,
            S::Draft | S::Parked | S::Deferred | S::Closed | S::Rated | S::NotFiled | S::Voided
        )
    }

    pub fn is_final(&self) -> bool {
        matches!(self.state, S::NotFiled | S::Voided)
    }
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new()
    }
}

/// Replays a history of actions from a draft; the state it explains, or the first bad step.
pub fn replay(steps: &[(CaseAction, Party)]) -> Result<Flow, (usize, DomainError)> {
    steps
        .iter()
        .enumerate()
        .try_fold(Flow::new(), |f, (i, (a, p))| {
            f.apply(*a, *p).map_err(|e| (i, e))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [CaseAction; 28] = [
        A::Review,
        A::Merge,
        A::Take,
        A::Submit,
        A::Accept,
        A::File,
        A::NotFile,
        A::HandleOnSpot,
        A::Escalate,
        A::Dispatch,
        A::DeptAccept,
        A::Return,
        A::Transfer,
        A::ReportResult,
        A::StartCheck,
        A::CheckPass,
        A::CheckFail,
        A::ResumeRework,
        A::Rate,
        A::Reopen,
        A::RequestExtension,
        A::ApproveExtension,
        A::Park,
        A::Defer,
        A::Resume,
        A::Supervise,
        A::Void,
        A::Accept,
    ];
    const PARTIES: [Party; 6] = [
        P::GridStaff,
        P::Operator,
        P::Leader,
        P::Department,
        P::Resident,
        P::System,
    ];

    #[test]
    fn the_standard_loop() {
        let steps = [
            (A::Submit, P::Resident),
            (A::Accept, P::Operator),
            (A::Escalate, P::GridStaff),
            (A::Accept, P::Operator),
            (A::File, P::Leader),
            (A::Dispatch, P::Operator),
            (A::DeptAccept, P::Department),
            (A::ReportResult, P::Department),
            (A::StartCheck, P::GridStaff),
            (A::CheckFail, P::GridStaff),
            (A::ResumeRework, P::Department),
            (A::ReportResult, P::Department),
            (A::StartCheck, P::GridStaff),
            (A::CheckPass, P::GridStaff),
            (A::Rate, P::Resident),
        ];
        assert_eq!(replay(&steps).map(|f| f.state), Ok(S::Rated));
        // handled on the spot: straight to the check
        let on_spot = [(A::HandleOnSpot, P::GridStaff), (A::CheckPass, P::Operator)];
        assert_eq!(replay(&on_spot).map(|f| f.state), Ok(S::Closed));
    }

    #[test]
    fn side_paths() {
        let f = replay(&[
            (A::Submit, P::GridStaff),
            (A::Accept, P::Operator),
            (A::File, P::Leader),
            (A::Dispatch, P::Operator),
        ])
        .unwrap();
        // returned by the department, re-dispatched elsewhere
        let back = f.apply(A::Return, P::Department).unwrap();
        assert_eq!(back.state, S::Filed);
        // parked and resumed where it was, clock stopped meanwhile
        let parked = f.apply(A::Park, P::Leader).unwrap();
        assert!(!parked.clock_runs());
        assert_eq!(
            parked.apply(A::Resume, P::Leader).unwrap().state,
            S::Dispatched
        );
        // supervision keeps the state; voiding is final
        assert_eq!(f.apply(A::Supervise, P::Leader).unwrap(), f);
        let void = f.apply(A::Void, P::Leader).unwrap();
        assert!(void.is_final() && void.allowed(P::Leader).is_empty());
    }

    #[test]
    fn wrong_moves_are_refused_with_codes() {
        let f = Flow::new();
        assert_eq!(
            f.apply(A::Dispatch, P::Operator).unwrap_err().code(),
            "illegal_transition"
        );
        let r = f.apply(A::Submit, P::Resident).unwrap();
        assert_eq!(
            r.apply(A::Accept, P::Department).unwrap_err().code(),
            "forbidden"
        );
        assert_eq!(r.allowed(P::Resident), Vec::<CaseAction>::new());
        assert!(r.allowed(P::Operator).contains(&A::Accept));
    }

    /// A small deterministic generator (xorshift) so the property test needs no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    #[test]
    fn random_walks_stay_legal_and_explained() {
        let mut rng = Rng(0x5747_2026);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let mut flow = Flow::new();
            let mut history: Vec<(CaseAction, Party)> = Vec::new();
            for _ in 0..40 {
                let (a, p) = (
                    ACTIONS[rng.next(ACTIONS.len())],
                    PARTIES[rng.next(PARTIES.len())],
                );
                match flow.apply(a, p) {
                    Ok(next) => {
                        history.push((a, p));
                        flow = next;
                        seen.insert(flow.state);
                    }
                    Err(e) => {
                        assert!(["illegal_transition", "forbidden"].contains(&e.code()));
                        assert!(
                            !flow.allowed(p).contains(&a),
                            "{a:?} by {p:?} was listed as allowed"
                        );
                    }
                }
                // the history always explains the state
                assert_eq!(replay(&history), Ok(flow));
                // closed and rated cases passed a check after their last rework
                if matches!(flow.state, S::Closed | S::Rated) {
                    let last_pass = history.iter().rposition(|(a, _)| *a == A::CheckPass);
                    let last_rework = history
                        .iter()
                        .rposition(|(a, _)| matches!(a, A::CheckFail | A::Reopen));
                    assert!(last_pass > last_rework, "{history:?}");
                }
                // only parked or deferred cases remember where to resume
                assert_eq!(
                    flow.resume_to.is_some(),
                    matches!(flow.state, S::Parked | S::Deferred)
                );
                // final states never move again
                if flow.is_final() {
                    assert!(PARTIES.iter().all(|p| flow.allowed(*p).is_empty()));
                }
            }
        }
        // the walks went everywhere but the start
        assert_eq!(seen.len(), 14, "{seen:?}");
    }
}
