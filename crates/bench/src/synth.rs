//! A deterministic synthetic national list of territory units, shaped like the official one:
//! province 2 digits, city 4, county 6, town 9, village 12, each code starting with its parent's.
//!
//! * cities: `PP01`..`PP99`;
//! * counties: `01`..`19` districts (区), `21`..`80` counties (县), `81`..`99` county-level cities (市);
//! * towns: `001`..`099` streets (街道), `100`..`199` towns (镇), `200`..`399` townships (乡);
//! * villages: `001`..`199` communities (社区), `200`..`399` villages (村).
//!
//! Children per parent are skewed (log-normal weights, at least one child each) but the totals per
//! level are exact. The same options and seed always give the same file.

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufWriter, Write};
use std::path::Path;

/// The 31 provincial-level divisions of the mainland, with their official codes.
const PROVINCES: &[(&str, &str)] = &[
    ("11", "北京市"),
    ("12", "天津市"),
    ("13", "河北省"),
    ("14", "山西省"),
    ("15", "内蒙古自治区"),
    ("21", "辽宁省"),
    ("22", "吉林省"),
    ("23", "黑龙江省"),
    ("31", "上海市"),
    ("32", "江苏省"),
    ("33", "浙江省"),
    ("34", "安徽省"),
    ("35", "福建省"),
    ("36", "江西省"),
    ("37", "山东省"),
    ("41", "河南省"),
    ("42", "湖北省"),
    ("43", "湖南省"),
    ("44", "广东省"),
    ("45", "广西壮族自治区"),
    ("46", "海南省"),
    ("50", "重庆市"),
    ("51", "四川省"),
    ("52", "贵州省"),
    ("53", "云南省"),
    ("54", "西藏自治区"),
    ("61", "陕西省"),
    ("62", "甘肃省"),
    ("63", "青海省"),
    ("64", "宁夏回族自治区"),
    ("65", "新疆维吾尔自治区"),
];

const FIRST: &[&str] = &[
    "黎", "银", "金", "石", "清", "安", "平", "永", "兴", "和", "长", "高", "龙", "凤", "白", "青",
    "桃", "柳", "杨", "梅", "乐", "福", "宝", "华", "明", "光", "春", "秋", "云", "丰", "泰", "宁",
    "嘉", "瑞", "德", "新", "大", "小", "上", "下", "东", "西", "南", "北", "黄", "红", "绿", "马",
    "牛", "鹤", "荷", "竹", "松", "柏", "双", "三", "万", "太", "仁", "义", "礼", "信", "文", "武",
];

const SECOND: &[&str] = &[
    "城", "涂", "湖", "河", "山", "江", "桥", "田", "溪", "岭", "港", "塘", "林", "泉", "庄", "坝",
    "洲", "沟", "坪", "冈", "阳", "源", "口", "湾", "堡", "集", "店", "铺", "营", "寨", "水", "川",
    "峰", "台", "园", "坊", "圩", "埠", "滩", "州", "丘", "谷", "关", "亭", "井", "墩", "浦", "渡",
];

/// Common community names: 城南社区, 幸福社区, …
const COMMUNITY: &[&str] = &[
    "城南", "城北", "城东", "城西", "城中", "中心", "花园", "幸福", "和平", "建设", "人民", "解放",
    "新华", "胜利", "团结", "朝阳", "文化", "友谊", "光明", "向阳", "育才", "滨河", "站前", "府前",
];

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub cities: usize,
    pub counties: usize,
    pub towns: usize,
    pub villages: usize,
    pub seed: u64,
}

/// Rows written per level, top first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub provinces: usize,
    pub cities: usize,
    pub counties: usize,
    pub towns: usize,
    pub villages: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.provinces + self.cities + self.counties + self.towns + self.villages
    }
}

struct Gen<W: Write> {
    rng: StdRng,
    out: W,
    counts: Counts,
}

impl<W: Write> Gen<W> {
    fn row(&mut self, code: &str, name: &str, parent: &str, level: &str) -> anyhow::Result<()> {
        writeln!(self.out, "{code},{name},{parent},{level}")?;
        Ok(())
    }

    fn place_name(&mut self) -> String {
        let a = FIRST[self.rng.random_range(0..FIRST.len())];
        let b = SECOND[self.rng.random_range(0..SECOND.len())];
        format!("{a}{b}")
    }
}

