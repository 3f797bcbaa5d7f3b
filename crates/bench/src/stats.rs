//! Latency summaries.

use std::time::Duration;

/// n, mean and nearest-rank percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let rank = |p: f64| ms[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(Summary {
        n,
        mean: ms.iter().sum::<f64>() / n as f64,
        p50: rank(50.0),
        p95: rank(95.0),
        p99: rank(99.0),
        max: ms[n - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = summarize(&v);
        assert_eq!(
            s,
            Some(Summary {
                n: 100,
                mean: 50.5,
                p50: 50.0,
                p95: 95.0,
                p99: 99.0,
                max: 100.0
            })
        );
        assert_eq!(summarize(&[]), None);
        let one = summarize(&[Duration::from_millis(3)]).map(|s| (s.p50, s.p99));
        assert_eq!(one, Some((3.0, 3.0)));
    }
}
