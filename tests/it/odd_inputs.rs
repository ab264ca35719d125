//! Reliability matrix: odd inputs through every command of the built binary.
//!
//! Each case builds its own context and runs `report`, `report --json`,
//! `ls`, `ls --engine classic`, `explain`, `pack -o FILE`, `pack -o -`,
//! `lint` and `check` on it, each with a timeout (a hang is a failure).
//! Every run must end with exit 0, 1 or 2 (never a panic or a signal), in
//! the class the case expects; human output never carries a raw ESC, NUL or
//! a control character from a file name; and the context is byte-for-byte
//! and metadata-for-metadata unchanged afterwards.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::hash::Hasher;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ctxray::archive::TarBuilder;
use ctxray::context::{Context, Options};
use ctxray::walk::{Engine, Event, Status, WalkMode};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ctxray");

/// Longest any one command may take before it counts as a hang.
const TIMEOUT: Duration = Duration::from_secs(20);

// ------------------------------------------------------------ running

/// One finished run.
struct Out {
    desc: String,
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    elapsed: Duration,
}

impl Out {
    fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| {
            panic!(
                "{}: killed by signal {:?}\nstderr: {}",
                self.desc,
                self.status.signal(),
                self.err()
            )
        })
    }
    fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn drain(r: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut v);
        }
        v
    })
}

/// Waits for `child` (its stdout/stderr piped or already taken), killing it
/// and failing the test when it outlives `timeout`.
fn wait_timeout(mut child: Child, desc: String, timeout: Duration) -> Out {
    let start = Instant::now();
    let so = drain(child.stdout.take());
    let se = drain(child.stderr.take());
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{desc}: still running after {timeout:?} (a hang); killed");
        }
        thread::sleep(Duration::from_millis(3));
    };
    let elapsed = start.elapsed();
    Out {
        desc,
        status,
        stdout: so.join().unwrap(),
        stderr: se.join().unwrap(),
        elapsed,
    }
}

