//! `wangge-bench query-latency`: dashboard figures (B3) and case lists and search (B4) timed
//! through the Store API against a loaded database (see `gen-cases`).

use crate::stats::summarize;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use wangge_domain::case_flow::CaseState;
use wangge_domain::clock::SystemClock;
use wangge_domain::roles::Scope;
use wangge_store::{CaseFilter, Store};

#[derive(clap::Args)]
pub struct QueryOptions {
    /// sqlite:///path/wangge.db or postgres://…
    #[arg(long)]
    pub database_url: String,
    /// Timed calls per kind.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Words residents and operators search for.
const WORDS: [&str; 20] = [
    "垃圾",
    "噪音",
    "漏水",
    "路灯",
    "井盖",
    "停车",
    "占道",
    "油烟",
    "电动车",
    "充电",
    "积水",
    "违建",
    "广告",
    "工资",
    "诈骗",
    "狗",
    "楼道",
    "堵塞",
    "施工",
    "老人",
];

pub async fn run(o: &QueryOptions) -> anyhow::Result<()> {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai")?;
    let store = wangge_store::open_in(&o.database_url, Arc::new(SystemClock), tz.clone()).await?;
    let s = store.as_ref();
    let mut rng = StdRng::seed_from_u64(o.seed);
    let mut by_level: Vec<(&str, Vec<(i64, String)>)> = Vec::new();
    for level in ["province", "county", "town", "village", "grid"] {
        by_level.push((level, units_of(s, level).await?));
    }
    println!("cases: {}", s.case_count().await?);
    let now = jiff::Timestamp::now().as_millisecond();
    let today = wangge_domain::clock::local_date(now, &tz);
    let first = wangge_domain::clock::local_date(now - 89 * 86_400_000, &tz);

    println!("B3 dashboard (case_counts + 90-day case_days of one unit), ms:");
    for (level, units) in &by_level {
        let mut t: Vec<Duration> = Vec::with_capacity(o.samples);
        for _ in 0..o.samples {
            let (id, _) = &units[rng.random_range(0..units.len())];
            let start = Instant::now();
            let counts = s.case_counts(*id).await?;
            let days = s.case_days(*id, &first, &today).await?;
            t.push(start.elapsed());
            std::hint::black_box((counts, days));
        }
        println!("  {level:<9} {}", fmt(&t));
    }

    println!("B4 list (page of 20 + count), ms:");
    let levels = Arc::new(by_level.iter().map(|(_, u)| u.clone()).collect::<Vec<_>>());
    let pick_unit = move |rng: &mut StdRng, level: usize| -> String {
        let u = &levels[level];
        u[rng.random_range(0..u.len())].1.clone()
    };
    let unit = &pick_unit;
    type Make<'a> = Box<dyn Fn(&mut StdRng) -> CaseFilter + 'a>;
    let kinds: Vec<(&str, Make<'_>)> = vec![
        (
            "county, newest",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 1)])),
                ..page()
            }),
        ),
        (
            "county, page 10",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 1)])),
                offset: 180,
                ..page()
            }),
        ),
        (
            "town + state",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 2)])),
                states: vec![
                    [
                        CaseState::InHandling,
                        CaseState::Dispatched,
                        CaseState::Reported,
                    ][r.random_range(0..3)],
                ],
                ..page()
            }),
        ),
        (
            "grid",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 4)])),
                ..page()
            }),
        ),
        (
            "county + category",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 1)])),
                category: Some(["G0401", "G0101", "G0201"][r.random_range(0..3)].into()),
                ..page()
            }),
        ),
        (
            "town + overdue",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 2)])),
                overdue_at: Some(now),
                ..page()
            }),
        ),
        (
            "search, province",
            Box::new(|r: &mut StdRng| CaseFilter {
                scope: Some(Scope::All),
                q: Some(WORDS[r.random_range(0..WORDS.len())].into()),
                ..page()
            }),
        ),
        (
            "search 2 words, county",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 1)])),
                q: Some(format!(
                    "{} {}",
                    WORDS[r.random_range(0..WORDS.len())],
                    WORDS[r.random_range(0..WORDS.len())]
                )),
                ..page()
            }),
        ),
        (
            "search, village",
            Box::new(move |r: &mut StdRng| CaseFilter {
                scope: Some(Scope::Subtrees(vec![unit(r, 3)])),
                q: Some(WORDS[r.random_range(0..WORDS.len())].into()),
                ..page()
            }),
        ),
    ];
    for (name, make) in &kinds {
        let mut t: Vec<Duration> = Vec::with_capacity(o.samples);
        let mut found = 0i64;
        for _ in 0..o.samples {
            let f = make(&mut rng);
            let start = Instant::now();
            let (items, total) = s.case_list(&f).await?;
            t.push(start.elapsed());
            found += total;
            std::hint::black_box(items);
        }
        println!(
            "  {name:<24} {}  (mean total {})",
            fmt(&t),
            found / o.samples.max(1) as i64
        );
    }
    store.close().await;
    Ok(())
}

fn page() -> CaseFilter {
    CaseFilter {
        limit: 20,
        ..Default::default()
    }
}

async fn units_of(s: &dyn Store, level: &str) -> anyhow::Result<Vec<(i64, String)>> {
    let mut out = Vec::new();
    let mut frontier = s.unit_roots(&Scope::All).await?;
    while let Some(u) = frontier.pop() {
        if u.level == level {
            out.push((u.id, u.path.clone()));
            if out.len() >= 2_000 {
                break;
            }
            continue;
        }
        frontier.extend(s.unit_children(&Scope::All, &u.code, false).await?);
    }
    anyhow::ensure!(!out.is_empty(), "no unit of level {level}");
    Ok(out)
}

fn fmt(t: &[Duration]) -> String {
    match summarize(t) {
        Some(s) => format!(
            "n {} mean {:.1} p50 {:.1} p95 {:.1} p99 {:.1} max {:.1}",
            s.n, s.mean, s.p50, s.p95, s.p99, s.max
        ),
        None => "no samples".into(),
    }
}
