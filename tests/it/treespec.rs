//! Tree specs of the golden corpus (`tests/golden/cases/<name>.json`): loading,
//! materializing into a directory with exactly the rules of `tests/golden/gen.py`,
//! and reading the golden outputs (`tests/golden/out/<name>.<suffix>`).
//! Format and rules: `tests/golden/README.md`.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// mtime of entries without one, and of parent directories that are not listed.
pub const DEFAULT_MTIME: i64 = 1_600_000_000;

/// One test context.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[allow(dead_code)] // documentation for humans; not read by the tests
    pub description: String,
    /// Context-relative Dockerfile path (passed to docker as `-f <ctx>/<dockerfile>`);
    /// `None`: docker's default lookup (`Dockerfile`, else `dockerfile`).
    pub dockerfile: Option<String>,
    /// In creation order.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    Socket,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Context-relative, `/`-separated (UTF-8 names).
    #[serde(default)]
    pub path: Option<String>,
    /// Hex of the raw path bytes (non-UTF-8 names), instead of `path`.
    #[serde(default)]
    pub path_hex: Option<String>,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Octal string, e.g. "4755".
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub mtime: Option<i64>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub content_hex: Option<String>,
    /// File of this many bytes, byte i = b'a' + i % 26.
    #[serde(default)]
    pub size: Option<usize>,
    /// Symlink: raw link text; hardlink: context-relative path of an earlier file entry.
    #[serde(default)]
    pub target: Option<String>,
    /// Symlink target as hex of raw bytes, instead of `target`.
    #[serde(default)]
    pub target_hex: Option<String>,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex string {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {s:?}")))
        .collect()
}

impl Entry {
    /// Raw path bytes, relative to the context.
    pub fn path_bytes(&self) -> Vec<u8> {
        match (&self.path, &self.path_hex) {
            (_, Some(h)) => unhex(h),
            (Some(p), None) => p.as_bytes().to_vec(),
            (None, None) => panic!("entry without path: {self:?}"),
        }
    }

    /// Permission bits incl. setuid/setgid/sticky (defaults: 0644 files/fifos, 0755 dirs/sockets).
    pub fn mode(&self) -> u32 {
        match &self.mode {
            Some(m) => u32::from_str_radix(m, 8).unwrap_or_else(|_| panic!("bad mode {m:?}")),
            None if matches!(self.kind, Kind::Dir | Kind::Socket) => 0o755,
            None => 0o644,
        }
    }

    pub fn mtime(&self) -> i64 {
        self.mtime.unwrap_or(DEFAULT_MTIME)
    }

    /// Contents of a file entry.
    pub fn content_bytes(&self) -> Vec<u8> {
        if let Some(h) = &self.content_hex {
            unhex(h)
        } else if let Some(n) = self.size {
            (0..n).map(|i| b'a' + (i % 26) as u8).collect()
        } else {
            self.content.clone().unwrap_or_default().into_bytes()
        }
    }

    /// Raw link text of a symlink, or the target path of a hardlink.
    pub fn target_bytes(&self) -> Vec<u8> {
        match (&self.target, &self.target_hex) {
            (_, Some(h)) => unhex(h),
            (Some(t), None) => t.as_bytes().to_vec(),
            (None, None) => panic!("link entry without target: {self:?}"),
        }
    }
}

impl Case {
    /// Context-relative Dockerfile path docker uses for this case.
    pub fn dockerfile_or_default(&self) -> &str {
        self.dockerfile.as_deref().unwrap_or("Dockerfile")
    }
}

/// `tests/golden` of this crate.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

/// Names of all cases (from `tests/golden/cases/*.json`), sorted.
pub fn case_names() -> Vec<String> {
    let dir = golden_dir().join("cases");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|ent| {
            ent.expect("read_dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

pub fn load_case(name: &str) -> Case {
    let p = golden_dir().join("cases").join(format!("{name}.json"));
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    let case: Case =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()));
    assert_eq!(case.name, name, "case name inside {}", p.display());
    case
}

/// `tests/golden/out/<name>.<suffix>`, e.g. suffix "classic.tar", "classic.err",
/// "classic.txt", "buildkit.txt", "buildkit.err", "tree.txt"; `None` if absent.
pub fn golden(name: &str, suffix: &str) -> Option<Vec<u8>> {
    let p = golden_dir().join("out").join(format!("{name}.{suffix}"));
    match fs::read(&p) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => panic!("read {}: {e}", p.display()),
    }
}