fn show(args: &[OsString]) -> String {
    args.iter()
        .map(|a| format!("{:?}", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the binary directly, or as an unprivileged user through a prefix
/// (`setpriv ...` / `runuser ...`).
#[derive(Clone)]
struct Runner {
    prefix: Vec<OsString>,
    bin: PathBuf,
    /// Keeps a copy of the binary alive when `bin` points into it.
    _keep: Option<Arc<TempDir>>,
}

impl Runner {
    fn direct() -> Runner {
        Runner {
            prefix: Vec::new(),
            bin: PathBuf::from(BIN),
            _keep: None,
        }
    }

    fn command(&self, args: &[OsString]) -> Command {
        let mut c = match self.prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        c.args(args).env_remove("CTXRAY_PROGRESS_DELAY_MS");
        c
    }

    fn spawn(&self, args: &[OsString], cwd: Option<&Path>) -> Child {
        let mut c = self.command(args);
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", show(args)))
    }

    /// Runs one command and checks what holds for every run: no panic, no
    /// signal, exit 0, 1 or 2.
    fn run_in(&self, args: &[OsString], cwd: Option<&Path>) -> Out {
        let o = wait_timeout(self.spawn(args, cwd), show(args), TIMEOUT);
        let code = o.code();
        assert!(
            (0..=2).contains(&code),
            "{}: exit {code} (only 0, 1, 2 are allowed)\nstderr: {}",
            o.desc,
            o.err()
        );
        assert!(
            !o.err().contains("panicked"),
            "{}: panicked\nstderr: {}",
            o.desc,
            o.err()
        );
        o
    }

    fn run(&self, args: &[OsString]) -> Out {
        self.run_in(args, None)
    }
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

fn args<I, S>(a: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    a.into_iter().map(|s| s.as_ref().to_os_string()).collect()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A runner without privileges: the current user when not root, else uid
/// and gid 65534 through `setpriv` or `runuser`. `None` (with a message)
/// when root cannot drop privileges here.
fn unprivileged() -> Option<Runner> {
    if !is_root() {
        return Some(Runner::direct());
    }
    let prefixes: [&[&str]; 2] = [
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ],
        &["runuser", "-u", "nobody", "--"],
    ];
    let works = |r: &Runner| {
        r.command(&args(["--version"]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    for p in prefixes {
        let r = Runner {
            prefix: args(p),
            bin: PathBuf::from(BIN),
            _keep: None,
        };
        if works(&r) {
            return Some(r);
        }
    }
    // The binary may sit where the unprivileged user cannot reach it: then
    // a world-readable copy.
    let copy = tempfile::Builder::new()
        .prefix("ctxray-bin")
        .tempdir()
        .unwrap();
    fs::set_permissions(copy.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let copied = copy.path().join("ctxray");
    fs::copy(BIN, &copied).unwrap();
    fs::set_permissions(&copied, fs::Permissions::from_mode(0o755)).unwrap();
    let copy = Arc::new(copy);
    for p in prefixes {
        let r = Runner {
            prefix: args(p),
            bin: copied.clone(),
            _keep: Some(copy.clone()),
        };
        if works(&r) {
            return Some(r);
        }
    }
    eprintln!("odd_inputs: skipped: neither setpriv nor runuser can run ctxray as uid 65534");
    None
}

// ------------------------------------------------------------ snapshots

/// What must not change about one entry of a context.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snap {
    kind: &'static str,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ino: u64,
    rdev: u64,
    target: Option<Vec<u8>>,
    hash: Option<u64>,
}

fn hash_file(p: &Path, size: u64) -> Option<u64> {
    let mut f = fs::File::open(p).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 16];
    // Big (sparse) files: the first and last MiB.
    let ranges: Vec<(u64, u64)> = if size > 16 << 20 {
        vec![(0, 1 << 20), (size - (1 << 20), 1 << 20)]
    } else {
        vec![(0, u64::MAX)]
    };
    for (at, mut len) in ranges {
        f.seek(SeekFrom::Start(at)).ok()?;
        while len > 0 {
            let want = len.min(buf.len() as u64) as usize;
            let n = f.read(&mut buf[..want]).ok()?;
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
            len -= n as u64;
        }
    }
    Some(h.finish())
}

fn snap_one(p: &Path, md: &fs::Metadata) -> Snap {
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
    } else if ft.is_char_device() {
        "chardev"
    } else if ft.is_block_device() {
        "blockdev"
    } else {
        "other"
    };
    Snap {
        kind,
        size: if ft.is_dir() { 0 } else { md.size() },
        mode: md.mode(),
        mtime: (md.mtime(), md.mtime_nsec()),
        ino: md.ino(),
        rdev: md.rdev(),
        target: ft
            .is_symlink()
            .then(|| fs::read_link(p).unwrap().as_os_str().as_bytes().to_vec()),
        hash: if ft.is_file() {
            hash_file(p, md.size())
        } else {
            None
        },
    }
}

/// A full recursive listing of `root` (itself under the key ""), never
/// following symlinks and never opening anything but regular files.
fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, Snap> {
    fn walk(root: &Path, rel: &[u8], out: &mut BTreeMap<Vec<u8>, Snap>) {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(os(rel))
        };
        let Ok(rd) = fs::read_dir(&dir) else {
            out.insert(
                [rel, b"/<unreadable>"].concat(),
                snap_one(&dir, &fs::symlink_metadata(&dir).unwrap()),
            );
            return;
        };
        for ent in rd {
            let name = ent.unwrap().file_name();
            let mut r = rel.to_vec();
            if !r.is_empty() {
                r.push(b'/');
            }
            r.extend_from_slice(name.as_bytes());
            let p = root.join(os(&r));
            let md = fs::symlink_metadata(&p).unwrap();
            out.insert(r.clone(), snap_one(&p, &md));
            if md.is_dir() {
                walk(root, &r, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    let md = fs::symlink_metadata(root).unwrap();
    out.insert(Vec::new(), snap_one(root, &md));
    if md.is_dir() {
        walk(root, b"", &mut out);
    }
    out
}

fn assert_same_snapshot(
    what: &str,
    before: &BTreeMap<Vec<u8>, Snap>,
    after: &BTreeMap<Vec<u8>, Snap>,
) {
    if before == after {
        return;
    }
    let mut diff = Vec::new();
    for k in before.keys().chain(after.keys()) {
        let (b, a) = (before.get(k), after.get(k));
        if b != a {
            diff.push(format!(
                "  {}: {b:?} -> {a:?}",
                String::from_utf8_lossy(k).escape_debug()
            ));
        }
    }
    diff.dedup();
    panic!("{what}: the context changed\n{}", diff.join("\n"));
}

// ------------------------------------------------------------ the matrix

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Report,
    ReportJson,
    Ls,
    LsClassic,
    Explain,
    PackFile,
    PackStdout,
    Lint,
    Check,
}

use Cmd::*;

const ALL: [Cmd; 9] = [
    Report, ReportJson, Ls, LsClassic, Explain, PackFile, PackStdout, Lint, Check,
];

/// The buildkit-engine commands that walk the whole context.
const BUILDKIT_WALKS: [Cmd; 4] = [Report, ReportJson, Ls, Check];
/// The classic-engine commands (validation, then the walk).
const CLASSIC: [Cmd; 3] = [LsClassic, PackFile, PackStdout];

impl Cmd {
    /// Whether stdout is for people (not JSON, not a tar).
    fn human(self) -> bool {
        !matches!(self, ReportJson | PackStdout)
    }
}

/// Pack output file name in the case's output directory.
const PACKED: &str = "ctx.tar";

struct Case<'a> {
    /// The context as given on the command line.
    ctx: &'a Path,
    /// The path `explain` asks about.
    explain: &'a [u8],
    /// Where `pack -o FILE` writes (outside the context).
    out_dir: &'a Path,
    runner: &'a Runner,
    /// Raw bytes (names with control characters) that human output must
    /// never contain.
    forbidden: &'a [&'a [u8]],
    /// The commands to run.
    cmds: &'a [Cmd],
    /// The exit codes each command may end with.
    expect: &'a dyn Fn(Cmd) -> &'static [i32],
}

struct Results(Vec<(Cmd, Out)>);

impl Results {
    fn get(&self, c: Cmd) -> &Out {
        &self.0.iter().find(|(k, _)| *k == c).unwrap().1
    }

    /// Every listed command (that ran) failed with exit 2 naming `needle`
    /// on stderr.
    fn assert_error_names(&self, cmds: &[Cmd], needle: &str) {
        for c in cmds {
            let o = self.get(*c);
            assert_eq!(o.code(), 2, "{}: stderr {}", o.desc, o.err());
            assert!(
                o.err().contains(needle),
                "{}: stderr does not name {needle:?}:\n{}",
                o.desc,
                o.err()
            );
        }
    }
}

fn ok_or_finding(c: Cmd) -> &'static [i32] {
    match c {
        Lint | Check => &[0, 1],
        _ => &[0],
    }
}

fn input_error(c: Cmd) -> &'static [i32] {
    match c {
        // lint reports a broken ignore file as its own finding.
        Lint => &[1, 2],
        _ => &[2],
    }
}

fn cmd_args(c: Cmd, ctx: &Path, explain: &[u8], out_dir: &Path) -> Vec<OsString> {
    let ctx = ctx.as_os_str();
    let out_file = out_dir.join(PACKED);
    match c {
        Report => args([os(b"report"), ctx]),
        ReportJson => args([os(b"report"), os(b"--json"), ctx]),
        Ls => args([os(b"ls"), ctx]),
        LsClassic => args([os(b"ls"), os(b"--engine"), os(b"classic"), ctx]),
        Explain => args([os(b"explain"), ctx, os(explain)]),
        PackFile => args([os(b"pack"), ctx, os(b"-o"), out_file.as_os_str()]),
        PackStdout => args([os(b"pack"), ctx, os(b"-o"), os(b"-")]),
        Lint => args([os(b"lint"), ctx]),
        Check => args([os(b"check"), ctx]),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Human output: no raw ESC, NUL, BEL, CR or bidi override, and none of the
/// case's forbidden names.
fn assert_clean(desc: &str, stream: &str, bytes: &[u8], forbidden: &[&[u8]]) {
    for (bad, what) in [
        (&b"\x1b"[..], "ESC"),
        (b"\0", "NUL"),
        (b"\x07", "BEL"),
        (b"\r", "CR"),
        ("\u{202e}".as_bytes(), "U+202E"),
    ] {
        assert!(
            !contains(bytes, bad),
            "{desc}: raw {what} on {stream}:\n{}",
            String::from_utf8_lossy(bytes).escape_debug()
        );
    }
    for f in forbidden {
        assert!(
            !contains(bytes, f),
            "{desc}: unsanitized name {:?} on {stream}:\n{}",
            String::from_utf8_lossy(f),
            String::from_utf8_lossy(bytes).escape_debug()
        );
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ctxray-pack-"))
        .collect()
}

/// Runs the case's commands and checks the invariants of every run.
fn matrix(case: &Case) -> Results {
    let exists = fs::symlink_metadata(case.ctx).is_ok();
    let before = exists.then(|| snapshot(case.ctx));
    let mut results = Vec::new();
    let mut packed = None;
    for &c in case.cmds {
        let out_file = case.out_dir.join(PACKED);
        let _ = fs::remove_file(&out_file);
        let a = cmd_args(c, case.ctx, case.explain, case.out_dir);
        let o = case.runner.run(&a);
        let code = o.code();
        let allowed = (case.expect)(c);
        assert!(
            allowed.contains(&code),
            "{}: exit {code}, expected one of {allowed:?}\nstdout: {}\nstderr: {}",
            o.desc,
            if c.human() { o.out() } else { String::new() },
            o.err()
        );
        if c.human() {
            assert_clean(&o.desc, "stdout", &o.stdout, case.forbidden);
        }
        assert_clean(&o.desc, "stderr", &o.stderr, case.forbidden);
        if code == 2 {
            assert!(
                o.err().contains("error"),
                "{}: exit 2 without an error message: {:?}",
                o.desc,
                o.err()
            );
        }
        match (c, code) {
            (ReportJson, 0) => {
                let v: serde_json::Value = serde_json::from_slice(&o.stdout)
                    .unwrap_or_else(|e| panic!("{}: not JSON: {e}", o.desc));
                assert_eq!(v["schema"], 1, "{}", o.desc);
            }
            (PackStdout, 0) => {
                tar_entries(&o.stdout);
            }
            (PackFile, 0) => {
                packed = Some(fs::read(&out_file).expect("pack's output file"));
            }
            (PackFile, _) => assert!(
                !out_file.exists(),
                "{}: failed but left {}",
                o.desc,
                out_file.display()
            ),
            _ => {}
        }
        if c == PackFile {
            assert_eq!(leftovers(case.out_dir), Vec::<String>::new(), "{}", o.desc);
        }
        results.push((c, o));
    }
    // `pack -o FILE` and `pack -o -` write the same bytes.
    if let (Some(written), Some((_, s))) = (&packed, results.iter().find(|r| r.0 == PackStdout)) {
        if s.code() == 0 {
            assert!(*written == s.stdout, "pack -o FILE and pack -o - differ");
        }
    }
    if let Some(before) = before {
        assert_same_snapshot(
            &case.ctx.display().to_string(),
            &before,
            &snapshot(case.ctx),
        );
    }
    let _ = fs::remove_file(case.out_dir.join(PACKED));
    Results(results)
}

/// A context directory and an output directory outside it.
struct Dirs {
    ctx: TempDir,
    out: TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs {
            ctx: tempfile::Builder::new().prefix("ctxodd").tempdir().unwrap(),
            out: tempfile::Builder::new().prefix("ctxout").tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.ctx.path()
    }
    fn file(&self, rel: &[u8], content: &[u8]) -> PathBuf {
        let p = self.path().join(os(rel));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        p
    }
    fn dockerfile(&self) {
        self.file(b"Dockerfile", b"FROM scratch\nCOPY . /\n");
    }
    fn ignore(&self, content: &[u8]) {
        self.file(b".dockerignore", content);
    }
    /// Runs the full matrix on this context.
    fn matrix(
        &self,
        explain: &[u8],
        forbidden: &[&[u8]],
        expect: &dyn Fn(Cmd) -> &'static [i32],
    ) -> Results {
        matrix(&Case {
            ctx: self.path(),
            explain,
            out_dir: self.out.path(),
            runner: &Runner::direct(),
            forbidden,
            cmds: &ALL,
            expect,
        })
    }
}

/// `(name bytes, typeflag)` of every entry of a tar.
fn tar_entries(bytes: &[u8]) -> Vec<(Vec<u8>, tar::EntryType, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .expect("a tar")
        .map(|e| {
            let e = e.expect("a tar entry");
            let link = e
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default();
            (e.path_bytes().into_owned(), e.header().entry_type(), link)
        })
        .collect()
}

fn tar_names(bytes: &[u8]) -> Vec<Vec<u8>> {
    tar_entries(bytes).into_iter().map(|e| e.0).collect()
}

fn lines(o: &Out) -> Vec<String> {
    o.out().lines().map(str::to_string).collect()
}

// ------------------------------------------------------------ ignore files

/// Pattern errors Docker raises when it builds the matcher: every command
/// fails naming the file and line, whether or not a path would reach the
/// pattern.
#[test]
fn bad_patterns_fail_before_anything_reached_or_not() {
    for pat in [&b"["[..], b"a[", b"bin\\", b"\\", b"!"] {
        for reached in [true, false] {
            let d = Dirs::new();
            d.dockerfile();
            d.file(b"other.txt", b"o");
            if reached {
                d.file(b"a", b"a");
                d.file(b"bin/tool", b"t");
            }
            let mut ignore = b"# comment\nnode_modules\n".to_vec();
            ignore.extend_from_slice(pat);
            ignore.push(b'\n');
            d.ignore(&ignore);
            let r = d.matrix(b"other.txt", &[], &input_error);
            r.assert_error_names(
                &[
                    Report, ReportJson, Ls, LsClassic, PackFile, PackStdout, Check, Explain,
                ],
                ".dockerignore:3",
            );
            if r.get(Lint).code() == 1 {
                assert!(
                    r.get(Lint).out().contains(".dockerignore:3"),
                    "{}",
                    r.get(Lint).out()
                );
            }
        }
    }
}

/// A pattern whose regexp does not compile fails only once a path reaches
/// it (SPEC b.6: `a` + `![z-a]` is harmless for `b`, an error for `a`).
#[test]
fn lazy_bad_pattern_fails_only_when_reached() {
    let d = Dirs::new();
    d.dockerfile();
    d.file(b"b", b"b");
    d.ignore(b"a\n![z-a]\n");
    let r = d.matrix(b"b", &[], &ok_or_finding);
    assert_eq!(
        tar_names(&r.get(PackStdout).stdout),
        [&b".dockerignore"[..], b"Dockerfile", b"b"]
    );

    d.file(b"a", b"a");
    let expect = |c: Cmd| -> &'static [i32] {
        match c {
            Lint => &[1, 2],
            _ => &[2],
        }
    };
    let r = d.matrix(b"a", &[], &expect);
    r.assert_error_names(
        &[
            Report, ReportJson, Ls, LsClassic, PackFile, PackStdout, Check, Explain,
        ],
        ".dockerignore:2",
    );
}

/// Docker's scanner refuses a line of 64 KiB or more; one byte less works.
#[test]
fn ignore_line_over_64_kib() {
    let d = Dirs::new();
    d.dockerfile();
    d.file(b"keep.txt", b"k");
    let mut long = b"junk\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 70_000));
    long.extend_from_slice(b"\nkeep.txt\n");
    d.ignore(&long);
    let r = d.matrix(b"keep.txt", &[], &input_error);
    r.assert_error_names(
        &[
            Report, ReportJson, Ls, LsClassic, PackFile, PackStdout, Check, Explain,
        ],
        ".dockerignore",
    );
    for c in [Report, Ls, PackFile] {
        let e = r.get(c).err();
        assert!(e.contains("line 2") && e.contains("64 KiB"), "{e}");
    }

    // 65,535 bytes plus the newline fit Go's 64 KiB buffer.
    let mut fits = b"keep.txt\n".to_vec();
    fits.extend(std::iter::repeat_n(b'x', 65_535));
    fits.push(b'\n');
    d.ignore(&fits);
    let r = d.matrix(b"keep.txt", &[], &ok_or_finding);
    assert_eq!(lines(r.get(Ls)), [".dockerignore", "Dockerfile"]);
}

/// BOM on the first line only, CRLF, a lone CR inside a line, a NUL byte.
#[test]
fn bom_crlf_cr_nul_in_ignore_file() {
    let d = Dirs::new();
    d.dockerfile();
    for name in [
        &b"secret.txt"[..],
        b"later.txt",
        "\u{feff}later.txt".as_bytes(),
        b"lone\rcr",
        b"nul",
    ] {
        d.file(name, b"x");
    }
    d.ignore(
        b"\xEF\xBB\xBFsecret.txt\r\n# a comment\r\n\xEF\xBB\xBFlater.txt\r\nlone\rcr\r\nnul\0byte\r\n",
    );
    let r = d.matrix(b"lone\rcr", &[b"lone\rcr"], &ok_or_finding);
    // The BOM goes from line 1 only (so a file named "\u{feff}later.txt" is
    // what line 3 excludes), CRLF ends lines, a lone CR does not, and a
    // pattern with a NUL matches nothing.
    let sent = [".dockerignore", "Dockerfile", "later.txt", "nul"];
    assert_eq!(lines(r.get(Ls)), sent);
    assert_eq!(lines(r.get(LsClassic)), sent);
    assert_eq!(
        tar_names(&r.get(PackStdout).stdout),
        sent.map(|s| s.as_bytes().to_vec())
    );
    assert!(
        r.get(Explain).out().contains("left out"),
        "{}",
        r.get(Explain).out()
    );
}

/// 50,000 lines of comments and blanks: the reader is linear.
#[test]
fn ignore_file_50k_comment_lines_is_fast() {
    let d = Dirs::new();
    d.dockerfile();
    d.file(b"a.txt", b"a");
    let mut ig = Vec::new();
    for i in 0..50_000 {
        ig.extend_from_slice(
            if i % 2 == 0 {
                format!("# comment {i}\n").into_bytes()
            } else {
                b"   \r\n".to_vec()
            }
            .as_slice(),
        );
    }
    ig.extend_from_slice(b"a.txt\n");
    d.ignore(&ig);
    let r = d.matrix(b"a.txt", &[], &ok_or_finding);
    for (c, o) in &r.0 {
        assert!(
            o.elapsed < Duration::from_secs(10),
            "{c:?}: {:?}",
            o.elapsed
        );
    }
    assert_eq!(lines(r.get(Ls)), [".dockerignore", "Dockerfile"]);
}

/// A 50,000-line ignore file of ordinary patterns (literal paths, `**/`
/// names, `*.ext` globs, exceptions) on a small context: every command
/// finishes within 10 s in a debug build.
#[test]
fn ignore_file_50k_pattern_lines_is_fast() {
    let d = Dirs::new();
    d.dockerfile();
    for i in 0..50 {
        d.file(format!("src/f{i}.txt").as_bytes(), b"x");
    }
    let mut ig = String::new();
    for i in 0..50_000 {
        ig.push_str(&match i % 4 {
            0 => format!("dir{i}/file{i}.txt\n"),
            1 => format!("**/gen{i}\n"),
            2 => format!("!src/f{i}.txt\n"),
            _ => format!("*.tmp{i}\n"),
        });
    }
    d.ignore(ig.as_bytes());
    let start = Instant::now();
    let r = d.matrix(b"src/f2.txt", &[], &ok_or_finding);
    for (c, o) in &r.0 {
        assert!(
            o.elapsed < Duration::from_secs(10),
            "{c:?}: {:?}",
            o.elapsed
        );
    }
    eprintln!("50k-line matrix: {:?}", start.elapsed());
}

// ------------------------------------------------------------ permissions

/// Makes every directory below `dir` owner-accessible again (for cleanup).
fn unlock(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
                unlock(&p);
            }
        }
    }
}

/// A context and output directory the unprivileged user can reach.
struct Shared {
    dirs: Dirs,
}

impl Shared {
    fn new() -> Shared {
        let dirs = Dirs::new();
        fs::set_permissions(dirs.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dirs.out.path(), fs::Permissions::from_mode(0o777)).unwrap();
        Shared { dirs }
    }
    fn matrix(
        &self,
        runner: &Runner,
        explain: &[u8],
        forbidden: &[&[u8]],
        expect: &dyn Fn(Cmd) -> &'static [i32],
    ) -> Results {
        matrix(&Case {
            ctx: self.dirs.path(),
            explain,
            out_dir: self.dirs.out.path(),
            runner,
            forbidden,
            cmds: &ALL,
            expect,
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        unlock(self.dirs.path());
    }
}

/// A file named with ESC and a newline, mode 000.
const LOCKED_FILE: &[u8] = b"bad\x1b[31m\nkey";
const LOCKED_FILE_SHOWN: &str = "bad\\x1b[31m\\x0akey";

fn locked_file(s: &Shared) -> String {
    s.dirs.dockerfile();
    s.dirs.file(b"ok.txt", b"ok");
    let p = s.dirs.file(LOCKED_FILE, b"top secret");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    format!("{}/{LOCKED_FILE_SHOWN}", s.dirs.path().display())
}

fn locked_dir(s: &Shared) -> String {
    s.dirs.dockerfile();
    s.dirs.file(b"ok.txt", b"ok");
    s.dirs.file(b"locked/inner.txt", b"inner");
    let p = s.dirs.path().join("locked");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    p.display().to_string()
}

/// SPEC d.2 (classic): an unreadable sent file fails "no permission to read
/// from '<path>'"; an unreadable directory fails "can't stat '<path>'" even
/// when excluded; an unreadable excluded file is fine. BuildKit (SPEC c):
/// permission errors on excluded paths are ignored, on a sent directory the
/// transfer fails.
#[test]
fn unreadable_files_and_directories_unprivileged() {
    let Some(runner) = unprivileged() else { return };

    // An unreadable file that is sent.
    let s = Shared::new();
    let shown = locked_file(&s);
    let expect = |c: Cmd| -> &'static [i32] {
        match c {
            LsClassic | PackFile | PackStdout => &[2],
            Lint => &[0, 1, 2],
            Check => &[0, 1, 2],
            _ => &[0, 2],
        }
    };
    let r = s.matrix(&runner, b"ok.txt", &[LOCKED_FILE], &expect);
    r.assert_error_names(&CLASSIC, &format!("no permission to read from '{shown}'"));
    for c in BUILDKIT_WALKS {
        if r.get(c).code() == 2 {
            r.assert_error_names(&[c], &shown);
        }
    }
    drop(s);

    // The same file, excluded: nothing fails.
    let s = Shared::new();
    locked_file(&s);
    s.dirs.ignore(b"bad*\n");
    let r = s.matrix(&runner, b"ok.txt", &[LOCKED_FILE], &ok_or_finding);
    assert_eq!(
        tar_names(&r.get(PackStdout).stdout),
        [&b".dockerignore"[..], b"Dockerfile", b"ok.txt"]
    );
    drop(s);

    // An unreadable directory that is sent: every engine fails naming it.
    let s = Shared::new();
    let dir = locked_dir(&s);
    let expect = |c: Cmd| -> &'static [i32] {
        match c {
            Explain => &[0, 2],
            Lint => &[1, 2],
            _ => &[2],
        }
    };
    let r = s.matrix(&runner, b"locked/inner.txt", &[], &expect);
    r.assert_error_names(&CLASSIC, &format!("can't stat '{dir}'"));
    r.assert_error_names(&BUILDKIT_WALKS, &dir);
    drop(s);

    // Excluded: BuildKit ignores it (classic: see the next test).
    let s = Shared::new();
    locked_dir(&s);
    s.dirs.ignore(b"locked\n");
    let expect = |c: Cmd| -> &'static [i32] {
        match c {
            LsClassic | PackFile | PackStdout => &[0, 2],
            _ => ok_or_finding(c),
        }
    };
    let r = s.matrix(&runner, b"locked/inner.txt", &[], &expect);
    assert_eq!(lines(r.get(Ls)), [".dockerignore", "Dockerfile", "ok.txt"]);
}

/// SPEC d.2: the classic CLI's validation (`filepath.Walk`) reads a
/// directory before its callback can skip it, so an unreadable directory
/// fails "can't stat '<path>'" even when .dockerignore excludes it.
#[test]
fn classic_unreadable_excluded_directory_fails_like_docker() {
    let Some(runner) = unprivileged() else { return };
    let s = Shared::new();
    let dir = locked_dir(&s);
    s.dirs.ignore(b"locked\n");
    let expect = |c: Cmd| -> &'static [i32] {
        match c {
            LsClassic | PackFile | PackStdout => &[2],
            _ => ok_or_finding(c),
        }
    };
    let r = s.matrix(&runner, b"locked/inner.txt", &[], &expect);
    r.assert_error_names(&CLASSIC, &format!("can't stat '{dir}'"));
}

