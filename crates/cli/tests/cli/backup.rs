//! `wangge backup` while writes go on, `wangge restore` into a fresh target, and every table
//! compared; restore refusing a non-empty target, a damaged backup and a newer schema, leaving
//! the target as it was. SQLite always; PostgreSQL when `WANGGE_TEST_DATABASE_URL` is set.

use crate::text;
use sha2::Digest;
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use wangge_domain::audit::Actor;
use wangge_domain::clock::SystemClock;
use wangge_domain::roles::Scope;
use wangge_domain::territory::Levels;
use wangge_store::backup::{Backend, table_dump};
use wangge_store::{CalendarDay, NewMedia, NewSession, NewToken, NewUnit, Store};

/// A data directory and, on PostgreSQL, a schema of its own.
struct Target {
    dir: PathBuf,
    pg: Option<String>,
}

impl Target {
    async fn new(root: &Path, name: &str, pg_base: Option<&str>) -> Target {
        let pg = match pg_base {
            Some(base) => Some(
                wangge_store::testing::fresh_pg_schema(base, "bkp")
                    .await
                    .unwrap(),
            ),
            None => None,
        };
        Target {
            dir: root.join(name),
            pg,
        }
    }

    fn url(&self) -> String {
        self.pg
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.dir.join("wangge.db").display()))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wangge"));
        c.arg("--data-dir").arg(&self.dir);
        if let Some(url) = &self.pg {
            c.arg("--database-url").arg(url);
        }
        c.args(args).env_remove("WANGGE_DATABASE_URL");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    async fn store(&self) -> Arc<dyn Store> {
        wangge_store::open(&self.url(), Arc::new(SystemClock))
            .await
            .unwrap()
    }

    /// Every table as canonical rows.
    async fn dump(&self) -> BTreeMap<String, Vec<String>> {
        table_dump(&self.url()).await.unwrap()
    }

    /// Media files (relative path → bytes).
    fn media(&self) -> BTreeMap<String, Vec<u8>> {
        fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().to_string();
                let r = format!("{rel}/{name}");
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path(), &r, out);
                } else {
                    out.insert(r, std::fs::read(e.path()).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.dir.join("media"), "", &mut out);
        out
    }

    /// Whether the target has no database content at all (no file / no table).
    async fn is_blank(&self) -> bool {
        match &self.pg {
            None => !self.dir.join("wangge.db").exists(),
            Some(url) => wangge_store::backup::pg_contents(url)
                .await
                .unwrap()
                .1
                .tables
                .is_empty(),
        }
    }
}

/// Seeds through the real paths: `wangge demo` (territory, boundaries, teams, users, departments,
/// cases made by the case engine), stopped once it serves; then, through the Store API, rows in
/// the tables the demo leaves empty, and two media files.
async fn seed(src: &Target) {
    let mut server = src
        .command(&[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--admin-password",
            "Admin#2026",
            "--cases",
            "12",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the demo started").unwrap();
        if line.contains("at http://") {
            break;
        }
    }
    server.kill().unwrap();
    let _ = server.wait();

    let store = src.store().await;
    let actor = Actor::system("seed");
    let (admin, _) = store.user_credentials("admin").await.unwrap().unwrap();
    store.login_failure_add("nobody", 5, 60_000).await.unwrap();
    store
        .session_create(&NewSession {
            id_hash: "session-hash".into(),
            user_id: admin.id,
            csrf_token: "csrf".into(),
            ip: "127.0.0.1".into(),
        })
        .await
        .unwrap();
    store
        .token_create(
            &actor,
            &NewToken {
                user_id: admin.id,
                name: "备份测试".into(),
                prefix: "wgt_bk".into(),
                hash: "token-hash".into(),
                expires_at: 9_999_999_999_999,
            },
        )
        .await
        .unwrap();
    store
        .import_report_save("report-1", Some(admin.id), "row,error\n2,unknown_parent\n")
        .await
        .unwrap();
    store
        .topology_report_save("topo-1", None, "{\"problems\":[]}", "{}")
        .await
        .unwrap();
    let photo: Vec<u8> = (0..=255u8).chain(0..=255u8).collect(); // every byte value
    store
        .user_photo_set(&actor, admin.id, "image/png", &photo)
        .await
        .unwrap();
    store
        .calendar_set(
            &actor,
            &[
                CalendarDay {
                    day: "2027-01-01".into(),
                    kind: "holiday".into(),
                    note: "元旦".into(),
                },
                CalendarDay {
                    day: "2027-02-07".into(),
                    kind: "workday".into(),
                    note: "春节调休 'quoted' \"both\"\n".into(),
                },
            ],
        )
        .await
        .unwrap();
    for content in [&b"\x89PNG first photo"[..], &b"\x89PNG second photo"[..]] {
        let sha = hex::encode(sha2::Sha256::digest(content));
        let rel = format!("{}/{}/{sha}.png", &sha[..2], &sha[2..4]);
        let path = src.dir.join("media").join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        store
            .media_put(
                &actor,
                &NewMedia {
                    sha256: sha,
                    content_type: "image/png".into(),
                    size: content.len() as i64,
                    path: rel,
                },
            )
            .await
            .unwrap();
    }
    store.close().await;
}

/// A copy of the archive with every entry passed through `f` (valid zip, valid CRCs).
fn rewrite_archive(from: &Path, to: &Path, f: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut a = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..a.len() {
        let mut e = a.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        let mut bytes = vec![];
        e.read_to_end(&mut bytes).unwrap();
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&f(&name, bytes)).unwrap();
    }
    w.finish().unwrap();
}

