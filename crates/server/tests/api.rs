//! The HTTP API end to end through the router (no network): auth, CSRF, lockout, idle expiry,
//! tokens, error shapes, imports, audit. Runs on SQLite, and on PostgreSQL when
//! `WANGGE_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

#[tokio::test]
async fn login_session_csrf_logout() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        assert_eq!(
            c.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
        let r = c.login("Admin", ADMIN_PW).await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let set_cookie = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert!(
            set_cookie.contains("HttpOnly")
                && set_cookie.contains("SameSite=Lax")
                && !set_cookie.contains("Secure"),
            "{n}"
        );
        let me = c.get("/api/v1/auth/me").await;
        assert_eq!(me.body["user"]["username"], "admin", "{n}");
        assert!(
            me.body["permissions"]
                .as_array()
                .unwrap()
                .contains(&json!("audit.read")),
            "{n}"
        );

        // a write without the CSRF header is refused
        let csrf = c.csrf.take();
        let r = c.json("POST", "/api/v1/units", json!({"code": "320831001003001", "name": "网格", "level": "grid", "parent_code": "320831001003"})).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::FORBIDDEN, "csrf_failed"),
            "{n}"
        );
        c.csrf = Some("wrong".into());
        let r = c.json("POST", "/api/v1/auth/logout", json!({})).await;
        assert_eq!(code(&r), "csrf_failed", "{n}");
        c.csrf = csrf;
        let r = c.json("POST", "/api/v1/units", json!({"code": "320831001003001", "name": "网格", "level": "grid", "parent_code": "320831001003"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);

        // behind TLS the cookie is Secure
        let mut t = Client::new(&env);
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-proto", "https")
            .body(Body::from(
                json!({"username": "admin", "password": ADMIN_PW}).to_string(),
            ))
            .unwrap();
        let resp = env.router.clone().oneshot(req).await.unwrap();
        assert!(
            resp.headers()
                .get(header::SET_COOKIE)
                .unwrap()
                .to_str()
                .unwrap()
                .contains("; Secure"),
            "{n}"
        );
        let _ = &mut t;

        let r = c.json("POST", "/api/v1/auth/logout", json!({})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{n}");
        assert_eq!(
            c.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
    }
}

#[tokio::test]
async fn lockout_does_not_reveal_whether_the_user_exists() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        for user in ["worker", "nobody"] {
            for i in 0..5 {
                let r = c.login(user, "Wrong#pass1").await;
                let want = if i < 4 {
                    "invalid_credentials"
                } else {
                    "account_locked"
                };
                assert_eq!(code(&r), want, "{n}: {user} attempt {}", i + 1);
            }
            // while locked even the right password is refused, the same way for both
            let r = c.login(user, USER_PW).await;
            assert_eq!(
                (r.status.as_u16(), code(&r)),
                (423, "account_locked"),
                "{n}: {user}"
            );
            assert!(
                r.body["details"]["retry_after_seconds"].as_i64().unwrap() > 800,
                "{n}"
            );
        }
        env.clock.advance_ms(15 * 60_000 + 1);
        assert_eq!(
            c.login("worker", USER_PW).await.status,
            StatusCode::OK,
            "{n}: unlocked after 15 minutes"
        );
    }
}

#[tokio::test]
async fn idle_sessions_expire() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("worker", USER_PW).await;
        env.clock.advance_ms(29 * 60_000);
        assert_eq!(
            c.get("/api/v1/auth/me").await.status,
            StatusCode::OK,
            "{n}: activity keeps it alive"
        );
        env.clock.advance_ms(29 * 60_000);
        assert_eq!(c.get("/api/v1/auth/me").await.status, StatusCode::OK, "{n}");
        env.clock.advance_ms(31 * 60_000);
        let r = c.get("/api/v1/auth/me").await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{n}: idle 31 minutes"
        );
    }
}

