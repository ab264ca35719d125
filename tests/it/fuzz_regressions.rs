//! Inputs found by the fuzz targets in `fuzz/`, kept as regression tests.
//! (Both findings so far were harness assumptions, not ctxray bugs; the
//! behaviour they pinned down is checked here.)

use ctxray::archive::HeaderSpec;
use ctxray::ignorefile::parse;
use ctxray::matcher::Matcher;

/// reader: the `!` of an exception is recognised before Clean, so a line
/// that only becomes `!…` through cleaning is a normal pattern for the
/// reader, whose text New then reads as an exception (Docker's ReadAll and
/// patternmatcher.New do the same).
#[test]
fn bang_produced_by_clean() {
    let lines = parse(b"foo/../!./bar\n").unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].pattern, b"!./bar");
    let m = Matcher::new(&lines).unwrap();
    let p = &m.patterns()[0];
    assert!(p.exclusion);
    assert_eq!(p.text, b"./bar");
}

/// Go's `formatPAXRecord` / `parsePAX` are length-based, so a name with a
/// newline is one record (the `tar` crate splits records at newlines and
/// cannot read it back; the fuzz target avoids newlines for that reason).
#[test]
fn pax_record_with_newline_is_length_prefixed() {
    let name = b"\xff\n\xff/x".to_vec();
    let spec = HeaderSpec {
        name: name.clone(),
        typeflag: b'0',
        mode: 0o644,
        size: 0,
        mtime: 1_700_000_000,
        linkname: Vec::new(),
        devmajor: 0,
        devminor: 0,
        capability: None,
    };
    let h = spec.encode().unwrap();
    assert_eq!(h.len() as u64, spec.encoded_len().unwrap());
    assert_eq!(h[156], b'x');
    let size = usize::from_str_radix(
        std::str::from_utf8(&h[124..135])
            .unwrap()
            .trim_start_matches('0'),
        8,
    )
    .unwrap();
    let data = &h[512..512 + size];
    let sp = data.iter().position(|&c| c == b' ').unwrap();
    let len: usize = std::str::from_utf8(&data[..sp]).unwrap().parse().unwrap();
    assert_eq!(len, data.len(), "one record");
    let mut want = b"path=".to_vec();
    want.extend_from_slice(&name);
    want.push(b'\n');
    assert_eq!(&data[sp + 1..], &want[..]);
}

/// tar_writer: a `security.capability` value is binary and may hold a
/// newline; its PAX record is still a single length-prefixed record, and
/// the records come sorted by key (the capability's first). Found twice by
/// the fuzzer through the `tar` crate, which splits records at newlines.
#[test]
fn capability_with_newline() {
    let cap = b"\x01\x00\x00\x02\n\x00\x00\x00".to_vec();
    let spec = HeaderSpec {
        name: "ping".into(),
        typeflag: b'0',
        mode: 0o755,
        size: 8 << 30,
        mtime: -1,
        linkname: Vec::new(),
        devmajor: 0,
        devminor: 0,
        capability: Some(cap.clone()),
    };
    let h = spec.encode().unwrap();
    assert_eq!(h.len() as u64, spec.encoded_len().unwrap());
    let size = usize::from_str_radix(std::str::from_utf8(&h[124..135]).unwrap(), 8).unwrap();
    let mut data = &h[512..512 + size];
    let mut records = Vec::new();
    while !data.is_empty() {
        let sp = data.iter().position(|&c| c == b' ').unwrap();
        let len: usize = std::str::from_utf8(&data[..sp]).unwrap().parse().unwrap();
        records.push(data[sp + 1..len].to_vec());
        data = &data[len..];
    }
    let mut want_cap = b"SCHILY.xattr.security.capability=".to_vec();
    want_cap.extend_from_slice(&cap);
    want_cap.push(b'\n');
    assert_eq!(
        records,
        [
            want_cap,
            b"mtime=-1\n".to_vec(),
            b"size=8589934592\n".to_vec()
        ]
    );
}
