//! The password policy: a minimum length and a minimum number of character kinds
//! (lower-case, upper-case, digits, other).

use crate::error::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            min_classes: 3,
        }
    }
}

impl PasswordPolicy {
    pub fn check(&self, password: &str) -> Result<(), DomainError> {
        let classes = [
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        let len = password.chars().count();
        if len < self.min_length || classes < self.min_classes || len > 256 {
            return Err(DomainError::PasswordPolicy {
                min_length: self.min_length,
                min_classes: self.min_classes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy() {
        let p = PasswordPolicy::default();
        assert!(p.check("Abcdefg1").is_ok());
        assert!(p.check("abcdefg1!").is_ok());
        assert!(p.check("Abcdef1").is_err(), "too short");
        assert!(p.check("abcdefgh1").is_err(), "two kinds");
        assert!(p.check(&"Aa1!".repeat(65)).is_err(), "too long");
    }

    #[test]
    fn configurable() {
        let p = PasswordPolicy {
            min_length: 4,
            min_classes: 1,
        };
        assert!(p.check("abcd").is_ok());
    }
}