#[tokio::test]
async fn api_tokens_work_without_csrf_and_can_be_revoked() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("operator.town", USER_PW).await;
        let r = c
            .json(
                "POST",
                "/api/v1/tokens",
                json!({"name": "cli", "expires_in_days": 0}),
            )
            .await;
        assert_eq!(code(&r), "validation_failed", "{n}");
        let r = c
            .json(
                "POST",
                "/api/v1/tokens",
                json!({"name": "cli", "expires_in_days": 30}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}");
        let token = r.body["token"].as_str().unwrap().to_string();
        let id = r.body["info"]["id"].as_i64().unwrap();
        assert!(
            token.starts_with("wgt_") && r.body["info"]["prefix"] == json!(&token[..8]),
            "{n}"
        );
        let list = c.get("/api/v1/tokens").await;
        assert!(
            !list.text.contains(&token[8..]),
            "{n}: the token is shown once"
        );

        let mut t = Client::new(&env);
        t.bearer = Some(token.clone());
        assert_eq!(
            t.get("/api/v1/auth/me").await.body["user"]["username"],
            "operator.town",
            "{n}"
        );
        let r = t.json("POST", "/api/v1/units", json!({"code": "320831001003002", "name": "令牌网格", "level": "grid", "parent_code": "320831001003"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        // the token carries the user's scope
        assert_eq!(
            t.get("/api/v1/units/320831100001").await.status,
            StatusCode::NOT_FOUND,
            "{n}"
        );

        assert_eq!(
            c.send("DELETE", &format!("/api/v1/tokens/{id}"), None, vec![])
                .await
                .status,
            StatusCode::NO_CONTENT,
            "{n}"
        );
        assert_eq!(
            t.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}: revoked"
        );
        t.bearer = Some("wgt_forged".into());
        assert_eq!(
            t.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_coded_errors() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        let r = c
            .send(
                "POST",
                "/api/v1/units",
                Some("application/json"),
                b"{not json".to_vec(),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), code(&r)),
            (400, "malformed_json"),
            "{n}"
        );
        let r = c
            .json(
                "POST",
                "/api/v1/units",
                json!({"code": "1", "name": "x", "level": "grid", "colour": "red"}),
            )
            .await;
        assert_eq!((r.status.as_u16(), code(&r)), (400, "unknown_field"), "{n}");
        let r = c
            .send("POST", "/api/v1/units", Some("text/plain"), b"{}".to_vec())
            .await;
        assert_eq!(
            (r.status.as_u16(), code(&r)),
            (415, "unsupported_media_type"),
            "{n}"
        );
        let r = c
            .json(
                "POST",
                "/api/v1/units",
                json!({"code": "1", "name": 5, "level": "grid"}),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), code(&r)),
            (422, "validation_failed"),
            "{n}"
        );
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let r = c
            .send(
                "PATCH",
                "/api/v1/units/32",
                Some("application/json"),
                big.into_bytes(),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), code(&r)),
            (413, "payload_too_large"),
            "{n}"
        );
        let r = c.get("/api/v1/units?q=x&limit=abc").await;
        assert_eq!((r.status.as_u16(), code(&r)), (400, "bad_parameter"), "{n}");
        let r = c.get("/api/v1/units?q=x&limit=1000").await;
        assert_eq!((r.status.as_u16(), code(&r)), (400, "bad_parameter"), "{n}");
        let r = c.get("/api/v1/users/abc/grants").await;
        assert_eq!((r.status.as_u16(), code(&r)), (400, "bad_parameter"), "{n}");
        let r = c.get("/api/v1/no/such/route").await;
        assert_eq!((r.status.as_u16(), code(&r)), (404, "not_found"), "{n}");
        let r = c.json("POST", "/api/v1/units", json!({"code": "320831001003001", "name": "网格", "level": "grid", "parent_code": "320831001003", "valid_from": "2026-02-30"})).await;
        assert_eq!(code(&r), "validation_failed", "{n}");
        let r = c.json("POST", "/api/v1/units", json!({"code": "32083100100", "name": "网格", "level": "village", "parent_code": "320831001"})).await;
        assert_eq!(
            (r.status.as_u16(), code(&r)),
            (422, "bad_code_format"),
            "{n}"
        );
        assert!(
            r.body["message_zh"].as_str().unwrap().contains("代码"),
            "{n}"
        );
        let r = c
            .json(
                "POST",
                "/api/v1/users",
                json!({"username": "new.user", "display_name": "新用户", "password": "weakpass"}),
            )
            .await;
        assert_eq!(code(&r), "password_policy", "{n}");
        assert_eq!(r.body["details"]["min_length"], 8, "{n}");
        assert!(
            !r.text.contains("SELECT") && !r.text.contains("sqlx"),
            "{n}: no SQL in errors"
        );
    }
}

#[tokio::test]
async fn roles_and_scope_over_http() {
    for env in envs().await {
        let n = env.name;
        let mut op = Client::new(&env);
        op.login("operator.town", USER_PW).await;
        let roots = op.get("/api/v1/units/roots").await;
        assert_eq!(roots.body["items"][0]["code"], "320831001", "{n}");
        assert_eq!(roots.body["items"].as_array().unwrap().len(), 1, "{n}");
        assert_eq!(
            op.get("/api/v1/units?q=%E9%93%B6%E6%B6%82").await.body["items"],
            json!([]),
            "{n}: 银涂 is outside"
        );
        assert_eq!(
            op.get("/api/v1/units/320831100001").await.status,
            StatusCode::NOT_FOUND,
            "{n}"
        );
        assert_eq!(code(&op.get("/api/v1/audit").await), "forbidden", "{n}");
        assert_eq!(code(&op.get("/api/v1/users").await), "forbidden", "{n}");

        let mut w = Client::new(&env);
        w.login("worker", USER_PW).await;
        assert_eq!(
            w.get("/api/v1/units/320831001003").await.status,
            StatusCode::OK,
            "{n}"
        );
        let r = w
            .json(
                "PATCH",
                "/api/v1/units/320831001003",
                json!({"name": "改名"}),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), code(&r)),
            (403, "forbidden"),
            "{n}: grid workers do not edit the tree"
        );
    }
}

#[tokio::test]
async fn import_rejects_whole_files_with_a_report() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        let bad = "code,name,parent_code,level\n320831002,戴楼街道,320831,town\n320831002001,戴楼社区,320831002,village\n320831009001,孤儿社区,320831009,village\n32083100200,坏代码,320831002,village\n";
        let r = c
            .send(
                "POST",
                "/api/v1/units/import",
                Some("text/csv"),
                bad.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), code(&r)),
            (422, "import_rejected"),
            "{n}: {}",
            r.text
        );
        assert_eq!(r.body["details"]["error_count"], 2, "{n}");
        assert_eq!(r.body["details"]["errors"][0]["row"], 4, "{n}");
        assert_eq!(
            r.body["details"]["errors"][0]["error"], "unknown_parent",
            "{n}"
        );
        assert_eq!(
            r.body["details"]["errors"][1]["error"], "bad_code_format",
            "{n}"
        );
        let id = r.body["details"]["report_id"].as_str().unwrap().to_string();
        let rep = c.get(&format!("/api/v1/units/import/reports/{id}")).await;
        assert_eq!(rep.status, StatusCode::OK, "{n}");
        assert!(
            rep.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/csv"),
            "{n}"
        );
        assert!(
            rep.text.contains("4,320831009001,unknown_parent")
                && rep.text.contains("上级单元不存在"),
            "{n}: {}",
            rep.text
        );
        assert_eq!(
            c.get("/api/v1/units/320831002").await.status,
            StatusCode::NOT_FOUND,
            "{n}: nothing imported"
        );
        // someone else's report is not theirs to read
        let mut op = Client::new(&env);
        op.login("operator.town", USER_PW).await;
        assert_eq!(
            code(&op.get(&format!("/api/v1/units/import/reports/{id}")).await),
            "report_not_found",
            "{n}"
        );

        let r = c
            .send(
                "POST",
                "/api/v1/units/import",
                Some("application/json"),
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(code(&r), "unsupported_media_type", "{n}");
        let r = c
            .send(
                "POST",
                "/api/v1/units/import",
                Some("text/csv"),
                b"code,name\n1,2\n".to_vec(),
            )
            .await;
        assert_eq!(code(&r), "validation_failed", "{n}");

        let good = "代码,名称,上级代码,层级\n320831002,戴楼街道,320831,town\n320831002001,戴楼社区,320831002,village\n";
        let r = c
            .send(
                "POST",
                "/api/v1/units/import",
                Some("text/csv; charset=utf-8"),
                good.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(
            (r.status, r.body["imported"].as_i64()),
            (StatusCode::OK, Some(2)),
            "{n}: {}",
            r.text
        );
        assert_eq!(
            c.get("/api/v1/units/320831002/children").await.body["items"][0]["name"],
            "戴楼社区",
            "{n}"
        );
    }
}

