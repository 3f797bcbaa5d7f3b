//! Who is calling: password hashing, session cookies with CSRF tokens, personal API tokens, and
//! the [`Caller`] extractor that every protected route takes.

use crate::cache::{CallerEntry, Credential};
use crate::error::ApiError;
use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{HeaderMap, Method, request::Parts};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use wangge_domain::audit::Actor;
use wangge_domain::roles::{GrantScope, Permission, Role, Scope};
use wangge_store::{Grant, User};

pub const SESSION_COOKIE: &str = "wangge_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const TOKEN_PREFIX: &str = "wgt_";

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so both paths take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password 1A!").unwrap_or_default())
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The client address: the socket peer (a proxy in front should be configured to pass it).
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the request reached us over TLS (directly or via a proxy that says so).
pub fn is_https(headers: &HeaderMap, configured: bool) -> bool {
    configured
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub fn session_cookie(token: &str, secure: bool, max_age_s: Option<i64>) -> String {
    let mut c = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(a) = max_age_s {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[derive(Debug, Clone)]
pub enum Via {
    Session { id_hash: String, csrf_token: String },
    Token { id: i64 },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub grants: Vec<Grant>,
    pub via: Via,
    pub ip: String,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            name: self.user.username.clone(),
            ip: self.ip.clone(),
        }
    }

    pub fn scope(&self, perm: Permission) -> Scope {
        let grants: Vec<GrantScope> = self
            .grants
            .iter()
            // only a system administrator's grant may be global (no unit)
            .filter(|g| g.unit_path.is_some() || g.role == Role::SystemAdmin)
            .map(|g| GrantScope {
                role: g.role,
                unit_path: g.unit_path.clone(),
            })
            .collect();
        Scope::for_permission(&grants, perm)
    }

    /// The scope for `perm`, or `forbidden` if the caller holds it nowhere.
    pub fn require(&self, perm: Permission) -> Result<Scope, ApiError> {
        let s = self.scope(perm);
        if s.is_empty() {
            return Err(ApiError::new("forbidden").msg(format!("requires {}", perm.key())));
        }
        Ok(s)
    }

    /// For actions that only make sense everywhere (users, audit): the permission must be global.
    pub fn require_global(&self, perm: Permission) -> Result<(), ApiError> {
        match self.scope(perm) {
            Scope::All => Ok(()),
            _ => Err(ApiError::new("forbidden").msg(format!("requires {} everywhere", perm.key()))),
        }
    }

    pub fn permissions(&self) -> Vec<&'static str> {
        Permission::ALL
            .into_iter()
            .filter(|p| !self.scope(*p).is_empty())
            .map(|p| p.key())
            .collect()
    }
}

/// The cache key of a credential: its kind and hash, so a cookie can never stand for a token.
fn credential_key(kind: &str, hash: &str) -> String {
    format!("{kind}:{hash}")
}

/// Reads a token or session from the database: the user behind it, who must still exist and
/// not be disabled, with their grants. `None`: no such live token or session.
async fn resolve(
    state: &AppState,
    token_hash: Option<&str>,
    session_hash: &str,
) -> Result<Option<CallerEntry>, ApiError> {
    let (user_id, credential) = if let Some(hash) = token_hash {
        let Some(t) = state.store.token_lookup(hash).await? else {
            return Ok(None);
        };
        let credential = Credential::Token {
            id: t.id,
            expires_at: t.expires_at,
            last_used_at: AtomicI64::new(t.last_used_at.unwrap_or(i64::MIN)),
        };
        (t.user_id, credential)
    } else {
        let Some(s) = state.store.session_get(session_hash).await? else {
            return Ok(None);
        };
        let credential = Credential::Session {
            csrf_token: s.csrf_token,
            last_seen_at: AtomicI64::new(s.last_seen_at),
        };
        (s.user_id, credential)
    };
    // a user gone since the token or session was made is unauthenticated; a database
    // outage stays an outage (503), not a reason to sign anyone out
    let user = match state.store.user_get(user_id).await {
        Ok(u) => u,
        Err(wangge_store::StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if user.disabled {
        return Ok(None);
    }
    let grants = state.store.grants_of(user.id).await?;
    Ok(Some(CallerEntry {
        user,
        grants,
        credential,
    }))
}

/// Claims the write of a "last used" time: true for the one request that moves `at` to `now`
/// once it is older than `every_ms`, so concurrent requests do not all write it.
fn due_for_touch(at: &AtomicI64, now: i64, every_ms: i64) -> bool {
    let last = at.load(Ordering::Relaxed);
    now.saturating_sub(last) > every_ms
        && at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauth = || ApiError::new("unauthenticated");
        let now = state.clock.now_ms();
        let ip = client_ip(parts);
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let (token_hash, session_hash) = match bearer {
            Some(token) => (Some(sha256_hex(token.trim())), String::new()),
            None => {
                let cookie = cookie_value(&parts.headers, SESSION_COOKIE).ok_or_else(unauth)?;
                (None, sha256_hex(&cookie))
            }
        };
        let key = match &token_hash {
            Some(h) => credential_key("token", h),
            None => credential_key("session", &session_hash),
        };
        let entry = match state.caches.caller(&key) {
            Some(e) => e,
            None => {
                let generation = state.caches.generation();
                let e = resolve(state, token_hash.as_deref(), &session_hash)
                    .await?
                    .ok_or_else(unauth)?;
                let e = Arc::new(e);
                state.caches.put_caller(generation, key.clone(), e.clone());
                e
            }
        };
        let via = match &entry.credential {
            Credential::Token {
                id,
                expires_at,
                last_used_at,
            } => {
                if *expires_at <= now {
                    state.caches.forget_caller(&key);
                    return Err(unauth());
                }
                // noted at most once a minute: a write per call would halve what a busy token can do
                if due_for_touch(last_used_at, now, 60_000) {
                    state.store.token_touch(*id).await?;
                }
                Via::Token { id: *id }
            }
            Credential::Session {
                csrf_token,
                last_seen_at,
            } => {
                if now - last_seen_at.load(Ordering::Relaxed) > state.config.session_idle_ms {
                    state.caches.forget_caller(&key);
                    state.store.session_delete(&session_hash).await?;
                    return Err(unauth().msg("session expired"));
                }
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                if !safe {
                    let sent = parts
                        .headers
                        .get(CSRF_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !constant_time_eq(sent, csrf_token) {
                        return Err(ApiError::new("csrf_failed"));
                    }
                }
                // Touch at most every 15 s: keeps the session alive without a write per request.
                if due_for_touch(last_seen_at, now, 15_000) {
                    state.store.session_touch(&session_hash, now).await?;
                }
                Via::Session {
                    id_hash: session_hash,
                    csrf_token: csrf_token.clone(),
                }
            }
        };
        Ok(Caller {
            user: entry.user.clone(),
            grants: entry.grants.clone(),
            via,
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("Secret#2026").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Secret#2026", &h));
        assert!(!verify_password("secret#2026", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; wangge_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie_value(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie_value(&h, "c"), None);
        assert!(session_cookie("t", true, None).contains("; Secure"));
        assert!(session_cookie("t", false, None).contains("HttpOnly; SameSite=Lax"));
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