/// SPEC c (BuildKit) 4: a permission error on a sent path aborts the
/// transfer ("error from sender: open ...: permission denied"). A
/// buildkit-engine `report`, `ls` and `check` must say so (exit 2 naming
/// the file, or at least a warning naming it), not report a context that
/// `docker build` cannot send.
#[test]
fn buildkit_unreadable_sent_file_is_not_silently_sent() {
    let Some(runner) = unprivileged() else { return };
    let s = Shared::new();
    let shown = locked_file(&s);
    let expect = |c: Cmd| -> &'static [i32] {
        match c {
            Explain => &[0, 2],
            _ => &[0, 1, 2],
        }
    };
    let r = s.matrix(&runner, b"ok.txt", &[LOCKED_FILE], &expect);
    for c in BUILDKIT_WALKS {
        let o = r.get(c);
        assert!(
            o.err().contains(&shown),
            "{}: exit {} and stderr {:?} do not name {shown}",
            o.desc,
            o.code(),
            o.err()
        );
    }
}

// ------------------------------------------------------------ special files

fn mkfifo(p: &Path) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {}",
        p.display()
    );
}

/// FIFOs are stored as a header only (never opened: opening one for reading
/// would block); sockets are skipped by the classic tar writer.
#[test]
fn fifos_and_sockets_never_hang() {
    let d = Dirs::new();
    d.dockerfile();
    d.file(b"a.txt", b"a");
    mkfifo(&d.path().join("pipe"));
    fs::create_dir(d.path().join("run")).unwrap();
    mkfifo(&d.path().join("run/fifo2"));
    let _sock = std::os::unix::net::UnixListener::bind(d.path().join("sock")).unwrap();
    let r = d.matrix(b"pipe", &[], &ok_or_finding);
    let entries = tar_entries(&r.get(PackStdout).stdout);
    let kinds: Vec<(String, tar::EntryType)> = entries
        .iter()
        .map(|(n, t, _)| (String::from_utf8_lossy(n).into_owned(), *t))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Dockerfile".to_string(), tar::EntryType::Regular),
            ("a.txt".into(), tar::EntryType::Regular),
            ("pipe".into(), tar::EntryType::Fifo),
            ("run/".into(), tar::EntryType::Directory),
            ("run/fifo2".into(), tar::EntryType::Fifo),
        ]
    );
    let warn = r.get(PackFile).err();
    assert!(warn.contains("sock") && warn.contains("socket"), "{warn}");
    // The BuildKit file set through pack as well.
    let o = Runner::direct().run(&args([
        d.path().as_os_str(),
        os(b"--engine"),
        os(b"buildkit"),
    ]));
    assert_eq!(o.code(), 0, "{}", o.err());
    let o = Runner::direct().run(&args([
        os(b"pack"),
        d.path().as_os_str(),
        os(b"--engine"),
        os(b"buildkit"),
        os(b"-o"),
        os(b"-"),
    ]));
    assert_eq!(o.code(), 0, "{}", o.err());
    assert!(tar_names(&o.stdout).contains(&b"pipe".to_vec()));
}

