//! The storage conformance suite: every test runs against SQLite, and against PostgreSQL when
//! `WANGGE_TEST_DATABASE_URL` is set (each test in a schema of its own).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use wangge_domain::audit::{Actor, AuditEvent, ChainVerifier};
use wangge_domain::clock::{Clock, ManualClock};
use wangge_domain::import::ImportRow;
use wangge_domain::roles::{GrantScope, Permission, Role, Scope};
use wangge_domain::territory::{Level, Levels};
use wangge_store::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

struct Db {
    name: &'static str,
    /// For the few checks that must reach under the store.
    url: String,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, empty store on every configured backend.
async fn backends() -> Vec<Db> {
    let mut out = Vec::new();
    let clock = Arc::new(ManualClock::new(T0));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = wangge_store::open(&url, clock.clone()).await.unwrap();
    out.push(Db {
        name: "sqlite",
        url,
        store,
        clock,
        _dir: Some(dir),
    });
    if let Ok(base) = std::env::var("WANGGE_TEST_DATABASE_URL") {
        let url = wangge_store::testing::fresh_pg_schema(&base, "conf")
            .await
            .unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let store = wangge_store::open(&url, clock.clone()).await.unwrap();
        out.push(Db {
            name: "postgres",
            url,
            store,
            clock,
            _dir: None,
        });
    }
    out
}

fn admin() -> Actor {
    Actor {
        user_id: None,
        name: "test".into(),
        ip: "127.0.0.1".into(),
    }
}

fn row(code: &str, name: &str, parent: &str, level: &str) -> ImportRow {
    ImportRow {
        row: 0,
        code: code.into(),
        name: name.into(),
        parent_code: parent.into(),
        level: level.into(),
        kind: None,
        valid_from: Some("2024-01-01".into()),
    }
}

/// 金湖县 with two towns, each with two villages, and a grid in the first village.
async fn seed_tree(s: &dyn Store) {
    let rows = vec![
        row("32", "江苏省", "", "province"),
        row("3208", "淮安市", "32", "city"),
        row("320831", "金湖县", "3208", "county"),
        row("320831001", "黎城街道", "320831", "town"),
        row("320831001001", "城南社区", "320831001", "village"),
        row("320831001002", "城北社区", "320831001", "village"),
        row(
            "320831001001001",
            "城南社区第一网格",
            "320831001001",
            "grid",
        ),
        row("320831100", "银涂镇", "320831", "town"),
        row("320831100001", "银涂社区", "320831100", "village"),
        row("320831100201", "高邮湖村", "320831100", "village"),
    ];
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.row = i as u64 + 2;
            r
        })
        .collect();
    s.unit_import(
        &Scope::All,
        &admin(),
        &Levels::default_levels(),
        rows,
        &|_| {},
    )
    .await
    .unwrap();
}

fn new_unit(code: &str, name: &str, parent: &str, level: &str) -> NewUnit {
    NewUnit {
        code: code.into(),
        name: name.into(),
        level: level.into(),
        parent_code: Some(parent.into()),
        kind: None,
        valid_from: Some("2026-01-01".into()),
    }
}

fn code_of(e: StoreError) -> String {
    match e {
        StoreError::Rejected { code, .. } => code.to_string(),
        StoreError::Domain(d) => d.code().to_string(),
        StoreError::NotFound(k) => format!("not_found:{k}"),
        other => format!("{other:?}"),
    }
}

async fn verify_chain(s: &dyn Store) -> u64 {
    let mut v = ChainVerifier::default();
    for e in s.audit_page(0, 100_000).await.unwrap() {
        v.check(&e).unwrap();
    }
    v.checked
}

#[tokio::test]
async fn territory_tree_reads() {
    for db in backends().await {
        let s = db.store.as_ref();
        seed_tree(s).await;
        let n = db.name;
        let roots = s.unit_roots(&Scope::All).await.unwrap();
        assert_eq!(
            roots.iter().map(|u| u.code.as_str()).collect::<Vec<_>>(),
            ["32"],
            "{n}"
        );
        let kids = s.unit_children(&Scope::All, "320831", false).await.unwrap();
        assert_eq!(
            kids.iter().map(|u| u.code.as_str()).collect::<Vec<_>>(),
            ["320831001", "320831100"],
            "{n}"
        );
        assert_eq!(kids[0].child_count, 2, "{n}");
        let (u, anc) = s.unit_get(&Scope::All, "320831001001001").await.unwrap();
        assert_eq!(u.parent_code.as_deref(), Some("320831001001"), "{n}");
        assert_eq!(
            anc.iter().map(|a| a.code.as_str()).collect::<Vec<_>>(),
            ["32", "3208", "320831", "320831001", "320831001001"],
            "{n}"
        );
        let hits = s.unit_search(&Scope::All, "城南", 10).await.unwrap();
        assert_eq!(hits.len(), 2, "{n}");
        assert_eq!(
            hits[0].unit.code, "320831001001",
            "{n}: shorter codes first"
        );
        assert_eq!(hits[0].parent_name.as_deref(), Some("黎城街道"), "{n}");
        let by_code = s.unit_search(&Scope::All, "3208311", 10).await.unwrap();
        assert_eq!(by_code.len(), 3, "{n}: code prefix");
        assert!(
            s.unit_search(&Scope::All, "%", 10)
                .await
                .unwrap()
                .is_empty(),
            "{n}: wildcards are literal"
        );
        assert_eq!(s.unit_count().await.unwrap(), 10, "{n}");
        assert!(
            matches!(
                s.unit_get(&Scope::All, "99").await,
                Err(StoreError::NotFound("unit"))
            ),
            "{n}"
        );
    }
}

#[tokio::test]
async fn territory_writes_follow_the_rules() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        let levels = Levels::default_levels();
        let a = admin();
        let g = s
            .unit_create(
                &Scope::All,
                &a,
                &levels,
                &new_unit("320831001001002", "第二网格", "320831001001", "grid"),
            )
            .await
            .unwrap();
        assert_eq!(g.parent_code.as_deref(), Some("320831001001"), "{n}");

        let cases = [
            (
                new_unit("320831001001002", "重复", "320831001001", "grid"),
                "duplicate_code",
            ),
            (
                new_unit("320831009001001", "孤儿", "320831009001", "grid"),
                "unknown_parent",
            ),
            (
                new_unit("32083100100100", "短码", "320831001001", "grid"),
                "bad_code_format",
            ),
            (
                new_unit("320831100001003", "错前缀", "320831001001", "grid"),
                "bad_code_format",
            ),
            (
                new_unit("320831001001", "错层级", "320831001001", "town"),
                "level_out_of_order",
            ),
            (
                new_unit("320831001001009", "", "320831001001", "grid"),
                "validation_failed",
            ),
            (
                new_unit("320831001001009", "未知", "320831001001", "hamlet"),
                "unknown_level",
            ),
        ];
        for (u, want) in cases {
            let e = s
                .unit_create(&Scope::All, &a, &levels, &u)
                .await
                .unwrap_err();
            assert_eq!(code_of(e), want, "{n}: {}", u.name);
        }

        let r = s
            .unit_update(
                &Scope::All,
                &a,
                "320831001001002",
                &UnitPatch {
                    name: Some("城南第二网格".into()),
                    kind: Some("basic".into()),
                    ..UnitPatch::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (r.name.as_str(), r.kind.as_deref()),
            ("城南第二网格", Some("basic")),
            "{n}"
        );

        // retire: only leaves, never twice, and retired units take no children
        let e = s
            .unit_retire(&Scope::All, &a, "320831001001", "2026-06-30")
            .await
            .unwrap_err();
        assert_eq!(code_of(e), "unit_has_children", "{n}");
        let r = s
            .unit_retire(&Scope::All, &a, "320831001001002", "2026-06-30")
            .await
            .unwrap();
        assert!(
            r.retired && r.valid_to.as_deref() == Some("2026-06-30"),
            "{n}"
        );
        assert_eq!(
            code_of(
                s.unit_retire(&Scope::All, &a, "320831001001002", "2026-06-30")
                    .await
                    .unwrap_err()
            ),
            "unit_retired",
            "{n}"
        );
        let kids = s
            .unit_children(&Scope::All, "320831001001", false)
            .await
            .unwrap();
        assert_eq!(kids.len(), 1, "{n}: retired hidden");
        assert_eq!(
            s.unit_children(&Scope::All, "320831001001", true)
                .await
                .unwrap()
                .len(),
            2,
            "{n}"
        );
        let e = s
            .unit_create(
                &Scope::All,
                &a,
                &levels,
                &new_unit(
                    "32083100100100201",
                    "微网格",
                    "320831001001002",
                    "micro_grid",
                ),
            )
            .await
            .unwrap_err();
        assert_eq!(code_of(e), "unit_retired", "{n}");

        let h = s
            .unit_history(&Scope::All, "320831001001002")
            .await
            .unwrap();
        assert_eq!(
            h.iter().map(|c| c.action.as_str()).collect::<Vec<_>>(),
            ["create", "update", "retire"],
            "{n}"
        );
        assert_eq!(h[0].name, "第二网格", "{n}");
        assert_eq!(h[1].name, "城南第二网格", "{n}");
        assert!(verify_chain(s).await >= 4, "{n}");
    }
}

