//! External systems (hotline and city platforms, sensors, Open311 clients): who they are (API
//! keys, hashed at rest), how often they may call (a token bucket per system), how their calls
//! are audited, and the signatures on webhooks in both directions.

pub mod webhook;

use crate::auth::{random_token, sha256_hex};
use crate::state::AppState;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use wangge_domain::audit::{Actor, AuditEvent};
use wangge_store::{ExternalSystem, StoreResult};

pub const KEY_PREFIX: &str = "wgk_";
pub const TIMESTAMP_HEADER: &str = "x-wangge-timestamp";
pub const SIGNATURE_HEADER: &str = "x-wangge-signature";
pub const EVENT_HEADER: &str = "x-wangge-event";
pub const DELIVERY_HEADER: &str = "x-wangge-delivery";

/// A new API key and what the store keeps of it: (key, SHA-256 hash, prefix shown in lists).
pub fn new_key() -> (String, String, String) {
    let key = format!("{KEY_PREFIX}{}", random_token());
    let hash = sha256_hex(&key);
    let prefix = key.chars().take(KEY_PREFIX.len() + 6).collect();
    (key, hash, prefix)
}

/// A new signing secret.
pub fn new_secret() -> String {
    format!("whsec_{}", random_token())
}

/// `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(format!("{timestamp}.").as_bytes());
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC of the timestamp and body, compared in
/// constant time.
pub fn verify(secret: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let Some(given) = signature
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The audit actor of a system's calls.
pub fn actor(system: &ExternalSystem, ip: &str) -> Actor {
    Actor {
        user_id: None,
        name: format!("external:{}", system.name),
        ip: ip.to_string(),
    }
}

/// The outbox target of a system's webhook.
pub fn target(system_name: &str) -> String {
    format!("external:{system_name}")
}

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// The systems in memory (for webhooks on every case step) and the rate limiter.
#[derive(Default)]
pub struct ExternalRuntime {
    systems: RwLock<Option<Arc<Vec<ExternalSystem>>>>,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl ExternalRuntime {
    /// Every registered system, loaded once and again after each change.
    pub async fn systems(&self, st: &AppState) -> StoreResult<Arc<Vec<ExternalSystem>>> {
        let cached = match self.systems.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        match cached {
            Some(s) => Ok(s),
            None => self.reload(st).await,
        }
    }

    pub async fn reload(&self, st: &AppState) -> StoreResult<Arc<Vec<ExternalSystem>>> {
        let list = Arc::new(st.store.external_list().await?);
        match self.systems.write() {
            Ok(mut g) => *g = Some(list.clone()),
            Err(p) => *p.into_inner() = Some(list.clone()),
        }
        Ok(list)
    }

    /// Takes one request from the system's bucket (`rate_limit` per minute, bursts up to the
    /// same number); `Err(seconds)` to wait when it is empty.
    pub fn take(&self, system: &ExternalSystem, now_ms: i64) -> Result<(), i64> {
        let per_ms = system.rate_limit as f64 / 60_000.0;
        let cap = system.rate_limit as f64;
        let mut buckets = match self.buckets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let b = buckets.entry(system.id).or_insert(Bucket {
            tokens: cap,
            at_ms: now_ms,
        });
        b.tokens = (b.tokens + (now_ms - b.at_ms).max(0) as f64 * per_ms).min(cap);
        b.at_ms = now_ms;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - b.tokens) / per_ms) / 1000.0).ceil().max(1.0) as i64)
        }
    }
}

/// Audits one call of a system (and notes when it was last used). A failure to audit fails
/// the call: no unaudited access.
pub async fn audit_call(
    st: &AppState,
    system: &ExternalSystem,
    ip: &str,
    action: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    let mut ev = AuditEvent::new(action, "external_system", system.name.clone());
    ev.detail = detail;
    st.store
        .external_called(system.id, &actor(system, ip), ev)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_detect_changes() {
        let s = sign("whsec_x", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert!(verify("whsec_x", 1_700_000_000, b"{\"a\":1}", &s));
        assert!(!verify("whsec_x", 1_700_000_001, b"{\"a\":1}", &s));
        assert!(!verify("whsec_x", 1_700_000_000, b"{\"a\":2}", &s));
        assert!(!verify("whsec_y", 1_700_000_000, b"{\"a\":1}", &s));
        assert!(!verify("whsec_x", 1_700_000_000, b"{\"a\":1}", "sha256=zz"));
        assert!(!verify("whsec_x", 1_700_000_000, b"{\"a\":1}", &s[7..]));
    }

    #[test]
    fn keys_are_prefixed_and_hashed() {
        let (key, hash, prefix) = new_key();
        assert!(key.starts_with(KEY_PREFIX) && key.len() == 4 + 64);
        assert_eq!(hash, sha256_hex(&key));
        assert!(key.starts_with(&prefix) && prefix.len() == 10);
    }
}
