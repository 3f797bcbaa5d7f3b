//! The test harness of the API suites: a fresh store per backend with a small territory and
//! users, and a client that keeps the session cookie and CSRF token.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub use axum::body::Body;
pub use axum::http::{Request, StatusCode, header};
pub use http_body_util::BodyExt;
pub use serde_json::{Value, json};
pub use std::sync::Arc;
pub use tower::ServiceExt;
pub use wangge_domain::audit::Actor;
pub use wangge_domain::clock::ManualClock;
pub use wangge_domain::import::ImportRow;
pub use wangge_domain::roles::{Role, Scope};
pub use wangge_server::auth::hash_password;
pub use wangge_server::config::Config;
pub use wangge_server::{AppState, app};
pub use wangge_store::NewUser;

pub const ADMIN_PW: &str = "Admin#2026";
pub const USER_PW: &str = "Worker#2026";

pub struct Env {
    pub name: &'static str,
    pub router: axum::Router,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub _dir: Option<tempfile::TempDir>,
    pub _media: tempfile::TempDir,
}

pub async fn envs() -> Vec<Env> {
    envs_with(|_| {}).await
}

/// Fresh environments with a changed configuration.
pub async fn envs_with(configure: impl Fn(&mut Config)) -> Vec<Env> {
    let mut urls: Vec<(&'static str, String, Option<tempfile::TempDir>)> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    urls.push((
        "sqlite",
        format!("sqlite://{}", dir.path().join("t.db").display()),
        Some(dir),
    ));
    if let Ok(base) = std::env::var("WANGGE_TEST_DATABASE_URL") {
        let url = wangge_store::testing::fresh_pg_schema(&base, "api")
            .await
            .unwrap();
        urls.push(("postgres", url, None));
    }
    let mut out = Vec::new();
    for (name, url, dir) in urls {
        let clock = Arc::new(ManualClock::new(1_767_225_600_000));
        let store = wangge_store::open(&url, clock.clone()).await.unwrap();
        seed(store.as_ref()).await;
        let media = tempfile::tempdir().unwrap();
        let mut config = Config {
            media_dir: media.path().to_path_buf(),
            ..Default::default()
        };
        configure(&mut config);
        let state = AppState::new(store, config, clock.clone());
        state
            .cases
            .load(state.store.as_ref(), &state.config)
            .await
            .unwrap();
        out.push(Env {
            name,
            router: app(state.clone()),
            state,
            clock,
            _dir: dir,
            _media: media,
        });
    }
    out
}

pub async fn seed(s: &dyn wangge_store::Store) {
    let a = Actor::system("test");
    let rows = [
        ("32", "江苏省", "", "province"),
        ("3208", "淮安市", "32", "city"),
        ("320831", "金湖县", "3208", "county"),
        ("320831001", "黎城街道", "320831", "town"),
        ("320831001003", "荷花社区", "320831001", "village"),
        ("320831100", "银涂镇", "320831", "town"),
        ("320831100001", "银涂社区", "320831100", "village"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (c, n, p, l))| ImportRow {
        row: i as u64 + 2,
        code: c.to_string(),
        name: n.to_string(),
        parent_code: p.to_string(),
        level: l.to_string(),
        kind: None,
        valid_from: None,
    })
    .collect();
    s.unit_import(
        &Scope::All,
        &a,
        &wangge_domain::territory::Levels::default_levels(),
        rows,
        &|_| {},
    )
    .await
    .unwrap();
    let mk = |u: &str, pw: &str| NewUser {
        username: u.into(),
        display_name: u.into(),
        password_hash: hash_password(pw).unwrap(),
        phone: Some("13800000001".into()),
    };
    let admin = s.user_create(&a, &mk("admin", ADMIN_PW)).await.unwrap();
    s.grant_add(&Scope::All, &a, admin.id, Role::SystemAdmin, None)
        .await
        .unwrap();
    let op = s
        .user_create(&a, &mk("operator.town", USER_PW))
        .await
        .unwrap();
    s.grant_add(
        &Scope::All,
        &a,
        op.id,
        Role::CenterOperator,
        Some("320831001"),
    )
    .await
    .unwrap();
    let w = s.user_create(&a, &mk("worker", USER_PW)).await.unwrap();
    s.grant_add(
        &Scope::All,
        &a,
        w.id,
        Role::GridWorkerFull,
        Some("320831001003"),
    )
    .await
    .unwrap();
}

/// A client that keeps the session cookie and CSRF token.
pub struct Client<'a> {
    pub env: &'a Env,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl<'a> Client<'a> {
    pub fn new(env: &'a Env) -> Self {
        Client {
            env,
            cookie: None,
            csrf: None,
            bearer: None,
        }
    }

    pub async fn send(
        &mut self,
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        self.send_with(method, uri, content_type, &[], body).await
    }

    /// [`Client::send`] with extra headers.
    pub async fn send_with(
        &mut self,
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        if let Some(c) = &self.cookie {
            b = b.header(header::COOKIE, format!("wangge_session={c}"));
        }
        if let Some(c) = &self.csrf {
            b = b.header("x-csrf-token", c);
        }
        if let Some(t) = &self.bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = self
            .env
            .router
            .clone()
            .oneshot(b.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let Some(sc) = headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            && let Some(v) = sc
                .strip_prefix("wangge_session=")
                .and_then(|r| r.split(';').next())
        {
            self.cookie = (!v.is_empty()).then(|| v.to_string());
        }
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn json(&mut self, method: &str, uri: &str, body: Value) -> Resp {
        self.send(
            method,
            uri,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn get(&mut self, uri: &str) -> Resp {
        self.send("GET", uri, None, vec![]).await
    }

    pub async fn login(&mut self, user: &str, pw: &str) -> Resp {
        let r = self
            .json(
                "POST",
                "/api/v1/auth/login",
                json!({"username": user, "password": pw}),
            )
            .await;
        if r.status == StatusCode::OK {
            self.csrf = r.body["csrf_token"].as_str().map(String::from);
        }
        r
    }
}

pub fn code(r: &Resp) -> &str {
    r.body["code"].as_str().unwrap_or("")
}

pub fn rect(w: f64, s: f64, e: f64, n: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
}

pub fn fc(features: &[(&str, Value)]) -> Vec<u8> {
    let features: Vec<Value> = features
        .iter()
        .map(|(code, g)| json!({"type": "Feature", "properties": {"code": code}, "geometry": g}))
        .collect();
    json!({"type": "FeatureCollection", "features": features})
        .to_string()
        .into_bytes()
}
