//! Matcher throughput (paths per second) through the public API, walking a
//! generated tree depth-first and handing each path its parent directory's
//! `MatchInfo`, as the walker does.
//!
//! Every path is matched (no directory pruning), so each pattern set sees the
//! same ~50k paths. Run with `cargo bench --bench matcher`; pass a filter to
//! run one group, e.g. `cargo bench --bench matcher -- 10000`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ctxray::ignorefile;
use ctxray::matcher::{MatchInfo, Matcher};

/// A small deterministic generator (SplitMix64), so the tree and the rule
/// sets are the same on every run and every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// One entry of the walk, in depth-first order: `depth` is 1 at the top.
struct Entry {
    path: Vec<u8>,
    depth: usize,
    is_dir: bool,
}

const DIRS: &[&str] = &[
    "src",
    "lib",
    "app",
    "components",
    "utils",
    "api",
    "models",
    "views",
    "tests",
    "docs",
    "core",
    "internal",
    "pkg",
    "cmd",
    "static",
    "assets",
    "scripts",
    "config",
    "build",
    "dist",
    "vendor",
    "fixtures",
    "migrations",
    "handlers",
    "services",
];
const NOISE_DIRS: &[&str] = &[
    "__pycache__",
    "node_modules",
    ".git",
    "target",
    ".venv",
    "coverage",
    ".pytest_cache",
    "foo.egg-info",
    ".idea",
];
const STEMS: &[&str] = &[
    "index",
    "main",
    "mod",
    "util",
    "helpers",
    "test_api",
    "config",
    "README",
    "setup",
    "lib",
    "schema",
    "types",
    "client",
    "server",
    "routes",
    "model",
    "view",
    "handler",
    "Dockerfile",
    "package",
    ".DS_Store",
    ".env",
    "notes",
];
const EXTS: &[&str] = &[
    "py", "pyc", "js", "ts", "tsx", "rs", "go", "json", "md", "txt", "so", "o", "log", "yaml",
    "toml", "css", "html", "lock",
];

/// A deterministic tree shaped like a real project: a handful of top-level
/// directories, depth 1 to 8, fewer subdirectories the deeper it goes, and
/// the usual noise (`__pycache__`, nested `node_modules`, `.git`, ...).
fn tree(target: usize) -> Vec<Entry> {
    let mut rng = Rng(0x00C7_C7A7);
    let mut out = Vec::with_capacity(target);
    let tops: &[&str] = &[
        "src",
        ".git",
        "web",
        "tests",
        "target",
        ".venv",
        "docs",
        "build",
        "data",
        "tools",
        "node_modules",
        "services",
    ];
    // Top-level files first, as a sorted directory listing often has them.
    for f in [
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "Cargo.toml",
        "package.json",
        ".env",
    ] {
        out.push(Entry {
            path: f.as_bytes().to_vec(),
            depth: 1,
            is_dir: false,
        });
    }
    let mut round = 0;
    while out.len() < target {
        for top in tops {
            let name = if round == 0 {
                (*top).to_string()
            } else {
                format!("{top}{round}")
            };
            dir(&mut rng, &mut out, name, 1, target);
            if out.len() >= target {
                break;
            }
        }
        round += 1;
    }
    out.truncate(target);
    out
}

fn dir(rng: &mut Rng, out: &mut Vec<Entry>, path: String, depth: usize, target: usize) {
    if out.len() >= target {
        return;
    }
    out.push(Entry {
        path: path.clone().into_bytes(),
        depth,
        is_dir: true,
    });
    let files = 2 + rng.below(if depth < 3 { 6 } else { 14 });
    for i in 0..files {
        let name = format!("{}{}.{}", rng.pick(STEMS), i, rng.pick(EXTS));
        out.push(Entry {
            path: format!("{path}/{name}").into_bytes(),
            depth: depth + 1,
            is_dir: false,
        });
    }
    if depth >= 7 {
        return;
    }
    let subdirs = match depth {
        1 => 6 + rng.below(6),
        2 => 3 + rng.below(5),
        3 | 4 => 1 + rng.below(4),
        _ => rng.below(3),
    };
    for i in 0..subdirs {
        let name = if rng.below(8) == 0 {
            rng.pick(NOISE_DIRS).to_string()
        } else {
            format!("{}{}", rng.pick(DIRS), i)
        };
        dir(rng, out, format!("{path}/{name}"), depth + 1, target);
    }
}