#[tokio::test]
async fn moving_a_subtree_rewrites_its_paths() {
    // a deployment with compounds (free codes) between villages and grids
    let mut v = Levels::default_levels().all().to_vec();
    v.insert(
        5,
        Level {
            key: "compound".into(),
            name_zh: "小区".into(),
            name_en: "Compound".into(),
            code_length: None,
            code_extends_parent: false,
            grid: false,
        },
    );
    let levels = Levels::new(v).unwrap();
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        let a = admin();
        s.unit_create(
            &Scope::All,
            &a,
            &levels,
            &new_unit("XQ-1", "荷花苑", "320831001001", "compound"),
        )
        .await
        .unwrap();
        let grid = NewUnit {
            code: "XQ-1-A".into(),
            name: "一区".into(),
            level: "compound".into(),
            parent_code: Some("XQ-1".into()),
            ..Default::default()
        };
        assert_eq!(
            code_of(
                s.unit_create(&Scope::All, &a, &levels, &grid)
                    .await
                    .unwrap_err()
            ),
            "level_out_of_order",
            "{n}"
        );

        let moved = s
            .unit_move(&Scope::All, &a, &levels, "XQ-1", "320831100001")
            .await
            .unwrap();
        assert_eq!(moved.parent_code.as_deref(), Some("320831100001"), "{n}");
        let (_, anc) = s.unit_get(&Scope::All, "XQ-1").await.unwrap();
        assert_eq!(anc.last().unwrap().code, "320831100001", "{n}");
        // the scope of the new town now covers it, the old one not
        let town_b = s.unit_get(&Scope::All, "320831100").await.unwrap().0.path;
        let town_a = s.unit_get(&Scope::All, "320831001").await.unwrap().0.path;
        assert!(
            s.unit_get(&Scope::Subtrees(vec![town_b]), "XQ-1")
                .await
                .is_ok(),
            "{n}"
        );
        assert!(
            s.unit_get(&Scope::Subtrees(vec![town_a]), "XQ-1")
                .await
                .is_err(),
            "{n}"
        );

        assert_eq!(
            code_of(
                s.unit_move(&Scope::All, &a, &levels, "320831100", "320831100001")
                    .await
                    .unwrap_err()
            ),
            "move_into_own_subtree",
            "{n}"
        );
        // official codes encode their parent: a village cannot move to another town
        assert_eq!(
            code_of(
                s.unit_move(&Scope::All, &a, &levels, "320831001002", "320831100")
                    .await
                    .unwrap_err()
            ),
            "bad_code_format",
            "{n}"
        );
    }
}

/// Every role × a unit inside and outside its grant × read and write.
#[tokio::test]
async fn scope_matrix_every_role_inside_and_outside() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        let levels = Levels::default_levels();
        let a = admin();
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA";
        for (i, role) in Role::ALL.into_iter().enumerate() {
            let user = s
                .user_create(
                    &a,
                    &NewUser {
                        username: format!("u{i}"),
                        display_name: role.key().into(),
                        password_hash: hash.into(),
                        phone: None,
                    },
                )
                .await
                .unwrap();
            // granted on town 黎城街道; 银涂镇 is outside
            s.grant_add(&Scope::All, &a, user.id, role, Some("320831001"))
                .await
                .unwrap();
            let grants: Vec<GrantScope> = s
                .grants_of(user.id)
                .await
                .unwrap()
                .into_iter()
                .map(|g| GrantScope {
                    role: g.role,
                    unit_path: g.unit_path,
                })
                .collect();
            let read = Scope::for_permission(&grants, Permission::TerritoryRead);
            let write = Scope::for_permission(&grants, Permission::TerritoryWrite);
            let actor = Actor {
                user_id: Some(user.id),
                name: user.username.clone(),
                ip: "127.0.0.1".into(),
            };
            let ctx = format!("{n}/{}", role.key());

            // read inside
            assert!(
                s.unit_get(&read, "320831001001").await.is_ok(),
                "{ctx}: read inside"
            );
            assert_eq!(
                s.unit_children(&read, "320831001", false)
                    .await
                    .unwrap()
                    .len(),
                2,
                "{ctx}"
            );
            assert_eq!(
                s.unit_roots(&read)
                    .await
                    .unwrap()
                    .iter()
                    .map(|u| u.code.clone())
                    .collect::<Vec<_>>(),
                ["320831001"],
                "{ctx}"
            );
            // read outside: invisible everywhere
            assert!(
                matches!(
                    s.unit_get(&read, "320831100001").await,
                    Err(StoreError::NotFound(_))
                ),
                "{ctx}: read outside"
            );
            assert!(
                matches!(
                    s.unit_get(&read, "320831").await,
                    Err(StoreError::NotFound(_))
                ),
                "{ctx}: parent outside"
            );
            assert!(
                s.unit_children(&read, "320831100", false).await.is_err(),
                "{ctx}"
            );
            assert!(
                s.unit_search(&read, "银涂", 10).await.unwrap().is_empty(),
                "{ctx}: search outside"
            );
            assert_eq!(
                s.unit_search(&read, "城", 10).await.unwrap().len(),
                4,
                "{ctx}: search inside"
            );
            assert!(
                s.unit_history(&read, "320831100001").await.is_err(),
                "{ctx}"
            );
            let (_, anc) = s.unit_get(&read, "320831001001001").await.unwrap();
            assert_eq!(
                anc.iter().map(|u| u.code.as_str()).collect::<Vec<_>>(),
                ["320831001", "320831001001"],
                "{ctx}: no ancestors above the grant"
            );

            // write inside: only roles with territory.write
            let code_in = format!("320831001001{:03}", 100 + i);
            let made = s
                .unit_create(
                    &write,
                    &actor,
                    &levels,
                    &new_unit(&code_in, "新网格", "320831001001", "grid"),
                )
                .await;
            assert_eq!(
                made.is_ok(),
                role.has(Permission::TerritoryWrite),
                "{ctx}: write inside"
            );
            let renamed = s
                .unit_update(
                    &write,
                    &actor,
                    "320831001002",
                    &UnitPatch {
                        name: Some(format!("城北社区{i}")),
                        ..UnitPatch::default()
                    },
                )
                .await;
            assert_eq!(
                renamed.is_ok(),
                role.has(Permission::TerritoryWrite),
                "{ctx}: rename inside"
            );
            // write outside: never
            let code_out = format!("320831100001{:03}", 100 + i);
            let e = s
                .unit_create(
                    &write,
                    &actor,
                    &levels,
                    &new_unit(&code_out, "越界网格", "320831100001", "grid"),
                )
                .await
                .unwrap_err();
            assert_eq!(code_of(e), "unknown_parent", "{ctx}: write outside");
            assert!(
                s.unit_update(
                    &write,
                    &actor,
                    "320831100001",
                    &UnitPatch {
                        name: Some("x".into()),
                        ..UnitPatch::default()
                    }
                )
                .await
                .is_err(),
                "{ctx}"
            );
            assert!(
                s.unit_retire(&write, &actor, "320831100201", "2026-01-01")
                    .await
                    .is_err(),
                "{ctx}"
            );
            assert!(
                s.unit_move(&write, &actor, &levels, "320831001001", "320831100")
                    .await
                    .is_err(),
                "{ctx}"
            );
            let e = s
                .unit_import(
                    &write,
                    &actor,
                    &levels,
                    vec![row(&code_out, "越界", "320831100001", "grid")],
                    &|_| {},
                )
                .await
                .unwrap_err();
            assert!(
                matches!(e, StoreError::ImportRejected(_)),
                "{ctx}: import outside"
            );
        }
        assert_eq!(
            s.unit_get(&Scope::All, "320831100001")
                .await
                .unwrap()
                .0
                .child_count,
            0,
            "{n}: nothing leaked outside"
        );
    }
}

