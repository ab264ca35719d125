//! Tar header encoding: `HeaderSpec::encode` (what `pack` writes per entry)
//! and `HeaderSpec::encoded_len` (what `report` computes per entry), for the
//! header shapes a context has: a plain USTAR header, a long name that USTAR
//! splits into prefix/name, and names or xattrs that need a PAX header.
//!
//! Run with `cargo bench --bench header`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ctxray::archive::HeaderSpec;

fn spec(name: &[u8]) -> HeaderSpec {
    HeaderSpec {
        name: name.to_vec(),
        typeflag: b'0',
        mode: 0o644,
        size: 12_345,
        mtime: 1_700_000_000,
        linkname: Vec::new(),
        devmajor: 0,
        devminor: 0,
        capability: None,
    }
}

fn cases() -> Vec<(&'static str, HeaderSpec)> {
    let long = format!("{}/module.py", "src/deeply/nested/package".repeat(4));
    let very_long = format!("{}/x.py", "d123456789".repeat(30));
    let mut cap = spec(b"usr/bin/ping");
    cap.capability = Some(vec![
        0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let mut big = spec(b"data/blob0.bin");
    big.size = 10 << 33; // over 8 GiB: PAX size record
    let mut dir = spec(b"src/pkg0/mod0/");
    dir.typeflag = b'5';
    dir.mode = 0o755;
    dir.size = 0;
    vec![
        ("ustar-short", spec(b"src/pkg3/mod1/f7.py")),
        ("ustar-dir", dir),
        ("ustar-split-long", spec(long.as_bytes())),
        ("pax-very-long", spec(very_long.as_bytes())),
        (
            "pax-non-ascii",
            spec("docs/résumé/naïve-café.md".as_bytes()),
        ),
        ("pax-capability", cap),
        ("pax-big-size", big),
    ]
}

fn bench_header(c: &mut Criterion) {
    let cases = cases();
    for (group, f) in [
        (
            "encode",
            (|s: &HeaderSpec| s.encode().map(|v| v.len() as u64)) as fn(&HeaderSpec) -> _,
        ),
        ("encoded_len", |s: &HeaderSpec| s.encoded_len()),
    ] {
        let mut g = c.benchmark_group(group);
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(800))
            .throughput(Throughput::Elements(1));
        for (name, s) in &cases {
            // encode and encoded_len agree (the report relies on it).
            assert_eq!(
                s.encode().expect("encodable").len() as u64,
                s.encoded_len().expect("encodable"),
                "{name}"
            );
            g.bench_with_input(BenchmarkId::from_parameter(name), s, |b, s| {
                b.iter(|| f(black_box(s)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_header);
criterion_main!(benches);