#[tokio::test]
async fn writes_and_sensitive_reads_are_audited() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        c.json("POST", "/api/v1/units", json!({"code": "320831001003005", "name": "审计网格", "level": "grid", "parent_code": "320831001003"})).await;
        let users = c.get("/api/v1/users?q=worker").await;
        let worker = &users.body["items"][0];
        assert_eq!(worker["phone_masked"], "138****0001", "{n}");
        assert!(worker.get("phone").is_none(), "{n}: masked by default");
        let id = worker["id"].as_i64().unwrap();
        assert_eq!(
            c.get(&format!("/api/v1/users/{id}/phone")).await.body["phone"],
            "13800000001",
            "{n}"
        );

        let log = c.get("/api/v1/audit?limit=10").await;
        let actions: Vec<&str> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            &actions[..3],
            ["user.phone.read", "unit.create", "auth.login"],
            "{n}"
        );
        let create = &log.body["items"][1];
        assert_eq!(
            (create["actor_name"].as_str(), create["target_id"].as_str()),
            (Some("admin"), Some("320831001003005")),
            "{n}"
        );
        let only = c
            .get("/api/v1/audit?action=unit.&target=320831001003005")
            .await;
        assert_eq!(only.body["items"].as_array().unwrap().len(), 1, "{n}");
        let page = c.get("/api/v1/audit?limit=2").await;
        let before = page.body["next_before"].as_i64().unwrap();
        let next = c
            .get(&format!("/api/v1/audit?limit=2&before={before}"))
            .await;
        assert!(
            next.body["items"][0]["seq"].as_i64().unwrap() < before,
            "{n}"
        );
    }
}

