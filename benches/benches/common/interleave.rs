//! A small benchmark harness that interleaves rows: every round times a
//! batch of each row in turn (ours, the peers, the anchors), so that drift
//! and the load of other processes on a shared machine fall on every row
//! alike. A row's figure is the lower quartile over its batches of the time
//! per iteration: on a machine shared with other work, a batch can only be
//! slowed down (preempted, caches flushed), never sped up, so the lower
//! quartile is the undisturbed time with less scatter than the median; the
//! median is written too.
//!
//! Results go to `$WS_BENCH_OUT` (default `target/ws-bench` of the
//! workspace), one `GROUP.tsv` per group: `group`, `row`, lower-quartile ns
//! per iteration, throughput kind (`bytes`/`elements`), amount per
//! iteration, median ns per iteration. `scripts/bench-table.sh` reads them.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What one iteration moves, for the rate column.
#[derive(Clone, Copy, Debug)]
pub enum Throughput {
    /// Bytes per iteration.
    Bytes(u64),
    /// Messages per iteration.
    Elements(u64),
}

/// The time budget of a run, from `WS_BENCH_TIME` (seconds per group,
/// default 3) and an optional row filter (the first command-line argument
/// that is not a flag: rows whose `group/row` contains it).
pub struct Settings {
    time: Duration,
    filter: Option<String>,
}

impl Settings {
    /// From the environment and the command line (`cargo bench` passes
    /// `--bench`, which is ignored).
    pub fn from_env() -> Self {
        let secs = std::env::var("WS_BENCH_TIME")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(3.0);
        let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        Settings {
            time: Duration::from_secs_f64(secs),
            filter,
        }
    }
}

type Body<'a> = Box<dyn FnMut(u64) + 'a>;

/// One group of rows, measured together.
pub struct Group<'a> {
    name: String,
    throughput: Throughput,
    rows: Vec<(String, Body<'a>)>,
}

impl<'a> Group<'a> {
    /// An empty group.
    pub fn new(name: impl Into<String>, throughput: Throughput) -> Self {
        Group {
            name: name.into(),
            throughput,
            rows: Vec::new(),
        }
    }

    /// Adds a row; `f` is one iteration (the loop around it is monomorphized,
    /// so the harness adds no call per iteration).
    pub fn row<F: FnMut() + 'a>(&mut self, name: &str, mut f: F) {
        self.rows.push((
            name.to_owned(),
            Box::new(move |n| {
                for _ in 0..n {
                    f();
                }
            }),
        ));
    }

    /// Measures every row, interleaved, prints the medians and writes them.
    pub fn run(mut self, s: &Settings) {
        if let Some(f) = &s.filter {
            let name = self.name.clone();
            self.rows
                .retain(|(r, _)| format!("{name}/{r}").contains(f.as_str()));
        }
        if self.rows.is_empty() {
            return;
        }
        // Calibration: iterations per batch so that a batch takes about
        // 1/1000 of the group's time split over its rows (short batches:
        // fewer of them are hit by a preemption).
        let target = s.time.as_secs_f64() / 1000.0 / self.rows.len() as f64;
        let mut batch = Vec::new();
        for (_, f) in &mut self.rows {
            // Warm-up first (caches, buffers grown to their working size),
            // so that a cold first call does not set the batch size.
            let warm = Instant::now();
            while warm.elapsed().as_secs_f64() < target {
                f(1);
            }
            let mut n = 1u64;
            loop {
                let t = Instant::now();
                f(n);
                let e = t.elapsed().as_secs_f64();
                if e >= target / 4.0 || n >= 1 << 30 {
                    batch.push(((n as f64 * target / e.max(1e-9)) as u64).max(1));
                    break;
                }
                n *= 4;
            }
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); self.rows.len()];
        let end = Instant::now() + s.time;
        let mut round = 0usize;
        while Instant::now() < end || round < 20 {
            // Rotate the order so that no row always follows the same one.
            let k = self.rows.len();
            for j in 0..k {
                let i = (j + round) % k;
                let t = Instant::now();
                (self.rows[i].1)(batch[i]);
                samples[i].push(t.elapsed().as_nanos() as f64 / batch[i] as f64);
            }
            round += 1;
        }
        let mut out = String::new();
        for ((row, _), mut v) in self.rows.iter().zip(samples) {
            v.sort_by(f64::total_cmp);
            let median = v[v.len() / 2];
            let low = v[v.len() / 4];
            let (kind, amount) = match self.throughput {
                Throughput::Bytes(n) => ("bytes", n),
                Throughput::Elements(n) => ("elements", n),
            };
            println!(
                "{:<16} {:<28} {:>12.1} ns/iter (median {:.1}, {} rounds)",
                self.name,
                row,
                low,
                median,
                v.len()
            );
            let _ = writeln!(
                out,
                "{}\t{row}\t{low}\t{kind}\t{amount}\t{median}",
                self.name
            );
        }
        let dir = out_dir();
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{}.tsv", self.name));
        if let Err(e) = std::fs::write(&path, out) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
}

fn out_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WS_BENCH_OUT") {
        return PathBuf::from(d);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("ws-bench")
}