/// Character devices (root only): stored with their numbers, never read
/// (a `/dev/zero` would never end).
#[test]
fn device_files_are_headers_only() {
    if !is_root() {
        eprintln!("odd_inputs: skipped device_files_are_headers_only: needs root for mknod");
        return;
    }
    let d = Dirs::new();
    d.dockerfile();
    for (name, minor) in [("null", 3), ("zero", 5)] {
        let c = CString::new(d.path().join(name).as_os_str().as_bytes()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, minor)) };
        if r != 0 {
            eprintln!(
                "odd_inputs: skipped device_files_are_headers_only: mknod: {}",
                io::Error::last_os_error()
            );
            return;
        }
    }
    let r = d.matrix(b"zero", &[], &ok_or_finding);
    let mut a = tar::Archive::new(&r.get(PackStdout).stdout[..]);
    let devs: Vec<(String, u32, u32, u64)> = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.header().entry_type() == tar::EntryType::Char)
        .map(|e| {
            let h = e.header();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                h.device_major().unwrap().unwrap(),
                h.device_minor().unwrap().unwrap(),
                h.size().unwrap(),
            )
        })
        .collect();
    assert_eq!(devs, [("null".into(), 1, 3, 0), ("zero".into(), 1, 5, 0)]);
}

/// Symlink loops, links out of the context and to `/`, dangling links:
/// stored as links, never followed.
#[test]
fn symlinks_are_never_followed() {
    let d = Dirs::new();
    d.dockerfile();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "outside secret").unwrap();
    let links: [(&str, &[u8]); 7] = [
        ("loop_a", b"loop_b"),
        ("loop_b", b"loop_a"),
        ("self", b"self"),
        ("dot", b"."),
        ("out", outside.path().as_os_str().as_bytes()),
        ("root", b"/"),
        ("dangling", b"no/such/file"),
    ];
    for (name, target) in links {
        symlink(os(target), d.path().join(name)).unwrap();
    }
    fs::create_dir(d.path().join("sub")).unwrap();
    symlink("..", d.path().join("sub/up")).unwrap();
    let r = d.matrix(b"root", &[], &ok_or_finding);

    let mut names: Vec<&str> = links.iter().map(|l| l.0).collect();
    names.extend(["Dockerfile", "sub/", "sub/up"]);
    names.sort();
    for c in [Ls, LsClassic] {
        let mut got = lines(r.get(c));
        got.sort();
        assert_eq!(got, names, "{c:?}");
    }
    let o = Runner::direct().run(&args([os(b"ls"), os(b"--json"), d.path().as_os_str()]));
    for l in o.out().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let p = v["path"].as_str().unwrap();
        if links.iter().any(|x| x.0 == p) || p == "sub/up" {
            assert_eq!(v["kind"], "symlink", "{l}");
        }
    }
    let entries = tar_entries(&r.get(PackStdout).stdout);
    for (name, target) in links.iter().copied().chain([("sub/up", &b".."[..])]) {
        let e = entries
            .iter()
            .find(|e| e.0 == name.as_bytes())
            .unwrap_or_else(|| panic!("{name} not in the tar"));
        assert_eq!(e.1, tar::EntryType::Symlink, "{name}");
        assert_eq!(e.2, target, "{name}");
    }
    assert_eq!(entries.len(), names.len());
    let v: serde_json::Value = serde_json::from_slice(&r.get(ReportJson).stdout).unwrap();
    assert_eq!(v["included"]["files"], 1, "only the Dockerfile: {v}");
}

