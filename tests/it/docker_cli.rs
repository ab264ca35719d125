//! Differential tests against the real `docker` CLI (legacy builder,
//! `DOCKER_BUILDKIT=0`): a fake daemon on a unix socket captures the build
//! context the CLI uploads, which must be byte-identical to `ctxray::archive::pack`.
//!
//! `docker` must be on PATH; without it these tests fail, unless
//! `CTXRAY_SKIP_DOCKER=1` is set (then they are skipped; the committed golden
//! tars of `golden.rs` still cover the comparison).

use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ctxray::archive::pack;
use ctxray::context::{Context, IgnoreSource, Options};
use ctxray::walk::Engine;

use crate::treespec::{make_removable, materialize, runnable_cases};

/// Longest a single `docker build` may take.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);

/// Prefix of errors of this harness (as opposed to docker refusing a context).
const HARNESS: &str = "harness: ";

// ---------------------------------------------------------------------------
// Fake daemon

/// One `POST /build` request the fake daemon received.
#[derive(Debug)]
struct BuildRequest {
    /// Request target, e.g. `/v1.41/build?dockerfile=Dockerfile&...`.
    target: String,
    /// Header names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A minimal dockerd stand-in on a unix socket: answers `/_ping` and captures
/// the bodies of `POST /build`; nothing is built. Stopped on drop.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    builds: Arc<Mutex<Vec<BuildRequest>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    fn start() -> io::Result<FakeDaemon> {
        // Short path: unix socket paths are limited to ~107 bytes.
        let dir = tempfile::Builder::new().prefix("cxd").tempdir()?;
        let sock = dir.path().join("d.sock");
        let listener = UnixListener::bind(&sock)?;
        let builds = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (builds, stop) = (builds.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(conn) = conn {
                        let builds = builds.clone();
                        thread::spawn(move || {
                            let _ = serve(conn, &builds);
                        });
                    }
                }
            })
        };
        Ok(FakeDaemon {
            _dir: dir,
            sock,
            builds,
            stop,
            accept: Some(accept),
        })
    }

    fn take_builds(&self) -> Vec<BuildRequest> {
        std::mem::take(&mut *self.builds.lock().unwrap())
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = UnixStream::connect(&self.sock);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn bad_data(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// One line without its line ending; `None` at EOF.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Some(line))
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad_data("EOF in chunk size"))?;
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| bad_data(format!("bad chunk size {size:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while let Some(l) = read_line(r)? {
                if l.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        read_line(r)?;
    }
}

/// `/build` or `/vX.Y/build`.
fn is_build_path(path: &str) -> bool {
    path == "/build"
        || path
            .strip_prefix("/v")
            .and_then(|p| p.split_once('/'))
            .is_some_and(|(v, rest)| {
                rest == "build"
                    && !v.is_empty()
                    && v.bytes().all(|c| c.is_ascii_digit() || c == b'.')
            })
}

/// Serves HTTP/1.1 requests on one (keep-alive) connection until EOF.
fn serve(stream: UnixStream, builds: &Mutex<Vec<BuildRequest>>) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    loop {
        let Some(line) = read_line(&mut r)? else {
            return Ok(());
        };
        if line.is_empty() {
            continue; // stray CRLF between requests
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let h = read_line(&mut r)?.ok_or_else(|| bad_data("EOF in headers"))?;
            if h.is_empty() {
                break;
            }
            let h = String::from_utf8_lossy(&h);
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let body = if header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            read_chunked(&mut r)?
        } else {
            let n: usize = match header("content-length") {
                Some(v) => v
                    .parse()
                    .map_err(|_| bad_data(format!("bad Content-Length {v:?}")))?,
                None => 0,
            };
            let mut b = vec![0; n];
            r.read_exact(&mut b)?;
            b
        };
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let path = target.split('?').next().unwrap_or("");
        let (status, ctype, reply): (&str, &str, Vec<u8>) =
            if path.ends_with("/_ping") && (method == "GET" || method == "HEAD") {
                ("200 OK", "text/plain; charset=utf-8", b"OK".to_vec())
            } else if method == "POST" && is_build_path(path) {
                let reply = format!("{{\"stream\":\"captured {} bytes\\n\"}}\r\n", body.len());
                builds.lock().unwrap().push(BuildRequest {
                    target: target.clone(),
                    headers: headers.clone(),
                    body,
                });
                ("200 OK", "application/json", reply.into_bytes())
            } else {
                (
                    "404 Not Found",
                    "application/json",
                    b"{\"message\":\"not implemented by fake daemon\"}".to_vec(),
                )
            };
        let head_only = method == "HEAD";
        let mut resp = format!(
            "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nOstype: linux\r\nBuilder-Version: 1\r\n\
             Docker-Experimental: false\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            if head_only { 0 } else { reply.len() }
        )
        .into_bytes();
        if !head_only {
            resp.extend_from_slice(&reply);
        }
        out.write_all(&resp)?;
        out.flush()?;
        if close {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------
// Running docker

/// The `docker` executable on PATH.
fn docker_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("docker"))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// True when the docker tests should run; panics when docker is missing and
/// skipping was not asked for.
fn docker_enabled(test: &str) -> bool {
    if std::env::var_os("CTXRAY_SKIP_DOCKER").is_some_and(|v| v == "1") {
        eprintln!("{test}: skipped (CTXRAY_SKIP_DOCKER=1)");
        return false;
    }
    assert!(
        docker_bin().is_some(),
        "{test}: the `docker` CLI is not on PATH. These tests run the real docker CLI \
         (no daemon needed: a fake one is built in). Install the docker CLI, or set \
         CTXRAY_SKIP_DOCKER=1 to skip them."
    );
    true
}

/// Runs the real `docker build [extra_args] CTX_DIR` (legacy builder) against a
/// fresh fake daemon; returns the uploaded body, or docker's stderr when it fails.
/// Errors of the harness itself (timeout, no request, ...) start with [`HARNESS`].
fn docker_upload<S: AsRef<OsStr>>(ctx_dir: &Path, extra_args: &[S]) -> Result<Vec<u8>, String> {
    let bin = docker_bin().ok_or_else(|| format!("{HARNESS}no docker on PATH"))?;
    let daemon = FakeDaemon::start().map_err(|e| format!("{HARNESS}fake daemon: {e}"))?;
    let config = tempfile::Builder::new()
        .prefix("cxcfg")
        .tempdir()
        .map_err(|e| format!("{HARNESS}tempdir: {e}"))?;
    let mut cmd = Command::new(&bin);
    cmd.arg("build");
    for a in extra_args {
        cmd.arg(a);
    }
    cmd.arg(ctx_dir);
    for var in [
        "DOCKER_CONTEXT",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "DOCKER_API_VERSION",
        "DOCKER_DEFAULT_PLATFORM",
        "BUILDKIT_PROGRESS",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .env("DOCKER_HOST", format!("unix://{}", daemon.sock.display()))
        .env("DOCKER_BUILDKIT", "0")
        .env("DOCKER_CONFIG", config.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{HARNESS}spawn {}: {e}", bin.display()))?;
    let drain = |r: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let stderr = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() > DOCKER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{HARNESS}docker build timed out after {}s",
                    DOCKER_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("{HARNESS}wait for docker: {e}")),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let mut builds = daemon.take_builds();
    if !status.success() {
        return Err(String::from_utf8_lossy(&stderr).trim().to_owned());
    }
    if builds.len() != 1 {
        return Err(format!(
            "{HARNESS}docker exited 0 after {} build requests; stdout: {}; stderr: {}",
            builds.len(),
            String::from_utf8_lossy(&stdout).trim(),
            String::from_utf8_lossy(&stderr).trim()
        ));
    }
    let b = builds.pop().unwrap();
    let ctype = b
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    if ctype != Some("application/x-tar") {
        return Err(format!(
            "{HARNESS}build request {} has Content-Type {ctype:?}",
            b.target
        ));
    }
    Ok(b.body)
}

// ---------------------------------------------------------------------------
// ctxray side and comparison

fn ctxray_pack(context: &Path, dockerfile: Option<PathBuf>) -> Result<Vec<u8>, String> {
    let ctx = Context::open(&Options {
        context: context.to_path_buf(),
        dockerfile,
        engine: Engine::Classic,
        ignore: IgnoreSource::Auto,
    })
    .map_err(|e| e.to_string())?;
    pack(&ctx, Vec::new(), |_| false)
        .map(|(bytes, _)| bytes)
        .map_err(|e| e.to_string())
}

/// Name of the ustar header field at `off` (0..512).
fn header_field(off: usize) -> &'static str {
    const FIELDS: [(usize, &str); 16] = [
        (100, "name"),
        (108, "mode"),
        (116, "uid"),
        (124, "gid"),
        (136, "size"),
        (148, "mtime"),
        (156, "chksum"),
        (157, "typeflag"),
        (257, "linkname"),
        (263, "magic"),
        (265, "version"),
        (297, "uname"),
        (329, "gname"),
        (337, "devmajor"),
        (345, "devminor"),
        (500, "prefix"),
    ];
    FIELDS
        .iter()
        .find(|(end, _)| off < *end)
        .map(|(_, f)| *f)
        .unwrap_or("pad")
}

/// Where `off` falls in the tar `bytes`: which raw member (PAX/GNU extension
/// members included), header field or data offset. Walks the headers by hand
/// (no checksum validation), so a corrupted header is still located.
fn locate(bytes: &[u8], off: usize) -> String {
    let mut pos = 0;
    let mut i = 0;
    while pos + 512 <= bytes.len() {
        let h = &bytes[pos..pos + 512];
        if h.iter().all(|&c| c == 0) {
            break;
        }
        let field = |a: usize, b: usize| h[a..b].split(|&c| c == 0).next().unwrap_or(b"");
        let size = if h[124] & 0x80 != 0 {
            h[125..136].iter().fold(0usize, |n, &c| n << 8 | c as usize)
        } else {
            let s = String::from_utf8_lossy(field(124, 136)).trim().to_owned();
            usize::from_str_radix(&s, 8).unwrap_or(0)
        };
        let end = pos + 512 + size.div_ceil(512) * 512;
        if off < end {
            let what = format!(
                "member #{i} {:?} (type {:?})",
                crate::treespec::esc(field(0, 100)),
                h[156] as char
            );
            return if off < pos + 512 {
                format!("{what}, header field {}", header_field(off - pos))
            } else {
                format!("{what}, data byte {}", off - pos - 512)
            };
        }
        pos = end;
        i += 1;
    }
    format!(
        "end-of-archive blocks (byte {} of them)",
        off.saturating_sub(pos)
    )
}

/// `None` when equal, else where the two tars first differ.
fn tar_diff(docker: &[u8], ours: &[u8]) -> Option<String> {
    if docker == ours {
        return None;
    }
    let first = docker
        .iter()
        .zip(ours)
        .position(|(a, b)| a != b)
        .unwrap_or(docker.len().min(ours.len()));
    let show = |b: &[u8]| {
        let s = &b[first.min(b.len())..(first + 16).min(b.len())];
        crate::treespec::esc(s)
    };
    Some(format!(
        "differ at byte {first} (block {}): docker {} bytes, ctxray {}; docker: {} [{}], ctxray: {} [{}]",
        first / 512,
        docker.len(),
        ours.len(),
        locate(docker, first),
        show(docker),
        locate(ours, first),
        show(ours),
    ))
}

/// Compares docker's and ctxray's outcome; `Err` describes a divergence.
fn compare(docker: Result<Vec<u8>, String>, ours: Result<Vec<u8>, String>) -> Result<(), String> {
    match (docker, ours) {
        (Err(d), _) if d.starts_with(HARNESS) => Err(d),
        (Ok(d), Ok(o)) => tar_diff(&d, &o).map_or(Ok(()), Err),
        (Ok(d), Err(e)) => Err(format!("docker sent {} bytes, ctxray failed: {e}", d.len())),
        (Err(d), Ok(o)) => Err(format!(
            "docker refused ({d}), ctxray packed {} bytes",
            o.len()
        )),
        (Err(_), Err(_)) => Ok(()),
    }
}

/// Runs `f` on every item on a few threads; results in item order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(1, 8);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

// ---------------------------------------------------------------------------
// Copying the sample context

fn lutimes(p: &Path, md: &fs::Metadata) -> io::Result<()> {
    crate::treespec::lutimes_ns(
        p,
        (md.atime(), md.atime_nsec()),
        (md.mtime(), md.mtime_nsec()),
    )
}

/// Copies the tree `src` into the existing directory `dst`: symlinks as
/// symlinks, hardlinks as hardlinks, modes and atime/mtime (with nanoseconds)
/// preserved; directories' times are set after their contents.
fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    fn walk(
        src: &Path,
        dst: &Path,
        links: &mut std::collections::HashMap<(u64, u64), PathBuf>,
    ) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(src)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let (s, d) = (src.join(&name), dst.join(&name));
            let md = fs::symlink_metadata(&s)?;
            let ft = md.file_type();
            if ft.is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
            } else if ft.is_dir() {
                fs::create_dir(&d)?;
                walk(&s, &d, links)?;
                fs::set_permissions(&d, fs::Permissions::from_mode(md.mode() & 0o7777))?;
            } else if ft.is_file() {
                if md.nlink() > 1 {
                    if let Some(first) = links.get(&(md.dev(), md.ino())) {
                        fs::hard_link(first, &d)?;
                        continue;
                    }
                    links.insert((md.dev(), md.ino()), d.clone());
                }
                fs::copy(&s, &d)?;
                fs::set_permissions(&d, fs::Permissions::from_mode(md.mode() & 0o7777))?;
            } else {
                continue; // fifos, sockets, devices: not in the sample
            }
            lutimes(&d, &md)?;
        }
        Ok(())
    }
    walk(src, dst, &mut Default::default())?;
    lutimes(dst, &fs::metadata(src)?)
}