#[tokio::test]
async fn import_is_all_or_nothing() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        let levels = Levels::default_levels();
        let before = s.unit_count().await.unwrap();
        let mut rows = vec![
            row("320831002", "戴楼街道", "320831", "town"),
            row("320831002001", "戴楼社区", "320831002", "village"),
            row("320831002201", "草泽村", "320831009", "village"),
        ];
        for (i, r) in rows.iter_mut().enumerate() {
            r.row = i as u64 + 2;
        }
        let e = s
            .unit_import(&Scope::All, &admin(), &levels, rows.clone(), &|_| {})
            .await
            .unwrap_err();
        let StoreError::ImportRejected(errs) = e else {
            panic!("{n}")
        };
        assert_eq!(errs.len(), 1, "{n}");
        assert_eq!(
            (errs[0].row, errs[0].error.as_str()),
            (4, "unknown_parent"),
            "{n}"
        );
        assert_eq!(
            s.unit_count().await.unwrap(),
            before,
            "{n}: nothing imported"
        );

        rows[2].parent_code = "320831002".into();
        let seen = std::sync::Mutex::new(Vec::new());
        let got = s
            .unit_import(&Scope::All, &admin(), &levels, rows, &|p| {
                seen.lock().unwrap().push(p)
            })
            .await
            .unwrap();
        assert_eq!(got, 3, "{n}");
        assert_eq!(s.unit_count().await.unwrap(), before + 3, "{n}");
        let last = *seen.lock().unwrap().last().unwrap();
        assert_eq!(
            (last.stage, last.done, last.total),
            (ImportStage::Writing, 3, 3),
            "{n}"
        );
        assert_eq!(
            s.unit_children(&Scope::All, "320831002", false)
                .await
                .unwrap()
                .len(),
            2,
            "{n}"
        );
        let h = s.unit_history(&Scope::All, "320831002201").await.unwrap();
        assert_eq!(h[0].action, "import", "{n}");
        // a second import of the same rows is refused whole
        let again = vec![row("320831002", "戴楼街道", "320831", "town")];
        assert!(
            matches!(
                s.unit_import(&Scope::All, &admin(), &levels, again, &|_| {})
                    .await,
                Err(StoreError::ImportRejected(_))
            ),
            "{n}"
        );
    }
}

#[tokio::test]
async fn users_grants_sessions_tokens() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        let a = admin();
        let nu = |u: &str| NewUser {
            username: u.into(),
            display_name: "张三".into(),
            password_hash: "h".into(),
            phone: Some("13800000001".into()),
        };
        let u = s.user_create(&a, &nu("Zhang.San")).await.unwrap();
        assert_eq!(u.username, "zhang.san", "{n}");
        assert_eq!(
            code_of(s.user_create(&a, &nu("zhang.san")).await.unwrap_err()),
            "username_taken",
            "{n}"
        );
        assert!(
            s.user_credentials("ZHANG.SAN").await.unwrap().is_some(),
            "{n}"
        );
        assert_eq!(s.user_list(Some("张"), 10).await.unwrap().len(), 1, "{n}");
        let u2 = s
            .user_update(
                &a,
                u.id,
                &UserPatch {
                    disabled: Some(true),
                    phone: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(u2.disabled && u2.phone.is_none(), "{n}");
        assert_eq!(s.user_phone(&a, u.id).await.unwrap(), None, "{n}");

        let g = s
            .grant_add(
                &Scope::All,
                &a,
                u.id,
                Role::GridHead,
                Some("320831001001001"),
            )
            .await
            .unwrap();
        assert_eq!(g.unit_name.as_deref(), Some("城南社区第一网格"), "{n}");
        assert_eq!(
            code_of(
                s.grant_add(
                    &Scope::All,
                    &a,
                    u.id,
                    Role::GridHead,
                    Some("320831001001001")
                )
                .await
                .unwrap_err()
            ),
            "grant_exists",
            "{n}"
        );
        assert_eq!(
            code_of(
                s.grant_add(&Scope::All, &a, u.id, Role::GridHead, None)
                    .await
                    .unwrap_err()
            ),
            "validation_failed",
            "{n}"
        );
        let town = s.unit_get(&Scope::All, "320831100").await.unwrap().0.path;
        assert!(
            s.grant_add(
                &Scope::Subtrees(vec![town]),
                &a,
                u.id,
                Role::Volunteer,
                Some("320831001001")
            )
            .await
            .is_err(),
            "{n}: grant outside scope"
        );
        s.grant_remove(&a, g.id).await.unwrap();
        assert!(s.grants_of(u.id).await.unwrap().is_empty(), "{n}");
        assert!(
            matches!(
                s.grant_remove(&a, g.id).await,
                Err(StoreError::NotFound("grant"))
            ),
            "{n}"
        );

        // lockout counting: 3 strikes lock for a minute, then the count starts over
        for i in 1..=2 {
            let f = s.login_failure_add("Ghost", 3, 60_000).await.unwrap();
            assert_eq!((f.count, f.locked_until), (i, None), "{n}");
        }
        let f = s.login_failure_add("ghost", 3, 60_000).await.unwrap();
        assert_eq!(f.locked_until, Some(T0 + 60_000), "{n}");
        db.clock.advance_ms(61_000);
        let f = s.login_failure_add("ghost", 3, 60_000).await.unwrap();
        assert_eq!((f.count, f.locked_until), (1, None), "{n}");
        s.login_failures_clear("ghost").await.unwrap();
        assert_eq!(
            s.login_failures("ghost").await.unwrap(),
            LoginFailures::default(),
            "{n}"
        );

        s.session_create(&NewSession {
            id_hash: "sid".into(),
            user_id: u.id,
            csrf_token: "c".into(),
            ip: "1.2.3.4".into(),
        })
        .await
        .unwrap();
        assert_eq!(
            s.session_get("sid").await.unwrap().unwrap().csrf_token,
            "c",
            "{n}"
        );
        s.session_touch("sid", T0 + 99).await.unwrap();
        assert_eq!(
            s.session_get("sid").await.unwrap().unwrap().last_seen_at,
            T0 + 99,
            "{n}"
        );
        assert_eq!(s.sessions_purge_idle(T0 + 99).await.unwrap(), 0, "{n}");
        assert_eq!(s.sessions_purge_idle(T0 + 100).await.unwrap(), 1, "{n}");
        s.session_create(&NewSession {
            id_hash: "sid".into(),
            user_id: u.id,
            csrf_token: "c".into(),
            ip: "1.2.3.4".into(),
        })
        .await
        .unwrap();
        s.sessions_delete_for_user(u.id).await.unwrap();
        assert!(s.session_get("sid").await.unwrap().is_none(), "{n}");

        let now = db.clock.now_ms();
        let t = s
            .token_create(
                &a,
                &NewToken {
                    user_id: u.id,
                    name: "cli".into(),
                    prefix: "wgt_abcd".into(),
                    hash: "th".into(),
                    expires_at: now + 1000,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            s.token_lookup("th").await.unwrap().map(|t| t.id),
            Some(t.id),
            "{n}"
        );
        db.clock.advance_ms(1001);
        assert!(
            s.token_lookup("th").await.unwrap().is_none(),
            "{n}: expired"
        );
        let t2 = s
            .token_create(
                &a,
                &NewToken {
                    user_id: u.id,
                    name: "cli2".into(),
                    prefix: "wgt_efgh".into(),
                    hash: "th2".into(),
                    expires_at: now + 100_000,
                },
            )
            .await
            .unwrap();
        assert!(
            s.token_revoke(&a, u.id + 1, t2.id).await.is_err(),
            "{n}: only the owner revokes"
        );
        s.token_revoke(&a, u.id, t2.id).await.unwrap();
        assert!(
            s.token_lookup("th2").await.unwrap().is_none(),
            "{n}: revoked"
        );
        assert_eq!(s.token_list(u.id).await.unwrap().len(), 2, "{n}");
    }
}

#[tokio::test]
async fn audit_chain_and_search() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        let a = Actor {
            user_id: Some(7),
            name: "auditor".into(),
            ip: "10.0.0.1".into(),
        };
        for i in 0..5 {
            db.clock.advance_ms(1000);
            s.audit_record(
                &a,
                AuditEvent::new("unit.read", "unit", format!("u{i}"))
                    .with_detail(serde_json::json!({"i": i})),
            )
            .await
            .unwrap();
        }
        s.audit_record(&admin(), AuditEvent::new("auth.login", "user", "1"))
            .await
            .unwrap();
        assert_eq!(verify_chain(s).await, 6, "{n}");
        let all = s
            .audit_search(&AuditFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [6, 5, 4, 3, 2, 1],
            "{n}"
        );
        let f = |f: AuditFilter| async move {
            s.audit_search(&AuditFilter { limit: 100, ..f })
                .await
                .unwrap()
                .len()
        };
        assert_eq!(
            f(AuditFilter {
                actor: Some("auditor".into()),
                ..Default::default()
            })
            .await,
            5,
            "{n}"
        );
        assert_eq!(
            f(AuditFilter {
                action: Some("unit.".into()),
                ..Default::default()
            })
            .await,
            5,
            "{n}"
        );
        assert_eq!(
            f(AuditFilter {
                action: Some("unit_".into()),
                ..Default::default()
            })
            .await,
            0,
            "{n}: _ is literal"
        );
        assert_eq!(
            f(AuditFilter {
                target: Some("u3".into()),
                ..Default::default()
            })
            .await,
            1,
            "{n}"
        );
        assert_eq!(
            f(AuditFilter {
                from: Some(T0 + 2000),
                to: Some(T0 + 3000),
                ..Default::default()
            })
            .await,
            2,
            "{n}"
        );
        assert_eq!(
            f(AuditFilter {
                before: Some(3),
                ..Default::default()
            })
            .await,
            2,
            "{n}"
        );
        let page = s
            .audit_search(&AuditFilter {
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.len(), 2, "{n}");
        assert_eq!(all[1].detail, serde_json::json!({"i": 4}), "{n}");
    }
}