// ------------------------------------------------------------ names

/// Non-UTF-8 names, newline, ESC and OSC sequences, a bidi override: raw in
/// the tar, escaped wherever a person reads them.
#[test]
fn hostile_names_are_escaped_in_human_output() {
    let d = Dirs::new();
    d.dockerfile();
    let names: [&[u8]; 6] = [
        b"caf\xe9",
        b"new\nline",
        b"\x1b[31mred",
        b"\x1b]0;title\x07dir/inner",
        "evil\u{202e}txt.exe".as_bytes(),
        b"tab\there",
    ];
    for n in names {
        d.file(n, b"x");
    }
    // A dead rule naming something hostile, which the report and lint print.
    d.ignore(b"Dockerfile.bak\n\x1b\\[1mnothing\x07\ncaf\xe9-old\n");
    let forbidden: [&[u8]; 5] = [
        b"caf\xe9",
        b"new\nline",
        b"\x1b[31mred",
        b"\x1b]0;title",
        b"tab\there",
    ];
    let r = d.matrix(b"\x1b[31mred", &forbidden, &ok_or_finding);
    let ls = r.get(Ls).out();
    for shown in [
        "caf\\xe9",
        "new\\x0aline",
        "\\x1b[31mred",
        "\\x1b]0;title\\x07dir/inner",
        "evil\\u{202e}txt.exe",
    ] {
        assert!(ls.contains(shown), "{shown} not in\n{ls}");
    }
    assert!(
        r.get(Explain).out().contains("\\x1b[31mred: sent"),
        "{}",
        r.get(Explain).out()
    );
    let tar = tar_names(&r.get(PackStdout).stdout);
    for n in names {
        assert!(
            tar.contains(&n.to_vec()),
            "{:?} not in the tar",
            String::from_utf8_lossy(n)
        );
    }
}

