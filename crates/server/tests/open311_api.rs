//! Open311 GeoReport v2 conformance, external systems' API keys and rate limits, signed webhooks
//! out (retries, dead letters, resend, restarts) and signed device events in, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::response::IntoResponse;
use common::*;
use std::sync::Mutex;
use wangge_domain::clock::Clock;
use wangge_server::external::{sign, verify};

const FORM: &str = "application/x-www-form-urlencoded";

/// Two grids (one under each town), a town-level external system and its secrets.
struct World {
    grid: String,
    other_grid: String,
    key: String,
    system_id: i64,
    webhook_secret: String,
    ingest_secret: String,
}

async fn world(env: &Env, extra: Value) -> World {
    let mut admin = Client::new(env);
    admin.login("admin", ADMIN_PW).await;
    let mut grids = vec![];
    for (parent, name, geom) in [
        (
            "320831001003",
            "荷花社区第一网格",
            rect(119.0, 33.0, 119.01, 33.01),
        ),
        (
            "320831100001",
            "银涂社区第一网格",
            rect(119.1, 33.0, 119.11, 33.01),
        ),
    ] {
        let r = admin
            .json(
                "POST",
                "/api/v1/units",
                json!({"name": name, "level": "grid", "parent_code": parent, "geometry": geom}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        grids.push(r.body["code"].as_str().unwrap().to_string());
    }
    let mut body = json!({"name": "city-app", "title": "市民通", "channel": "city_app",
        "unit_code": "320831001"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = admin.json("POST", "/api/v1/external-systems", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.body["secrets"]["api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("wgk_"));
    assert!(
        !r.body["system"].to_string().contains(&key[4..]),
        "the key is not part of the system record"
    );
    World {
        grid: grids[0].clone(),
        other_grid: grids[1].clone(),
        key,
        system_id: r.body["system"]["id"].as_i64().unwrap(),
        webhook_secret: r.body["secrets"]["webhook_secret"]
            .as_str()
            .unwrap()
            .to_string(),
        ingest_secret: r.body["secrets"]["ingest_secret"]
            .as_str()
            .unwrap()
            .to_string(),
    }
}

fn enc(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

async fn post(c: &mut Client<'_>, fmt: &str, pairs: &[(&str, &str)]) -> Resp {
    c.send(
        "POST",
        &format!("/open311/v2/requests.{fmt}"),
        Some(FORM),
        enc(pairs),
    )
    .await
}

/// `[{"code": status, "description": …}]` in JSON, `<errors><error>` in XML.
fn assert_error(r: &Resp, status: u16, our_code: &str, what: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
    if r.text.starts_with("<?xml") {
        assert!(
            r.text.contains(&format!(
                "<errors><error><code>{status}</code><description>"
            )),
            "{what}: {}",
            r.text
        );
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "text/xml; charset=utf-8",
            "{what}"
        );
    } else {
        let list = r
            .body
            .as_array()
            .unwrap_or_else(|| panic!("{what}: {}", r.text));
        assert_eq!(list.len(), 1, "{what}");
        assert_eq!(list[0]["code"], json!(status), "{what}");
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "application/json; charset=utf-8",
            "{what}"
        );
    }
    assert!(
        r.text.contains(&format!("({our_code})")),
        "{what}: expected {our_code}: {}",
        r.text
    );
}

fn iso(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 25 && s.ends_with("+08:00") && s.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn discovery_services_and_definitions_in_both_formats() {
    for env in envs_with(|c| c.external.jurisdiction_id = Some("jinhu.gov.cn".into())).await {
        let n = env.name;
        let mut c = Client::new(&env);
        let r = c.get("/open311/v2/discovery.json").await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let ep = &r.body["endpoints"][0];
        assert_eq!(ep["specification"], "http://wiki.open311.org/GeoReport_v2");
        assert_eq!(ep["formats"], json!(["text/xml", "application/json"]));
        assert!(ep["url"].as_str().unwrap().ends_with("/open311/v2"));
        let r = c.get("/open311/v2/discovery.xml").await;
        assert!(
            r.text
                .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<discovery><changeset>"),
            "{n}: {}",
            r.text
        );
        assert!(r.text.contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        ));

        // services: the catalogue's leaves; a bare array in JSON
        let r = c.get("/open311/v2/services.json").await;
        let list = r.body.as_array().unwrap();
        let leaves = env.state.cases.catalogue().leaves().len();
        assert_eq!(list.len(), leaves, "{n}");
        let lamp = list.iter().find(|s| s["service_code"] == "G0502").unwrap();
        assert_eq!(lamp["type"], "realtime");
        assert_eq!(lamp["metadata"], json!(false));
        assert!(lamp["group"].is_string());
        let neighbours = list.iter().find(|s| s["service_code"] == "G0101").unwrap();
        assert_eq!(neighbours["metadata"], json!(true));
        assert_eq!(neighbours["service_name"], "邻里纠纷");
        assert!(neighbours["keywords"].as_str().unwrap().contains("邻居"));
        let r = c.get("/open311/v2/services.xml").await;
        assert!(r.text.contains("<services><service><service_code>"), "{n}");
        assert_eq!(r.text.matches("<service>").count(), leaves);

        // a definition from the category's questions, inherited ones included
        let r = c.get("/open311/v2/services/G0101.json").await;
        assert_eq!(r.body["service_code"], "G0101", "{n}: {}", r.text);
        let attrs = r.body["attributes"].as_array().unwrap();
        let parties = attrs.iter().find(|a| a["code"] == "parties").unwrap();
        assert_eq!(parties["datatype"], "number");
        assert_eq!(parties["required"], json!(true));
        assert_eq!(parties["variable"], json!(true));
        let scale = attrs.iter().find(|a| a["code"] == "scale").unwrap();
        assert_eq!(scale["datatype"], "singlevaluelist");
        assert_eq!(scale["values"][1], json!({"key": "较大", "name": "较大"}));
        let orders: Vec<i64> = attrs.iter().map(|a| a["order"].as_i64().unwrap()).collect();
        assert_eq!(orders, (1..=attrs.len() as i64).collect::<Vec<_>>());
        let r = c.get("/open311/v2/services/G0101.xml").await;
        assert!(r.text.contains("<service_definition><service_code>G0101</service_code><attributes><attribute><variable>true</variable>"), "{n}: {}", r.text);
        assert!(
            r.text
                .contains("<values><value><key>一般</key><name>一般</name></value>")
        );
        assert!(r.text.contains("<datatype_description/>"));

        // errors
        for (uri, code_, what) in [
            ("services/NOPE.json", "unknown_service", "unknown code"),
            (
                "services/G01.xml",
                "unknown_service",
                "a group is not a service",
            ),
            ("services.html", "not_found", "unknown format"),
            ("whatever.json", "not_found", "unknown resource"),
        ] {
            assert_error(
                &c.get(&format!("/open311/v2/{uri}")).await,
                404,
                code_,
                what,
            );
        }
        assert_error(
            &c.get("/open311/v3/services.json").await,
            404,
            "not_found",
            "unknown version",
        );
        assert_error(
            &c.get("/open311/v2/services.xml?jurisdiction_id=other.gov")
                .await,
            404,
            "jurisdiction_not_found",
            "another jurisdiction",
        );
        // an empty optional parameter is the same as none; the right one is accepted
        for q in ["jurisdiction_id=", "jurisdiction_id=jinhu.gov.cn"] {
            let r = c.get(&format!("/open311/v2/services.json?{q}")).await;
            assert_eq!(r.status, StatusCode::OK, "{n} {q}");
        }
    }
}

#[tokio::test]
async fn requests_are_posted_listed_read_and_followed_with_a_key() {
    for env in envs().await {
        let n = env.name;
        let w = world(&env, json!({})).await;
        let mut c = Client::new(&env);
        let key = w.key.as_str();
        let base = [
            ("service_code", "G0502"),
            ("lat", "33.005"),
            ("long", "119.005"),
            ("description", "路灯不亮"),
        ];

        // keys: missing, wrong → 403 in either format
        assert_error(
            &post(&mut c, "json", &base).await,
            403,
            "invalid_api_key",
            "no key",
        );
        let mut wrong = base.to_vec();
        wrong.push(("api_key", "wgk_nope"));
        assert_error(
            &post(&mut c, "xml", &wrong).await,
            403,
            "invalid_api_key",
            "wrong key",
        );
        assert_error(
            &c.get("/open311/v2/requests.json").await,
            403,
            "invalid_api_key",
            "list without key",
        );

        // a post in JSON: a bare array of one, with the id as a string
        let mut ok = base.to_vec();
        ok.extend([
            ("api_key", key),
            ("address_string", "荷花路 12 号"),
            ("first_name", "小明"),
            ("last_name", "王"),
            ("phone", "13900000000"),
            ("email", "wang@example.cn"),
            ("jurisdiction_id", ""),
        ]);
        let r = post(&mut c, "json", &ok).await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let arr = r.body.as_array().unwrap();
        assert_eq!(arr.len(), 1);
        let id1 = arr[0]["service_request_id"].as_str().unwrap().to_string();
        assert!(
            arr[0]["service_notice"]
                .as_str()
                .unwrap()
                .contains("已受理")
        );
        assert!(
            arr[0].get("token").is_none(),
            "no token when the id is returned"
        );
        // the api key may also come in the query string; the answer in XML
        let r = c
            .send(
                "POST",
                &format!("/open311/v2/requests.xml?api_key={key}"),
                Some(FORM),
                enc(&[
                    ("service_code", "G0101"),
                    ("address_id", &w.grid),
                    ("description", "楼上漏水"),
                    ("attribute[parties]", "2"),
                    ("attribute[scale]", "一般"),
                    ("account_id", "u-77"),
                ]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert!(r.text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request><service_request_id>"), "{}", r.text);
        assert!(r.text.contains("<account_id>u-77</account_id>"));
        let id2: String = r
            .text
            .split("<service_request_id>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .into();

        // the case in the back office: the system's channel, the answers typed, the contact kept
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let r = admin.get(&format!("/api/v1/cases/{id2}")).await;
        assert_eq!(r.body["channel"], "city_app", "{n}: {}", r.text);
        assert_eq!(r.body["answers"]["parties"], json!(2.0));
        assert_eq!(r.body["unit_code"], json!(w.grid));
        let r = admin.get(&format!("/api/v1/cases/{id1}")).await;
        assert_eq!(r.body["address"], "荷花路 12 号");
        assert_eq!(r.body["reporter"]["name"], "王小明", "{n}: {}", r.text);
        assert_eq!(r.body["reporter"]["phone"], "139****0000", "{n}: masked");

        // bad posts
        for (what, pairs, status, code) in [
            (
                "no service_code",
                vec![("lat", "33.005"), ("long", "119.005")],
                400,
                "validation_failed",
            ),
            (
                "unknown service",
                vec![
                    ("service_code", "X9"),
                    ("lat", "33.005"),
                    ("long", "119.005"),
                ],
                404,
                "unknown_service",
            ),
            (
                "lat without long",
                vec![("service_code", "G0502"), ("lat", "33.005")],
                400,
                "validation_failed",
            ),
            (
                "not a number",
                vec![("service_code", "G0502"), ("lat", "north"), ("long", "119")],
                400,
                "validation_failed",
            ),
            (
                "an address only",
                vec![("service_code", "G0502"), ("address_string", "荷花路")],
                400,
                "validation_failed",
            ),
            (
                "outside every grid",
                vec![
                    ("service_code", "G0502"),
                    ("lat", "40.0"),
                    ("long", "116.0"),
                ],
                400,
                "outside_grids",
            ),
            (
                "another town's grid",
                vec![
                    ("service_code", "G0502"),
                    ("lat", "33.005"),
                    ("long", "119.105"),
                ],
                400,
                "outside_territory",
            ),
            (
                "another town by address_id",
                vec![
                    ("service_code", "G0502"),
                    ("address_id", w.other_grid.as_str()),
                ],
                400,
                "outside_territory",
            ),
            (
                "a required attribute missing",
                vec![("service_code", "G0101"), ("address_id", w.grid.as_str())],
                400,
                "answers_invalid",
            ),
            (
                "an unknown attribute",
                vec![
                    ("service_code", "G0502"),
                    ("address_id", w.grid.as_str()),
                    ("attribute[x]", "1"),
                ],
                400,
                "answers_invalid",
            ),
        ] {
            let mut p = pairs.clone();
            p.push(("api_key", key));
            assert_error(
                &post(&mut c, "json", &p).await,
                status,
                code,
                &format!("{n}: {what}"),
            );
        }
        let long = "字".repeat(4001);
        let mut p = base.to_vec();
        p.extend([("api_key", key), ("description", long.as_str())]);
        p.retain(|(k, v)| *k != "description" || v.chars().count() > 10);
        assert_error(
            &post(&mut c, "xml", &p).await,
            400,
            "validation_failed",
            "4,001 characters",
        );
        let r = c
            .send(
                "POST",
                "/open311/v2/requests.json",
                Some("application/json"),
                b"{}".to_vec(),
            )
            .await;
        assert_error(&r, 400, "unsupported_media_type", "JSON body");

        // a case of the other town, reported by staff: invisible to this system
        let mut op = Client::new(&env);
        op.login("admin", ADMIN_PW).await;
        let r = op
            .json(
                "POST",
                "/api/v1/cases",
                json!({"client_id": "other-town-0001", "channel": "hotline",
            "unit_code": w.other_grid, "description": "银涂的路灯"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        let other = r.body["id"].as_i64().unwrap().to_string();

        // list: JSON array, strings and ISO dates with the offset, only the territory
        let r = c
            .get(&format!("/open311/v2/requests.json?api_key={key}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let list = r.body.as_array().unwrap();
        let ids: Vec<&str> = list
            .iter()
            .map(|x| x["service_request_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![id2.as_str(), id1.as_str()],
            "{n}: newest first, none of the other town"
        );
        let one = &list[1];
        assert_eq!(one["status"], "open");
        assert_eq!(one["service_code"], "G0502");
        assert!(one["status_notes"].as_str().unwrap().contains("已上报"));
        assert!(
            iso(&one["requested_datetime"])
                && iso(&one["updated_datetime"])
                && iso(&one["expected_datetime"]),
            "{one}"
        );
        assert_eq!(one["lat"], json!(33.005));
        assert_eq!(one["long"], json!(119.005));
        assert_eq!(one["address_id"], json!(w.grid));
        assert!(one["agency_responsible"].is_string());
        assert!(
            one.get("reporter_phone").is_none() && !r.text.contains("13900000000"),
            "no personal data"
        );
        for (q, expect) in [
            ("status=open", 2),
            ("status=closed", 0),
            ("status=open,closed", 2),
            ("service_code=G0101", 1),
            ("service_code=G0502&status=open", 1),
            (
                "start_date=2026-01-01T00:00:00%2B08:00&end_date=2026-01-02T00:00:00Z",
                2,
            ),
            (
                "start_date=2025-12-01T00:00:00Z&end_date=2025-12-02T00:00:00Z",
                0,
            ),
            ("start_date=2025-12-31", 2),
            ("jurisdiction_id=&status=", 2),
        ] {
            let r = c
                .get(&format!("/open311/v2/requests.json?api_key={key}&{q}"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{n} {q}: {}", r.text);
            assert_eq!(r.body.as_array().unwrap().len(), expect, "{n} {q}");
        }
        // service_request_id overrides the rest; other territories stay hidden
        let r = c.get(&format!("/open311/v2/requests.json?api_key={key}&status=closed&service_request_id={id1},{other}")).await;
        let got: Vec<&str> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["service_request_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, vec![id1.as_str()], "{n}");
        for (q, code) in [
            ("status=pending", "validation_failed"),
            ("service_code=NOPE", "unknown_service"),
            ("start_date=yesterday", "validation_failed"),
            (
                "start_date=2025-01-01T00:00:00Z&end_date=2025-06-01T00:00:00Z",
                "validation_failed",
            ),
            ("service_request_id=abc", "validation_failed"),
        ] {
            let r = c
                .get(&format!("/open311/v2/requests.xml?api_key={key}&{q}"))
                .await;
            let status = if code == "unknown_service" { 404 } else { 400 };
            assert_error(&r, status, code, &format!("{n} {q}"));
        }
        let r = c
            .get(&format!("/open311/v2/requests.xml?api_key={key}"))
            .await;
        assert_eq!(r.text.matches("<request>").count(), 2);
        assert!(r.text.contains("<zipcode/>"));

        // one request: still a list
        let r = c
            .get(&format!("/open311/v2/requests/{id1}.json?api_key={key}"))
            .await;
        assert_eq!(r.body.as_array().unwrap().len(), 1, "{n}: {}", r.text);
        let r = c
            .get(&format!("/open311/v2/requests/{id1}.xml?api_key={key}"))
            .await;
        assert!(r.text.contains(&format!("<service_requests><request><service_request_id>{id1}</service_request_id><status>open</status>")), "{}", r.text);
        assert_error(
            &c.get(&format!("/open311/v2/requests/{other}.json?api_key={key}"))
                .await,
            404,
            "case_not_found",
            "another town's",
        );
        assert_error(
            &c.get(&format!("/open311/v2/requests/x1.xml?api_key={key}"))
                .await,
            404,
            "case_not_found",
            "not an id",
        );

        // tokens: a client id of the territory resolves to its request
        let r = admin
            .json(
                "POST",
                "/api/v1/cases",
                json!({"client_id": "desk-token-0001", "channel": "hotline",
            "unit_code": w.grid, "description": "热线来电：路面塌陷"}),
            )
            .await;
        let desk = r.body["id"].as_i64().unwrap().to_string();
        let r = c
            .get(&format!(
                "/open311/v2/tokens/desk-token-0001.json?api_key={key}"
            ))
            .await;
        assert_eq!(
            r.body,
            json!([{"service_request_id": desk, "token": "desk-token-0001"}]),
            "{n}: {}",
            r.text
        );
        let r = c
            .get(&format!(
                "/open311/v2/tokens/desk-token-0001.xml?api_key={key}"
            ))
            .await;
        assert!(
            r.text.contains("<request><service_request_id>"),
            "{}",
            r.text
        );
        assert_error(
            &c.get(&format!(
                "/open311/v2/tokens/other-town-0001.json?api_key={key}"
            ))
            .await,
            404,
            "case_not_found",
            "another town's token",
        );

        // updates: every step since a time, oldest first; a new step appears
        let r = c.get(&format!("/open311/v2/servicerequestupdates.json?api_key={key}&start_date=2025-12-31T00:00:00Z")).await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let before = r.body.as_array().unwrap().len();
        assert_eq!(before, 3, "{n}: three submissions: {}", r.text);
        env.clock.advance_ms(60_000);
        let v = admin.get(&format!("/api/v1/cases/{id1}")).await.body["version"].clone();
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/cases/{id1}/actions/accept"),
                json!({"version": v, "note": "收到"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let r = c.get(&format!("/open311/v2/servicerequestupdates.xml?api_key={key}&start_date=2025-12-31T00:00:00Z")).await;
        assert_eq!(
            r.text.matches("<request_update>").count(),
            before + 1,
            "{n}: {}",
            r.text
        );
        assert!(r.text.contains(&format!(
            "<service_request_id>{id1}</service_request_id><status>open</status>"
        )));
        assert!(r.text.contains("已受理 (accepted): 收到"));
        assert!(r.text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_request_updates><request_update><update_id>"));

        // every call is audited under the system's name, refusals too
        let entries = env
            .state
            .store
            .audit_search(&wangge_store::AuditFilter {
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        let ours = entries
            .iter()
            .filter(|e| e.actor_name == "external:city-app")
            .count();
        assert!(ours >= 25, "{n}: {ours} audited calls");
        assert!(entries.iter().any(|e| e.action == "open311.denied"), "{n}");
        assert!(
            entries
                .iter()
                .any(|e| e.action == "open311.post" && e.detail["error"] == "outside_territory"),
            "{n}"
        );

        // a deactivated system's key stops working at once
        let r = admin
            .json(
                "PATCH",
                &format!("/api/v1/external-systems/{}", w.system_id),
                json!({"active": false}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_error(
            &c.get(&format!("/open311/v2/requests.json?api_key={key}"))
                .await,
            403,
            "invalid_api_key",
            "inactive",
        );
    }
}

#[tokio::test]
async fn keys_are_rate_limited_and_rotated() {
    for env in envs().await {
        let n = env.name;
        let w = world(&env, json!({"rate_limit": 3})).await;
        let mut c = Client::new(&env);
        let url = format!("/open311/v2/requests.json?api_key={}", w.key);
        for i in 0..3 {
            assert_eq!(c.get(&url).await.status, StatusCode::OK, "{n}: call {i}");
        }
        let r = c.get(&url).await;
        assert_error(&r, 429, "rate_limited", "the fourth call in a minute");
        assert_eq!(
            r.headers[header::RETRY_AFTER],
            "20",
            "{n}: one token every 20 s"
        );
        env.clock.advance_ms(20_000);
        assert_eq!(c.get(&url).await.status, StatusCode::OK, "{n}: refilled");

        // rotating the key: the old one is refused, the new one works
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/external-systems/{}/rotate", w.system_id),
                json!({"secret": "api_key"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let new_key = r.body["secrets"]["api_key"].as_str().unwrap().to_string();
        assert!(r.body["secrets"].get("webhook_secret").is_none());
        assert_eq!(r.body["system"]["key_prefix"], json!(&new_key[..10]));
        env.clock.advance_ms(60_000);
        assert_error(&c.get(&url).await, 403, "invalid_api_key", "old key");
        let r = c
            .get(&format!("/open311/v2/requests.json?api_key={new_key}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}");

        // the admin API checks what it is given
        for (body, field) in [
            (
                json!({"name": "Bad Name", "title": "x", "channel": "c1", "unit_code": "320831"}),
                "name",
            ),
            (
                json!({"name": "ok-name", "title": "x", "channel": "c1", "unit_code": "320831", "rate_limit": 0}),
                "rate_limit",
            ),
            (
                json!({"name": "ok-name", "title": "x", "channel": "c1", "unit_code": "320831", "webhook_url": "ftp://x"}),
                "webhook_url",
            ),
            (
                json!({"name": "ok-name", "title": "x", "channel": "c1", "unit_code": "320831", "webhook_events": ["case.deleted"]}),
                "webhook_events",
            ),
            (
                json!({"name": "ok-name", "title": "x", "channel": "c1", "unit_code": "320831",
                "rules": [{"field": "level", "op": "gte", "value": "abc", "category": "G0502"}]}),
                "rules",
            ),
            (
                json!({"name": "ok-name", "title": "x", "channel": "c1", "unit_code": "320831",
                "rules": [{"field": "type", "op": "eq", "value": "fight", "category": "G0101"}]}),
                "rules",
            ),
        ] {
            let r = admin.json("POST", "/api/v1/external-systems", body).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{n} {field}: {}",
                r.text
            );
            assert_eq!(r.body["details"]["field"], field, "{n}: {}", r.text);
        }
        let r = admin
            .json(
                "POST",
                "/api/v1/external-systems",
                json!({"name": "city-app", "title": "x", "channel": "c1", "unit_code": "320831"}),
            )
            .await;
        assert_eq!(code(&r), "duplicate_name", "{n}: {}", r.text);
        let r = admin
            .json(
                "POST",
                "/api/v1/external-systems",
                json!({"name": "nowhere", "title": "x", "channel": "c1", "unit_code": "999999"}),
            )
            .await;
        assert_eq!(code(&r), "unit_not_found", "{n}: {}", r.text);
        let r = admin
            .json(
                "PATCH",
                "/api/v1/external-systems/9999",
                json!({"title": "x"}),
            )
            .await;
        assert_eq!(code(&r), "external_system_not_found", "{n}: {}", r.text);
        // only administrators
        let mut worker = Client::new(&env);
        worker.login("worker", USER_PW).await;
        assert_eq!(
            worker.get("/api/v1/external-systems").await.status,
            StatusCode::FORBIDDEN
        );
        let r = admin.get("/api/v1/external-systems").await;
        assert_eq!(r.body["items"][0]["rate_limit"], json!(3), "{n}");
        assert!(
            !r.text.contains("whsec_") && !r.text.contains(&new_key),
            "{n}: no secrets in lists"
        );
    }
}

/// A webhook receiver: answers 500 while `fail` is set, and keeps what it got.
#[derive(Default)]
struct Receiver {
    fail: Mutex<bool>,
    got: Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>,
}

async fn receiver() -> (Arc<Receiver>, String) {
    let rx: Arc<Receiver> = Arc::default();
    let r2 = rx.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let rx = r2.clone();
                async move {
                    if *rx.fail.lock().unwrap() {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
                    }
                    rx.got.lock().unwrap().push((headers, body.to_vec()));
                    StatusCode::NO_CONTENT.into_response()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (rx, format!("http://{addr}/hook"))
}

#[tokio::test]
async fn webhooks_are_signed_retried_dead_lettered_resent_and_survive_restarts() {
    let (rx, url) = receiver().await;
    let http = reqwest::Client::new();
    for env in envs_with(|c| c.external.webhook_attempts = 2).await {
        let n = env.name;
        rx.got.lock().unwrap().clear();
        *rx.fail.lock().unwrap() = true;
        let w = world(&env, json!({"webhook_url": url})).await;
        let mut c = Client::new(&env);
        let r = post(
            &mut c,
            "json",
            &[
                ("api_key", &w.key),
                ("service_code", "G0502"),
                ("address_id", &w.grid),
                ("description", "井盖缺失"),
            ],
        )
        .await;
        let id: i64 = r.body[0]["service_request_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        // a case of the other town is not this system's business
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        admin
            .json(
                "POST",
                "/api/v1/cases",
                json!({"client_id": "other-town-0002", "channel": "hotline",
            "unit_code": w.other_grid, "description": "银涂的井盖"}),
            )
            .await;

        // two failed attempts (30 s apart) make a dead letter
        let deliveries = format!("/api/v1/external-systems/{}/deliveries", w.system_id);
        wangge_server::cases::notify::outbox_round(&env.state, &http)
            .await
            .unwrap();
        env.clock.advance_ms(30_000);
        wangge_server::cases::notify::outbox_round(&env.state, &http)
            .await
            .unwrap();
        let r = admin.get(&format!("{deliveries}?dead=true")).await;
        let dead = r.body["items"].as_array().unwrap();
        assert_eq!(dead.len(), 1, "{n}: {}", r.text);
        assert_eq!(dead[0]["attempts"], json!(2));
        assert!(dead[0]["last_error"].as_str().unwrap().contains("500"));
        assert_eq!(dead[0]["payload"]["event"], "case.created");
        assert_eq!(
            dead[0]["payload"]["case"]["id"],
            json!(id),
            "{n}: the store filled in the id"
        );
        assert!(dead[0]["payload"]["case"]["number"].as_str().unwrap().len() > 8);

        // resend after the receiver is back; delivered signed
        *rx.fail.lock().unwrap() = false;
        let r = admin
            .send(
                "POST",
                &format!("/api/v1/outbox/{}/retry", dead[0]["id"]),
                None,
                vec![],
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{n}: {}", r.text);
        wangge_server::cases::notify::outbox_round(&env.state, &http)
            .await
            .unwrap();
        let got = rx.got.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{n}");
        let (h, body) = &got[0];
        let ts: i64 = h["x-wangge-timestamp"].to_str().unwrap().parse().unwrap();
        let sig = h["x-wangge-signature"].to_str().unwrap();
        assert!(
            verify(&w.webhook_secret, ts, body, sig),
            "{n}: the signature verifies"
        );
        assert_eq!(sig, sign(&w.webhook_secret, ts, body));
        assert_eq!(h["x-wangge-event"], "case.created");
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(payload["system"], "city-app");
        assert_eq!(payload["case"]["status"], "open");
        assert!(iso(&payload["occurred_at"]));
        let r = admin.get(&deliveries).await;
        assert!(
            r.body["items"][0]["delivered_at"].is_i64(),
            "{n}: {}",
            r.text
        );

        // a state change is queued; a restarted server (new state over the same database)
        // delivers it
        let v = admin.get(&format!("/api/v1/cases/{id}")).await.body["version"].clone();
        let r = admin
            .json(
                "POST",
                &format!("/api/v1/cases/{id}/actions/accept"),
                json!({"version": v}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let restarted = AppState::new(
            env.state.store.clone(),
            (*env.state.config).clone(),
            env.clock.clone(),
        );
        wangge_server::cases::notify::outbox_round(&restarted, &http)
            .await
            .unwrap();
        let got = rx.got.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "{n}");
        let payload: Value = serde_json::from_slice(&got[1].1).unwrap();
        assert_eq!(payload["event"], "case.state_changed");
        assert_eq!(payload["case"]["state"], "accepted");
        assert_eq!(payload["case"]["id"], json!(id));
        assert!(
            got.iter()
                .all(|(_, b)| !String::from_utf8_lossy(b).contains("银涂的井盖")),
            "{n}: only its territory"
        );

        // a system without the event does not get it
        let r = admin
            .json(
                "PATCH",
                &format!("/api/v1/external-systems/{}", w.system_id),
                json!({"webhook_events": ["case.created"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        let v = admin.get(&format!("/api/v1/cases/{id}")).await.body["version"].clone();
        admin
            .json(
                "POST",
                &format!("/api/v1/cases/{id}/actions/file"),
                json!({"version": v}),
            )
            .await;
        wangge_server::cases::notify::outbox_round(&env.state, &http)
            .await
            .unwrap();
        assert_eq!(rx.got.lock().unwrap().len(), 2, "{n}");
    }
}

fn signed(secret: &str, ts: i64, body: &Value) -> (Vec<u8>, String) {
    let bytes = body.to_string().into_bytes();
    let sig = sign(secret, ts, &bytes);
    (bytes, sig)
}

async fn send_event(
    c: &mut Client<'_>,
    source: &str,
    ts: Option<i64>,
    sig: Option<&str>,
    body: Vec<u8>,
) -> Resp {
    let ts = ts.map(|t| t.to_string());
    let mut headers = vec![];
    if let Some(t) = &ts {
        headers.push(("x-wangge-timestamp", t.as_str()));
    }
    if let Some(s) = sig {
        headers.push(("x-wangge-signature", s));
    }
    c.send_with(
        "POST",
        &format!("/api/v1/ingest/{source}"),
        Some("application/json"),
        &headers,
        body,
    )
    .await
}

#[tokio::test]
async fn device_events_are_verified_mapped_by_rules_and_deduplicated() {
    for env in envs().await {
        let n = env.name;
        let rules = json!([
            {"field": "type", "op": "eq", "value": "smoke", "category": "G0502", "urgent": true},
            {"field": "data.level", "op": "gte", "value": "3", "category": "G0503"},
        ]);
        let w = world(&env, json!({"rules": rules})).await;
        let mut c = Client::new(&env);
        let now = env.clock.now_ms() / 1000;
        let event = json!({"event_id": "evt-1", "type": "smoke", "lat": 33.005, "lng": 119.005, "data": {"level": 5}});
        let (body, sig) = signed(&w.ingest_secret, now, &event);
        let r = send_event(&mut c, "city-app", Some(now), Some(&sig), body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        assert_eq!(r.body["category"], "G0502");
        assert_eq!(r.body["rule"], json!(1));
        assert_eq!(r.body["created"], json!(true));
        let case_id = r.body["case_id"].as_i64().unwrap();
        // the same event again (a retry): the same case, nothing new
        let r = send_event(&mut c, "city-app", Some(now), Some(&sig), body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{n}: {}", r.text);
        assert_eq!(r.body["case_id"], json!(case_id));
        assert_eq!(r.body["created"], json!(false));
        let mut admin = Client::new(&env);
        admin.login("admin", ADMIN_PW).await;
        let r = admin.get(&format!("/api/v1/cases/{case_id}")).await;
        assert_eq!(r.body["urgent"], json!(true), "{n}: {}", r.text);
        assert_eq!(r.body["channel"], "city_app");
        assert!(r.body["description"].as_str().unwrap().contains("smoke"));

        // the second rule, then no rule: a case without a category for the centre to classify
        let (b2, s2) = signed(
            &w.ingest_secret,
            now,
            &json!({"event_id": 42, "type": "water", "unit_code": w.grid, "data": {"level": "3"}}),
        );
        let r = send_event(&mut c, "city-app", Some(now), Some(&s2), b2).await;
        assert_eq!(
            (r.body["category"].clone(), r.body["rule"].clone()),
            (json!("G0503"), json!(2)),
            "{n}: {}",
            r.text
        );
        let (b3, s3) = signed(
            &w.ingest_secret,
            now,
            &json!({"event_id": "evt-3", "type": "noise", "description": "夜间噪音超标", "unit_code": w.grid}),
        );
        let r = send_event(&mut c, "city-app", Some(now), Some(&s3), b3).await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text);
        assert!(r.body["category"].is_null() && r.body["rule"].is_null());

        // refusals
        let wrong = sign("whsec_wrong", now, &body);
        for (what, ts, sig, status, code_) in [
            ("no signature", Some(now), None, 401, "invalid_signature"),
            (
                "no timestamp",
                None,
                Some(sig.as_str()),
                401,
                "invalid_signature",
            ),
            (
                "wrong secret",
                Some(now),
                Some(wrong.as_str()),
                401,
                "invalid_signature",
            ),
            (
                "another timestamp",
                Some(now + 1),
                Some(sig.as_str()),
                401,
                "invalid_signature",
            ),
        ] {
            let r = send_event(&mut c, "city-app", ts, sig, body.clone()).await;
            assert_eq!(
                (r.status.as_u16(), code(&r)),
                (status, code_),
                "{n} {what}: {}",
                r.text
            );
        }
        let stale = now - 301;
        let (b, s) = signed(&w.ingest_secret, stale, &event);
        let r = send_event(&mut c, "city-app", Some(stale), Some(&s), b).await;
        assert_eq!(
            code(&r),
            "invalid_signature",
            "{n}: a replay after five minutes"
        );
        let (b, s) = signed(&w.ingest_secret, now, &event);
        assert_eq!(
            code(&send_event(&mut c, "nobody", Some(now), Some(&s), b).await),
            "external_system_not_found"
        );
        let raw = b"not json".to_vec();
        let s = sign(&w.ingest_secret, now, &raw);
        assert_eq!(
            code(&send_event(&mut c, "city-app", Some(now), Some(&s), raw).await),
            "malformed_json",
            "{n}"
        );
        for (bad, field) in [
            (json!({"type": "smoke", "unit_code": w.grid}), "event_id"),
            (json!({"event_id": "e9", "lat": "north", "lng": 1}), "lat"),
        ] {
            let (b, s) = signed(&w.ingest_secret, now, &bad);
            let r = send_event(&mut c, "city-app", Some(now), Some(&s), b).await;
            assert_eq!(r.body["details"]["field"], field, "{n}: {}", r.text);
        }
        let (b, s) = signed(
            &w.ingest_secret,
            now,
            &json!({"event_id": "e10", "unit_code": w.other_grid}),
        );
        assert_eq!(
            code(&send_event(&mut c, "city-app", Some(now), Some(&s), b).await),
            "outside_territory",
            "{n}"
        );

        // every event audited
        let entries = env
            .state
            .store
            .audit_search(&wangge_store::AuditFilter {
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        let events = entries
            .iter()
            .filter(|e| e.action == "ingest.event")
            .count();
        assert_eq!(events, 13, "{n}: every call but the unknown source");
    }
}
