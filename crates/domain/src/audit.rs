//! The audit log is a hash chain: each entry carries the SHA-256 of its own fields and of the
//! entry before it, so any edit or deletion breaks the chain at a findable place.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash that the first entry points back to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a caller asks to record. The store adds the sequence number, the time and the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(action: &str, target_kind: &str, target_id: impl Into<String>) -> Self {
        AuditEvent {
            action: action.into(),
            target_kind: target_kind.into(),
            target_id: target_id.into(),
            detail: serde_json::Value::Null,
        }
    }
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Who acts and from where; passed with every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    pub ip: String,
}

impl Actor {
    /// The platform itself (migrations, first-run setup, the CLI on the local database).
    pub fn system(name: &str) -> Self {
        Actor {
            user_id: None,
            name: name.into(),
            ip: "local".into(),
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub ip: String,
    /// JSON text, exactly as hashed.
    #[serde(skip)]
    pub detail_json: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry: SHA-256 over length-prefixed fields, so no two field lists collide.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    actor_name: &str,
    action: &str,
    target_kind: &str,
    target_id: &str,
    ip: &str,
    detail_json: &str,
) -> String {
    let mut h = Sha256::new();
    let actor = actor_id.map(|a| a.to_string()).unwrap_or_default();
    for field in [
        prev_hash,
        &seq.to_string(),
        &at.to_string(),
        &actor,
        actor_name,
        action,
        target_kind,
        target_id,
        ip,
        detail_json,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

impl AuditEntry {
    pub fn expected_hash(&self) -> String {
        entry_hash(
            &self.prev_hash,
            self.seq,
            self.at,
            self.actor_id,
            &self.actor_name,
            &self.action,
            &self.target_kind,
            &self.target_id,
            &self.ip,
            &self.detail_json,
        )
    }
}

/// Walks entries in sequence order and reports the first broken link.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    prev_hash: Option<String>,
    prev_seq: Option<i64>,
    pub checked: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

impl ChainVerifier {
    pub fn check(&mut self, e: &AuditEntry) -> Result<(), BrokenLink> {
        let broken = |reason: String| BrokenLink { seq: e.seq, reason };
        let expected_prev = self.prev_hash.as_deref().unwrap_or(GENESIS_HASH);
        if let Some(p) = self.prev_seq
            && e.seq != p + 1
        {
            return Err(broken(format!("sequence jumps from {p} to {}", e.seq)));
        }
        if e.prev_hash != expected_prev {
            return Err(broken("prev_hash does not match the previous entry".into()));
        }
        if e.hash != e.expected_hash() {
            return Err(broken("the entry's contents do not match its hash".into()));
        }
        self.prev_hash = Some(e.hash.clone());
        self.prev_seq = Some(e.seq);
        self.checked += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let detail_json = format!("{{\"n\":{seq}}}");
                let hash = entry_hash(
                    &prev,
                    seq,
                    1000 + seq,
                    Some(1),
                    "admin",
                    "unit.create",
                    "unit",
                    "32",
                    "127.0.0.1",
                    &detail_json,
                );
                let e = AuditEntry {
                    seq,
                    at: 1000 + seq,
                    actor_id: Some(1),
                    actor_name: "admin".into(),
                    action: "unit.create".into(),
                    target_kind: "unit".into(),
                    target_id: "32".into(),
                    ip: "127.0.0.1".into(),
                    detail: serde_json::from_str(&detail_json).unwrap(),
                    detail_json,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry]) -> Result<u64, BrokenLink> {
        let mut v = ChainVerifier::default();
        for e in entries {
            v.check(e)?;
        }
        Ok(v.checked)
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn edits_and_deletions_are_found_at_their_place() {
        let mut c = chain(5);
        c[2].target_id = "33".into();
        assert_eq!(verify(&c).unwrap_err().seq, 3);

        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c).unwrap_err().seq, 3);

        // rewriting an entry and its hash still breaks the next link
        let mut c = chain(5);
        c[1].actor_name = "mallory".into();
        c[1].hash = c[1].expected_hash();
        assert_eq!(verify(&c).unwrap_err().seq, 3);
    }
}