/// A copy of `sample-context/` with a `.git/` directory (which its
/// `.dockerignore` excludes).
fn sample_copy() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-context");
    let tmp = tempfile::Builder::new().prefix("cxs").tempdir().unwrap();
    copy_tree(&src, tmp.path()).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    let git = tmp.path().join(".git");
    for (rel, content) in [
        ("HEAD", &b"ref: refs/heads/main\n"[..]),
        (
            "config",
            b"[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
        ),
        (
            "refs/heads/main",
            b"0123456789abcdef0123456789abcdef01234567\n",
        ),
        (
            "objects/01/23456789abcdef0123456789abcdef01234567",
            &[0x78, 0x01, 0x2b, 0x49, 0x4d, 0x2e, 0x01, 0x00],
        ),
        ("index", b"DIRC\x00\x00\x00\x02\x00\x00\x00\x00"),
    ] {
        let p = git.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
    }
    fs::create_dir_all(git.join("objects/pack")).unwrap();
    // Creating .git touched the root; restore its times.
    lutimes(tmp.path(), &fs::metadata(&src).unwrap()).unwrap();
    tmp
}

/// Member names of a tar (raw, as stored).
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn docker_cli_golden_cases_match_pack() {
    if !docker_enabled("docker_cli_golden_cases_match_pack") {
        return;
    }
    let t0 = Instant::now();
    let cases = runnable_cases();
    let results = par_map(&cases, |case| {
        let dir = tempfile::Builder::new().prefix("cxg").tempdir().unwrap();
        let r = (|| {
            materialize(case, dir.path()).map_err(|e| format!("materialize: {e}"))?;
            let args: Vec<PathBuf> = match &case.dockerfile {
                Some(d) => vec!["-f".into(), dir.path().join(d)],
                None => vec![],
            };
            let docker = docker_upload(dir.path(), &args);
            let ours = ctxray_pack(
                dir.path(),
                case.dockerfile.as_ref().map(|d| dir.path().join(d)),
            );
            let refused = docker.is_err();
            compare(docker, ours).map(|()| refused)
        })();
        make_removable(dir.path());
        r
    });
    let mut failures = Vec::new();
    let (mut packed, mut refused) = (0, 0);
    for (case, r) in cases.iter().zip(results) {
        match r {
            Ok(true) => refused += 1,
            Ok(false) => packed += 1,
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    eprintln!(
        "docker_cli: {} golden cases ({packed} identical tars, {refused} refused by both) in {:.1?}",
        cases.len(),
        t0.elapsed()
    );
    assert!(packed >= 30, "only {packed} cases packed by docker");
    assert!(
        failures.is_empty(),
        "{} of {} cases diverge between docker and ctxray:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn docker_cli_sample_context_matches_pack() {
    if !docker_enabled("docker_cli_sample_context_matches_pack") {
        return;
    }
    let tmp = sample_copy();
    let ctx = tmp.path();
    let simple = ctx.join("Dockerfile.simple");
    let variants: [(&str, Vec<PathBuf>, Option<PathBuf>); 2] = [
        ("default Dockerfile", vec![], None),
        (
            "-f Dockerfile.simple",
            vec!["-f".into(), simple.clone()],
            Some(simple),
        ),
    ];
    let mut failures = Vec::new();
    for (label, args, dockerfile) in variants {
        let docker = docker_upload(ctx, &args);
        let ours = ctxray_pack(ctx, dockerfile);
        if let Ok(o) = &ours {
            let names = tar_names(o);
            assert!(
                names.iter().any(|n| n == "app/main.py"),
                "{label}: {names:?}"
            );
            assert!(
                !names.iter().any(|n| n == ".git" || n.starts_with(".git/")),
                "{label}: .git was packed: {names:?}"
            );
        }
        if docker.is_err() || ours.is_err() {
            failures.push(format!(
                "{label}: docker {:?}, ctxray {:?}",
                docker.as_ref().err(),
                ours.as_ref().err()
            ));
            continue;
        }
        if let Err(e) = compare(docker, ours) {
            failures.push(format!("{label}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "sample-context:\n{}",
        failures.join("\n")
    );
}

#[test]
fn docker_cli_compress_is_gzip_of_pack() {
    if !docker_enabled("docker_cli_compress_is_gzip_of_pack") {
        return;
    }
    let tmp = sample_copy();
    let ctx = tmp.path();
    let simple = ctx.join("Dockerfile.simple");
    let mut failures = Vec::new();
    for (label, mut args, dockerfile) in [
        ("default Dockerfile", vec![], None),
        (
            "-f Dockerfile.simple",
            vec!["-f".into(), simple.clone()],
            Some(simple),
        ),
    ] {
        args.push(PathBuf::from("--compress"));
        let gz = match docker_upload(ctx, &args) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{label}: docker failed: {e}"));
                continue;
            }
        };
        if !gz.starts_with(&[0x1f, 0x8b]) {
            failures.push(format!("{label}: docker's --compress body is not gzip"));
            continue;
        }
        let mut tar = Vec::new();
        if let Err(e) = flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut tar) {
            failures.push(format!("{label}: gunzip: {e}"));
            continue;
        }
        let ours = ctxray_pack(ctx, dockerfile);
        if let Err(e) = compare(Ok(tar), ours) {
            failures.push(format!("{label}: {e}"));
        }
    }
    assert!(failures.is_empty(), "--compress:\n{}", failures.join("\n"));
}

#[test]
fn fake_daemon_keeps_connections_alive() {
    // Two requests on one connection, chunked body, without docker.
    let d = FakeDaemon::start().unwrap();
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.write_all(
        b"HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n\
          POST /v1.41/build?t=x HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\n\
          Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n\
          GET /v1.41/nope HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert_eq!(resp.matches("HTTP/1.1 200 OK").count(), 2, "{resp}");
    assert!(resp.contains("Api-Version: 1.41"), "{resp}");
    assert!(
        resp.contains("{\"stream\":\"captured 5 bytes\\n\"}"),
        "{resp}"
    );
    assert!(resp.contains("HTTP/1.1 404 Not Found"), "{resp}");
    let builds = d.take_builds();
    assert_eq!(builds.len(), 1);
    assert_eq!(builds[0].body, b"abcde");
    assert_eq!(builds[0].target, "/v1.41/build?t=x");
}