fn square(w: f64, s: f64, size: f64) -> String {
    serde_json::json!({"type": "Polygon", "coordinates": [[
        [w, s], [w + size, s], [w + size, s + size], [w, s + size], [w, s]
    ]]})
    .to_string()
}

fn nb(code: &str, geometry: String) -> NewBoundary {
    NewBoundary {
        code: code.into(),
        geometry,
        area_m2: 1.0,
    }
}

async fn user(s: &dyn Store, name: &str) -> i64 {
    s.user_create(
        &admin(),
        &NewUser {
            username: name.into(),
            display_name: name.into(),
            password_hash: "x".into(),
            phone: Some("13800001111".into()),
        },
    )
    .await
    .unwrap()
    .id
}

fn actor_of(id: i64, name: &str) -> Actor {
    Actor {
        user_id: Some(id),
        name: name.into(),
        ip: "127.0.0.1".into(),
    }
}

#[tokio::test]
async fn boundary_versions_and_the_map_at_a_date() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        s.boundaries_set(
            &Scope::All,
            &admin(),
            &[
                nb("320831001001", square(119.0, 33.0, 0.02)),
                nb("320831001001001", square(119.0, 33.0, 0.01)),
            ],
            "2024-01-01",
            "import",
        )
        .await
        .unwrap();
        // redrawn from 2026-01-01: the old version ends there
        s.boundaries_set(
            &Scope::All,
            &admin(),
            &[nb("320831001001001", square(119.0, 33.0, 0.02))],
            "2026-01-01",
            "drawn",
        )
        .await
        .unwrap();
        let v = s
            .boundary_versions(&Scope::All, "320831001001001")
            .await
            .unwrap();
        assert_eq!(v.len(), 2, "{n}");
        assert_eq!(v[0].valid_to.as_deref(), Some("2026-01-01"), "{n}");
        assert_eq!(v[1].valid_to, None, "{n}");
        let old = s
            .boundary_at(&Scope::All, "320831001001001", "2025-12-31")
            .await
            .unwrap();
        assert_eq!(old.version_id, v[0].version_id, "{n}");
        let new = s
            .boundary_at(&Scope::All, "320831001001001", "2026-01-01")
            .await
            .unwrap();
        assert_eq!(new.version_id, v[1].version_id, "{n}");
        assert_eq!(
            code_of(
                s.boundary_at(&Scope::All, "320831001001001", "2023-01-01")
                    .await
                    .unwrap_err()
            ),
            "not_found:boundary",
            "{n}"
        );

        let map = s
            .map_at(&Scope::All, "320831001001", "2025-06-01")
            .await
            .unwrap();
        assert!(map.boundary.is_some(), "{n}");
        assert_eq!(map.children.len(), 1, "{n}");
        assert_eq!(
            map.children[0].1.as_ref().unwrap().version_id,
            v[0].version_id,
            "{n}"
        );
        let (u, _) = s.unit_get(&Scope::All, "320831001001001").await.unwrap();
        assert!(u.has_boundary, "{n}");

        // the index sees both versions of the grid, none of the village
        let rows = s
            .boundaries_for_index(&["grid".into(), "micro_grid".into()], None)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "{n}");
        let only = s
            .boundaries_for_index(&["grid".into()], Some(&["320831001002".to_string()]))
            .await
            .unwrap();
        assert!(only.is_empty(), "{n}");

        // outside the scope nothing is seen or written
        let (other, _) = s.unit_get(&Scope::All, "320831100").await.unwrap();
        let scope = Scope::Subtrees(vec![other.path]);
        assert_eq!(
            code_of(
                s.boundary_at(&scope, "320831001001001", "2026-01-01")
                    .await
                    .unwrap_err()
            ),
            "not_found:unit",
            "{n}"
        );
        let err = s
            .boundaries_set(
                &scope,
                &admin(),
                &[
                    nb("320831100001", square(119.1, 33.0, 0.01)),
                    nb("320831001001", square(119.0, 33.0, 0.01)),
                ],
                "2026-02-01",
                "import",
            )
            .await
            .unwrap_err();
        assert_eq!(code_of(err), "not_found:unit", "{n}");
        assert!(
            s.boundary_at(&Scope::All, "320831100001", "2026-02-01")
                .await
                .is_err(),
            "{n}: all or nothing"
        );
        verify_chain(s).await;
    }
}

#[tokio::test]
async fn grid_changes_need_the_level_above_and_take_effect_with_new_codes() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        let levels = Levels::default_levels();
        seed_tree(s).await;
        let village = s.unit_get(&Scope::All, "320831001001").await.unwrap().0;
        let town = s.unit_get(&Scope::All, "320831001").await.unwrap().0;
        let village_scope = Scope::Subtrees(vec![village.path.clone()]);
        let town_scope = Scope::Subtrees(vec![town.path.clone()]);
        s.boundaries_set(
            &Scope::All,
            &admin(),
            &[nb("320831001001001", square(119.0, 33.0, 0.02))],
            "2024-01-01",
            "import",
        )
        .await
        .unwrap();
        let clerk = user(s, "clerk").await;
        let head = user(s, "head").await;
        let town_op = user(s, "town.op").await;
        s.team_add(
            &Scope::All,
            &admin(),
            "320831001001001",
            &NewAssignment {
                user_id: head,
                role: "grid_head".into(),
                grant_role: Role::GridHead,
                duty: None,
                start_date: "2024-01-01".into(),
                exception_reason: None,
            },
            "2026-01-01",
        )
        .await
        .unwrap();

        let part = |w: f64| ChangePart {
            name: Some(format!("part {w}")),
            kind: None,
            geometry: Some(serde_json::from_str(&square(w, 33.0, 0.01)).unwrap()),
            area_m2: Some(1.0),
            code: None,
        };
        let new = NewChange {
            kind: wangge_domain::change::ChangeKind::Split,
            units: vec!["320831001001001".into()],
            parts: vec![part(119.0), part(119.01)],
            reason: "人口增长".into(),
            effective_date: "2026-03-01".into(),
            report: serde_json::json!({}),
        };
        // a grid head cannot propose for their own grid: the village can
        let grid_scope = Scope::Subtrees(vec![
            s.unit_get(&Scope::All, "320831001001001")
                .await
                .unwrap()
                .0
                .path,
        ]);
        assert_eq!(
            code_of(
                s.change_create(&grid_scope, &actor_of(head, "head"), &new)
                    .await
                    .unwrap_err()
            ),
            "forbidden",
            "{n}"
        );
        let c = s
            .change_create(&village_scope, &actor_of(clerk, "clerk"), &new)
            .await
            .unwrap();
        assert_eq!(c.status, "proposed", "{n}");
        assert_eq!(c.parent_code, "320831001001", "{n}");
        assert_eq!(
            code_of(
                s.change_create(&village_scope, &actor_of(clerk, "clerk"), &new)
                    .await
                    .unwrap_err()
            ),
            "change_invalid",
            "{n}: one pending change per grid"
        );

        // the village cannot approve its own proposal; the proposer neither; the town can
        assert_eq!(
            code_of(
                s.change_decide(&village_scope, &actor_of(clerk, "clerk"), c.id, true, None)
                    .await
                    .unwrap_err()
            ),
            "change_needs_level_above",
            "{n}"
        );
        assert_eq!(
            code_of(
                s.change_decide(&town_scope, &actor_of(clerk, "clerk"), c.id, true, None)
                    .await
                    .unwrap_err()
            ),
            "change_self_approval",
            "{n}"
        );
        let c = s
            .change_decide(
                &town_scope,
                &actor_of(town_op, "town.op"),
                c.id,
                true,
                Some("同意"),
            )
            .await
            .unwrap();
        assert_eq!(c.status, "approved", "{n}");
        assert_eq!(
            code_of(
                s.change_decide(&town_scope, &actor_of(town_op, "town.op"), c.id, true, None)
                    .await
                    .unwrap_err()
            ),
            "change_not_proposed",
            "{n}"
        );

        // not due before its date
        assert!(s.changes_due("2026-02-28").await.unwrap().is_empty(), "{n}");
        assert_eq!(
            s.changes_due("2026-03-01").await.unwrap(),
            vec![c.id],
            "{n}"
        );
        assert_eq!(
            code_of(
                s.change_apply(&admin(), &levels, c.id, "2026-02-28")
                    .await
                    .unwrap_err()
            ),
            "change_not_approved",
            "{n}"
        );
        let c = s
            .change_apply(&admin(), &levels, c.id, "2026-03-01")
            .await
            .unwrap();
        assert_eq!(c.status, "effective", "{n}");
        // codes continue after the highest ever used below the village
        assert_eq!(
            c.result_codes,
            vec!["320831001001002", "320831001001003"],
            "{n}"
        );
        let old = s.unit_get(&Scope::All, "320831001001001").await.unwrap().0;
        assert!(old.retired, "{n}");
        assert_eq!(old.valid_to.as_deref(), Some("2026-03-01"), "{n}");
        let new_grid = s.unit_get(&Scope::All, "320831001001002").await.unwrap().0;
        assert_eq!(new_grid.valid_from.as_deref(), Some("2026-03-01"), "{n}");
        assert!(new_grid.has_boundary, "{n}");
        // the map before and after the date
        let before = s
            .map_at(&Scope::All, "320831001001", "2026-02-28")
            .await
            .unwrap();
        let after = s
            .map_at(&Scope::All, "320831001001", "2026-03-01")
            .await
            .unwrap();
        let codes = |m: &MapView| {
            m.children
                .iter()
                .map(|(u, _)| u.code.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&before), vec!["320831001001001"], "{n}");
        assert_eq!(
            codes(&after),
            vec!["320831001001002", "320831001001003"],
            "{n}"
        );
        // the old grid's team ended the day before, and with it the grant
        let team = s
            .team_list(&Scope::All, "320831001001001", true, "2026-03-01")
            .await
            .unwrap();
        assert_eq!(team[0].end_date.as_deref(), Some("2026-02-28"), "{n}");
        assert!(s.grants_of(head).await.unwrap().is_empty(), "{n}");
        // applying twice changes nothing
        assert_eq!(
            s.change_apply(&admin(), &levels, c.id, "2026-03-02")
                .await
                .unwrap()
                .result_codes
                .len(),
            2,
            "{n}"
        );

        // a later merge never reuses 001 (retired) and continues at 004
        let merge = NewChange {
            kind: wangge_domain::change::ChangeKind::Merge,
            units: vec!["320831001001002".into(), "320831001001003".into()],
            parts: vec![ChangePart {
                name: Some("合并网格".into()),
                kind: None,
                geometry: Some(serde_json::from_str(&square(119.0, 33.0, 0.02)).unwrap()),
                area_m2: Some(2.0),
                code: None,
            }],
            reason: "合并".into(),
            effective_date: "2026-03-01".into(),
            report: serde_json::json!({}),
        };
        let m = s
            .change_create(&village_scope, &actor_of(clerk, "clerk"), &merge)
            .await
            .unwrap();
        s.change_decide(&town_scope, &actor_of(town_op, "town.op"), m.id, true, None)
            .await
            .unwrap();
        let m = s
            .change_apply(&admin(), &levels, m.id, "2026-03-01")
            .await
            .unwrap();
        assert_eq!(m.result_codes, vec!["320831001001004"], "{n}");
        // filing with the city is recorded on the change
        let f = Filing {
            filing_no: "淮网备〔2026〕3号".into(),
            filed_to: "淮安市".into(),
            note: None,
            filed_by: String::new(),
            filed_at: 0,
        };
        let m = s
            .change_file(&town_scope, &actor_of(town_op, "town.op"), m.id, &f)
            .await
            .unwrap();
        assert_eq!(m.filing.as_ref().unwrap().filed_by, "town.op", "{n}");
        let listed = s
            .change_list(&village_scope, Some("320831001001002"), None)
            .await
            .unwrap();
        assert_eq!(
            listed.len(),
            2,
            "{n}: the split made it, the merge retired it"
        );
        let outside = Scope::Subtrees(vec![
            s.unit_get(&Scope::All, "320831100").await.unwrap().0.path,
        ]);
        assert!(
            s.change_list(&outside, None, None)
                .await
                .unwrap()
                .is_empty(),
            "{n}"
        );
        verify_chain(s).await;
    }
}