/// Units created by the writer and their audit entries, as the Store sees them.
async fn writer_rows(t: &Target) -> (usize, usize) {
    let store = t.store().await;
    let units = store
        .unit_search(&Scope::All, "写入测试社区", 100_000)
        .await
        .unwrap()
        .len();
    let mut audits = 0;
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 5000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        audits += page
            .iter()
            .filter(|e| e.actor_name == "writer" && e.action == "unit.create")
            .count();
    }
    store.close().await;
    (units, audits)
}

async fn round_trip(pg_base: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let src = Target::new(tmp.path(), "src", pg_base).await;
    seed(&src).await;
    let file = tmp.path().join("backup.zip");

    // a writer extends the audit chain (and the units) while the backup runs
    let store = src.store().await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, done) = (stop.clone(), done.clone());
        tokio::spawn(async move {
            let levels = Levels::default_levels();
            let actor = Actor::system("writer");
            // up to 8 towns × 500 codes: more than any backup here takes
            let towns = [
                "320831001",
                "320831002",
                "320831003",
                "320831100",
                "320831101",
                "320831102",
                "320831103",
                "320831104",
            ];
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) && i < 4000 {
                let town = towns[i % towns.len()];
                store
                    .unit_create(
                        &Scope::All,
                        &actor,
                        &levels,
                        &NewUnit {
                            code: format!("{town}{}", 500 + i / towns.len()),
                            name: format!("写入测试社区{i}"),
                            level: "village".into(),
                            parent_code: Some(town.into()),
                            kind: Some("community".into()),
                            valid_from: None,
                        },
                    )
                    .await
                    .unwrap();
                i += 1;
                done.store(i, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            store.close().await;
            i
        })
    };
    while done.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = done.load(Ordering::SeqCst);
    let o = tokio::process::Command::from(src.command(&["backup", file.to_str().unwrap()]))
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Backup written to"), "{}", text(&o));
    let after = done.load(Ordering::SeqCst);
    while done.load(Ordering::SeqCst) < after + 5 && !writer.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.unwrap();
    // no temporary file is left next to the backup
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".backup.zip")),
        "{names:?}"
    );

    // restore into a fresh target; the audit chain verifies there
    let dst = Target::new(tmp.path(), "dst", pg_base).await;
    let o = dst.run(&["restore", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit chain OK"), "{}", text(&o));
    let o = dst.run(&["check"]);
    assert!(o.status.success(), "{}", text(&o));

    // every table: the restored rows are the source's as of one instant
    let src_dump = src.dump().await;
    let dst_dump = dst.dump().await;
    assert_eq!(
        src_dump.keys().collect::<Vec<_>>(),
        dst_dump.keys().collect::<Vec<_>>()
    );
    assert!(dst_dump.len() >= 27, "{:?}", dst_dump.keys());
    for table in [
        "audit_log",
        "boundaries",
        "calendar_days",
        "cases",
        "case_events",
        "media",
        "sessions",
        "api_tokens",
        "login_failures",
        "import_reports",
        "topology_reports",
        "user_photos",
        "team_assignments",
        "notifications",
    ] {
        assert!(!dst_dump[table].is_empty(), "{table} has rows");
    }
    for (table, rows) in &dst_dump {
        let source = &src_dump[table];
        if matches!(table.as_str(), "audit_log" | "units" | "unit_history") {
            // written during the backup: the restored rows are a prefix of the source's
            assert!(rows.len() <= source.len(), "{table}");
            assert_eq!(rows[..], source[..rows.len()], "{table}");
        } else {
            assert_eq!(rows, source, "{table}");
        }
    }
    let (units, audits) = writer_rows(&dst).await;
    eprintln!(
        "writer: {before} units before the backup, {after} when it ended, {written} in all; {units} restored"
    );
    assert_eq!(
        units, audits,
        "each restored unit comes with its audit entry"
    );
    assert!(
        units >= before,
        "writes done before the backup are in it ({units} < {before})"
    );
    assert!(
        units <= after,
        "writes after the backup are not ({units} > {after})"
    );
    assert!(units < written, "the writer went on after the backup");
    assert_eq!(src.media(), dst.media());
    assert_eq!(dst.media().len(), 2);

    // a target with data is refused, and left as it was
    let o = dst.run(&["restore", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already holds data"), "{}", text(&o));
    assert!(text(&o).contains("目标数据库已有数据"), "{}", text(&o));
    assert_eq!(dst.dump().await, dst_dump);

    // a flipped byte in the database part: refused, nothing changed (fresh or --force target)
    let db_part = match Backend::of_url(&src.url()).unwrap() {
        Backend::Sqlite => "database.sqlite",
        Backend::Postgres => "database.pgdump",
    };
    let flipped = tmp.path().join("flipped.zip");
    std::fs::copy(&file, &flipped).unwrap();
    let offset = {
        let mut a = zip::ZipArchive::new(std::fs::File::open(&flipped).unwrap()).unwrap();
        let e = a.by_name(db_part).unwrap();
        e.data_start().unwrap() + e.compressed_size() / 2
    };
    let mut bytes = std::fs::read(&flipped).unwrap();
    bytes[offset as usize] ^= 0x20;
    std::fs::write(&flipped, bytes).unwrap();
    // a valid zip whose media file no longer matches the manifest's SHA-256
    let swapped = tmp.path().join("swapped.zip");
    rewrite_archive(&file, &swapped, |name, mut b| {
        if name.starts_with("media/") {
            b.push(b'!');
        }
        b
    });
    let fresh = Target::new(tmp.path(), "fresh", pg_base).await;
    for bad in [&flipped, &swapped] {
        let o = fresh.run(&["restore", bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(text(&o).contains("is damaged"), "{}", text(&o));
        assert!(text(&o).contains("已损坏"), "{}", text(&o));
        assert!(fresh.is_blank().await, "nothing restored from {bad:?}");
        assert!(fresh.media().is_empty());
        let o = dst.run(&["restore", "--force", bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert_eq!(dst.dump().await, dst_dump);
    }
    let o = fresh.run(&["restore", swapped.to_str().unwrap()]);
    assert!(
        text(&o).contains("does not match its checksum"),
        "{}",
        text(&o)
    );

    // a backup from a newer schema is refused
    let newer = tmp.path().join("newer.zip");
    rewrite_archive(&file, &newer, |name, b| {
        if name == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&b).unwrap();
            m["schema_version"] = 99.into();
            serde_json::to_vec(&m).unwrap()
        } else {
            b
        }
    });
    let o = fresh.run(&["restore", newer.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        text(&o).contains("schema version 99 is newer"),
        "{}",
        text(&o)
    );
    assert!(fresh.is_blank().await);

    // --force replaces what the target holds, all of it
    let store = dst.store().await;
    store
        .unit_create(
            &Scope::All,
            &Actor::system("later"),
            &Levels::default_levels(),
            &NewUnit {
                code: "320831001499".into(),
                name: "后来的社区".into(),
                level: "village".into(),
                parent_code: Some("320831001".into()),
                kind: None,
                valid_from: None,
            },
        )
        .await
        .unwrap();
    store.close().await;
    assert_ne!(dst.dump().await, dst_dump);
    let o = dst.run(&["restore", "--force", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Replaced the data"), "{}", text(&o));
    assert_eq!(dst.dump().await, dst_dump);
    assert!(dst.run(&["check"]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_and_restore_on_sqlite() {
    round_trip(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_and_restore_on_postgres() {
    match std::env::var("WANGGE_TEST_DATABASE_URL") {
        Ok(base) => round_trip(Some(&base)).await,
        Err(_) => eprintln!("WANGGE_TEST_DATABASE_URL is not set: PostgreSQL round trip skipped"),
    }
}