fn os(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

fn cstring(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Sets atime and mtime (whole seconds) without following a symlink.
fn lutimes(p: &Path, secs: i64) -> io::Result<()> {
    lutimes_ns(p, (secs, 0), (secs, 0))
}

/// Sets atime and mtime, each as (seconds, nanoseconds), without following
/// a symlink.
pub fn lutimes_ns(p: &Path, atime: (i64, i64), mtime: (i64, i64)) -> io::Result<()> {
    let c = cstring(p)?;
    let ts = |(s, ns): (i64, i64)| libc::timespec {
        tv_sec: s as libc::time_t,
        tv_nsec: ns as _,
    };
    let times = [ts(atime), ts(mtime)];
    // SAFETY: c is a valid NUL-terminated path, times points to two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn mkfifo(p: &Path, mode: libc::mode_t) -> io::Result<()> {
    let c = cstring(p)?;
    // SAFETY: c is a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), mode) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Creates the case's tree inside the existing, empty directory `dir`:
/// entries in list order (unlisted parents: mode 0755, mtime 1600000000), then,
/// deepest paths first, chmod (not symlinks; hardlinks share their target's inode)
/// and mtime (lutimes, whole seconds). Same rules as `materialize` in gen.py.
pub fn materialize(case: &Case, dir: &Path) -> io::Result<()> {
    // rel path -> (kind, mode, mtime), for entries and implicit parents
    let mut meta: HashMap<Vec<u8>, (Kind, u32, i64)> = HashMap::new();
    for e in &case.entries {
        let rel = e.path_bytes();
        let parts: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
        if rel.is_empty()
            || parts
                .iter()
                .any(|p| p.is_empty() || *p == b"." || *p == b"..")
        {
            return Err(invalid(format!(
                "bad entry path {:?}",
                String::from_utf8_lossy(&rel)
            )));
        }
        for i in 1..parts.len() {
            let anc = parts[..i].join(&b'/');
            match meta.get(&anc) {
                Some((Kind::Dir, _, _)) => {}
                Some(_) => {
                    return Err(invalid(format!(
                        "parent of {:?} is not a dir",
                        String::from_utf8_lossy(&rel)
                    )))
                }
                None => {
                    fs::create_dir(dir.join(os(&anc)))?;
                    meta.insert(anc, (Kind::Dir, 0o755, DEFAULT_MTIME));
                }
            }
        }
        let full = dir.join(os(&rel));
        if e.kind == Kind::Dir {
            match meta.get(&rel) {
                Some((Kind::Dir, _, _)) => {}
                Some(_) => {
                    return Err(invalid(format!(
                        "{:?} is not a dir",
                        String::from_utf8_lossy(&rel)
                    )))
                }
                None => fs::create_dir(&full)?,
            }
        } else {
            if meta.contains_key(&rel) {
                return Err(invalid(format!(
                    "duplicate entry {:?}",
                    String::from_utf8_lossy(&rel)
                )));
            }
            match e.kind {
                Kind::File => {
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&full)?;
                    f.write_all(&e.content_bytes())?;
                }
                Kind::Symlink => {
                    std::os::unix::fs::symlink(OsStr::from_bytes(&e.target_bytes()), &full)?
                }
                Kind::Hardlink => fs::hard_link(dir.join(os(&e.target_bytes())), &full)?,
                Kind::Fifo => mkfifo(&full, 0o600)?,
                Kind::Socket => {
                    if full.as_os_str().len() >= 100 {
                        return Err(invalid(format!("socket path too long: {}", full.display())));
                    }
                    drop(std::os::unix::net::UnixListener::bind(&full)?);
                }
                Kind::Dir => unreachable!(),
            }
        }
        meta.insert(rel, (e.kind, e.mode(), e.mtime()));
    }
    let mut order: Vec<&Vec<u8>> = meta.keys().collect();
    order.sort_by(|a, b| {
        let depth = |p: &[u8]| p.iter().filter(|&&c| c == b'/').count();
        depth(b).cmp(&depth(a)).then_with(|| a.cmp(b))
    });
    for rel in order {
        let (kind, mode, mtime) = meta[rel];
        let full = dir.join(os(rel));
        match kind {
            Kind::Hardlink => continue,
            Kind::Symlink => {}
            _ => fs::set_permissions(&full, fs::Permissions::from_mode(mode))?,
        }
        lutimes(&full, mtime)?;
    }
    Ok(())
}

/// Printable, unambiguous form of raw bytes: 0x21..0x7e except `\` as is, others `\xHH`.
pub fn esc(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if (0x21..=0x7e).contains(&c) && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

/// Canonical listing of a tree (the `<name>.tree.txt` format of gen.py): one line per
/// entry below `root`, sorted by raw path bytes:
/// `path \t type \t mode(%04o, incl. suid bits) \t mtime \t size(files) \t symlink target \t hardlink group`,
/// `-` for fields that do not apply; hardlink groups (non-dirs with nlink > 1) are
/// numbered 1, 2, ... in listing order.
pub fn tree_listing(root: &Path) -> io::Result<Vec<u8>> {
    fn walk(root: &Path, rel: &[u8], items: &mut Vec<(Vec<u8>, fs::Metadata)>) -> io::Result<()> {
        let d = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(os(rel))
        };
        for ent in fs::read_dir(&d)? {
            let name = ent?.file_name();
            let mut r = rel.to_vec();
            if !r.is_empty() {
                r.push(b'/');
            }
            r.extend_from_slice(name.as_bytes());
            let md = fs::symlink_metadata(root.join(os(&r)))?;
            let is_dir = md.is_dir();
            items.push((r.clone(), md));
            if is_dir {
                walk(root, &r, items)?;
            }
        }
        Ok(())
    }
    let mut items = Vec::new();
    walk(root, b"", &mut items)?;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut groups: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut out = String::new();
    for (rel, md) in &items {
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_socket() {
            "socket"
        } else {
            "other"
        };
        let mtime = if md.mtime_nsec() == 0 {
            md.mtime().to_string()
        } else {
            format!("{}.{:09}", md.mtime(), md.mtime_nsec())
        };
        let size = if kind == "file" {
            md.size().to_string()
        } else {
            "-".to_owned()
        };
        let target = if kind == "symlink" {
            esc(fs::read_link(root.join(os(rel)))?.as_os_str().as_bytes())
        } else {
            "-".to_owned()
        };
        let hl = if kind != "dir" && md.nlink() > 1 {
            let n = groups.len() + 1;
            groups.entry((md.dev(), md.ino())).or_insert(n).to_string()
        } else {
            "-".to_owned()
        };
        out.push_str(&format!(
            "{}\t{}\t{:04o}\t{}\t{}\t{}\t{}\n",
            esc(rel),
            kind,
            md.mode() & 0o7777,
            mtime,
            size,
            target,
            hl
        ));
    }
    Ok(out.into_bytes())
}

/// Gives the owner rwx on every directory below `dir` (so an unprivileged user can
/// delete a materialized tree with 0555/0600 directories).
pub fn make_removable(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for ent in rd.flatten() {
            let p = ent.path();
            if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if let Ok(md) = fs::symlink_metadata(&p) {
                    let _ = fs::set_permissions(
                        &p,
                        fs::Permissions::from_mode(md.mode() & 0o7777 | 0o700),
                    );
                }
                make_removable(&p);
            }
        }
    }
}

