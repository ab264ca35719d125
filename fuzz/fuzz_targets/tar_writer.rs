//! The context tar's header encoder and writer, read back with the `tar`
//! crate.
//!
//! * `Header`: arbitrary `HeaderSpec` fields → `encode()`; the length agrees
//!   with `encoded_len()`, is whole blocks, and the header (PAX records
//!   included) reads back as the same path, link, size, mtime, mode, type,
//!   device numbers and capability.
//! * `Tree`: a few files, directories, symlinks and hard links in a
//!   temporary directory → `TarBuilder` → the `tar` crate, compared with
//!   `lstat`; the size-only builder agrees with the written length.
#![no_main]

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use arbitrary::Arbitrary;
use ctxray::archive::{HeaderSpec, SkipReason, TarBuilder};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Header(HeaderIn),
    Tree(Vec<EntryIn>),
}

#[derive(Arbitrary, Debug)]
enum Size {
    Small(u16),
    Near8GiB(i16),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
enum Mtime {
    Any(i64),
    /// Around the largest 11-digit octal value.
    NearOctalMax(i16),
    Negative(u32),
    Usual(u32),
}

#[derive(Arbitrary, Debug)]
struct HeaderIn {
    name: Vec<u8>,
    name_repeat: u8,
    dir: bool,
    typeflag: u8,
    mode: u16,
    size: Size,
    mtime: Mtime,
    link: Vec<u8>,
    link_repeat: u8,
    devmajor: u32,
    devminor: u32,
    capability: Option<Vec<u8>>,
}

/// Repeats `part` to reach the 100/155/256-byte limits. NUL bytes are
/// replaced (paths never hold them), and so are newlines: the `tar` crate
/// splits PAX records at newlines instead of using their lengths, so it
/// cannot read back a name or link holding one (Go's reader can).
fn long(part: &[u8], repeat: u8) -> Vec<u8> {
    let part: Vec<u8> = part
        .iter()
        .map(|&c| match c {
            0 => b'x',
            b'\n' => b'n',
            c => c,
        })
        .collect();
    part.repeat(usize::from(repeat % 12) + 1)
}

fn header(h: HeaderIn) {
    let mut name = long(&h.name, h.name_repeat);
    if name.is_empty() {
        name.push(b'x');
    }
    if h.dir {
        name.push(b'/');
    }
    const TYPES: &[u8] = b"0521346";
    let size = match h.size {
        Size::Small(n) => i64::from(n),
        Size::Near8GiB(d) => (8i64 << 30) + i64::from(d),
        Size::Any(n) => (n >> 1) as i64,
    };
    let mtime = match h.mtime {
        Mtime::Any(t) => t,
        Mtime::NearOctalMax(d) => 0o77777777777 + i64::from(d),
        Mtime::Negative(t) => -i64::from(t),
        Mtime::Usual(t) => i64::from(t),
    };
    let spec = HeaderSpec {
        name,
        typeflag: TYPES[usize::from(h.typeflag) % TYPES.len()],
        mode: i64::from(h.mode & 0o7777),
        size,
        mtime,
        linkname: long(&h.link, h.link_repeat),
        devmajor: i64::from(h.devmajor),
        devminor: i64::from(h.devminor),
        capability: h.capability,
    };
    let encoded = spec.encode();
    let len = spec.encoded_len();
    let dev_ok = spec.devmajor <= 0o7777777 && spec.devminor <= 0o7777777;
    let bytes = match (encoded, len) {
        (Ok(b), Ok(n)) => {
            assert!(dev_ok);
            assert_eq!(b.len() as u64, n, "{spec:?}");
            b
        }
        (Err(SkipReason::Unencodable), Err(SkipReason::Unencodable)) => {
            assert!(!dev_ok);
            return;
        }
        (e, n) => panic!("encode {e:?}, encoded_len {n:?} for {spec:?}"),
    };
    assert_eq!(bytes.len() % 512, 0);
    assert!(bytes.len() >= 512);

    let mut archive_bytes = bytes.clone();
    archive_bytes.extend_from_slice(&[0; 1024]);
    let mut archive = tar::Archive::new(&archive_bytes[..]);
    let mut entries = archive.entries().expect("entries");
    let mut entry = entries
        .next()
        .expect("one entry")
        .unwrap_or_else(|e| panic!("{e} for {spec:?}"));
    // PAX records, read by length as Go does (the `tar` crate splits them
    // at newlines, which a capability's binary value may hold).
    let records = pax_records(&bytes);
    let pax = |k: &[u8]| records.iter().find(|r| r.0 == k).map(|r| r.1.clone());
    let pax_mtime = pax(b"mtime");
    let pax_cap = pax(b"SCHILY.xattr.security.capability");
    if let Some(p) = pax(b"path") {
        assert_eq!(p, spec.name);
    }
    if let Some(l) = pax(b"linkpath") {
        assert_eq!(l, spec.linkname);
    }
    // A newline in the capability's value could make the `tar` crate see
    // a bogus record; the records were checked above in that case.
    if !spec.capability.as_ref().is_some_and(|c| c.contains(&b'\n')) {
        assert_eq!(&*entry.path_bytes(), &spec.name[..], "path, {spec:?}");
        let link = entry
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        assert_eq!(link, spec.linkname, "link, {spec:?}");
        assert_eq!(entry.size() as i64, spec.size, "size, {spec:?}");
    }
    match pax(b"size") {
        Some(v) => assert_eq!(v, spec.size.to_string().into_bytes()),
        None => assert_eq!(entry.header().size().unwrap() as i64, spec.size),
    }
    let hdr = entry.header();
    assert_eq!(i64::from(hdr.mode().unwrap()), spec.mode, "mode, {spec:?}");
    assert_eq!(hdr.entry_type().as_byte(), spec.typeflag);
    let mtime = match pax_mtime {
        Some(v) => std::str::from_utf8(&v).unwrap().parse::<i64>().unwrap(),
        None => hdr.mtime().unwrap() as i64,
    };
    assert_eq!(mtime, spec.mtime, "mtime, {spec:?}");
    assert_eq!(hdr.uid().unwrap(), 0);
    assert_eq!(hdr.gid().unwrap(), 0);
    assert_eq!(hdr.device_major().unwrap(), Some(spec.devmajor as u32));
    assert_eq!(hdr.device_minor().unwrap(), Some(spec.devminor as u32));
    assert_eq!(pax_cap, spec.capability, "capability, {spec:?}");
    // Nothing but the entry's data (not present here) may follow.
    let _ = entry.read(&mut [0u8; 0]);
}

/// The records of a leading PAX header, each checked to be well formed.
fn pax_records(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    if bytes[156] != b'x' {
        assert_eq!(bytes.len(), 512);
        return Vec::new();
    }
    let field = std::str::from_utf8(&bytes[124..135]).unwrap();
    let size = usize::from_str_radix(field, 8).unwrap();
    assert_eq!(bytes.len(), 512 + size.div_ceil(512) * 512 + 512);
    let mut data = &bytes[512..512 + size];
    let mut out = Vec::new();
    while !data.is_empty() {
        let sp = data.iter().position(|&c| c == b' ').expect("length");
        let len: usize = std::str::from_utf8(&data[..sp]).unwrap().parse().unwrap();
        let rec = &data[sp + 1..len];
        assert_eq!(data[len - 1], b'\n');
        let eq = rec.iter().position(|&c| c == b'=').expect("key=value");
        out.push((rec[..eq].to_vec(), rec[eq + 1..rec.len() - 1].to_vec()));
        data = &data[len..];
    }
    let keys: Vec<&[u8]> = out.iter().map(|r| &r.0[..]).collect();
    assert!(keys.is_sorted(), "records sorted by key");
    out
}

#[derive(Arbitrary, Debug)]
enum Kind {
    File { len: u16, byte: u8 },
    Dir,
    Symlink { target: Vec<u8>, repeat: u8 },
    HardLink { to: u8 },
}

#[derive(Arbitrary, Debug)]
struct EntryIn {
    name: Vec<u8>,
    repeat: u8,
    parent: u8,
    kind: Kind,
    mode: u16,
    mtime: i32,
}

struct Made {
    rel: Vec<u8>,
    abs: PathBuf,
}

fn tree(entries: Vec<EntryIn>) {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let mut made: Vec<Made> = Vec::new();
    let mut dirs: Vec<usize> = Vec::new();
    let mut files: Vec<usize> = Vec::new();
    for e in entries.into_iter().take(8) {
        let mut comp: Vec<u8> = long(&e.name, e.repeat)
            .into_iter()
            .filter(|&c| c != b'/')
            .collect();
        comp.truncate(200);
        if comp.is_empty() || comp == b"." || comp == b".." {
            continue;
        }
        let (mut rel, mut abs) = match dirs.len() {
            0 => (Vec::new(), root.to_path_buf()),
            n => {
                let choice = usize::from(e.parent) % (n + 1);
                if choice == n {
                    (Vec::new(), root.to_path_buf())
                } else {
                    let d = &made[dirs[choice]];
                    let mut r = d.rel.clone();
                    r.push(b'/');
                    (r, d.abs.clone())
                }
            }
        };
        rel.extend_from_slice(&comp);
        abs.push(std::ffi::OsStr::from_bytes(&comp));
        if abs.symlink_metadata().is_ok() || abs.as_os_str().len() > 3000 {
            continue;
        }
        let mode = u32::from(e.mode & 0o7777);
        let mtime = std::time::UNIX_EPOCH
            .checked_add(std::time::Duration::from_secs(
                e.mtime.unsigned_abs().into(),
            ))
            .filter(|_| e.mtime >= 0)
            .or_else(|| {
                std::time::UNIX_EPOCH.checked_sub(std::time::Duration::from_secs(
                    e.mtime.unsigned_abs().into(),
                ))
            })
            .unwrap();
        let ok = match e.kind {
            Kind::File { len, byte } => {
                let data = vec![byte; usize::from(len % 3000)];
                std::fs::write(&abs, &data).is_ok() && {
                    let f = std::fs::File::options().write(true).open(&abs).unwrap();
                    f.set_modified(mtime).unwrap();
                    f.set_permissions(std::fs::Permissions::from_mode(mode | 0o600))
                        .unwrap();
                    files.push(made.len());
                    true
                }
            }
            Kind::Dir => {
                std::fs::create_dir(&abs).is_ok() && {
                    let f = std::fs::File::open(&abs).unwrap();
                    f.set_modified(mtime).unwrap();
                    std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(mode | 0o700))
                        .unwrap();
                    dirs.push(made.len());
                    true
                }
            }
            Kind::Symlink { target, repeat } => {
                let mut t: Vec<u8> = long(&target, repeat);
                t.truncate(1000);
                if t.is_empty() {
                    t.push(b'x');
                }
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&t), &abs).is_ok()
            }
            Kind::HardLink { to } => {
                if files.is_empty() {
                    false
                } else {
                    let src = &made[files[usize::from(to) % files.len()]].abs;
                    std::fs::hard_link(src, &abs).is_ok()
                }
            }
        };
        if ok {
            made.push(Made { rel, abs });
        }
    }
    // Directories' mtimes change as entries are created in them: read the
    // metadata only now, as the writer does.
    let mut tb = TarBuilder::new(Vec::new());
    let mut counter = TarBuilder::counter();
    for m in &made {
        let a = tb.add(&m.rel, &m.abs).expect("add");
        let b = counter.add(&m.rel, &m.abs).expect("count");
        assert_eq!(a, b);
    }
    let (buf, total) = tb.finish().expect("finish");
    let (_, counted) = counter.finish().expect("finish");
    assert_eq!(total, buf.len() as u64);
    assert_eq!(counted, total);
    assert_eq!(buf.len() % 512, 0);

    let mut archive = tar::Archive::new(&buf[..]);
    let mut first_name: std::collections::HashMap<u64, Vec<u8>> = Default::default();
    let mut n = 0;
    for (entry, m) in archive.entries().expect("entries").zip(&made) {
        let mut entry = entry.expect("entry");
        n += 1;
        let md = std::fs::symlink_metadata(&m.abs).unwrap();
        let mut want_name = m.rel.clone();
        if md.is_dir() {
            want_name.push(b'/');
        }
        assert_eq!(&*entry.path_bytes(), &want_name[..]);
        let hdr = entry.header().clone();
        assert_eq!(hdr.mode().unwrap(), md.mode() & 0o7777);
        assert_eq!(hdr.mtime().unwrap() as i64, md.mtime().max(0));
        let kind = hdr.entry_type();
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        if md.file_type().is_symlink() {
            assert!(kind.is_symlink());
            let target = std::fs::read_link(&m.abs).unwrap();
            assert_eq!(link.as_deref(), Some(target.as_os_str().as_bytes()));
        } else if md.is_dir() {
            assert!(kind.is_dir());
        } else if let Some(first) = first_name.get(&md.ino()).filter(|_| md.nlink() > 1) {
            assert!(kind.is_hard_link());
            assert_eq!(link.as_deref(), Some(&first[..]));
            assert_eq!(entry.size(), 0);
        } else {
            assert!(kind.is_file());
            first_name.insert(md.ino(), m.rel.clone());
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!(data, std::fs::read(&m.abs).unwrap());
        }
    }
    assert_eq!(n, made.len());
}

fuzz_target!(|input: Input| {
    match input {
        Input::Header(h) => header(h),
        Input::Tree(t) => tree(t),
    }
});