/// Writes the list as CSV (`code,name,parent_code,level`) to `out`.
pub fn generate<W: Write>(opts: &GenOptions, out: W) -> anyhow::Result<Counts> {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(opts.seed),
        out,
        counts: Counts::default(),
    };
    writeln!(g.out, "code,name,parent_code,level")?;
    let provinces = PROVINCES.len();
    let cities =
        spread(&mut g.rng, opts.cities, provinces, 99, 0.3).context("cities per province")?;
    let counties =
        spread(&mut g.rng, opts.counties, opts.cities, 98, 0.4).context("counties per city")?;
    let towns =
        spread(&mut g.rng, opts.towns, opts.counties, 399, 0.5).context("towns per county")?;
    let villages =
        spread(&mut g.rng, opts.villages, opts.towns, 399, 0.6).context("villages per town")?;
    let (mut ci, mut co, mut to) = (0usize, 0usize, 0usize);

    for (p, &(pcode, pname)) in PROVINCES.iter().enumerate() {
        g.row(pcode, pname, "", "province")?;
        g.counts.provinces += 1;
        for c in 0..cities[p] {
            let ccode = format!("{pcode}{:02}", c + 1);
            let cname = format!("{}市", g.place_name());
            g.row(&ccode, &cname, pcode, "city")?;
            g.counts.cities += 1;

            // districts, counties, county-level cities
            let n_counties = counties[ci];
            ci += 1;
            let kinds = split(n_counties, &[0.35, 0.5, 0.15], &[19, 60, 19])?;
            for (k, (&n, (first, suffix))) in kinds
                .iter()
                .zip([(1, "区"), (21, "县"), (81, "市")])
                .enumerate()
            {
                for i in 0..n {
                    let kcode = format!("{ccode}{:02}", first + i);
                    let kname = format!("{}{suffix}", g.place_name());
                    g.row(&kcode, &kname, &ccode, "county")?;
                    g.counts.counties += 1;

                    let n_towns = towns[co];
                    co += 1;
                    let town_shares: &[f64] = match k {
                        0 => &[0.6, 0.35, 0.05],
                        1 => &[0.1, 0.5, 0.4],
                        _ => &[0.3, 0.5, 0.2],
                    };
                    let tkinds = split(n_towns, town_shares, &[99, 100, 200])?;
                    for (tk, (&tn, (tfirst, tsuffix))) in tkinds
                        .iter()
                        .zip([(1, "街道"), (100, "镇"), (200, "乡")])
                        .enumerate()
                    {
                        for t in 0..tn {
                            let tcode = format!("{kcode}{:03}", tfirst + t);
                            let tname = format!("{}{tsuffix}", g.place_name());
                            g.row(&tcode, &tname, &kcode, "town")?;
                            g.counts.towns += 1;

                            let n_villages = villages[to];
                            to += 1;
                            let village_shares: &[f64] = match tk {
                                0 => &[0.9, 0.1],
                                1 => &[0.3, 0.7],
                                _ => &[0.05, 0.95],
                            };
                            let vkinds = split(n_villages, village_shares, &[199, 200])?;
                            for v in 0..vkinds[0] {
                                let vcode = format!("{tcode}{:03}", 1 + v);
                                let stem = if g.rng.random_bool(0.5) {
                                    COMMUNITY[g.rng.random_range(0..COMMUNITY.len())].to_string()
                                } else {
                                    g.place_name()
                                };
                                g.row(&vcode, &format!("{stem}社区"), &tcode, "village")?;
                                g.counts.villages += 1;
                            }
                            for v in 0..vkinds[1] {
                                let vcode = format!("{tcode}{:03}", 200 + v);
                                let vname = format!("{}村", g.place_name());
                                g.row(&vcode, &vname, &tcode, "village")?;
                                g.counts.villages += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    g.out.flush()?;
    Ok(g.counts)
}

/// Writes the list to `path`: CSV, or an .xlsx workbook (codes as text) when the name ends in .xlsx.
pub fn generate_file(opts: &GenOptions, path: &Path) -> anyhow::Result<Counts> {
    let is_xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !is_xlsx {
        let f =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        return generate(opts, BufWriter::with_capacity(1 << 20, f));
    }
    let mut csv = Vec::new();
    let counts = generate(opts, &mut csv)?;
    let text = String::from_utf8(csv)?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in text.lines().enumerate() {
        for (c, cell) in line.split(',').enumerate() {
            if !cell.is_empty() {
                sheet.write_string(u32::try_from(r)?, u16::try_from(c)?, cell)?;
            }
        }
    }
    book.save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(counts)
}

/// Splits `total` children over `n` parents: at least one and at most `cap` each, skewed by
/// log-normal weights (`sigma`), summing exactly to `total`.
pub fn spread(
    rng: &mut StdRng,
    total: usize,
    n: usize,
    cap: usize,
    sigma: f64,
) -> anyhow::Result<Vec<usize>> {
    if total < n || total > n.saturating_mul(cap) {
        bail!("{total} children cannot go to {n} parents with 1 to {cap} each");
    }
    // an approximately normal z from four uniforms (variance 1/3, so scale by sqrt 3)
    let weights: Vec<f64> = (0..n)
        .map(|_| {
            let z: f64 = (0..4).map(|_| rng.random::<f64>()).sum::<f64>() - 2.0;
            (sigma * z * 3f64.sqrt()).exp()
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    let extra = (total - n) as f64;
    let mut counts = vec![1usize; n];
    let mut fracs: Vec<(f64, usize)> = Vec::with_capacity(n);
    for (i, w) in weights.iter().enumerate() {
        let q = extra * w / sum;
        counts[i] += (q.floor() as usize).min(cap - 1);
        fracs.push((q - q.floor(), i));
    }
    fracs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut left = total - counts.iter().sum::<usize>();
    while left > 0 {
        let before = left;
        for &(_, i) in &fracs {
            if left == 0 {
                break;
            }
            if counts[i] < cap {
                counts[i] += 1;
                left -= 1;
            }
        }
        if left == before {
            bail!("cannot place {left} more children");
        }
    }
    Ok(counts)
}

/// Splits `n` into parts close to `shares`, each at most its cap.
pub fn split(n: usize, shares: &[f64], caps: &[usize]) -> anyhow::Result<Vec<usize>> {
    if n > caps.iter().sum::<usize>() {
        bail!("{n} does not fit in {caps:?}");
    }
    let mut parts: Vec<usize> = shares
        .iter()
        .zip(caps)
        .map(|(s, c)| ((n as f64 * s).round() as usize).min(*c))
        .collect();
    loop {
        let sum: usize = parts.iter().sum();
        if sum == n {
            return Ok(parts);
        }
        if sum > n {
            // take from the largest part
            if let Some(i) = (0..parts.len()).max_by_key(|&i| parts[i]) {
                parts[i] -= 1;
            }
        } else {
            // give to the part with the largest share that has room
            let room = (0..parts.len())
                .filter(|&i| parts[i] < caps[i])
                .max_by(|&a, &b| shares[a].total_cmp(&shares[b]));
            match room {
                Some(i) => parts[i] += 1,
                None => bail!("{n} does not fit in {caps:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_hits_the_total_within_bounds() -> anyhow::Result<()> {
        let mut rng = StdRng::seed_from_u64(1);
        let v = spread(&mut rng, 620_000, 41_000, 399, 0.6)?;
        assert_eq!(v.iter().sum::<usize>(), 620_000);
        assert!(v.iter().all(|&c| (1..=399).contains(&c)));
        assert!(spread(&mut rng, 5, 10, 3, 0.5).is_err());
        assert!(spread(&mut rng, 31, 10, 3, 0.5).is_err());
        assert_eq!(spread(&mut rng, 30, 10, 3, 0.5)?, vec![3; 10]);
        Ok(())
    }

    #[test]
    fn split_respects_caps() -> anyhow::Result<()> {
        assert_eq!(split(10, &[0.5, 0.5], &[199, 200])?, vec![5, 5]);
        assert_eq!(split(300, &[0.9, 0.1], &[199, 200])?, vec![199, 101]);
        assert_eq!(split(1, &[0.05, 0.95], &[199, 200])?, vec![0, 1]);
        assert!(split(400, &[0.5, 0.5], &[199, 200]).is_err());
        Ok(())
    }

    #[test]
    fn small_list_is_deterministic_and_well_formed() -> anyhow::Result<()> {
        let opts = GenOptions {
            cities: 40,
            counties: 200,
            towns: 1500,
            villages: 9000,
            seed: 7,
        };
        let mut a = Vec::new();
        let counts = generate(&opts, &mut a)?;
        let mut b = Vec::new();
        generate(&opts, &mut b)?;
        assert_eq!(a, b);
        assert_eq!(
            counts,
            Counts {
                provinces: 31,
                cities: 40,
                counties: 200,
                towns: 1500,
                villages: 9000
            }
        );
        let text = String::from_utf8(a)?;
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("code,name,parent_code,level"));
        let mut seen = std::collections::HashSet::new();
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 4, "{line}");
            let (code, name, parent, level) = (f[0], f[1], f[2], f[3]);
            let len = match level {
                "province" => 2,
                "city" => 4,
                "county" => 6,
                "town" => 9,
                "village" => 12,
                other => anyhow::bail!("unknown level {other}"),
            };
            assert_eq!(code.len(), len, "{line}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{line}");
            assert!(!name.is_empty());
            assert!(code.starts_with(parent), "{line}");
            assert!(parent.is_empty() || seen.contains(parent), "{line}");
            assert!(seen.insert(code.to_string()), "duplicate {code}");
        }
        assert_eq!(seen.len(), counts.total());
        Ok(())
    }

    #[test]
    fn xlsx_output_reads_back_like_the_csv() -> anyhow::Result<()> {
        use wangge_server::territory_file::{FileKind, parse};
        let opts = GenOptions {
            cities: 31,
            counties: 40,
            towns: 60,
            villages: 100,
            seed: 3,
        };
        let dir = std::env::temp_dir().join(format!("wangge-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let (csv_path, xlsx_path) = (dir.join("u.csv"), dir.join("u.xlsx"));
        let counts = generate_file(&opts, &csv_path)?;
        generate_file(&opts, &xlsx_path)?;
        let from_csv = parse(FileKind::Csv, &std::fs::read(&csv_path)?)
            .map_err(|e| anyhow::anyhow!("{}", e.code))?;
        let from_xlsx = parse(FileKind::Xlsx, &std::fs::read(&xlsx_path)?)
            .map_err(|e| anyhow::anyhow!("{}", e.code))?;
        std::fs::remove_dir_all(&dir)?;
        assert_eq!(from_csv.len(), counts.total());
        assert_eq!(from_csv, from_xlsx);
        Ok(())
    }
}