#[tokio::test]
async fn users_grants_and_password_change() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        let r = c.json("POST", "/api/v1/users", json!({"username": "Head.Grid", "display_name": "陈芳", "password": "Grid#2026x", "phone": "13900000002"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let id = r.body["id"].as_i64().unwrap();
        assert_eq!(
            code(
                &c.json(
                    "POST",
                    "/api/v1/users",
                    json!({"username": "head.grid", "display_name": "x", "password": "Grid#2026x"})
                )
                .await
            ),
            "username_taken",
            "{n}"
        );
        let g = c
            .json(
                "POST",
                &format!("/api/v1/users/{id}/grants"),
                json!({"role": "grid_head", "unit_code": "320831001003"}),
            )
            .await;
        assert_eq!(g.status, StatusCode::CREATED, "{n}: {}", g.text);
        assert_eq!(
            code(
                &c.json(
                    "POST",
                    &format!("/api/v1/users/{id}/grants"),
                    json!({"role": "king", "unit_code": "32"})
                )
                .await
            ),
            "validation_failed",
            "{n}"
        );
        assert_eq!(
            code(
                &c.json(
                    "POST",
                    &format!("/api/v1/users/{id}/grants"),
                    json!({"role": "volunteer", "unit_code": "99"})
                )
                .await
            ),
            "unit_not_found",
            "{n}"
        );

        let mut h = Client::new(&env);
        assert_eq!(
            h.login("head.grid", "Grid#2026x").await.status,
            StatusCode::OK,
            "{n}"
        );
        let r = h
            .json(
                "POST",
                "/api/v1/auth/password",
                json!({"old_password": "wrong", "new_password": "Better#2027"}),
            )
            .await;
        assert_eq!(code(&r), "invalid_credentials", "{n}");
        let r = h
            .json(
                "POST",
                "/api/v1/auth/password",
                json!({"old_password": "Grid#2026x", "new_password": "short"}),
            )
            .await;
        assert_eq!(code(&r), "password_policy", "{n}");
        let r = h
            .json(
                "POST",
                "/api/v1/auth/password",
                json!({"old_password": "Grid#2026x", "new_password": "Better#2027"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{n}");
        assert_eq!(
            h.get("/api/v1/auth/me").await.status,
            StatusCode::OK,
            "{n}: this browser stays logged in"
        );
        assert_eq!(
            Client::new(&env)
                .login("head.grid", "Grid#2026x")
                .await
                .status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );

        // disabling ends the sessions
        let r = c
            .json(
                "PATCH",
                &format!("/api/v1/users/{id}"),
                json!({"disabled": true}),
            )
            .await;
        assert_eq!(r.body["disabled"], true, "{n}");
        assert_eq!(
            h.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
        assert_eq!(
            Client::new(&env)
                .login("head.grid", "Better#2027")
                .await
                .status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
        let gid = g.body["id"].as_i64().unwrap();
        assert_eq!(
            c.send("DELETE", &format!("/api/v1/grants/{gid}"), None, vec![])
                .await
                .status,
            StatusCode::NO_CONTENT,
            "{n}"
        );
    }
}

#[tokio::test]
async fn health_meta_and_openapi() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        assert_eq!(c.get("/healthz").await.text, "ok", "{n}");
        assert_eq!(c.get("/readyz").await.text, "ready", "{n}");
        let meta = c.get("/api/v1/meta").await;
        assert_eq!(meta.body["levels"][4]["key"], "village", "{n}");
        assert_eq!(meta.body["roles"].as_array().unwrap().len(), 11, "{n}");
        let spec = c.get("/api/openapi.json").await;
        assert!(
            spec.body["openapi"].as_str().unwrap().starts_with("3.1"),
            "{n}"
        );
        for p in [
            "/api/v1/auth/login",
            "/api/v1/units/{code}/children",
            "/api/v1/units/import",
            "/api/v1/audit",
        ] {
            assert!(spec.body["paths"].get(p).is_some(), "{n}: {p} documented");
        }
        let page = c.get("/territory").await;
        assert!(
            page.headers.get(header::CONTENT_SECURITY_POLICY).is_some(),
            "{n}"
        );
    }
}

#[tokio::test]
async fn large_imports_pass_and_large_json_does_not() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        // over the 1 MiB JSON limit: 20 towns × 999 villages, about 1.1 MB
        let mut csv = String::from("code,name,parent_code,level\n");
        for t in 0..20 {
            let town = format!("320831{:03}", 200 + t);
            csv.push_str(&format!("{town},第{t}乡,320831,town\n"));
            for v in 1..=999 {
                csv.push_str(&format!(
                    "{town}{v:03},第{t}乡第{v}村民委员会,{town},village\n"
                ));
            }
        }
        assert!(csv.len() > 1024 * 1024 + 1);
        let r = c
            .send(
                "POST",
                "/api/v1/units/import",
                Some("text/csv"),
                csv.into_bytes(),
            )
            .await;
        assert_eq!(
            (r.status, r.body["imported"].as_i64()),
            (StatusCode::OK, Some(20 * 1000)),
            "{n}: {}",
            &r.text[..r.text.len().min(300)]
        );
        let kids = c.get("/api/v1/units/320831219/children").await;
        assert_eq!(kids.body["items"].as_array().unwrap().len(), 999, "{n}");
    }
}

const DAY_MS: i64 = 86_400_000;

/// Two grids below 荷花社区 (320831001003), created with generated codes.
async fn two_grids(c: &mut Client<'_>) {
    for name in ["荷花社区第一网格", "荷花社区第二网格"] {
        let r = c
            .json(
                "POST",
                "/api/v1/units",
                json!({"name": name, "level": "grid", "parent_code": "320831001003"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
}

#[tokio::test]
async fn boundaries_import_draw_export_and_locate() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        two_grids(&mut c).await;
        let r = c
            .get("/api/v1/units/320831001003/next-code?level=grid")
            .await;
        assert_eq!(r.body["code"], "320831001003003", "{n}");

        // one bad feature (a bow-tie) rejects the whole file, naming the feature
        let village = rect(119.0, 33.0, 119.02, 33.02);
        let bowtie = json!({"type": "Polygon", "coordinates": [[[119.01, 33.0], [119.02, 33.02], [119.02, 33.0], [119.01, 33.02], [119.01, 33.0]]]});
        let bad = fc(&[
            ("320831001003", village.clone()),
            ("320831001003001", rect(119.0, 33.0, 119.01, 33.02)),
            ("320831001003002", bowtie),
        ]);
        let r = c
            .send(
                "POST",
                "/api/v1/boundaries/import",
                Some("application/geo+json"),
                bad,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{n}: {}",
            r.text
        );
        assert_eq!(code(&r), "boundary_import_rejected", "{n}");
        let p = &r.body["details"]["problems"][0];
        assert_eq!(p["kind"], "self_intersection", "{n}");
        assert_eq!(p["feature_index"], 2, "{n}");
        assert_eq!(p["code"], "320831001003002", "{n}");
        assert!(
            p["message_zh"].as_str().unwrap().contains("第3个要素"),
            "{n}: {}",
            p["message_zh"]
        );
        let report_id = r.body["details"]["id"].as_str().unwrap().to_string();
        let r = c
            .get(&format!("/api/v1/topology-reports/{report_id}/geojson"))
            .await;
        assert_eq!(r.body["type"], "FeatureCollection", "{n}");
        assert_eq!(
            r.body["features"][0]["properties"]["kind"], "self_intersection",
            "{n}"
        );
        assert_eq!(
            c.get(&format!("/api/v1/topology-reports/{report_id}"))
                .await
                .status,
            StatusCode::OK,
            "{n}"
        );
        let r = c.get("/api/v1/units/320831001003/boundary").await;
        assert_eq!(code(&r), "no_boundary", "{n}: nothing was imported");

        // the fixed file goes in whole
        let good = fc(&[
            ("320831001003", village),
            ("320831001003001", rect(119.0, 33.0, 119.01, 33.02)),
            ("320831001003002", rect(119.01, 33.0, 119.02, 33.02)),
        ]);
        let r = c
            .send(
                "POST",
                "/api/v1/boundaries/import",
                Some("application/geo+json"),
                good.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(r.body["imported"], 3, "{n}");
        assert_eq!(
            r.body["report"]["warnings"], 0,
            "{n}: the grids tile the village"
        );
        // grids with a boundary are redrawn through a grid change, also on import
        let r = c
            .send(
                "POST",
                "/api/v1/boundaries/import",
                Some("application/json"),
                good,
            )
            .await;
        assert_eq!(
            r.body["details"]["problems"][0]["kind"], "boundary_change_required",
            "{n}"
        );

        // lookups: inside, on the shared edge (smaller code), from GCJ-02, outside
        let loc =
            |lng: f64, lat: f64, crs: &str| format!("/api/v1/locate?lng={lng}&lat={lat}&crs={crs}");
        let r = c.get(&loc(119.005, 33.01, "wgs84")).await;
        assert_eq!(r.body["unit"]["code"], "320831001003001", "{n}: {}", r.text);
        let chain: Vec<&str> = r.body["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            chain[..4],
            ["320831001003001", "320831001003", "320831001", "320831"],
            "{n}"
        );
        assert_eq!(
            c.get(&loc(119.01, 33.01, "wgs84")).await.body["unit"]["code"],
            "320831001003001",
            "{n}"
        );
        let (glng, glat) = wangge_geo::crs::from_wgs84(wangge_geo::crs::Crs::Gcj02, 119.015, 33.01);
        assert!((glng - 119.015).abs() > 0.001, "{n}: GCJ-02 is offset");
        assert_eq!(
            c.get(&loc(glng, glat, "gcj02")).await.body["unit"]["code"],
            "320831001003002",
            "{n}"
        );
        let (blng, blat) = wangge_geo::crs::from_wgs84(wangge_geo::crs::Crs::Bd09, 119.005, 33.01);
        assert_eq!(
            c.get(&loc(blng, blat, "bd09")).await.body["unit"]["code"],
            "320831001003001",
            "{n}"
        );
        assert_eq!(
            code(&c.get(&loc(120.5, 33.01, "wgs84")).await),
            "outside_grids",
            "{n}"
        );
        assert_eq!(
            code(&c.get(&loc(119.0, 33.0, "mars")).await),
            "bad_parameter",
            "{n}"
        );

        // drawing a grid over its neighbours warns; accepting saves it
        let over = json!({"name": "叠加网格", "level": "grid", "parent_code": "320831001003", "geometry": rect(119.005, 33.005, 119.015, 33.015)});
        let r = c.json("POST", "/api/v1/units", over.clone()).await;
        assert_eq!(code(&r), "topology_warnings", "{n}: {}", r.text);
        let kinds: Vec<&str> = r.body["details"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"overlap"), "{n}: {kinds:?}");
        assert_eq!(
            code(&c.get("/api/v1/units/320831001003003").await),
            "unit_not_found",
            "{n}: nothing was created"
        );
        let mut accepted = over.clone();
        accepted["accept_warnings"] = json!(true);
        let r = c.json("POST", "/api/v1/units", accepted).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        assert_eq!(r.body["code"], "320831001003003", "{n}");
        assert_eq!(r.body["has_boundary"], true, "{n}");
        let r = c
            .json(
                "PUT",
                "/api/v1/units/320831001003001/boundary",
                json!({"geometry": rect(119.0, 33.0, 119.01, 33.01)}),
            )
            .await;
        assert_eq!(code(&r), "boundary_change_required", "{n}");
        let unclosed = json!({"type": "Polygon", "coordinates": [[[119.0, 33.0], [119.03, 33.0], [119.03, 33.03], [119.0, 33.03]]]});
        let r = c
            .json(
                "PUT",
                "/api/v1/units/320831001003/boundary",
                json!({"geometry": unclosed}),
            )
            .await;
        assert_eq!(code(&r), "topology_invalid", "{n}");
        assert_eq!(
            r.body["details"]["problems"][0]["kind"], "unclosed_ring",
            "{n}"
        );

        // the map and the exports
        let r = c.get("/api/v1/units/320831001003/map").await;
        assert_eq!(
            r.body["children"]["features"].as_array().unwrap().len(),
            3,
            "{n}"
        );
        assert_eq!(r.body["unit"]["properties"]["code"], "320831001003", "{n}");
        let r = c.get("/api/v1/boundaries/export?root=320831001003").await;
        assert_eq!(r.body["features"].as_array().unwrap().len(), 4, "{n}");
        let r = c
            .get("/api/v1/boundaries/export?root=320831001003&format=shapefile")
            .await;
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/zip", "{n}");
        let zip = c
            .send(
                "GET",
                "/api/v1/boundaries/export?root=320831001003&format=shapefile",
                None,
                vec![],
            )
            .await;
        assert!(zip.status.is_success(), "{n}");
    }
}

#[tokio::test]
async fn grid_changes_split_approve_history_and_past_lookups() {
    for env in envs().await {
        let n = env.name;
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        two_grids(&mut admin).await;
        let file = fc(&[
            ("320831001003", rect(119.0, 33.0, 119.02, 33.02)),
            ("320831001003001", rect(119.0, 33.0, 119.01, 33.02)),
            ("320831001003002", rect(119.01, 33.0, 119.02, 33.02)),
        ]);
        let r = admin
            .send(
                "POST",
                "/api/v1/boundaries/import",
                Some("application/geo+json"),
                file,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);

        // sixty days later the town proposes to split grid 001: draw the north half, the rest is the south
        env.clock.advance_ms(60 * DAY_MS);
        let mut op = Client::new(&env);
        op.login("operator.town", USER_PW).await;
        let split = json!({
            "kind": "split", "units": ["320831001003001"], "effective_date": "2026-03-02", "reason": "新建小区入住",
            "parts": [{"name": "北片", "geometry": rect(119.0, 33.01, 119.01, 33.02)}, {"name": "南片"}],
        });
        let r = op.json("POST", "/api/v1/grid-changes", split.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let id = r.body["id"].as_i64().unwrap();
        assert_eq!(r.body["status"], "proposed", "{n}");
        assert_eq!(r.body["parts"][0]["name"], "北片", "{n}: north first");
        assert!(
            (r.body["parts"][1]["area_m2"].as_f64().unwrap()
                - r.body["parts"][0]["area_m2"].as_f64().unwrap())
            .abs()
                < 1000.0,
            "{n}"
        );
        let r = op
            .json(
                "POST",
                &format!("/api/v1/grid-changes/{id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(code(&r), "change_self_approval", "{n}");
        let r = op
            .json(
                "POST",
                &format!("/api/v1/grid-changes/{id}/reject"),
                json!({}),
            )
            .await;
        assert_eq!(code(&r), "validation_failed", "{n}: a rejection says why");
        let mut worker = Client::new(&env);
        worker.login("worker", USER_PW).await;
        let r = worker
            .json(
                "POST",
                &format!("/api/v1/grid-changes/{id}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "{n}");
        admin.login("admin", ADMIN_PW).await;
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/grid-changes/{id}/approve"),
                json!({"note": "同意"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(
            r.body["status"], "effective",
            "{n}: dated today, so at once"
        );
        assert_eq!(
            r.body["result_codes"],
            json!(["320831001003003", "320831001003004"]),
            "{n}"
        );
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/grid-changes/{id}/file"),
                json!({"filing_no": "金网备〔2026〕1号", "filed_to": "淮安市"}),
            )
            .await;
        assert_eq!(r.body["filing"]["filed_to"], "淮安市", "{n}");

        // the point is in the north part now, and was in grid 001 before the change
        let r = admin.get("/api/v1/locate?lng=119.005&lat=33.015").await;
        assert_eq!(r.body["unit"]["code"], "320831001003003", "{n}: {}", r.text);
        let r = admin
            .get("/api/v1/locate?lng=119.005&lat=33.015&at=2026-02-01")
            .await;
        assert_eq!(r.body["unit"]["code"], "320831001003001", "{n}");
        let r = admin.get("/api/v1/locate?lng=119.005&lat=33.005").await;
        assert_eq!(r.body["unit"]["code"], "320831001003004", "{n}");
        let r = admin
            .get("/api/v1/units/320831001003/map?at=2026-02-01")
            .await;
        let codes: Vec<&str> = r.body["children"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["320831001003001", "320831001003002"], "{n}");

        // the old grid's timeline shows the split; the new grid's too
        let r = admin.get("/api/v1/units/320831001003001/timeline").await;
        let kinds: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"change.split")
                && kinds.contains(&"unit.retire")
                && kinds.contains(&"boundary"),
            "{n}: {kinds:?}"
        );
        let r = admin.get("/api/v1/grid-changes?unit=320831001003003").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{n}");

        // a change dated later waits for its day; the scheduled round applies it
        let retire = json!({"kind": "retire", "units": ["320831001003002"], "effective_date": "2026-03-05", "reason": "并入相邻网格"});
        let r = op.json("POST", "/api/v1/grid-changes", retire).await;
        let later = r.body["id"].as_i64().unwrap();
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/grid-changes/{later}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(r.body["status"], "approved", "{n}");
        env.clock.advance_ms(3 * DAY_MS);
        wangge_server::jobs::tick(&env.state).await.unwrap();
        admin.login("admin", ADMIN_PW).await;
        let r = admin.get(&format!("/api/v1/grid-changes/{later}")).await;
        assert_eq!(r.body["status"], "effective", "{n}");
        assert_eq!(
            code(&admin.get("/api/v1/locate?lng=119.015&lat=33.01").await),
            "outside_grids",
            "{n}"
        );
        assert_eq!(
            admin
                .get("/api/v1/locate?lng=119.015&lat=33.01&at=2026-03-04")
                .await
                .body["unit"]["code"],
            "320831001003002",
            "{n}"
        );
        // a bad kind and a past date are refused with codes
        let r = op.json("POST", "/api/v1/grid-changes", json!({"kind": "explode", "units": ["320831001003003"], "effective_date": "2026-03-05", "reason": "x"})).await;
        assert_eq!(
            code(&r),
            "unauthenticated",
            "{n}: the town operator's session went idle"
        );
        op.login("operator.town", USER_PW).await;
        let r = op.json("POST", "/api/v1/grid-changes", json!({"kind": "explode", "units": ["320831001003003"], "effective_date": "2026-03-05", "reason": "x"})).await;
        assert_eq!(code(&r), "change_invalid", "{n}");
        let r = op.json("POST", "/api/v1/grid-changes", json!({"kind": "retire", "units": ["320831001003003"], "effective_date": "2025-03-05", "reason": "x"})).await;
        assert_eq!(code(&r), "validation_failed", "{n}");
    }
}

#[tokio::test]
async fn teams_qualifications_boards_and_the_public_page() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        two_grids(&mut c).await;
        let grid = "320831001003001";
        let r = c.json("PATCH", &format!("/api/v1/units/{grid}"), json!({"kind": "basic", "area_type": "urban", "households": 900, "business_lines": ["fire", "party_building"]})).await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(
            r.body["warnings"][0]["code"], "sizing_households_high",
            "{n}"
        );
        assert_eq!(
            code(
                &c.json(
                    "PATCH",
                    &format!("/api/v1/units/{grid}"),
                    json!({"business_lines": ["astrology"]})
                )
                .await
            ),
            "validation_failed",
            "{n}"
        );

        let users = c.get("/api/v1/users?q=worker").await;
        let worker = users.body["items"][0]["id"].as_i64().unwrap();
        let r = c
            .json(
                "PATCH",
                &format!("/api/v1/users/{worker}"),
                json!({"birth_date": "1980-05-01", "education": "senior_high"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(
            code(
                &c.json(
                    "PATCH",
                    &format!("/api/v1/users/{worker}"),
                    json!({"education": "phd-ish"})
                )
                .await
            ),
            "validation_failed",
            "{n}"
        );

        // a full-time worker over 35 below college level needs a recorded exception
        let add =
            json!({"user_id": worker, "role": "grid_worker_full", "start_date": "2026-01-01"});
        let r = c
            .json("POST", &format!("/api/v1/units/{grid}/team"), add.clone())
            .await;
        assert_eq!(
            code(&r),
            "qualification_exception_required",
            "{n}: {}",
            r.text
        );
        let reasons: Vec<&str> = r.body["details"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            reasons,
            ["qualification_over_35", "qualification_below_college"],
            "{n}"
        );
        let mut with_reason = add.clone();
        with_reason["exception_reason"] = json!("熟悉社区情况,居民推选");
        let r = c
            .json(
                "POST",
                &format!("/api/v1/units/{grid}/team"),
                with_reason.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        assert_eq!(r.body["phone"], "138****0001", "{n}: masked");
        assert_eq!(r.body["certified"], false, "{n}");
        let assignment = r.body["id"].as_i64().unwrap();
        assert_eq!(
            code(
                &c.json("POST", &format!("/api/v1/units/{grid}/team"), with_reason)
                    .await
            ),
            "assignment_exists",
            "{n}"
        );
        let r = c
            .json(
                "POST",
                &format!("/api/v1/units/{grid}/team"),
                json!({"user_id": worker, "role": "micro_grid_head"}),
            )
            .await;
        assert_eq!(
            code(&r),
            "validation_failed",
            "{n}: micro-grid roles belong to micro-grids"
        );
        // the assignment granted the territory role on the grid
        let r = c.get(&format!("/api/v1/users/{worker}/grants")).await;
        assert!(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["role"] == "grid_worker_full" && g["unit_code"] == grid),
            "{n}: {}",
            r.text
        );

        // the team report lists what the "1+3+N" rule misses, and the uncertified
        let r = c.get("/api/v1/team-report?unit=320831001003").await;
        let g = r.body["grids"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["code"] == grid)
            .unwrap()
            .clone();
        assert_eq!(g["missing"], json!(["grid_head", "grid_instructor"]), "{n}");
        assert_eq!(r.body["uncertified"][0]["user_id"], worker, "{n}");
        c.json(
            "PATCH",
            &format!("/api/v1/users/{worker}"),
            json!({"certificate_no": "JH-2026-0001"}),
        )
        .await;
        let r = c.get("/api/v1/team-report?unit=320831001003").await;
        assert!(r.body["uncertified"].as_array().unwrap().is_empty(), "{n}");

        // photo, board (full phones, audited), QR code, the public page without login
        let png = b"\x89PNG\r\n\x1a\n0000".to_vec();
        assert_eq!(
            c.send(
                "PUT",
                &format!("/api/v1/users/{worker}/photo"),
                Some("image/png"),
                png
            )
            .await
            .status,
            StatusCode::NO_CONTENT,
            "{n}"
        );
        let r = c
            .send(
                "PUT",
                &format!("/api/v1/users/{worker}/photo"),
                Some("image/png"),
                b"GIF89a".to_vec(),
            )
            .await;
        assert_eq!(code(&r), "unsupported_media_type", "{n}");
        let r = c.get(&format!("/api/v1/users/{worker}/photo")).await;
        assert_eq!(r.headers[header::CONTENT_TYPE], "image/png", "{n}");
        // photos are shown to those who may read a unit the person serves in, not to everyone
        let users = c.get("/api/v1/users?q=operator").await;
        let operator = users.body["items"][0]["id"].as_i64().unwrap();
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0];
        c.send(
            "PUT",
            &format!("/api/v1/users/{operator}/photo"),
            Some("image/jpeg"),
            jpeg,
        )
        .await;
        let mut op = Client::new(&env);
        op.login("operator.town", USER_PW).await;
        assert_eq!(
            op.get(&format!("/api/v1/users/{worker}/photo"))
                .await
                .status,
            StatusCode::OK,
            "{n}: the worker serves in the town"
        );
        assert_eq!(
            op.get(&format!("/api/v1/users/{operator}/photo"))
                .await
                .status,
            StatusCode::OK,
            "{n}: one's own"
        );
        let mut w = Client::new(&env);
        w.login("worker", USER_PW).await;
        assert_eq!(
            code(&w.get(&format!("/api/v1/users/{operator}/photo")).await),
            "photo_not_found",
            "{n}: serves in no grid of the village"
        );
        let r = c.get(&format!("/api/v1/units/{grid}/board")).await;
        assert_eq!(r.body["team"][0]["phone"], "13800000001", "{n}");
        assert_eq!(r.body["team"][0]["has_photo"], true, "{n}");
        assert!(
            r.body["public_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/m/grid/{grid}")),
            "{n}"
        );
        let r = c.get("/api/v1/audit?action=unit.board.read").await;
        assert_eq!(
            r.body["items"].as_array().map(Vec::len),
            Some(1),
            "{n}: {}",
            r.text
        );
        let r = c.get(&format!("/api/v1/units/{grid}/qr.svg")).await;
        assert_eq!(r.headers[header::CONTENT_TYPE], "image/svg+xml", "{n}");
        assert!(r.text.contains("<svg"), "{n}");
        let r = c.get("/api/v1/units/320831001003/cards").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{n}");
        let mut anonymous = Client::new(&env);
        let r = anonymous.get(&format!("/api/v1/public/grids/{grid}")).await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(r.body["team"][0]["role"], "grid_worker_full", "{n}");
        assert!(
            r.body["team"][0].get("phone").is_none(),
            "{n}: no phones on the open page"
        );
        assert_eq!(
            code(&anonymous.get("/api/v1/public/grids/320831001003").await),
            "unit_not_found",
            "{n}"
        );
        assert_eq!(
            code(&anonymous.get(&format!("/api/v1/units/{grid}/board")).await),
            "unauthenticated",
            "{n}"
        );

        // ending the assignment takes the grant away
        let r = c
            .json(
                "POST",
                &format!("/api/v1/team-assignments/{assignment}/end"),
                json!({"end_date": "2025-12-31"}),
            )
            .await;
        assert_eq!(code(&r), "validation_failed", "{n}: before its start");
        let r = c
            .json(
                "POST",
                &format!("/api/v1/team-assignments/{assignment}/end"),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        env.clock.advance_ms(DAY_MS);
        wangge_server::jobs::tick(&env.state).await.unwrap();
        c.login("admin", ADMIN_PW).await;
        let r = c.get(&format!("/api/v1/users/{worker}/grants")).await;
        let grants = r.body["items"].as_array().unwrap();
        assert!(
            !grants.iter().any(|g| g["unit_code"] == grid),
            "{n}: {}",
            r.text
        );
        assert_eq!(
            grants.len(),
            1,
            "{n}: the grant given by hand on the village stays"
        );
    }
}

#[tokio::test]
async fn grids_made_in_bulk_are_numbered_west_to_east_north_to_south() {
    for env in envs().await {
        let n = env.name;
        let mut c = Client::new(&env);
        c.login("admin", ADMIN_PW).await;
        let village = fc(&[("320831001003", rect(119.0, 33.0, 119.02, 33.02))]);
        let r = c
            .send(
                "POST",
                "/api/v1/boundaries/import",
                Some("application/geo+json"),
                village,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        // four quarters, given in no particular order
        let quarter = |name: &str, w: f64, s: f64| json!({"name": name, "geometry": rect(w, s, w + 0.01, s + 0.01)});
        let mut grids = vec![
            quarter("东南", 119.01, 33.0),
            quarter("西北", 119.0, 33.01),
            quarter("西南", 119.0, 33.0),
            quarter("东北", 119.01, 33.01),
        ];
        // one bad geometry refuses them all
        grids.push(
            json!({"name": "坏", "geometry": {"type": "Point", "coordinates": [119.0, 33.0]}}),
        );
        let r = c
            .json(
                "POST",
                "/api/v1/units/320831001003/grids",
                json!({"grids": grids}),
            )
            .await;
        assert_eq!(code(&r), "topology_invalid", "{n}: {}", r.text);
        assert_eq!(r.body["details"]["problems"][0]["feature_index"], 4, "{n}");
        assert_eq!(
            c.get("/api/v1/units/320831001003/children").await.body["items"],
            json!([]),
            "{n}: nothing made"
        );
        grids.pop();
        let r = c
            .json(
                "POST",
                "/api/v1/units/320831001003/grids",
                json!({"grids": grids}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let made: Vec<(String, String)> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["code"].as_str().unwrap().to_string(),
                    u["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected = [
            ("001", "西北"),
            ("002", "东北"),
            ("003", "西南"),
            ("004", "东南"),
        ];
        for ((code, name), (seq, want)) in made.iter().zip(expected) {
            assert_eq!(code, &format!("320831001003{seq}"), "{n}");
            assert_eq!(name, want, "{n}");
        }
        assert_eq!(
            r.body["report"]["warnings"], 0,
            "{n}: they tile the village"
        );
        assert_eq!(
            c.get("/api/v1/locate?lng=119.015&lat=33.015").await.body["unit"]["code"],
            "320831001003002",
            "{n}"
        );
        // a village is not a grid level below the town
        let r = c
            .json(
                "POST",
                "/api/v1/units/320831001/grids",
                json!({"grids": [quarter("x", 119.0, 33.0)]}),
            )
            .await;
        assert_eq!(code(&r), "validation_failed", "{n}");
    }
}

/// A token (or session) made by the operator, and the operator's user id.
async fn operator_token(env: &Env) -> (String, i64) {
    let mut op = Client::new(env);
    op.login("operator.town", USER_PW).await;
    let id = op.get("/api/v1/auth/me").await.body["user"]["id"]
        .as_i64()
        .unwrap();
    let r = op
        .json(
            "POST",
            "/api/v1/tokens",
            json!({"name": "cli", "expires_in_days": 30}),
        )
        .await;
    (r.body["token"].as_str().unwrap().to_string(), id)
}

/// Who the caller is and what they may do is cached; a change made through this server is in
/// force for the very next request, on tokens and sessions alike.
#[tokio::test]
async fn cached_callers_lose_revoked_access_at_once() {
    for env in envs().await {
        let n = env.name;
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let (token, id) = operator_token(&env).await;
        let mut t = Client::new(&env);
        t.bearer = Some(token);
        let mut s = Client::new(&env);
        s.login("operator.town", USER_PW).await;
        let unit = "/api/v1/units/320831001003";
        for _ in 0..2 {
            assert_eq!(t.get(unit).await.status, StatusCode::OK, "{n}");
            assert_eq!(s.get(unit).await.status, StatusCode::OK, "{n}");
        }

        // the only grant removed: the unit is out of reach at once
        let grants = admin.get(&format!("/api/v1/users/{id}/grants")).await;
        let gid = grants.body["items"][0]["id"].as_i64().unwrap();
        let r = admin
            .send("DELETE", &format!("/api/v1/grants/{gid}"), None, vec![])
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{n}: {}", r.text);
        assert_ne!(t.get(unit).await.status, StatusCode::OK, "{n}: token");
        assert_ne!(s.get(unit).await.status, StatusCode::OK, "{n}: session");

        // granted again: in reach at once
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/users/{id}/grants"),
                json!({"role": "center_operator", "unit_code": "320831001"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        assert_eq!(t.get(unit).await.status, StatusCode::OK, "{n}");

        // disabled: unauthenticated at once, on the token and the session
        let r = admin
            .json(
                "PATCH",
                &format!("/api/v1/users/{id}"),
                json!({"disabled": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(
            t.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
        assert_eq!(
            s.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
        // enabled again: the token works again (the sessions were ended)
        admin
            .json(
                "PATCH",
                &format!("/api/v1/users/{id}"),
                json!({"disabled": false}),
            )
            .await;
        assert_eq!(t.get(unit).await.status, StatusCode::OK, "{n}");

        // logging out ends the cached session at once
        let mut s = Client::new(&env);
        s.login("operator.town", USER_PW).await;
        assert_eq!(s.get(unit).await.status, StatusCode::OK, "{n}");
        let cookie = s.cookie.clone();
        let r = s.json("POST", "/api/v1/auth/logout", json!({})).await;
        assert!(r.status.is_success(), "{n}: {}", r.text);
        s.cookie = cookie;
        assert_eq!(
            s.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}"
        );
    }
}

/// Changes made in the database by another process (the CLI, a second server) reach a cached
/// caller once the entry's time to live has passed.
#[tokio::test]
async fn changes_made_elsewhere_are_seen_after_the_time_to_live() {
    for env in envs().await {
        let n = env.name;
        env.state
            .caches
            .set_ttl(std::time::Duration::from_millis(300));
        let (token, id) = operator_token(&env).await;
        let mut t = Client::new(&env);
        t.bearer = Some(token);
        let unit = "/api/v1/units/320831001003";
        assert_eq!(t.get(unit).await.status, StatusCode::OK, "{n}");
        let store = env.state.store.as_ref();
        let a = Actor::system("cli");
        let gid = store.grants_of(id).await.unwrap()[0].id;
        store.grant_remove(&a, gid).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_ne!(t.get(unit).await.status, StatusCode::OK, "{n}: grant");
        let patch = wangge_store::UserPatch {
            disabled: Some(true),
            ..Default::default()
        };
        store.user_update(&a, id, &patch).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(
            t.get("/api/v1/auth/me").await.status,
            StatusCode::UNAUTHORIZED,
            "{n}: disabled"
        );
    }
}

#[tokio::test]
async fn overload_is_refused_at_once_with_a_code() {
    for env in envs_with(|c| c.max_requests_in_flight = 16).await {
        // every permit taken: as if 16 requests were being served
        let held = env
            .state
            .in_flight
            .clone()
            .acquire_many_owned(16)
            .await
            .unwrap();
        let mut c = Client::new(&env);
        let r = c.login("admin", ADMIN_PW).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", env.name);
        assert_eq!(code(&r), "overloaded");
        assert_eq!(r.body["message_zh"], "服务器繁忙，请稍后重试");
        assert_eq!(r.headers[header::RETRY_AFTER], "1");
        assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
        drop(held);
        let r = c.login("admin", ADMIN_PW).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", env.name, r.text);
        // a finished request gives its permit back
        assert_eq!(env.state.in_flight.available_permits(), 16);
    }
    assert!(Config::parse("max_requests_in_flight = 8").is_err());
}