/// 255-byte names, a 1,000-byte symlink target, a 4,000-byte path.
#[test]
fn long_names_and_paths() {
    let d = Dirs::new();
    d.dockerfile();
    let n255 = "n".repeat(255);
    let d255 = "d".repeat(255);
    d.file(n255.as_bytes(), b"x");
    d.file(format!("{d255}/{n255}").as_bytes(), b"y");
    symlink(
        "t".repeat(1000),
        d.path().join(format!("l{}", "l".repeat(254))),
    )
    .unwrap();
    let mut deep = String::new();
    for i in 0..19 {
        deep.push_str(&format!("{i:02}{}/", "p".repeat(198)));
    }
    deep.push_str(&"f".repeat(181));
    assert!(deep.len() >= 4000, "{}", deep.len());
    d.file(deep.as_bytes(), b"deep");
    let r = d.matrix(deep.as_bytes(), &[], &ok_or_finding);
    let ls = lines(r.get(Ls));
    assert!(ls.contains(&deep), "the deep path is listed");
    assert!(ls.contains(&n255) && ls.contains(&format!("{d255}/{n255}")));
    let tar = tar_entries(&r.get(PackStdout).stdout);
    let find = |n: &str| tar.iter().find(|e| e.0 == n.as_bytes()).cloned();
    assert!(find(&deep).is_some(), "the deep path is in the tar");
    assert!(find(&n255).is_some());
    let link = find(&format!("l{}", "l".repeat(254))).expect("the long link");
    assert_eq!(link.2, "t".repeat(1000).into_bytes());
    assert!(r.get(Explain).out().contains(": sent by buildkit"));
}