#[tokio::test]
async fn team_assignments_drive_grants() {
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        let worker = user(s, "worker").await;
        let village = s.unit_get(&Scope::All, "320831001001").await.unwrap().0;
        let village_scope = Scope::Subtrees(vec![village.path.clone()]);
        let grid = s.unit_get(&Scope::All, "320831001001001").await.unwrap().0;
        let grid_scope = Scope::Subtrees(vec![grid.path.clone()]);
        let add = NewAssignment {
            user_id: worker,
            role: "grid_worker_full".into(),
            grant_role: Role::GridWorkerFull,
            duty: Some("巡查".into()),
            start_date: "2026-01-01".into(),
            exception_reason: None,
        };
        // the grid itself cannot staff itself: the level above does
        assert_eq!(
            code_of(
                s.team_add(&grid_scope, &admin(), "320831001001001", &add, "2026-01-01")
                    .await
                    .unwrap_err()
            ),
            "forbidden",
            "{n}"
        );
        let a = s
            .team_add(
                &village_scope,
                &admin(),
                "320831001001001",
                &add,
                "2026-01-01",
            )
            .await
            .unwrap();
        assert!(a.active, "{n}");
        let grants = s.grants_of(worker).await.unwrap();
        assert_eq!(grants.len(), 1, "{n}");
        assert_eq!(grants[0].role, Role::GridWorkerFull, "{n}");
        assert_eq!(
            grants[0].unit_code.as_deref(),
            Some("320831001001001"),
            "{n}"
        );
        assert_eq!(
            code_of(
                s.team_add(
                    &village_scope,
                    &admin(),
                    "320831001001001",
                    &add,
                    "2026-01-01"
                )
                .await
                .unwrap_err()
            ),
            "assignment_exists",
            "{n}"
        );

        // a second role elsewhere; ending one keeps the other's grant
        let instr = NewAssignment {
            role: "grid_instructor".into(),
            grant_role: Role::GridInstructor,
            ..add.clone()
        };
        let b = s
            .team_add(
                &Scope::All,
                &admin(),
                "320831001001001",
                &instr,
                "2026-01-01",
            )
            .await
            .unwrap();
        assert_eq!(s.grants_of(worker).await.unwrap().len(), 2, "{n}");
        let ended = s
            .team_end(&village_scope, &admin(), a.id, "2026-01-31", "2026-01-15")
            .await
            .unwrap();
        assert!(ended.active, "{n}: still running until its last day");
        assert_eq!(s.grants_of(worker).await.unwrap().len(), 2, "{n}");
        // the day after, the scheduled sync removes it
        assert_eq!(s.team_sync_grants("2026-02-01").await.unwrap(), 1, "{n}");
        let left = s.grants_of(worker).await.unwrap();
        assert_eq!(left.len(), 1, "{n}");
        assert_eq!(left[0].role, Role::GridInstructor, "{n}");
        assert_eq!(
            code_of(
                s.team_end(&village_scope, &admin(), b.id, "2025-12-31", "2026-02-01")
                    .await
                    .unwrap_err()
            ),
            "validation_failed",
            "{n}"
        );

        // history is kept; teams_under lists the running ones per grid
        let all = s
            .team_list(&Scope::All, "320831001001001", true, "2026-02-01")
            .await
            .unwrap();
        assert_eq!(all.len(), 2, "{n}");
        let running = s
            .team_list(&Scope::All, "320831001001001", false, "2026-02-01")
            .await
            .unwrap();
        assert_eq!(running.len(), 1, "{n}");
        let under = s
            .teams_under(
                &village_scope,
                "320831001001",
                &["grid".into()],
                "2026-02-01",
            )
            .await
            .unwrap();
        assert_eq!(under.len(), 1, "{n}");
        assert_eq!(under[0].1.len(), 1, "{n}");
        assert_eq!(under[0].1[0].phone.as_deref(), Some("13800001111"), "{n}");

        // photos
        assert_eq!(
            code_of(s.user_photo_get(worker).await.unwrap_err()),
            "not_found:photo",
            "{n}"
        );
        s.user_photo_set(&admin(), worker, "image/png", b"\x89PNG\r\n\x1a\nrest")
            .await
            .unwrap();
        s.user_photo_set(&admin(), worker, "image/jpeg", &[0xFF, 0xD8, 0xFF, 1])
            .await
            .unwrap();
        assert_eq!(
            s.user_photo_get(worker).await.unwrap(),
            ("image/jpeg".to_string(), vec![0xFF, 0xD8, 0xFF, 1]),
            "{n}"
        );
        assert!(
            s.team_list(&Scope::All, "320831001001001", false, "2026-02-01")
                .await
                .unwrap()[0]
                .has_photo,
            "{n}"
        );
        verify_chain(s).await;
    }
}

