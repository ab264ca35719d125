//! `ignorefile::parse` on arbitrary bytes: no panic, and the same lines as
//! a reference re-statement of SPEC §a, plus invariants that hold for any
//! input.
#![no_main]

use ctxray::ignorefile::{self, ReadError, MAX_LINE};
use ctxray_fuzz::{read_ignore, trim_space};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(data);
    // Lines near Go's 64 KiB scanner limit, which the fuzzer's inputs are
    // too short to reach: a first byte of 0xAA grows the second line.
    if let [0xAA, k, rest @ ..] = data {
        let mut big = rest.to_vec();
        let at = big
            .iter()
            .position(|&c| c == b'\n')
            .map_or(big.len(), |p| p + 1);
        let fill = MAX_LINE - 3 + usize::from(k % 6);
        big.splice(at..at, std::iter::repeat_n(b'x', fill));
        check(&big);
    }
});

fn check(data: &[u8]) {
    let got = ignorefile::parse(data);
    let want = read_ignore(data);
    let lines = match (got, want) {
        (Err(ReadError::LineTooLong { line }), None) => {
            assert!(line >= 1 && line <= data.split(|&c| c == b'\n').count());
            return;
        }
        (Ok(lines), Some(want)) => {
            let got: Vec<_> = lines
                .iter()
                .map(|l| (l.line, l.raw.clone(), l.pattern.clone()))
                .collect();
            assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(data));
            lines
        }
        (got, want) => panic!("reader {got:?}, reference {want:?}"),
    };
    let nlines = data.split(|&c| c == b'\n').count();
    let mut prev = 0;
    for l in &lines {
        // Line numbers: strictly increasing, within the file.
        assert!(l.line > prev && l.line <= nlines);
        prev = l.line;
        // Comments and blank lines are gone; nothing spans lines.
        assert_ne!(l.raw.first(), Some(&b'#'));
        assert!(!l.raw.contains(&b'\n') && !l.pattern.contains(&b'\n'));
        assert!(l.raw.len() < MAX_LINE);
        assert!(!l.pattern.is_empty() && l.pattern.len() <= l.raw.len());
        // The `!` is recognised before cleaning: `x/../!a` is the normal
        // pattern `!a` (which New then reads as an exception).
        let exception = trim_space(&l.raw).starts_with(b"!");
        let body = match exception {
            true => &l.pattern[1..],
            false => &l.pattern[..],
        };
        // Clean's output: no empty or "." segments, no trailing slash,
        // ".." only at the front.
        if !body.is_empty() && body != b"." && body != b"/" {
            let segs: Vec<&[u8]> = body.split(|&c| c == b'/').collect();
            assert!(segs.iter().all(|s| !s.is_empty() && *s != b"."), "{body:?}");
            let dd = segs.iter().take_while(|s| **s == b"..").count();
            assert!(segs[dd..].iter().all(|s| *s != b".."), "{body:?}");
        }
        // Trimming happens before cleaning, so white space can only reach
        // the ends of a pattern when Clean or the reader removed something
        // next to it: a `.` or `..` segment, a leading or a trailing `/`
        // (`x/ /..` is `x/ `, `/ y` is ` y`). New trims again.
        if trim_space(body).len() != body.len() {
            let t = trim_space(&l.raw);
            let t = match exception {
                true => trim_space(&t[1..]),
                false => t,
            };
            let removable = t.starts_with(b"/")
                || t.ends_with(b"/")
                || t.split(|&c| c == b'/').any(|s| s == b"." || s == b"..");
            assert!(removable, "{:?}", String::from_utf8_lossy(&l.raw));
        }
    }
}
