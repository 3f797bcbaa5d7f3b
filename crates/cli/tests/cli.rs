//! The `wangge` binary as an operator uses it: import with its exit codes and report, and
//! `check` finding a tampered audit entry, `backup` and `restore` (tests/cli/backup.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[path = "cli/backup.rs"]
mod backup;

fn wangge(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wangge"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("WANGGE_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn import_check_and_tamper_detection() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let good = tmp.path().join("good.csv");
    std::fs::write(&good, "code,name,parent_code,level\n32,江苏省,,province\n3208,淮安市,32,city\n320831,金湖县,3208,county\n").unwrap();
    let o = wangge(&dir, &["import", "units", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Imported 3 units"), "{}", text(&o));

    let bad = tmp.path().join("bad.csv");
    let report = tmp.path().join("report.csv");
    std::fs::write(&bad, "code,name,parent_code,level\n320831001,黎城街道,320831,town\n320831009001,孤儿,320831009,village\n").unwrap();
    let o = wangge(
        &dir,
        &[
            "import",
            "units",
            bad.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("row 3: unknown_parent"), "{}", text(&o));
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("3,320831009001,unknown_parent")
    );

    let o = wangge(
        &dir,
        &[
            "import",
            "units",
            tmp.path().join("missing.csv").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = wangge(
        &dir,
        &[
            "import",
            "units",
            good.with_extension("txt").to_str().unwrap(),
        ],
    );
    assert!(text(&o).contains(".csv or .xlsx"), "{}", text(&o));

    let o = wangge(&dir, &["check"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("audit chain OK: 1 entries"),
        "{}",
        text(&o)
    );

    // Tamper with the first entry behind the platform's back (dropping the append-only guard).
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.join("wangge.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let err = sqlx::query("UPDATE audit_log SET actor_name = 'mallory'")
        .execute(&mut conn)
        .await;
    assert!(err.is_err(), "the audit log refuses updates");
    sqlx::raw_sql("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let o = wangge(&dir, &["check"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("BROKEN at entry 1"), "{}", text(&o));
}

#[test]
fn reset_password_prints_a_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let o = wangge(tmp.path(), &["user", "reset-password", "nobody"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no user named nobody"));
}

#[tokio::test]
async fn remote_import_through_a_running_server() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .arg("--data-dir")
        .arg(&dir)
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-password",
            "Admin#2026",
            "--cases",
            "0",
        ])
        .env_remove("WANGGE_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(rest) = line.split("at http://").nth(1) {
            break rest.trim_end_matches('/').to_string();
        }
    };
    // a token for operator.town (center operator of 黎城街道 320831001), written as the API would
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.join("wangge.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let token = "wgt_cli_test_token_0123456789abcdef";
    sqlx::query(
        "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at, expires_at) \
         SELECT id, 'cli', 'wgt_cli_', $1, 0, 9999999999999 FROM users WHERE username = 'operator.town'",
    )
    .bind(wangge_server::auth::sha256_hex(token))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let server_url = format!("http://{addr}");
    let run = |file: &std::path::Path, report: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args([
                "import",
                "units",
                file.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ])
            .args(["--server", &server_url, "--token", token])
            .output()
            .unwrap()
    };
    let report = tmp.path().join("report.csv");
    let inside = tmp.path().join("inside.csv");
    std::fs::write(
        &inside,
        "code,name,parent_code,level\n320831001901,工业园区社区,320831001,village\n",
    )
    .unwrap();
    let o = run(&inside, &report);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Imported 1 units"), "{}", text(&o));

    // outside the operator's scope: rejected whole, with the report downloaded
    let outside = tmp.path().join("outside.csv");
    std::fs::write(
        &outside,
        "code,name,parent_code,level\n320831100901,越界社区,320831100,village\n",
    )
    .unwrap();
    let o = run(&outside, &report);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("320831100901,unknown_parent")
    );

    let bad_token = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args([
            "import",
            "units",
            inside.to_str().unwrap(),
            "--server",
            &server_url,
            "--token",
            "wgt_nope",
        ])
        .output()
        .unwrap();
    assert!(
        text(&bad_token).contains("401 unauthenticated"),
        "{}",
        text(&bad_token)
    );
    server.kill().unwrap();
    let _ = server.wait();
}

#[test]
fn boundary_import_from_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let units = tmp.path().join("units.csv");
    std::fs::write(&units, "code,name,parent_code,level\n32,江苏省,,province\n3208,淮安市,32,city\n320831,金湖县,3208,county\n320831001,黎城街道,320831,town\n320831100,银涂镇,320831,town\n").unwrap();
    assert!(
        wangge(&dir, &["import", "units", units.to_str().unwrap()])
            .status
            .success()
    );
    let square = |w: f64, e: f64| serde_json::json!({"type": "Polygon", "coordinates": [[[w, 33.0], [e, 33.0], [e, 33.1], [w, 33.1], [w, 33.0]]]});
    let file = |features: Vec<(&str, serde_json::Value)>| {
        let f: Vec<_> = features.into_iter().map(|(c, g)| serde_json::json!({"type": "Feature", "properties": {"编码": c}, "geometry": g})).collect();
        serde_json::json!({"type": "FeatureCollection", "features": f}).to_string()
    };
    let path = tmp.path().join("b.geojson");
    let report = tmp.path().join("r.json");
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import",
            "boundaries",
            path.to_str().unwrap(),
            "--code-field",
            "编码",
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        wangge(&dir, &args)
    };
    // an unknown code refuses the whole file, with the report written
    std::fs::write(
        &path,
        file(vec![
            ("320831001", square(119.0, 119.1)),
            ("320831999", square(119.1, 119.2)),
        ]),
    )
    .unwrap();
    let o = import(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("feature #2 (code 320831999)"),
        "{}",
        text(&o)
    );
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("unknown_code")
    );
    // overlapping towns are a warning to accept
    std::fs::write(
        &path,
        file(vec![
            ("320831001", square(119.0, 119.1)),
            ("320831100", square(119.05, 119.2)),
        ]),
    )
    .unwrap();
    let o = import(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("topology_warnings"), "{}", text(&o));
    let o = import(&["--accept-warnings"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Imported the boundaries of 2 units"),
        "{}",
        text(&o)
    );
}