/// A sparse file over 8 GiB: sized from metadata (PAX size record), listed
/// without reading it; the tar size equals what a counting builder says.
#[test]
fn sparse_file_over_8_gib() {
    let d = Dirs::new();
    d.dockerfile();
    let size: u64 = 9 << 30;
    fs::File::create(d.path().join("big.img"))
        .unwrap()
        .set_len(size)
        .unwrap();
    let cmds = [Report, ReportJson, Ls, LsClassic, Explain, Lint, Check];
    let r = matrix(&Case {
        ctx: d.path(),
        explain: b"big.img",
        out_dir: d.out.path(),
        runner: &Runner::direct(),
        forbidden: &[],
        cmds: &cmds,
        expect: &ok_or_finding,
    });
    for c in [Ls, LsClassic, Explain] {
        assert!(
            r.get(c).elapsed < Duration::from_secs(5),
            "{c:?}: {:?}",
            r.get(c).elapsed
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&r.get(ReportJson).stdout).unwrap();
    let df = fs::metadata(d.path().join("Dockerfile")).unwrap().len();
    assert_eq!(v["included"]["bytes"], size + df);
    let tar_bytes = v["tar_bytes"].as_u64().unwrap();
    // Dockerfile: header + one block; big.img: PAX header + record block,
    // header, data; two zero blocks.
    assert_eq!(tar_bytes, 1024 + 1024 + 512 + size + 1024);

    // pack into a counting builder: same size, no data read.
    let ctx = Context::open(&Options::new(d.path(), Engine::Buildkit)).unwrap();
    let mut tb = TarBuilder::counter();
    ctx.walk(WalkMode::Sent, |ev| {
        if let Event::Entry(e) = ev {
            if e.status == Status::Sent {
                tb.add(e.path, e.abs).unwrap();
            }
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(tb.finish().unwrap().1, tar_bytes);

    // A budget on the tar fails the check.
    let o = Runner::direct().run(&args([
        os(b"check"),
        d.path().as_os_str(),
        os(b"--max-tar-bytes"),
        os(b"1GB"),
    ]));
    assert_eq!(o.code(), 1, "{}", o.out());
}

// ------------------------------------------------------------ pack

/// A writer that runs `hook` before its first write.
struct Hooked<F: FnOnce()> {
    hook: Option<F>,
    out: Vec<u8>,
}

impl<F: FnOnce()> Write for Hooked<F> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if let Some(h) = self.hook.take() {
            h();
        }
        self.out.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A file that grows or shrinks while `pack` archives it: an error naming
/// the file, never a silently wrong archive.
#[test]
fn file_changing_size_during_pack() {
    let body = vec![b'x'; 10_000];
    for engine in [Engine::Classic, Engine::Buildkit] {
        // The first file (its header is the first write): grow it, shrink it.
        for grow in [true, false] {
            let d = Dirs::new();
            let a = d.file(b"a.txt", &body);
            d.file(b"b.txt", &body);
            let ctx = Context::open(&Options::new(d.path(), engine)).unwrap();
            let w = Hooked {
                hook: Some(|| {
                    let f = fs::OpenOptions::new().append(true).open(&a).unwrap();
                    if grow {
                        (&f).write_all(b"more").unwrap();
                    } else {
                        f.set_len(100).unwrap();
                    }
                }),
                out: Vec::new(),
            };
            let err = ctxray::archive::pack(&ctx, w, |_| false)
                .err()
                .unwrap_or_else(|| panic!("{engine:?} grow={grow}: a changed file was archived"))
                .to_string();
            assert!(
                err.contains(&a.display().to_string()) && err.contains("changed size"),
                "{err}"
            );
        }
        // A later file grows before its turn: an error, or an archive that
        // holds what the file holds when it is read.
        let d = Dirs::new();
        d.file(b"a.txt", &body);
        let b = d.file(b"b.txt", &body);
        let ctx = Context::open(&Options::new(d.path(), engine)).unwrap();
        let w = Hooked {
            hook: Some(|| {
                let mut f = fs::OpenOptions::new().append(true).open(&b).unwrap();
                f.write_all(b"more").unwrap();
            }),
            out: Vec::new(),
        };
        match ctxray::archive::pack(&ctx, w, |_| false) {
            Err(e) => assert!(e.to_string().contains(&b.display().to_string()), "{e}"),
            Ok((w, _)) => {
                let mut a = tar::Archive::new(&w.out[..]);
                for e in a.entries().unwrap() {
                    let mut e = e.unwrap();
                    let name = e.path_bytes().into_owned();
                    let mut data = Vec::new();
                    e.read_to_end(&mut data).unwrap();
                    assert_eq!(data, fs::read(d.path().join(os(&name))).unwrap());
                }
            }
        }
    }
}

/// `pack -o` into the context: neither the output nor its temporary file
/// goes into the archive, by any spelling of the path.
#[test]
fn pack_output_inside_the_context() {
    let d = Dirs::new();
    d.dockerfile();
    d.file(b"a.txt", b"a");
    d.file(b"sub/b.txt", b"b");
    let before = snapshot(d.path());
    let link_dir = tempfile::tempdir().unwrap();
    let link = link_dir.path().join("ctx-link");
    symlink(d.path(), &link).unwrap();
    let r = Runner::direct();
    let ctx = d.path().as_os_str();
    let out = d.path().join("out.tar");
    let sub_out = d.path().join("sub/out.tar");
    let want = ["Dockerfile", "a.txt", "sub/", "sub/b.txt"];
    let runs: Vec<(Vec<OsString>, Option<&Path>, &Path)> = vec![
        (
            args([os(b"pack"), ctx, os(b"-o"), out.as_os_str()]),
            None,
            &out,
        ),
        // Again, now that out.tar exists.
        (
            args([os(b"pack"), ctx, os(b"-o"), out.as_os_str()]),
            None,
            &out,
        ),
        (
            args([os(b"pack"), os(b"."), os(b"-o"), os(b"out.tar")]),
            Some(d.path()),
            &out,
        ),
        (
            args([os(b"pack"), os(b"."), os(b"-o"), os(b"./sub/../out.tar")]),
            Some(d.path()),
            &out,
        ),
        (
            args([
                os(b"pack"),
                link.as_os_str(),
                os(b"-o"),
                link.join("out.tar").as_os_str(),
            ]),
            None,
            &out,
        ),
        (
            args([
                os(b"pack"),
                ctx,
                os(b"--engine"),
                os(b"buildkit"),
                os(b"-o"),
                sub_out.as_os_str(),
            ]),
            None,
            &sub_out,
        ),
        (
            args([os(b"pack"), ctx, os(b"--gzip"), os(b"-o"), out.as_os_str()]),
            None,
            &out,
        ),
    ];
    for (a, cwd, written) in runs {
        let o = r.run_in(&a, cwd);
        assert_eq!(o.code(), 0, "{}: {}", o.desc, o.err());
        let mut bytes = fs::read(written).unwrap();
        if a.iter().any(|x| x == "--gzip") {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut plain)
                .unwrap();
            bytes = plain;
        }
        let names = tar_names(&bytes);
        let own = written
            .strip_prefix(d.path())
            .unwrap()
            .as_os_str()
            .as_bytes();
        assert!(
            !names.iter().any(|n| n == own),
            "{}: the output is in its own archive: {names:?}",
            o.desc
        );
        assert!(
            !names.iter().any(|n| contains(n, b".ctxray-pack-")),
            "{}: a temporary file is in the archive: {names:?}",
            o.desc
        );
        // Earlier runs' outputs are ordinary files by now.
        let rest: Vec<String> = names
            .iter()
            .filter(|n| !n.ends_with(b"out.tar"))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        assert_eq!(rest, want, "{}", o.desc);
        for dir in [d.path(), &d.path().join("sub")] {
            assert_eq!(leftovers(dir), Vec::<String>::new(), "{}", o.desc);
        }
    }
    // Apart from the outputs (and the mtimes of the directories they went
    // into), the context is as it was.
    let mut after = snapshot(d.path());
    after.remove(&b"out.tar"[..]);
    after.remove(&b"sub/out.tar"[..]);
    let mut before = before;
    for k in [&b""[..], b"sub"] {
        before.get_mut(k).unwrap().mtime = (0, 0);
        after.get_mut(k).unwrap().mtime = (0, 0);
    }
    assert_same_snapshot("pack into the context", &before, &after);
}

/// A missing context and a context that is a regular file: exit 2, the
/// path named (escaped).
#[test]
fn missing_context_and_file_context() {
    let d = Dirs::new();
    let missing = d.path().join(os(b"missing\x1b[31m\ndir"));
    let r = matrix(&Case {
        ctx: &missing,
        explain: b"x",
        out_dir: d.out.path(),
        runner: &Runner::direct(),
        forbidden: &[b"missing\x1b"],
        cmds: &ALL,
        expect: &|_| &[2],
    });
    r.assert_error_names(&ALL, "missing\\x1b[31m\\x0adir");

    let file = d.file(b"plain-file", b"not a directory");
    let r = matrix(&Case {
        ctx: &file,
        explain: b"x",
        out_dir: d.out.path(),
        runner: &Runner::direct(),
        forbidden: &[],
        cmds: &ALL,
        expect: &|_| &[2],
    });
    r.assert_error_names(&ALL, "plain-file");
    r.assert_error_names(&[Report, Ls, PackFile], "not a directory");
}

/// A context whose listing is far larger than a pipe's buffer.
fn many_files() -> (Dirs, Vec<OsString>) {
    let d = Dirs::new();
    d.dockerfile();
    let names: Vec<String> = (0..1500)
        .map(|i| format!("dir{}/{i:04}-{}", i % 3, "n".repeat(150)))
        .collect();
    for n in &names {
        d.file(n.as_bytes(), b"x");
    }
    (d, names.into_iter().map(OsString::from).collect())
}

/// Runs `a` with a stdout whose reader has already gone: exit 0 and
/// nothing on stderr.
fn assert_quiet_when_reader_gone(a: &[OsString]) {
    let mut child = Runner::direct().spawn(a, None);
    drop(child.stdout.take());
    let o = wait_timeout(child, show(a), TIMEOUT);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}: {:?}, stderr {}",
        o.desc,
        o.status,
        o.err()
    );
    assert_eq!(o.err(), "", "{}", o.desc);
}

/// `ctxray ls | head -1` and friends: a reader that goes away is not an
/// error (exit 0, nothing on stderr).
#[test]
fn broken_pipe_is_quiet() {
    let (d, _) = many_files();
    let ctx = d.path().as_os_str();
    let cases: Vec<(Vec<OsString>, &[&str])> = vec![
        (args([os(b"ls"), ctx]), &["-1"]),
        (
            args([os(b"ls"), os(b"--engine"), os(b"classic"), ctx]),
            &["-1"],
        ),
        (args([os(b"ls"), os(b"--json"), ctx]), &["-1"]),
        (
            args([os(b"pack"), ctx, os(b"-o"), os(b"-")]),
            &["-c", "100"],
        ),
    ];
    for (a, head_args) in cases {
        let mut child = Runner::direct().spawn(&a, None);
        let stdout = child.stdout.take().unwrap();
        let head = Command::new("head")
            .args(head_args)
            .stdin(Stdio::from(stdout))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let h = wait_timeout(head, "head".into(), TIMEOUT);
        assert!(!h.stdout.is_empty(), "{}: head read nothing", show(&a));
        let o = wait_timeout(child, show(&a), TIMEOUT);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {:?}, stderr {}",
            o.desc,
            o.status,
            o.err()
        );
        assert_eq!(o.err(), "", "{}", o.desc);
    }
    // The reader gone before the first write.
    for a in [
        args([os(b"ls"), ctx]),
        args([os(b"ls"), os(b"--excluded"), ctx]),
        args([os(b"pack"), ctx, os(b"-o"), os(b"-")]),
        args([os(b"lint"), ctx]),
    ] {
        assert_quiet_when_reader_gone(&a);
    }
}