/// Matches every entry, each with its parent directory's info (`None` at
/// the top level), keeping a stack of directory infos as the walker does.
/// Returns the number of excluded paths (so nothing is optimised away).
fn walk(m: &Matcher, entries: &[Entry], stack: &mut Vec<MatchInfo>) -> usize {
    stack.clear();
    let mut excluded = 0;
    for e in entries {
        stack.truncate(e.depth - 1);
        let parent = stack.last();
        let (v, info) = m
            .matches_using_parent_results(&e.path, parent)
            .expect("pattern compiles");
        excluded += usize::from(v.excluded);
        if e.is_dir {
            stack.push(info);
        }
    }
    excluded
}

const TYPICAL: &str = "\
# node / python / rust
.git
.gitignore
**/node_modules
npm-debug.log
**/__pycache__
**/*.py[cod]
*.egg-info
.venv
venv
.pytest_cache
.mypy_cache
.coverage
htmlcov
target
**/*.rs.bk
dist
build
!build/keep
.env
.env.*
**/.DS_Store
*.log
docs/_build
";

const ADVERSARIAL: &str = "\
**/a/**/b/**/c*
**/src/**/test*/**/*.py
**/*/**/*/**/*.pyc
**/node_modules/**/lib/**/index*
**/**/**/**/**/x
**/u*/**/h*/**/*.js
**/*.egg-info/**/*
**/core*/**/mod*/**/**
src/**/**/**/*.rs
**/[a-m]*/**/[n-z]*/**/?.o
**/models*/**/views*/**/*
!**/a/**/keep/**/c*
**/.git/**/objects/**/*
**/t*/**/t*/**/t*
**/*[0-9]/**/*[0-9]/**/*[0-9]
";

/// `n` rules: the typical file above, then generated rules that exclude
/// little more (so the sets differ in length, not in what they exclude):
/// mostly exact paths that do not exist, `**/name`, `dir/**`, `*.ext` and
/// `**/*.ext` of names absent from the tree, and ~5% exceptions.
fn generated(n: usize) -> String {
    let mut rng = Rng(n as u64);
    let mut s = TYPICAL.to_string();
    for i in TYPICAL.lines().count()..n {
        let line = match rng.below(20) {
            0..=11 => format!(
                "{}/gen/{}{}.{}",
                rng.pick(DIRS),
                rng.pick(STEMS),
                i,
                rng.pick(EXTS)
            ),
            12 | 13 => format!("**/{}{}", rng.pick(DIRS), 400 + rng.below(400)),
            14 | 15 => format!("{}{}/**", rng.pick(DIRS), 400 + rng.below(400)),
            16 => format!("*.{}{}", rng.pick(EXTS), rng.below(10)),
            17 => format!("**/*.{}{}", rng.pick(EXTS), rng.below(10)),
            18 => format!("src/{}{}", rng.pick(DIRS), 200 + rng.below(200)),
            _ => format!(
                "!src/{}{}/{}*",
                rng.pick(DIRS),
                rng.below(12),
                rng.pick(STEMS)
            ),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn matcher(text: &str) -> Matcher {
    let lines = ignorefile::parse(text.as_bytes()).expect("ignore file parses");
    Matcher::new(&lines).expect("patterns are valid")
}

fn bench_matcher(c: &mut Criterion) {
    let entries = tree(50_000);
    let sets: Vec<(&str, String)> = vec![
        (
            "sample-context",
            include_str!("../sample-context/.dockerignore").to_string(),
        ),
        ("typical-24", TYPICAL.to_string()),
        ("adversarial-starstar", ADVERSARIAL.to_string()),
        ("generated-1000", generated(1_000)),
        ("generated-10000", generated(10_000)),
    ];
    let mut g = c.benchmark_group("matches_using_parent_results");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut stack = Vec::new();
    for (name, text) in &sets {
        let m = matcher(text);
        // Compile every pattern before timing (Docker compiles lazily, on
        // first use; the build benchmark below times that).
        let excluded = walk(&m, &entries, &mut stack);
        eprintln!(
            "{name}: {} rules, {} paths, {excluded} excluded",
            m.patterns().len(),
            entries.len()
        );
        g.throughput(Throughput::Elements(entries.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &m, |b, m| {
            b.iter(|| walk(m, black_box(&entries), &mut stack))
        });
    }
    g.finish();

    // Parsing, `Matcher::new` and the lazy compilation of every pattern
    // (forced by one walk over the first 2,000 paths).
    let mut g = c.benchmark_group("build_and_compile");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (name, text) in &sets {
        g.throughput(Throughput::Elements(text.lines().count() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| walk(&matcher(text), &entries[..2_000], &mut stack))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_matcher);
criterion_main!(benches);
