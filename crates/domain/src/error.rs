//! Domain errors, each with a stable snake_case code that the API and the web app share.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("unknown level `{0}`")]
    UnknownLevel(String),
    #[error("code `{code}` does not fit level `{level}`: {reason}")]
    BadCodeFormat {
        code: String,
        level: String,
        reason: String,
    },
    #[error("level `{child}` cannot be placed below level `{parent}`")]
    LevelOutOfOrder { parent: String, child: String },
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("password must have at least {min_length} characters of {min_classes} kinds")]
    PasswordPolicy {
        min_length: usize,
        min_classes: usize,
    },
    #[error("{0}")]
    ChangeInvalid(String),
    #[error("a case that is {state:?} cannot take the action {action:?}")]
    IllegalTransition {
        state: crate::case_flow::CaseState,
        action: crate::case_flow::CaseAction,
    },
    #[error("{party:?} may not take the action {action:?}")]
    ActionForbidden {
        action: crate::case_flow::CaseAction,
        party: crate::case_flow::Party,
    },
    #[error("{0}")]
    CatalogueInvalid(String),
    #[error("{0}")]
    AnswersInvalid(String),
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::UnknownLevel(_) => "unknown_level",
            DomainError::BadCodeFormat { .. } => "bad_code_format",
            DomainError::LevelOutOfOrder { .. } => "level_out_of_order",
            DomainError::Validation { .. } => "validation_failed",
            DomainError::PasswordPolicy { .. } => "password_policy",
            DomainError::ChangeInvalid(_) => "change_invalid",
            DomainError::IllegalTransition { .. } => "illegal_transition",
            DomainError::ActionForbidden { .. } => "forbidden",
            DomainError::CatalogueInvalid(_) => "catalogue_invalid",
            DomainError::AnswersInvalid(_) => "answers_invalid",
        }
    }

    pub fn validation(field: &str, reason: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
