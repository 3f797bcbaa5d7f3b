//! The case loop over HTTP on both backends: a resident reports from the grid's page, the grid
//! worker escalates, the village and town take it up, a department handles it, the grid worker
//! checks, the resident rates (and an unsatisfied rating reopens it); side paths, privacy of
//! hotline callers, deadlines and their warnings, notifications and webhook delivery.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A grid with a boundary below 荷花社区, and the people of the loop.
async fn setup(env: &Env) -> (String, i64) {
    let s = env.state.store.as_ref();
    let a = Actor::system("test");
    let mut admin = Client::new(env);
    admin.login("admin", ADMIN_PW).await;
    let r = admin
        .json(
            "POST",
            "/api/v1/units",
            json!({"name": "荷花社区第一网格", "level": "grid", "parent_code": "320831001003",
                   "geometry": rect(119.0, 33.0, 119.01, 33.01)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let grid = r.body["code"].as_str().unwrap().to_string();
    let mk = |u: &str| NewUser {
        username: u.into(),
        display_name: u.into(),
        password_hash: hash_password(USER_PW).unwrap(),
        phone: Some("13800000002".into()),
    };
    for (name, role, unit) in [
        ("leader.town", Role::CenterLeader, "320831001"),
        ("operator.village", Role::CenterOperator, "320831001003"),
        ("leader.county", Role::CenterLeader, "320831"),
    ] {
        let u = s.user_create(&a, &mk(name)).await.unwrap();
        s.grant_add(&Scope::All, &a, u.id, role, Some(unit))
            .await
            .unwrap();
    }
    let handler = s.user_create(&a, &mk("handler")).await.unwrap();
    let r = admin
        .json(
            "POST",
            "/api/v1/departments",
            json!({"code": "cg-lc", "name": "黎城城管中队", "kind": "urban_management", "unit_code": "320831001"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let dept = r.body["id"].as_i64().unwrap();
    let r = admin
        .send(
            "PUT",
            &format!("/api/v1/departments/{dept}/members/{}", handler.id),
            None,
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (grid, dept)
}

async fn user<'a>(env: &'a Env, name: &str) -> Client<'a> {
    let mut c = Client::new(env);
    let r = c.login(name, USER_PW).await;
    assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text);
    c
}

async fn act(c: &mut Client<'_>, id: i64, action: &str, mut body: Value) -> Resp {
    let v = c.get(&format!("/api/v1/cases/{id}")).await.body["version"]
        .as_i64()
        .unwrap();
    body["version"] = json!(v);
    c.json(
        "POST",
        &format!("/api/v1/cases/{id}/actions/{action}"),
        body,
    )
    .await
}

fn ok(r: &Resp, what: &str) {
    assert!(r.status.is_success(), "{what}: {} {}", r.status, r.text);
}

#[tokio::test]
async fn the_whole_loop_from_report_to_rating() {
    for env in envs().await {
        let n = env.name;
        let (grid, dept) = setup(&env).await;
        let mut public = Client::new(&env);

        // a resident uploads a photo and reports from the grid's page, anonymously
        let r = public
            .send(
                "POST",
                "/api/v1/public/media",
                Some("application/octet-stream"),
                PNG.to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let photo = r.body["id"].as_i64().unwrap();
        let report = json!({"client_id": "resident-0001", "unit_code": grid, "lat": 33.005, "lng": 119.005,
            "description": "荷花小区3号楼门口垃圾堆了三天没人清运，气味很大", "category": "G0401", "media": [photo]});
        let r = public
            .json("POST", "/api/v1/public/cases", report.clone())
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let tracking = r.body["tracking_code"].as_str().unwrap().to_string();
        let number = r.body["number"].as_str().unwrap().to_string();
        assert!(number.starts_with("20260101-"), "{number}");
        // the same report sent again (a retry) is the same case
        let r = public.json("POST", "/api/v1/public/cases", report).await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(r.body["number"], json!(number));

        // the grid worker sees it to handle, and escalates it
        let mut worker = user(&env, "worker").await;
        let r = worker.get("/api/v1/cases?view=to_handle").await;
        assert_eq!(r.body["total"], json!(1), "{n}: {}", r.text);
        let id = r.body["items"][0]["id"].as_i64().unwrap();
        let r = worker.get(&format!("/api/v1/cases/{id}")).await;
        assert_eq!(r.body["state"], "reported");
        assert_eq!(r.body["handling_level"], "grid");
        assert!(
            r.body["allowed"]
                .as_array()
                .unwrap()
                .contains(&json!("escalate"))
        );
        assert!(r.body["deadline_at"].is_i64(), "the accept clock runs");
        let r = act(&mut worker, id, "dispatch", json!({})).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::CONFLICT, "illegal_transition"),
            "{n}: {}",
            r.text
        );
        let r = act(&mut worker, id, "escalate", json!({})).await;
        assert_eq!(
            code(&r),
            "validation_failed",
            "an escalation needs a reason"
        );
        ok(
            &act(
                &mut worker,
                id,
                "escalate",
                json!({"note": "需城管执法，网格无法处置"}),
            )
            .await,
            "escalate",
        );
        let r = act(&mut worker, id, "accept", json!({})).await;
        assert_eq!(
            code(&r),
            "forbidden",
            "{n}: not at grid level any more: {}",
            r.text
        );

        // the village escalates to the town, which accepts, files and dispatches
        let mut village = user(&env, "operator.village").await;
        let r = act(
            &mut village,
            id,
            "escalate",
            json!({"note": "需街道协调执法力量"}),
        )
        .await;
        ok(&r, "village escalate");
        assert_eq!(r.body["handling_code"], "320831001");
        let mut town = user(&env, "operator.town").await;
        ok(&act(&mut town, id, "accept", json!({})).await, "accept");
        ok(&act(&mut town, id, "file", json!({})).await, "file");
        let r = act(
            &mut town,
            id,
            "dispatch",
            json!({"departments": [{"id": dept, "lead": true}]}),
        )
        .await;
        ok(&r, "dispatch");
        assert_eq!(r.body["state"], "dispatched");
        assert_eq!(r.body["assignments"][0]["department_name"], "黎城城管中队");
        // a stale version is refused
        let r = town
            .json(
                "POST",
                &format!("/api/v1/cases/{id}/actions/supervise"),
                json!({"version": 1, "note": "x"}),
            )
            .await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::CONFLICT, "case_conflict")
        );

        // the department accepts and reports the result with a photo
        let mut handler = user(&env, "handler").await;
        let r = handler.get("/api/v1/notifications").await;
        assert!(r.body["unread"].as_i64().unwrap() >= 1, "{n}: {}", r.text);
        let r = handler.get("/api/v1/cases?view=to_handle").await;
        assert_eq!(r.body["total"], json!(1), "{n}: {}", r.text);
        ok(
            &act(&mut handler, id, "dept_accept", json!({})).await,
            "dept_accept",
        );
        let r = handler
            .send(
                "POST",
                "/api/v1/media",
                Some("application/octet-stream"),
                [PNG, b"after"].concat(),
            )
            .await;
        let after = r.body["id"].as_i64().unwrap();
        let r = act(
            &mut handler,
            id,
            "report_result",
            json!({"note": "已清运垃圾并消杀", "media": [after]}),
        )
        .await;
        ok(&r, "report_result");
        assert_eq!(r.body["state"], "handled");

        // the grid worker checks on site: a failure sends it back, then it passes
        ok(
            &act(&mut worker, id, "start_check", json!({})).await,
            "start_check",
        );
        ok(
            &act(
                &mut worker,
                id,
                "check_fail",
                json!({"note": "仍有残留垃圾"}),
            )
            .await,
            "check_fail",
        );
        ok(
            &act(&mut handler, id, "resume_rework", json!({})).await,
            "resume_rework",
        );
        ok(
            &act(
                &mut handler,
                id,
                "report_result",
                json!({"note": "残留已清理"}),
            )
            .await,
            "report again",
        );
        ok(
            &act(&mut worker, id, "start_check", json!({})).await,
            "start_check 2",
        );
        let r = act(&mut worker, id, "check_pass", json!({})).await;
        ok(&r, "check_pass");
        assert_eq!(r.body["state"], "closed");
        assert_eq!(r.body["rework_count"], json!(1));

        // the resident follows it and is unsatisfied: the case reopens for rework
        let r = public
            .get(&format!("/api/v1/public/cases/{tracking}"))
            .await;
        assert_eq!(r.body["can_rate"], json!(true), "{n}: {}", r.text);
        assert!(r.text.contains("残留已清理"), "the result is shown");
        assert!(
            !r.text.contains("handler") && !r.text.contains("operator"),
            "no staff names: {}",
            r.text
        );
        let r = public
            .get(&format!("/api/v1/public/cases/{tracking}/media/{after}"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = public
            .json(
                "POST",
                &format!("/api/v1/public/cases/{tracking}/rate"),
                json!({"rating": "unsatisfied", "comment": "门口还是脏"}),
            )
            .await;
        ok(&r, "rate");
        assert_eq!(r.body["state"], "rework", "{n}: {}", r.text);
        ok(
            &act(&mut handler, id, "resume_rework", json!({})).await,
            "resume after reopen",
        );
        ok(
            &act(
                &mut handler,
                id,
                "report_result",
                json!({"note": "安排每日清扫"}),
            )
            .await,
            "report 3",
        );
        ok(
            &act(&mut worker, id, "start_check", json!({})).await,
            "start_check 3",
        );
        ok(
            &act(&mut worker, id, "check_pass", json!({})).await,
            "check_pass 2",
        );
        let r = public
            .json(
                "POST",
                &format!("/api/v1/public/cases/{tracking}/rate"),
                json!({"rating": "satisfied"}),
            )
            .await;
        assert_eq!(r.body["state"], "rated", "{n}: {}", r.text);
        let r = public
            .json(
                "POST",
                &format!("/api/v1/public/cases/{tracking}/rate"),
                json!({"rating": "satisfied"}),
            )
            .await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::CONFLICT, "illegal_transition")
        );

        // the history explains every step; the grid discloses the closed case anonymised
        let r = town.get(&format!("/api/v1/cases/{id}")).await;
        let actions: Vec<&str> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "submit",
                "escalate",
                "escalate",
                "accept",
                "file",
                "dispatch",
                "dept_accept",
                "report_result",
                "start_check",
                "check_fail",
                "resume_rework",
                "report_result",
                "start_check",
                "check_pass",
                "rate",
                "reopen",
                "resume_rework",
                "report_result",
                "start_check",
                "check_pass",
                "rate"
            ],
            "{n}"
        );
        assert_eq!(r.body["reopen_count"], json!(1));
        let r = public
            .get(&format!("/api/v1/public/grids/{grid}/cases"))
            .await;
        assert_eq!(r.body[0]["number"], json!(number), "{n}: {}", r.text);
        // writes are in the audit chain
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let r = admin.get(&format!("/api/v1/audit?target={number}")).await;
        assert!(
            r.body["items"].as_array().unwrap().len() >= 20,
            "{n}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn intake_checks_privacy_and_side_paths() {
    for env in envs().await {
        let n = env.name;
        let (grid, dept) = setup(&env).await;
        let mut public = Client::new(&env);
        // outside every grid, too long, unknown category, bad answers, bad media
        let base = json!({"client_id": "r-outside-01", "lat": 30.0, "lng": 110.0, "description": "路灯不亮"});
        let r = public.json("POST", "/api/v1/public/cases", base).await;
        assert_eq!(code(&r), "outside_grids", "{n}: {}", r.text);
        let long = "很".repeat(4001);
        let r = public
            .json(
                "POST",
                "/api/v1/public/cases",
                json!({"client_id": "r-long-0001", "unit_code": grid, "description": long}),
            )
            .await;
        assert_eq!(code(&r), "validation_failed", "{n}: no silent truncation");
        let r = public.json("POST", "/api/v1/public/cases", json!({"client_id": "r-cat-00001", "unit_code": grid, "description": "x", "category": "G99"})).await;
        assert_eq!(code(&r), "unknown_category");
        let r = public.json("POST", "/api/v1/public/cases", json!({"client_id": "r-ans-00001", "unit_code": grid, "description": "着火了", "category": "G0901", "answers": {"nonsense": 1}})).await;
        assert_eq!(code(&r), "answers_invalid", "{n}: {}", r.text);
        let r = public
            .send(
                "POST",
                "/api/v1/public/media",
                Some("image/png"),
                b"<svg onload=alert(1)>".to_vec(),
            )
            .await;
        assert_eq!(code(&r), "unsupported_media_type");
        let r = public.json("POST", "/api/v1/public/cases", json!({"client_id": "r-chan-0001", "unit_code": grid, "description": "x", "channel": "hotline"})).await;
        assert_eq!(code(&r), "unknown_field");

        // a report shows only its reporter's own uploads (ids are guessable)
        let mut staff = user(&env, "worker").await;
        let r = staff
            .send(
                "POST",
                "/api/v1/media",
                Some("application/octet-stream"),
                [PNG, b"staff"].concat(),
            )
            .await;
        let staff_photo = r.body["id"].as_i64().unwrap();
        let r = public.json("POST", "/api/v1/public/cases", json!({"client_id": "r-steal-001", "unit_code": grid, "description": "x", "media": [staff_photo]})).await;
        assert_eq!(code(&r), "validation_failed", "{n}: {}", r.text);
        // the same bytes uploaded by the resident are theirs to show too
        let r = public
            .send(
                "POST",
                "/api/v1/public/media",
                Some("application/octet-stream"),
                [PNG, b"staff"].concat(),
            )
            .await;
        assert_eq!(r.body["id"].as_i64(), Some(staff_photo));
        let r = public.json("POST", "/api/v1/public/cases", json!({"client_id": "r-own-0001", "unit_code": grid, "description": "井盖缺失", "media": [staff_photo]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);

        // a hotline caller stays confidential to the grid and the department
        let mut town = user(&env, "operator.town").await;
        let r = town
            .json("POST", "/api/v1/cases", json!({"client_id": "hotline-0001", "channel": "hotline", "lat": 33.002, "lng": 119.002,
                "description": "来电反映荷花社区路边有人占道经营，影响通行", "category": "G0406", "reporter_name": "李女士", "reporter_phone": "13912345678"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let id = r.body["id"].as_i64().unwrap();
        assert_eq!(r.body["reporter"]["phone"], "139****5678");
        let mut worker = user(&env, "worker").await;
        let r = worker.get(&format!("/api/v1/cases/{id}")).await;
        assert_eq!(r.body["reporter"], Value::Null, "{n}: {}", r.text);
        assert!(!r.text.contains("李女士"));
        let r = worker.get(&format!("/api/v1/cases/{id}/reporter")).await;
        assert_eq!(code(&r), "forbidden");
        let r = town.get(&format!("/api/v1/cases/{id}/reporter")).await;
        assert_eq!(r.body["phone"], "13912345678");
        // outside the operator's territory: not found, as if it did not exist
        let mut other = Client::new(&env);
        other.login("worker", USER_PW).await;
        let r = town.json("POST", "/api/v1/cases", json!({"client_id": "hotline-0002", "channel": "hotline", "unit_code": "320831100001", "description": "x"})).await;
        assert_eq!(code(&r), "unit_not_found", "{n}: {}", r.text);

        // the grid worker handles a simple matter on the spot: straight to the check
        let r = worker
            .json("POST", "/api/v1/cases", json!({"client_id": "spot-000001", "lat": 33.003, "lng": 119.003,
                "description": "楼道堆放杂物堵塞消防通道", "category": "G0201", "on_spot": {"note": "已协调住户清理"}}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        assert_eq!(r.body["state"], "in_check");
        assert_eq!(
            r.body["first_report"],
            json!(true),
            "a reward category, first report nearby"
        );
        let spot = r.body["id"].as_i64().unwrap();
        ok(
            &act(&mut worker, spot, "check_pass", json!({})).await,
            "close on-spot case",
        );

        // duplicates: a second report nearby is suggested and merged
        let r = public.json("POST", "/api/v1/public/cases", json!({"client_id": "dup-0000001", "unit_code": grid, "lat": 33.0021, "lng": 119.0021,
            "description": "荷花社区路边占道经营，摊贩挡路", "category": "G0406"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let dup_tracking = r.body["tracking_code"].as_str().unwrap().to_string();
        let list = worker.get("/api/v1/cases?view=to_handle").await;
        let dup = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == "dup-0000001")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let r = worker.get(&format!("/api/v1/cases/{dup}/duplicates")).await;
        assert_eq!(r.body["duplicates"][0]["id"], json!(id), "{n}: {}", r.text);
        ok(
            &act(&mut worker, dup, "merge", json!({"into": id})).await,
            "merge",
        );
        let r = public
            .get(&format!("/api/v1/public/cases/{dup_tracking}"))
            .await;
        assert_eq!(r.body["state"], "voided");
        assert_eq!(
            r.body["merged_into"]["description"],
            "来电反映荷花社区路边有人占道经营，影响通行"
        );
        let r = town.get(&format!("/api/v1/cases/{id}")).await;
        assert_eq!(r.body["merged"][0]["id"], json!(dup));

        // park stops the clock; extension and supervision; not filing needs a reason
        let mut leader = user(&env, "leader.town").await;
        ok(
            &act(&mut worker, id, "escalate", json!({"note": "需执法"})).await,
            "escalate to village",
        );
        let mut village = user(&env, "operator.village").await;
        ok(
            &act(&mut village, id, "escalate", json!({"note": "需执法"})).await,
            "escalate to town",
        );
        ok(&act(&mut town, id, "accept", json!({})).await, "accept");
        ok(&act(&mut town, id, "file", json!({})).await, "file");
        let r = act(&mut leader, id, "park", json!({"note": "等待业主回国"})).await;
        ok(&r, "park");
        assert_eq!(
            r.body["deadline_at"],
            Value::Null,
            "{n}: parked clocks have no deadline"
        );
        let r = act(&mut leader, id, "resume", json!({})).await;
        assert_eq!(r.body["state"], "filed");
        assert!(r.body["deadline_at"].is_i64());
        // a department serving another town cannot be given it
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let r = admin.json("POST", "/api/v1/departments", json!({"code": "cg-yt", "name": "银涂镇城管中队", "kind": "urban_management", "unit_code": "320831100"})).await;
        let elsewhere = r.body["id"].as_i64().expect(&r.text);
        let r = act(
            &mut town,
            id,
            "dispatch",
            json!({"departments": [{"id": elsewhere}]}),
        )
        .await;
        assert_eq!(code(&r), "department_not_found", "{n}: {}", r.text);
        ok(
            &act(
                &mut town,
                id,
                "dispatch",
                json!({"departments": [{"id": dept}]}),
            )
            .await,
            "dispatch",
        );
        let mut handler = user(&env, "handler").await;
        ok(
            &act(&mut handler, id, "dept_accept", json!({})).await,
            "dept_accept",
        );
        let before = town.get(&format!("/api/v1/cases/{id}")).await.body["deadline_at"]
            .as_i64()
            .unwrap();
        ok(
            &act(
                &mut handler,
                id,
                "request_extension",
                json!({"note": "需联合执法", "days": 2}),
            )
            .await,
            "request extension",
        );
        let r = act(
            &mut handler,
            id,
            "request_extension",
            json!({"note": "again", "days": 1}),
        )
        .await;
        assert_eq!(code(&r), "extension_pending");
        let r = act(
            &mut leader,
            id,
            "approve_extension",
            json!({"approve": true}),
        )
        .await;
        ok(&r, "approve extension");
        assert!(
            r.body["deadline_at"].as_i64().unwrap() > before,
            "{n}: the deadline moved"
        );
        assert_eq!(r.body["extension_count"], json!(1));
        let r = act(
            &mut leader,
            id,
            "supervise",
            json!({"note": "请尽快处置", "deadline": "2026-01-09"}),
        )
        .await;
        ok(&r, "supervise");
        let r = handler.get("/api/v1/cases?supervised=true").await;
        assert_eq!(r.body["total"], json!(1), "{n}: {}", r.text);
        // transfer to another department keeps the history
        let r = admin.json("POST", "/api/v1/departments", json!({"code": "sc-lc", "name": "黎城市场监管所", "kind": "market_regulation", "unit_code": "320831001"})).await;
        let dept2 = r.body["id"].as_i64().expect(&r.text);
        let r = act(
            &mut handler,
            id,
            "transfer",
            json!({"note": "属市场监管职责", "department_id": dept2}),
        )
        .await;
        ok(&r, "transfer");
        let statuses: Vec<&str> = r.body["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["transferred", "dispatched"]);
        let r = handler.get(&format!("/api/v1/cases/{id}")).await;
        assert!(
            r.body["allowed"].as_array().unwrap().is_empty(),
            "{n}: the old department has nothing left to do: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn deadlines_warn_escalate_and_reach_webhooks() {
    use axum::routing::post;
    use std::sync::Mutex;
    // a webhook receiver that fails once, then accepts
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let fails = Arc::new(Mutex::new(1));
    let (g, f) = (got.clone(), fails.clone());
    let hook = axum::Router::new().route(
        "/robot",
        post(move |axum::Json(v): axum::Json<Value>| {
            let (g, f) = (g.clone(), f.clone());
            async move {
                let mut left = f.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    return (StatusCode::INTERNAL_SERVER_ERROR, "busy").into_response();
                }
                g.lock().unwrap().push(v);
                axum::Json(json!({"errcode": 0, "errmsg": "ok"})).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    use axum::response::IntoResponse;

    let url = format!("http://{addr}/robot");
    for env in envs_with(|c| {
        c.cases.webhooks = vec![wangge_server::config::Webhook {
            name: "duty".into(),
            url: url.clone(),
            format: "dingtalk".into(),
            secret: Some("SECtest".into()),
            events: vec!["created".into(), "breached".into(), "escalated".into()],
        }];
    })
    .await
    {
        let n = env.name;
        got.lock().unwrap().clear();
        *fails.lock().unwrap() = 1;
        let (grid, _) = setup(&env).await;
        let mut public = Client::new(&env);
        // 2026-01-01 08:00 local: the 2-hour accept limit ends at 10:30
        let r = public
            .json(
                "POST",
                "/api/v1/public/cases",
                json!({"client_id": "late-000001", "unit_code": grid,
            "description": "路灯坏了好几天", "category": "G0502"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let mut worker = user(&env, "worker").await;
        let id = worker.get("/api/v1/cases?view=to_handle").await.body["items"][0]["id"]
            .as_i64()
            .unwrap();
        let r = worker.get(&format!("/api/v1/cases/{id}")).await;
        let deadline = r.body["deadline_at"].as_i64().unwrap();
        assert_eq!(
            deadline,
            1_767_225_600_000 + 150 * 60_000,
            "{n}: 08:30 + 2 working hours = 10:30"
        );

        // half the time: a warning to the grid; past it: breached, and the grid level escalates
        env.clock.advance_ms(90 * 60_000); // 09:30
        wangge_server::jobs::tick(&env.state).await.unwrap();
        let mut worker = user(&env, "worker").await;
        let r = worker.get(&format!("/api/v1/cases/{id}")).await;
        assert_eq!(r.body["alert"], "half", "{n}: {}", r.text);
        let r = worker.get("/api/v1/notifications").await;
        assert!(r.text.contains("时限已过半"), "{n}: {}", r.text);
        env.clock.advance_ms(2 * 3_600_000); // 11:30
        wangge_server::jobs::tick(&env.state).await.unwrap();
        wangge_server::jobs::tick(&env.state).await.unwrap();
        let mut worker = user(&env, "worker").await;
        let r = worker.get(&format!("/api/v1/cases/{id}")).await;
        assert_eq!(
            r.body["handling_level"], "village",
            "{n}: breached at grid level goes up: {}",
            r.text
        );
        assert_eq!(r.body["alert"], "on_time", "a new level, a new clock");
        let r = worker.get("/api/v1/cases?overdue=true").await;
        assert_eq!(r.body["total"], json!(0));

        // the outbox delivers with a retry after the receiver's failure
        let client = reqwest::Client::new();
        wangge_server::cases::notify::outbox_round(&env.state, &client)
            .await
            .unwrap();
        env.clock.advance_ms(60_000);
        wangge_server::cases::notify::outbox_round(&env.state, &client)
            .await
            .unwrap();
        let bodies = got.lock().unwrap().clone();
        assert!(bodies.len() >= 2, "{n}: {bodies:?}");
        assert!(bodies.iter().all(|b| b["msgtype"] == "markdown"));
        assert!(bodies.iter().any(|b| b["markdown"]["title"] == "新案件"));
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let r = admin.get("/api/v1/outbox").await;
        assert!(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["attempts"] == json!(2)),
            "{n}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn approval_matters_are_reviewed_level_by_level_with_public_notices() {
    for env in envs().await {
        let n = env.name;
        let (grid, _) = setup(&env).await;
        // the grid worker collects the application on the resident's behalf
        let mut worker = user(&env, "worker").await;
        let r = worker
            .json("POST", "/api/v1/cases", json!({"client_id": "approval-0001", "channel": "errand", "unit_code": grid,
                "description": "王秀英申请最低生活保障，材料已收齐", "reporter_name": "王秀英", "errand": {"kind": "approval", "matter": "最低生活保障"}}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let id = r.body["id"].as_i64().unwrap();
        ok(
            &act(
                &mut worker,
                id,
                "escalate",
                json!({"note": "材料齐全，报社区受理"}),
            )
            .await,
            "to the community",
        );
        // the community reviews it and notices it publicly for 5 working days
        let mut village = user(&env, "operator.village").await;
        let r = act(
            &mut village,
            id,
            "review",
            json!({"note": "经入户调查，家庭收入低于当地低保标准", "days": 5}),
        )
        .await;
        ok(&r, "review");
        let mut public = Client::new(&env);
        let r = public
            .get(&format!("/api/v1/public/grids/{grid}/notices"))
            .await;
        assert_eq!(r.body[0]["applicant"], "王**", "{n}: {}", r.text);
        assert_eq!(r.body[0]["matter"], "最低生活保障");
        assert!(!r.text.contains("王秀英"));
        // a case that is not an approval matter is not reviewed this way
        let r = worker
            .json(
                "POST",
                "/api/v1/cases",
                json!({"client_id": "plain-00001", "unit_code": grid, "description": "井盖松动"}),
            )
            .await;
        let plain = r.body["id"].as_i64().unwrap();
        ok(
            &act(&mut worker, plain, "escalate", json!({"note": "x"})).await,
            "plain escalate",
        );
        let r = act(&mut village, plain, "review", json!({"note": "x"})).await;
        assert_eq!(code(&r), "illegal_transition");
        // when the notice ends, the town reviews it next
        env.clock.advance_ms(8 * 86_400_000);
        wangge_server::jobs::tick(&env.state).await.unwrap();
        let mut town = user(&env, "operator.town").await;
        let r = town.get(&format!("/api/v1/cases/{id}")).await;
        assert_eq!(r.body["handling_code"], "320831001", "{n}: {}", r.text);
        assert!(
            r.body["allowed"]
                .as_array()
                .unwrap()
                .contains(&json!("review"))
        );
        let r = public
            .get(&format!("/api/v1/public/grids/{grid}/notices"))
            .await;
        assert_eq!(r.body, json!([]), "the community's notice has ended");
    }
}

/// Every event starts where the previous one ended and the last one ends in the case's state.
fn history_explains(detail: &Value) -> bool {
    let events = detail["events"].as_array().unwrap();
    let chained = events
        .windows(2)
        .all(|w| w[0]["to_state"] == w[1]["from_state"]);
    chained
        && events.last().unwrap()["to_state"] == detail["state"]
        && events[0]["from_state"] == "draft"
}

/// The body an action needs to be accepted, given what the case and the people look like.
fn body_for(action: &str, dept: i64, other_dept: i64, case: &Value) -> Value {
    match action {
        "dispatch" => json!({"departments": [{"id": dept, "lead": true}]}),
        "transfer" => {
            let current = case["assignments"]
                .as_array()
                .unwrap()
                .iter()
                .rev()
                .find(|a| a["status"] == "dispatched" || a["status"] == "accepted")
                .map(|a| a["department_id"].as_i64().unwrap());
            json!({"note": "职责调整", "department_id": if current == Some(dept) { other_dept } else { dept }})
        }
        "request_extension" => json!({"note": "需要更多时间", "hours": 4}),
        "rate" => json!({"rating": "unsatisfied"}),
        "supervise" => json!({"note": "请加快", "deadline": "2026-01-20"}),
        "file" | "accept" => json!({"category": "G0401"}),
        "merge" => json!({"into": 1}),
        _ => json!({"note": "随机步骤"}),
    }
}

#[tokio::test]
async fn random_walks_through_the_api_keep_the_history_true() {
    for env in envs().await {
        let n = env.name;
        let (grid, dept) = setup(&env).await;
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let r = admin.json("POST", "/api/v1/departments", json!({"code": "sc-lc", "name": "黎城市场监管所", "kind": "market_regulation", "unit_code": "320831001"})).await;
        let other_dept = r.body["id"].as_i64().unwrap();
        let r = admin
            .send(
                "PUT",
                &format!(
                    "/api/v1/departments/{other_dept}/members/{}",
                    env.state
                        .store
                        .user_credentials("handler")
                        .await
                        .unwrap()
                        .unwrap()
                        .0
                        .id
                ),
                None,
                vec![],
            )
            .await;
        ok(&r, "second department");
        let mut people = Vec::new();
        for name in [
            "worker",
            "operator.village",
            "operator.town",
            "leader.town",
            "leader.county",
            "handler",
        ] {
            people.push(user(&env, name).await);
        }
        let mut seed: u64 = 0x5747_2611;
        let mut next = |k: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % k as u64) as usize
        };
        let mut seen = std::collections::BTreeSet::new();
        for walk in 0..10 {
            let r = people[0]
                .json("POST", "/api/v1/cases", json!({"client_id": format!("walk-{walk:06}"), "unit_code": grid, "description": "随机游走案件", "category": "G0401"}))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
            let id = r.body["id"].as_i64().unwrap();
            for _ in 0..40 {
                let who = next(people.len());
                let case = people[who].get(&format!("/api/v1/cases/{id}")).await;
                if case.status != StatusCode::OK {
                    continue;
                }
                assert!(history_explains(&case.body), "{n}: {}", case.text);
                let allowed: Vec<String> = case.body["allowed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect();
                if allowed.is_empty() {
                    continue;
                }
                let mut action = allowed[next(allowed.len())].clone();
                // endings are taken rarely so the walks get far
                if ["void", "not_file", "merge"].contains(&action.as_str()) && next(5) != 0 {
                    action = allowed[next(allowed.len())].clone();
                    if ["void", "not_file", "merge"].contains(&action.as_str()) {
                        continue;
                    }
                }
                let mut body = body_for(&action, dept, other_dept, &case.body);
                body["version"] = case.body["version"].clone();
                let r = people[who]
                    .json(
                        "POST",
                        &format!("/api/v1/cases/{id}/actions/{action}"),
                        body,
                    )
                    .await;
                // an offered action may still need a fact the walk does not have (a merge
                // target, an extension request to approve), never a state it is not in
                assert_ne!(
                    code(&r),
                    "illegal_transition",
                    "{n}: {action} was offered: {}",
                    r.text
                );
                assert_ne!(
                    r.status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "{n}: {action}: {}",
                    r.text
                );
                if r.status.is_success() {
                    assert!(history_explains(&r.body), "{n}: {}", r.text);
                    seen.insert(r.body["state"].as_str().unwrap().to_string());
                }
            }
        }
        assert!(seen.len() >= 10, "{n}: the walks reached {seen:?}");
    }
}

/// A resident's report of a broken street light numbered `i` in `grid`.
async fn resident_report(env: &Env, grid: &str, i: u32) {
    let body = json!({"client_id": format!("cache-test-{i:04}"), "unit_code": grid,
        "description": format!("第{i}号：路灯不亮已经好几天了，晚上出行很不方便"), "category": "G0401"});
    let r = Client::new(env)
        .json("POST", "/api/v1/public/cases", body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// Whom a new case notifies follows grant changes at once, and so does the unit chain intake
/// reads: role holders and unit chains are cached and cleared by those writes.
#[tokio::test]
async fn new_cases_follow_grant_and_unit_changes_at_once() {
    for env in envs().await {
        let n = env.name;
        let (grid, _) = setup(&env).await;
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        resident_report(&env, &grid, 1).await;

        // a second grid worker joins: told of the next case
        let r = admin
            .json(
                "POST",
                "/api/v1/users",
                json!({"username": "worker.two", "display_name": "王五", "password": USER_PW}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let id = r.body["id"].as_i64().unwrap();
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/users/{id}/grants"),
                json!({"role": "grid_worker_full", "unit_code": grid}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let gid = r.body["id"].as_i64().unwrap();
        resident_report(&env, &grid, 2).await;
        let mut two = user(&env, "worker.two").await;
        let r = two.get("/api/v1/notifications").await;
        let notes = r.text;
        assert!(notes.contains("第2号"), "{n}: {notes}");
        // the body starts with the new case's number (given by the store when it saves it)
        let body = r.body["items"][0]["body"].as_str().unwrap();
        let number: String = body.chars().take(15).collect();
        assert!(
            number.len() == 15
                && number.chars().enumerate().all(|(i, ch)| match i {
                    8 => ch == '-',
                    14 => ch == ' ',
                    _ => ch.is_ascii_digit(),
                }),
            "{n}: {body}"
        );
        assert!(!notes.contains("第1号"), "{n}: {notes}");

        // the grant removed: not told of the next
        let r = admin
            .send("DELETE", &format!("/api/v1/grants/{gid}"), None, vec![])
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{n}: {}", r.text);
        resident_report(&env, &grid, 3).await;
        let mut two = user(&env, "worker.two").await;
        let notes = two.get("/api/v1/notifications").await.text;
        assert!(!notes.contains("第3号"), "{n}: {notes}");

        // the grid renamed: the unit chain that intake reads is the new one at once
        let store = env.state.store.as_ref();
        let chain = env.state.caches.unit_chain(store, &grid).await.unwrap();
        assert_eq!(chain.0.name, "荷花社区第一网格", "{n}");
        let r = admin
            .json(
                "PATCH",
                &format!("/api/v1/units/{grid}"),
                json!({"name": "荷花社区一号网格"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let chain = env.state.caches.unit_chain(store, &grid).await.unwrap();
        assert_eq!(chain.0.name, "荷花社区一号网格", "{n}");
    }
}