fn sample_case(s_unit: &Unit, client_id: &str, channel: &str, lat: f64, lng: f64) -> NewCase {
    use wangge_domain::case_flow::CaseState;
    let c = Case {
        id: 0,
        number: "20260101".into(),
        client_id: client_id.into(),
        tracking_code: format!("T{client_id}"),
        channel: channel.into(),
        state: CaseState::Reported,
        resume_to: None,
        unit_id: s_unit.id,
        unit_code: s_unit.code.clone(),
        unit_name: s_unit.name.clone(),
        unit_path: s_unit.path.clone(),
        handling_unit_id: s_unit.id,
        handling_code: s_unit.code.clone(),
        handling_name: s_unit.name.clone(),
        handling_level: s_unit.level.clone(),
        handling_path: s_unit.path.clone(),
        category: Some("G0401".into()),
        category_name: Some("市容环境 / 暴露垃圾".into()),
        nature: "demand".into(),
        urgent: false,
        description: "小区门口垃圾堆了三天没人清运".into(),
        address: "城南社区3号楼".into(),
        lat: Some(lat),
        lng: Some(lng),
        answers: serde_json::json!({}),
        reporter_id: None,
        reporter_name: Some("张三".into()),
        reporter_phone: Some("13800001234".into()),
        confidential: false,
        media: vec![],
        created_at: T0,
        updated_at: T0,
        version: 1,
        stage: Some("accept".into()),
        clock: None,
        deadline_at: Some(T0 + 3_600_000),
        next_alert_at: Some(T0 + 1_800_000),
        alert: wangge_domain::sla::Alert::OnTime,
        supervision: None,
        merged_into: None,
        rework_count: 0,
        reopen_count: 0,
        extension_count: 0,
        extension: None,
        rating: None,
        closed_at: None,
        first_report: false,
        errand: None,
        detail: serde_json::json!({}),
    };
    NewCase {
        event: NewCaseEvent {
            actor_id: None,
            actor_name: "resident".into(),
            party: "resident".into(),
            action: "submit".into(),
            from_state: CaseState::Draft,
            to_state: CaseState::Reported,
            note: String::new(),
            data: serde_json::json!({}),
            media: vec![],
        },
        case: c,
    }
}

/// Runs a statement on the store's database beside the store.
async fn raw_sql(db: &Db, sql: &'static str) {
    if db.name == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
}

#[tokio::test]
async fn case_numbers_run_past_99999_in_a_day() {
    for db in backends().await {
        let s = db.store.as_ref();
        seed_tree(s).await;
        let (grid, _) = s.unit_get(&Scope::All, "320831001001001").await.unwrap();
        let mut n = 0;
        let mut create = async || {
            n += 1;
            let new = sample_case(&grid, &format!("client-{n}"), "resident", 33.0, 119.0);
            s.case_create(&admin(), new, &[], &[])
                .await
                .unwrap()
                .0
                .number
        };
        assert_eq!(create().await, "20260101-00001");
        raw_sql(&db, "UPDATE case_number_days SET last = 99998").await;
        assert_eq!(create().await, "20260101-99999");
        assert_eq!(create().await, "20260101-100000", "{}", db.name);
        // a day numbered before the table kept its last number: the longest number wins
        raw_sql(&db, "DELETE FROM case_number_days").await;
        assert_eq!(create().await, "20260101-100001", "{}", db.name);
    }
}