/// True when listing the materialized tree needs root (a directory without owner r-x).
pub fn needs_root(case: &Case) -> bool {
    case.entries
        .iter()
        .any(|e| e.kind == Kind::Dir && e.mode() & 0o500 != 0o500)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Every case this user can materialize and list (unprivileged runs skip
/// trees with directories their owner cannot read).
pub fn runnable_cases() -> Vec<Case> {
    let root = is_root();
    case_names()
        .iter()
        .map(|n| load_case(n))
        .filter(|c| root || !needs_root(c))
        .collect()
}

#[test]
fn corpus_is_complete() {
    let names = case_names();
    assert!(names.len() >= 40, "only {} cases", names.len());
    for name in &names {
        let case = load_case(name);
        assert!(golden(name, "tree.txt").is_some(), "{name}: no tree.txt");
        assert!(
            golden(name, "classic.tar").is_some() != golden(name, "classic.err").is_some(),
            "{name}: need exactly one of classic.tar / classic.err"
        );
        assert_eq!(
            golden(name, "classic.tar").is_some(),
            golden(name, "classic.txt").is_some(),
            "{name}: classic.txt"
        );
        assert!(
            golden(name, "buildkit.txt").is_some() != golden(name, "buildkit.err").is_some(),
            "{name}: need exactly one of buildkit.txt / buildkit.err"
        );
        let df = case.dockerfile_or_default().as_bytes().to_vec();
        assert!(
            case.entries.iter().any(|e| e.path_bytes() == df) || case.dockerfile.is_none(),
            "{name}: dockerfile {:?} is not an entry",
            case.dockerfile
        );
    }
}

#[test]
fn materialize_matches_python() {
    let root = is_root();
    let mut failures = Vec::new();
    for name in case_names() {
        let case = load_case(&name);
        if !root && needs_root(&case) {
            eprintln!("treespec: skipping {name} (needs root to list)");
            continue;
        }
        let tmp = tempfile::Builder::new()
            .prefix("cx")
            .tempdir()
            .expect("tempdir");
        let res = materialize(&case, tmp.path()).and_then(|()| tree_listing(tmp.path()));
        make_removable(tmp.path());
        let got = match res {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let want = golden(&name, "tree.txt").unwrap_or_else(|| panic!("{name}: no tree.txt"));
        if got != want {
            failures.push(format!(
                "{name}: listing differs\n--- gen.py\n{}--- rust\n{}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