/// The same for the commands that print with `println!`.
#[test]
fn broken_pipe_is_quiet_in_every_command() {
    let (d, names) = many_files();
    let ctx = d.path().as_os_str();
    let mut explain = args([os(b"explain"), ctx]);
    explain.extend(names.iter().cloned());
    let mut explain_json = args([os(b"explain"), os(b"--json"), ctx]);
    explain_json.extend(names);
    for a in [
        args([os(b"report"), ctx]),
        args([os(b"report"), os(b"--top"), os(b"5000"), ctx]),
        args([os(b"report"), os(b"--json"), ctx]),
        args([os(b"report"), os(b"--tree"), os(b"--depth"), os(b"5"), ctx]),
        explain,
        explain_json,
        args([os(b"check"), ctx]),
        args([os(b"check"), os(b"--format"), os(b"json"), ctx]),
        args([os(b"check"), os(b"--format"), os(b"sarif"), ctx]),
        args([os(b"lint"), os(b"--json"), ctx]),
    ] {
        assert_quiet_when_reader_gone(&a);
    }
}

/// Ctrl-C during `pack -o FILE`: no temporary file and no partial FILE is
/// left in the output directory.
#[test]
fn ctrl_c_during_pack_leaves_nothing() {
    let d = Dirs::new();
    d.dockerfile();
    // Sparse: cheap to make, slow enough to pack.
    fs::File::create(d.path().join("big"))
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let before = snapshot(d.path());
    let out = d.out.path().join("ctx.tar");
    let a = args([
        os(b"pack"),
        d.path().as_os_str(),
        os(b"-o"),
        out.as_os_str(),
    ]);
    let child = Runner::direct().spawn(&a, None);
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let started = fs::read_dir(d.out.path()).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().starts_with(".ctxray-pack-")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        });
        if started {
            break;
        }
        assert!(Instant::now() < deadline, "pack never started writing");
        thread::sleep(Duration::from_millis(2));
    }
    // SAFETY: signalling our own child, which has not been waited for.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let o = wait_timeout(child, show(&a), TIMEOUT);
    assert!(!o.err().contains("panicked"), "{}", o.err());
    assert!(
        o.status.code() == Some(130) || o.status.signal() == Some(libc::SIGINT),
        "ends as interrupted: {:?} {}",
        o.status,
        o.err()
    );
    let left: Vec<String> = fs::read_dir(d.out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, Vec::<String>::new(), "the output directory is empty");
    assert_same_snapshot("interrupted pack", &before, &snapshot(d.path()));
}