#[tokio::test]
async fn cases_are_created_once_saved_by_version_and_listed_by_territory() {
    use wangge_domain::case_flow::CaseState;
    for db in backends().await {
        let s = db.store.as_ref();
        seed_tree(s).await;
        let (grid, _) = s.unit_get(&Scope::All, "320831001001001").await.unwrap();
        let (other, _) = s.unit_get(&Scope::All, "320831100001").await.unwrap();
        let worker = user(s, "worker").await;
        let note = NewNotification {
            user_id: worker,
            kind: "created".into(),
            title: "新案件".into(),
            body: "b".into(),
        };
        let out = NewOutbox {
            target: "duty".into(),
            payload: serde_json::json!({"event": "created"}),
        };

        // the same client id twice gives one case; numbers run per day
        let (a, report) = s
            .case_create(
                &admin(),
                sample_case(&grid, "client-0001", "resident", 33.0, 119.0),
                std::slice::from_ref(&note),
                std::slice::from_ref(&out),
            )
            .await
            .unwrap();
        assert_eq!(
            report.map(|e| vec![e]),
            Some(s.case_events(a.id).await.unwrap()),
            "{}: a new case comes with its report event as saved",
            db.name
        );
        assert_eq!(a.number, "20260101-00001");
        let (again, report) = s
            .case_create(
                &admin(),
                sample_case(&grid, "client-0001", "resident", 33.0, 119.0),
                &[],
                &[],
            )
            .await
            .unwrap();
        assert!(report.is_none());
        assert_eq!(again.id, a.id);
        let (b, _) = s
            .case_create(
                &admin(),
                sample_case(&other, "client-0002", "grid", 33.001, 119.0),
                &[],
                &[],
            )
            .await
            .unwrap();
        assert_eq!(b.number, "20260101-00002");
        assert_eq!(s.case_count().await.unwrap(), 2);
        assert_eq!(s.case_by_tracking("Tclient-0001").await.unwrap().id, a.id);

        // a save over a stale version is refused; a fresh one moves the version on
        let dept = s
            .department_create(
                &Scope::All,
                &admin(),
                &NewDepartment {
                    code: "cg".into(),
                    name: "城管局".into(),
                    kind: "urban_management".into(),
                    unit_code: "320831".into(),
                    phone: None,
                },
            )
            .await
            .unwrap();
        let handler = user(s, "handler").await;
        let d = s
            .department_member_set(&Scope::All, &admin(), dept.id, handler, true)
            .await
            .unwrap();
        assert_eq!(d.members.len(), 1);
        assert_eq!(s.departments_of_user(handler).await.unwrap(), vec![dept.id]);
        // membership grants the department's territory for reading
        assert!(
            s.grants_of(handler)
                .await
                .unwrap()
                .iter()
                .any(|g| g.role == Role::DepartmentHandler)
        );
        let mut next = a.clone();
        next.state = CaseState::Dispatched;
        let w = |c: Case| CaseWrite {
            case: c,
            event: NewCaseEvent {
                actor_id: None,
                actor_name: "op".into(),
                party: "operator".into(),
                action: "dispatch".into(),
                from_state: CaseState::Filed,
                to_state: CaseState::Dispatched,
                note: String::new(),
                data: serde_json::json!({}),
                media: vec![7],
            },
            assignments: vec![AssignmentOp::Add {
                department_id: dept.id,
                lead: true,
                deadline_at: Some(T0 + 10),
            }],
            notifications: vec![],
            outbox: vec![],
        };
        let saved = s.case_save(&admin(), w(next.clone())).await.unwrap();
        assert_eq!(saved.version, 2);
        assert_eq!(saved.state, CaseState::Dispatched);
        let err = s.case_save(&admin(), w(next)).await.unwrap_err();
        assert_eq!(code_of(err), "case_conflict");
        let asg = s.case_assignments(a.id).await.unwrap();
        assert_eq!(asg.len(), 1, "the refused save added nothing");
        assert_eq!(asg[0].department_name, "城管局");
        assert_eq!(s.case_events(a.id).await.unwrap().len(), 2);
        assert_eq!(s.media_cases(7).await.unwrap(), vec![a.id]);
        assert!(s.media_cases(77).await.unwrap().is_empty());

        // lists: territory, departments, states, words
        let grid_scope = Scope::Subtrees(vec![grid.path.clone()]);
        let page = |f: CaseFilter| async move { s.case_list(&f).await.unwrap() };
        let (items, total) = page(CaseFilter {
            scope: Some(grid_scope.clone()),
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!((items.len(), total), (1, 1));
        let (_, total) = page(CaseFilter {
            scope: Some(Scope::Subtrees(vec![])),
            department_ids: vec![dept.id],
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!(total, 1, "a department sees what is assigned to it");
        let (_, total) = page(CaseFilter {
            states: vec![CaseState::Reported],
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!(total, 1);
        let (_, total) = page(CaseFilter {
            q: Some("垃圾".into()),
            category: Some("G04".into()),
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!(total, 2);
        let (_, total) = page(CaseFilter {
            overdue_at: Some(T0 + 3_600_001),
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!(total, 2);

        // nearby within the radius only; due warnings; unreported
        let near = s
            .cases_nearby(&NearbyQuery {
                category: Some("G0401".into()),
                lat: 33.0,
                lng: 119.0,
                radius_m: 250.0,
                since: 0,
                open_only: true,
                channel: None,
                exclude_id: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(
            near.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![a.id, b.id]
        );
        let near = s
            .cases_nearby(&NearbyQuery {
                category: Some("G0401".into()),
                lat: 33.0,
                lng: 119.0,
                radius_m: 50.0,
                since: 0,
                open_only: true,
                channel: None,
                exclude_id: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(near.len(), 1);
        assert_eq!(
            s.cases_alert_due(T0 + 1_800_000, 10).await.unwrap().len(),
            2
        );
        assert_eq!(s.cases_alert_due(T0, 10).await.unwrap().len(), 0);
        let unrep = s
            .cases_unreported(&Scope::All, 0, 7 * 86_400_000, 10)
            .await
            .unwrap();
        assert_eq!(
            unrep.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![a.id],
            "the resident's case had no grid report before it"
        );

        // notifications and the outbox
        assert_eq!(s.notifications_unread(worker).await.unwrap(), 1);
        assert_eq!(s.notifications_read(worker, None).await.unwrap(), 1);
        assert_eq!(s.notifications_unread(worker).await.unwrap(), 0);
        let due = s.outbox_due(T0, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        s.outbox_attempt(due[0].id, Some("HTTP 500"), Some(T0 + 30_000))
            .await
            .unwrap();
        assert!(s.outbox_due(T0, 10).await.unwrap().is_empty());
        s.outbox_attempt(due[0].id, Some("HTTP 500"), None)
            .await
            .unwrap();
        assert_eq!(s.outbox_list(true, None, 10).await.unwrap().len(), 1);
        s.outbox_retry(&admin(), due[0].id).await.unwrap();
        s.outbox_attempt(due[0].id, None, None).await.unwrap();
        let done = s.outbox_list(false, None, 10).await.unwrap();
        assert!(done[0].delivered_at.is_some() && !done[0].dead && done[0].attempts == 3);

        // calendar, catalogue versions, media
        s.calendar_set(
            &admin(),
            &[CalendarDay {
                day: "2026-10-01".into(),
                kind: "holiday".into(),
                note: "国庆".into(),
            }],
        )
        .await
        .unwrap();
        assert_eq!(s.calendar_days().await.unwrap().len(), 1);
        s.calendar_delete(&admin(), "2026-10-01").await.unwrap();
        assert!(s.calendar_days().await.unwrap().is_empty());
        assert!(s.catalogue_current().await.unwrap().is_none());
        s.catalogue_save(&admin(), "v1", "{}").await.unwrap();
        let v2 = s
            .catalogue_save(&admin(), "v2", "{\"trees\":[]}")
            .await
            .unwrap();
        assert_eq!(s.catalogue_current().await.unwrap().unwrap().id, v2.id);
        assert_eq!(s.catalogue_versions(10).await.unwrap().len(), 2);
        let m = NewMedia {
            sha256: "ab".repeat(32),
            content_type: "image/png".into(),
            size: 10,
            path: "ab/ab/x.png".into(),
        };
        let m1 = s.media_put(&admin(), &m).await.unwrap();
        assert_eq!(s.media_put(&admin(), &m).await.unwrap().id, m1.id);
        assert!(s.media_uploaded_by(m1.id, "test").await.unwrap());
        assert!(!s.media_uploaded_by(m1.id, "someone").await.unwrap());
        // the same bytes from another uploader: one file, two uploaders
        assert_eq!(
            s.media_put(&actor_of(worker, "someone"), &m)
                .await
                .unwrap()
                .id,
            m1.id
        );
        assert!(s.media_uploaded_by(m1.id, "someone").await.unwrap());
        assert!(verify_chain(s).await > 0);
        db.clock.advance_ms(1);
    }
}

#[tokio::test]
async fn external_systems_keys_patches_and_calls() {
    use wangge_domain::ingest::{IngestRule, RuleOp};
    for db in backends().await {
        let s = db.store.as_ref();
        let n = db.name;
        seed_tree(s).await;
        let rule = IngestRule {
            field: "type".into(),
            op: RuleOp::Eq,
            value: "smoke".into(),
            category: "G0502".into(),
            urgent: true,
        };
        let new = NewExternalSystem {
            name: "hotline".into(),
            title: "12345 热线".into(),
            channel: "hotline".into(),
            unit_code: "320831001".into(),
            rate_limit: 60,
            webhook_url: Some("https://example.cn/hook".into()),
            webhook_events: vec!["case.created".into()],
            rules: vec![rule.clone()],
            key_hash: "h1".into(),
            key_prefix: "wgk_abcdef".into(),
            webhook_secret: "whsec_1".into(),
            ingest_secret: "whsec_2".into(),
        };
        let x = s.external_create(&admin(), &new).await.unwrap();
        assert_eq!(
            (x.unit_code.as_str(), x.rules.clone()),
            ("320831001", vec![rule]),
            "{n}"
        );
        assert!(x.active && x.last_used_at.is_none(), "{n}");
        assert_eq!(
            code_of(s.external_create(&admin(), &new).await.unwrap_err()),
            "duplicate_name",
            "{n}"
        );
        let other = NewExternalSystem {
            name: "sensors".into(),
            key_hash: "h2".into(),
            unit_code: "999".into(),
            ..new.clone()
        };
        assert_eq!(
            code_of(s.external_create(&admin(), &other).await.unwrap_err()),
            "not_found:unit",
            "{n}"
        );
        assert_eq!(
            s.external_by_key("h1").await.unwrap().unwrap().id,
            x.id,
            "{n}"
        );
        assert!(s.external_by_key("h2").await.unwrap().is_none(), "{n}");
        assert_eq!(
            s.external_by_name("hotline")
                .await
                .unwrap()
                .unwrap()
                .webhook_secret,
            "whsec_1"
        );

        // a patch changes only what it names; None keeps, Some(None) removes the webhook
        let p = ExternalPatch {
            title: Some("热线".into()),
            webhook_url: Some(None),
            key: Some(("h3".into(), "wgk_123456".into())),
            ..Default::default()
        };
        let y = s.external_update(&admin(), x.id, &p).await.unwrap();
        assert_eq!(
            (y.title.as_str(), y.webhook_url.clone(), y.channel.as_str()),
            ("热线", None, "hotline"),
            "{n}"
        );
        assert_eq!(y.key_prefix, "wgk_123456");
        assert!(
            s.external_by_key("h1").await.unwrap().is_none(),
            "{n}: the old key is gone"
        );
        assert!(s.external_by_key("h3").await.unwrap().is_some(), "{n}");
        let y = s
            .external_update(
                &admin(),
                x.id,
                &ExternalPatch {
                    active: Some(false),
                    unit_code: Some("320831".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!((y.active, y.unit_code.as_str()), (false, "320831"), "{n}");
        assert!(
            s.external_by_key("h3").await.unwrap().is_none(),
            "{n}: inactive keys do not match"
        );
        assert_eq!(
            code_of(
                s.external_update(&admin(), 999, &ExternalPatch::default())
                    .await
                    .unwrap_err()
            ),
            "not_found:external system",
            "{n}"
        );

        // a call is audited and noted
        db.clock.advance_ms(1000);
        s.external_called(
            x.id,
            &Actor {
                user_id: None,
                name: "external:hotline".into(),
                ip: "10.0.0.1".into(),
            },
            AuditEvent::new("open311.requests", "external_system", "hotline"),
        )
        .await
        .unwrap();
        assert_eq!(
            s.external_get(x.id).await.unwrap().last_used_at,
            Some(T0 + 1000),
            "{n}"
        );
        let log = s
            .audit_search(&AuditFilter {
                actor: Some("external:hotline".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(log.len(), 1, "{n}");
        let changes = s
            .audit_search(&AuditFilter {
                action: Some("external.".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(changes.len(), 3, "{n}: create and two updates");
        assert!(
            !changes
                .iter()
                .any(|e| e.detail_json.contains("whsec_") || e.detail_json.contains("h3")),
            "{n}: no secrets in the log"
        );
        assert_eq!(s.external_list().await.unwrap().len(), 1, "{n}");
        assert!(s.case_by_client_id("nope").await.unwrap().is_none());
        assert!(s.case_lead_departments(&[]).await.unwrap().is_empty());
        verify_chain(s).await;
    }
}

#[tokio::test]
async fn concurrent_creations_share_commits_and_a_failure_leaves_nothing() {
    for db in backends().await {
        let n = db.name;
        let s = db.store.clone();
        seed_tree(s.as_ref()).await;
        let (grid, _) = s.unit_get(&Scope::All, "320831001001001").await.unwrap();
        let mut broken = grid.clone();
        broken.id = 999_999; // no such unit: the insert fails on its foreign key
        // 120 creations at once (some sending the same client id twice) and 3 that fail
        let mut tasks = Vec::new();
        for i in 0..123 {
            let s = s.clone();
            let (unit, client) = if i % 40 == 39 {
                (broken.clone(), format!("broken-{i:04}"))
            } else {
                (grid.clone(), format!("burst-{:04}", i % 100))
            };
            tasks.push(tokio::spawn(async move {
                s.case_create(
                    &admin(),
                    sample_case(&unit, &client, "resident", 33.0, 119.0),
                    &[],
                    &[],
                )
                .await
            }));
        }
        let mut ok = 0;
        let mut failed = 0;
        let mut ids = std::collections::HashMap::new();
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok((c, _)) => {
                    ok += 1;
                    assert!(i % 40 != 39, "{n}: a broken case was created");
                    assert_eq!(
                        c,
                        s.case_get(c.id).await.unwrap(),
                        "{n}: the answer is the case as saved"
                    );
                    let client = format!("burst-{:04}", i % 100);
                    let prev = ids.insert(client.clone(), c.id);
                    assert!(
                        prev.is_none_or(|p| p == c.id),
                        "{n}: {client} made two cases"
                    );
                }
                Err(_) => failed += 1,
            }
        }
        assert_eq!((ok, failed), (120, 3), "{n}");
        let (cases, total) = s
            .case_list(&CaseFilter {
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            total as usize,
            ids.len(),
            "{n}: one case per client id, none of the failed"
        );
        let mut numbers: Vec<String> = cases.iter().map(|c| c.number.clone()).collect();
        numbers.sort();
        let expected: Vec<String> = (1..=ids.len())
            .map(|k| format!("20260101-{k:05}"))
            .collect();
        assert_eq!(numbers, expected, "{n}: numbers run without gaps");
        let check = s.case_aggregates_check(false).await.unwrap();
        assert!(
            check.differences.is_empty(),
            "{n}: the batches' aggregates count the saved cases only: {:?}",
            check.differences
        );
        assert_eq!(check.cases as usize, ids.len());
        assert_eq!(
            verify_chain(s.as_ref()).await as usize,
            {
                let all = s.audit_page(0, 10_000).await.unwrap();
                all.len()
            },
            "{n}"
        );
    }
}

/// The dashboards' figures follow every write at every level and equal a full recount; the
/// search index finds cases by their words and follows a changed address.
#[tokio::test]
async fn aggregates_and_search_follow_every_write() {
    use wangge_domain::case_flow::CaseState;
    use wangge_domain::sla::Alert;
    for db in backends().await {
        let s = db.store.as_ref();
        seed_tree(s).await;
        let (grid, _) = s.unit_get(&Scope::All, "320831001001001").await.unwrap();
        let (town, _) = s.unit_get(&Scope::All, "320831001").await.unwrap();
        let (county, _) = s.unit_get(&Scope::All, "320831").await.unwrap();
        let (other, _) = s.unit_get(&Scope::All, "320831100001").await.unwrap();
        let mut made = Vec::new();
        for (i, unit) in [&grid, &grid, &other].into_iter().enumerate() {
            let (c, _) = s
                .case_create(
                    &admin(),
                    sample_case(unit, &format!("agg-{i}"), "grid", 33.0, 119.0),
                    &[],
                    &[],
                )
                .await
                .unwrap();
            made.push(c);
        }
        let total = |counts: Vec<CaseCount>| counts.iter().map(|c| c.n).sum::<i64>();
        assert_eq!(
            total(s.case_counts(county.id).await.unwrap()),
            3,
            "{}",
            db.name
        );
        assert_eq!(total(s.case_counts(town.id).await.unwrap()), 2);
        assert_eq!(
            s.case_counts(grid.id).await.unwrap(),
            vec![CaseCount {
                state: CaseState::Reported,
                category: Some("G0401".into()),
                overdue: false,
                n: 2
            }]
        );
        assert_eq!(
            s.case_days(county.id, "2026-01-01", "2026-01-31")
                .await
                .unwrap(),
            vec![CaseDay {
                day: "2026-01-01".into(),
                reported: 3,
                closed: 0
            }]
        );

        // a breach, a new category, a close a day later, and a move to another unit
        let step = |c: Case, to: CaseState| CaseWrite {
            event: NewCaseEvent {
                actor_id: None,
                actor_name: "op".into(),
                party: "operator".into(),
                action: "step".into(),
                from_state: c.state,
                to_state: to,
                note: String::new(),
                data: serde_json::json!({}),
                media: vec![],
            },
            case: c,
            assignments: vec![],
            notifications: vec![],
            outbox: vec![],
        };
        let mut a = made[0].clone();
        a.state = CaseState::InHandling;
        a.alert = Alert::Breached;
        let a = s
            .case_save(&admin(), step(a, CaseState::InHandling))
            .await
            .unwrap();
        let mut b = made[1].clone();
        b.category = Some("G0502".into());
        b.state = CaseState::Closed;
        b.alert = Alert::Breached;
        b.closed_at = Some(T0 + 86_400_000);
        s.case_save(&admin(), step(b, CaseState::Closed))
            .await
            .unwrap();
        let mut c = made[2].clone();
        c.unit_id = grid.id;
        c.unit_path = grid.path.clone();
        c.address = "城南社区菜市场东门".into();
        s.case_save(&admin(), step(c, CaseState::Reported))
            .await
            .unwrap();
        let grid_counts = s.case_counts(grid.id).await.unwrap();
        let cell = |state: CaseState, cat: &str, overdue: bool| {
            grid_counts
                .iter()
                .find(|c| {
                    c.state == state && c.category.as_deref() == Some(cat) && c.overdue == overdue
                })
                .map(|c| c.n)
        };
        assert_eq!(
            cell(CaseState::InHandling, "G0401", true),
            Some(1),
            "{grid_counts:?}"
        );
        assert_eq!(
            cell(CaseState::Closed, "G0502", false),
            Some(1),
            "closed is not overdue"
        );
        assert_eq!(
            cell(CaseState::Reported, "G0401", false),
            Some(1),
            "moved in"
        );
        assert_eq!(total(grid_counts.clone()), 3);
        let (other_town, _) = s.unit_get(&Scope::All, "320831100").await.unwrap();
        assert!(
            s.case_counts(other_town.id).await.unwrap().is_empty(),
            "moved out"
        );
        assert_eq!(
            s.case_days(grid.id, "2026-01-01", "2026-01-02")
                .await
                .unwrap(),
            vec![
                CaseDay {
                    day: "2026-01-01".into(),
                    reported: 3,
                    closed: 0
                },
                CaseDay {
                    day: "2026-01-02".into(),
                    reported: 0,
                    closed: 1
                },
            ]
        );
        let check = s.case_aggregates_check(false).await.unwrap();
        assert_eq!(check.cases, 3);
        assert!(check.differences.is_empty(), "{:?}", check.differences);
        assert!(
            !s.case_aggregates_check(true).await.unwrap().repaired,
            "nothing to repair"
        );

        // search: words of the description and of the (changed) address, a number, all words
        let found = |q: &str| {
            let f = CaseFilter {
                q: Some(q.into()),
                limit: 10,
                ..Default::default()
            };
            async move {
                let (items, total) = s.case_list(&f).await.unwrap();
                assert_eq!(items.len() as i64, total);
                let mut ids: Vec<i64> = items.iter().map(|c| c.id).collect();
                ids.sort();
                ids
            }
        };
        let mut all: Vec<i64> = made.iter().map(|c| c.id).collect();
        all.sort();
        assert_eq!(found("垃圾").await, all, "{}", db.name);
        assert_eq!(found("清运 垃圾").await, all);
        assert_eq!(
            found("菜市场").await,
            vec![made[2].id],
            "the new address is indexed"
        );
        assert_eq!(found("3号楼").await, vec![a.id, made[1].id]);
        assert!(
            found("垃圾 菜市场 火灾").await.is_empty(),
            "every word is needed"
        );
        assert_eq!(found(&made[1].number).await, vec![made[1].id]);
        assert!(found("，。").await.is_empty());
        // within a territory (the index knows each case's units; the moved case follows)
        let in_scope = |q: &str, tops: Vec<String>, under: Option<String>| {
            let f = CaseFilter {
                q: Some(q.into()),
                scope: Some(Scope::Subtrees(tops)),
                under_path: under,
                limit: 10,
                ..Default::default()
            };
            async move { s.case_list(&f).await.unwrap().1 }
        };
        assert_eq!(in_scope("垃圾", vec![grid.path.clone()], None).await, 3);
        assert_eq!(
            in_scope("垃圾", vec![other.path.clone()], None).await,
            0,
            "moved out"
        );
        assert_eq!(
            in_scope("垃圾", vec![county.path.clone()], Some(town.path.clone())).await,
            3
        );
        assert_eq!(
            in_scope(
                "垃圾",
                vec![other_town.path.clone()],
                Some(town.path.clone())
            )
            .await,
            0
        );
        assert_eq!(
            in_scope(
                "菜市场",
                vec![other_town.path.clone(), grid.path.clone()],
                None
            )
            .await,
            1
        );
        // totals from the aggregates: territory × states × category
        let total_of = |states: Vec<CaseState>, category: Option<&str>| {
            let f = CaseFilter {
                scope: Some(Scope::Subtrees(vec![town.path.clone(), grid.path.clone()])),
                states,
                category: category.map(str::to_string),
                limit: 10,
                ..Default::default()
            };
            async move {
                let (items, total) = s.case_list(&f).await.unwrap();
                assert_eq!(items.len() as i64, total);
                total
            }
        };
        assert_eq!(total_of(vec![], None).await, 3);
        assert_eq!(
            total_of(vec![CaseState::Closed, CaseState::Reported], None).await,
            2
        );
        assert_eq!(total_of(vec![], Some("G05")).await, 1);
    }
}
