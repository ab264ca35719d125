//! CLI integration tests: `ls`, `explain`, exit codes, `pack`, `report`,
//! snapshots, and a walk property test against the library.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use ctxray::context::{Context, Options};
use ctxray::walk::{Engine, Event, Status, WalkMode};
use proptest::prelude::*;
use tempfile::TempDir;

// ---------------------------------------------------------------- helpers

use crate::common::tree as ctx;

fn bin() -> Command {
    Command::cargo_bin("ctxray").unwrap()
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }
    fn lines(&self) -> Vec<String> {
        self.out().lines().map(str::to_string).collect()
    }
}

fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let o = bin().args(args).output().unwrap();
    Run {
        code: o.status.code().expect("exited by a signal"),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ok<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let r = run(args);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    r
}

fn p(d: &TempDir) -> &str {
    d.path().to_str().unwrap()
}

/// The entry names of a tar, directories with a trailing `/`.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let mut name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            if e.header().entry_type().is_dir() && !name.ends_with('/') {
                name.push('/');
            }
            name
        })
        .collect()
}

fn ls(dir: &str, engine: &str) -> Vec<String> {
    ok(["ls", dir, "--engine", engine]).lines()
}

fn dir_listing(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- ls

fn keep_tree() -> TempDir {
    ctx(&[
        ("Dockerfile", "FROM scratch\n"),
        ("build/keep/a.txt", "a"),
        ("build/other.txt", "o"),
        (".dockerignore", "build\n!build/keep/**\n"),
    ])
}

#[test]
fn ls_send_order_per_engine() {
    let d = keep_tree();
    // Classic descends build/ (the exception's text starts with build/) but
    // never writes the excluded directories it descends.
    assert_eq!(
        ls(p(&d), "classic"),
        [".dockerignore", "Dockerfile", "build/keep/a.txt"]
    );
    // BuildKit emits the parents of a sent entry lazily, even if excluded.
    assert_eq!(
        ls(p(&d), "buildkit"),
        [
            ".dockerignore",
            "Dockerfile",
            "build/",
            "build/keep/",
            "build/keep/a.txt"
        ]
    );
    // The default engine is buildkit.
    assert_eq!(ok(["ls", p(&d)]).lines(), ls(p(&d), "buildkit"));
}

#[test]
fn ls_excluded_per_engine() {
    let d = keep_tree();
    let classic = ok(["ls", p(&d), "--engine", "classic", "--excluded"]).lines();
    assert_eq!(classic, ["build/", "build/keep/", "build/other.txt"]);
    let bk = ok(["ls", p(&d), "--engine", "buildkit", "--excluded"]).lines();
    assert_eq!(bk, ["build/other.txt"]);
}

#[test]
fn ls_excluded_lists_inside_pruned_dirs() {
    let d = ctx(&[
        ("Dockerfile", ""),
        ("node_modules/x/y.js", "y"),
        ("src/m.rs", ""),
        (".dockerignore", "node_modules\n"),
    ]);
    for engine in ["classic", "buildkit"] {
        let ex = ok(["ls", p(&d), "--engine", engine, "--excluded"]).lines();
        assert_eq!(
            ex,
            ["node_modules/", "node_modules/x/", "node_modules/x/y.js"]
        );
        assert_eq!(
            ls(p(&d), engine),
            [".dockerignore", "Dockerfile", "src/", "src/m.rs"]
        );
    }
}

#[test]
fn ls_null_separated_raw_names() {
    let d = keep_tree();
    fs::write(d.path().join("new\nline"), "").unwrap();
    let r = ok(["ls", p(&d), "--engine", "buildkit", "-0"]);
    assert_eq!(
        r.stdout,
        b".dockerignore\0Dockerfile\0build/\0build/keep/\0build/keep/a.txt\0new\nline\0".to_vec()
    );
    // Without -0 the name is escaped, one per line.
    let lines = ls(p(&d), "buildkit");
    assert_eq!(lines.last().unwrap(), "new\\x0aline");
}

#[test]
fn ls_json_one_object_per_line() {
    let d = keep_tree();
    let r = ok(["ls", p(&d), "--engine", "classic", "--json"]);
    let objs: Vec<serde_json::Value> = r
        .out()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 3);
    let paths: Vec<&str> = objs.iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [".dockerignore", "Dockerfile", "build/keep/a.txt"]);
    let a = &objs[2];
    assert_eq!(a["kind"], "file");
    assert_eq!(a["sent"], true);
    assert_eq!(a["line"], 2);
    assert_eq!(a["pattern"], "!build/keep/**");
    assert_eq!(objs[0]["line"], serde_json::Value::Null);

    let r = ok(["ls", p(&d), "--engine", "buildkit", "--json", "--excluded"]);
    let objs: Vec<serde_json::Value> = r
        .out()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0]["path"], "build/other.txt");
    assert_eq!(objs[0]["sent"], false);
    assert_eq!(objs[0]["line"], 1);
    assert_eq!(objs[0]["pattern"], "build");

    let bk = ok(["ls", p(&d), "--engine", "buildkit", "--json"]);
    let dirs: Vec<String> = bk
        .out()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|o| o["kind"] == "dir")
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dirs, ["build", "build/keep"]);
}

#[test]
fn ls_json_and_null_conflict() {
    let d = keep_tree();
    assert_eq!(run(["ls", p(&d), "--json", "-0"]).code, 2);
}

// ---------------------------------------------------------------- explain

#[test]
fn explain_names_the_deciding_line() {
    let d = keep_tree();
    let r = ok(["explain", p(&d), "build/other.txt", "build/keep/a.txt"]);
    let out = r.out();
    assert!(
        out.contains("build/other.txt: left out by buildkit"),
        "{out}"
    );
    assert!(out.contains(".dockerignore:1: build"), "{out}");
    assert!(out.contains("build/keep/a.txt: sent by buildkit"), "{out}");
    assert!(
        out.contains("decided by .dockerignore:2: !build/keep/**"),
        "{out}"
    );
    // Both engines agree on both paths.
    assert!(!out.contains("engines disagree"), "{out}");

    let r = ok(["explain", p(&d), "nope"]);
    assert!(r.out().contains("no pattern matches it"), "{}", r.out());
    assert!(r.out().contains("(not in the context)"), "{}", r.out());
}

#[test]
fn explain_engines_disagree() {
    let d = ctx(&[
        ("Dockerfile", ""),
        ("build/a.txt", "a"),
        (".dockerignore", "build\n!**/*.txt\n"),
    ]);
    let bk = ok(["explain", p(&d), "build/a.txt"]).out();
    assert!(bk.contains("build/a.txt: sent by buildkit"), "{bk}");
    assert!(bk.contains("decided by .dockerignore:2: !**/*.txt"), "{bk}");
    assert!(bk.contains("engines disagree"), "{bk}");
    assert!(bk.contains("classic engine leaves it out"), "{bk}");

    let cl = ok(["explain", p(&d), "build/a.txt", "--engine", "classic"]).out();
    assert!(cl.contains("build/a.txt: left out by classic"), "{cl}");
    assert!(
        cl.contains(".dockerignore:1: build excludes the directory build/"),
        "{cl}"
    );
    assert!(cl.contains("engines disagree"), "{cl}");
    assert!(cl.contains("buildkit engine sends"), "{cl}");

    // And ls agrees with explain.
    assert!(ls(p(&d), "buildkit").contains(&"build/a.txt".to_string()));
    assert!(!ls(p(&d), "classic").contains(&"build/a.txt".to_string()));
}

#[test]
fn explain_json() {
    let d = ctx(&[
        ("Dockerfile", ""),
        ("build/a.txt", "a"),
        (".dockerignore", "build\n!**/*.txt\n"),
    ]);
    let r = ok(["explain", p(&d), "build/a.txt", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["engine"], "buildkit");
    let x = &v["paths"][0];
    assert_eq!(x["path"], "build/a.txt");
    assert_eq!(x["exists"], true);
    assert_eq!(x["sent"], true);
    assert_eq!(x["decided_by"]["line"], 2);
    assert_eq!(x["decided_by"]["pattern"], "!**/*.txt");
    assert_eq!(x["decided_by"]["exception"], true);
    assert_eq!(x["classic"]["sent"], false);
    assert_eq!(x["classic"]["skipped_at"], "build");
    assert_eq!(x["classic"]["decided_by"]["line"], 1);
}

#[test]
fn explain_with_context_defaulting_to_cwd() {
    let d = keep_tree();
    let o = bin()
        .current_dir(d.path())
        .args(["explain", "build/other.txt"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("build/other.txt: left out by buildkit"),
        "{out}"
    );
}

// ---------------------------------------------------------------- exit codes

#[test]
fn bad_pattern_exits_2_naming_line() {
    let d = ctx(&[
        ("Dockerfile", ""),
        ("a", ""),
        (".dockerignore", "x\ny\n[a-\n"),
    ]);
    for engine in ["classic", "buildkit"] {
        for cmd in ["ls", "report", "pack"] {
            let mut args = vec![cmd, p(&d), "--engine", engine];
            let out = d.path().join("o.tar");
            if cmd == "pack" {
                args.extend(["-o", out.to_str().unwrap()]);
            }
            let r = run(&args);
            assert_eq!(r.code, 2, "{cmd} {engine}: {}", r.stderr);
            assert!(r.stderr.contains(".dockerignore:3"), "{}", r.stderr);
            assert!(r.stderr.contains("[a-"), "{}", r.stderr);
            assert!(r.stderr.starts_with("ctxray: error:"), "{}", r.stderr);
            assert!(!out.exists(), "pack must not leave output on error");
        }
    }
}

#[test]
fn lone_bang_exits_2() {
    let d = ctx(&[("Dockerfile", ""), (".dockerignore", "a\n!\n")]);
    for engine in ["classic", "buildkit"] {
        let r = run(["ls", p(&d), "--engine", engine]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains(".dockerignore:2"), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn missing_context_exits_2() {
    let d = ctx(&[]);
    let missing = d.path().join("nope");
    let r = run(["ls".as_ref(), missing.as_os_str()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no such directory"), "{}", r.stderr);
    // The default command too.
    assert_eq!(run([missing.as_os_str()]).code, 2);
}

#[test]
fn file_as_context_exits_2() {
    let d = ctx(&[("f", "x")]);
    let f = d.path().join("f");
    for cmd in ["ls", "report", "explain"] {
        let mut args = vec![cmd, f.to_str().unwrap()];
        if cmd == "explain" {
            args.push("x");
        }
        let r = run(&args);
        assert_eq!(r.code, 2, "{cmd}");
        assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
    }
}

#[test]
fn dockerignore_directory_exits_2() {
    let d = ctx(&[("Dockerfile", ""), (".dockerignore/", "")]);
    for engine in ["classic", "buildkit"] {
        let r = run(["report", p(&d), "--engine", engine]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    }
}

#[test]
fn overlong_line_exits_2() {
    let long = format!("a\n{}\n", "x".repeat(64 * 1024 + 1));
    let d = ctx(&[("Dockerfile", ""), (".dockerignore", &long)]);
    let r = run(["ls", p(&d)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("64 KiB"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // A line just under the limit is fine.
    let fine = format!("a\n{}\n", "x".repeat(60 * 1024));
    let d = ctx(&[("Dockerfile", ""), (".dockerignore", &fine)]);
    ok(["ls", p(&d)]);
}

#[test]
fn usage_errors_exit_2_help_exits_0() {
    assert_eq!(run(["ls", "--bogus"]).code, 2);
    assert_eq!(run(["--bogus"]).code, 2);
    assert_eq!(run(["ls", "--engine", "podman"]).code, 2);
    assert_eq!(run(["pack", "."]).code, 2, "pack requires -o");
    assert_eq!(run(["explain"]).code, 2);
    let h = run(["--help"]);
    assert_eq!(h.code, 0);
    assert!(h.out().contains("explain"));
    assert_eq!(run(["--version"]).code, 0);
}

#[test]
fn broken_pipe_exits_0_silently() {
    let d = ctx(&[("Dockerfile", "")]);
    let many = d.path().join("many");
    fs::create_dir(&many).unwrap();
    for i in 0..6000 {
        fs::write(
            many.join(format!("file-with-a-longish-name-{i:05}.txt")),
            "",
        )
        .unwrap();
    }
    for args in [
        vec!["ls", p(&d)],
        vec!["ls", p(&d), "--json"],
        vec!["ls", p(&d), "--engine", "classic"],
    ] {
        let mut child = StdCommand::new(env!("CARGO_BIN_EXE_ctxray"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty());
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: stderr {stderr:?}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

// ---------------------------------------------------------------- pack

fn pack_tree() -> TempDir {
    ctx(&[
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
        ("build/keep/a.txt", "aaaa"),
        ("build/other.txt", "o"),
        ("src/main.rs", "fn main() {}\n"),
        ("src/empty", ""),
        ("docs/", ""),
        (".dockerignore", "build\n!build/keep/**\n*.tar\n"),
    ])
}

fn pack_bytes(d: &str, extra: &[&str]) -> Vec<u8> {
    let out = tempfile::tempdir().unwrap();
    let f = out.path().join("out.tar");
    let mut args = vec!["pack", d, "-o", f.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = ok(&args);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("packed"), "{}", r.stderr);
    fs::read(&f).unwrap()
}

#[test]
fn pack_matches_ls_per_engine() {
    let d = pack_tree();
    for engine in ["classic", "buildkit"] {
        let tar = pack_bytes(p(&d), &["--engine", engine]);
        assert_eq!(tar.len() % 512, 0);
        assert_eq!(tar_names(&tar), ls(p(&d), engine), "{engine}");
    }
    // Default engine of pack is classic.
    assert_eq!(
        pack_bytes(p(&d), &[]),
        pack_bytes(p(&d), &["--engine", "classic"])
    );
    // Contents survive.
    let tar = pack_bytes(p(&d), &[]);
    let mut a = tar::Archive::new(&tar[..]);
    let mut found = false;
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap() == Path::new("build/keep/a.txt") {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            assert_eq!(s, "aaaa");
            found = true;
        }
    }
    assert!(found);
}

#[test]
fn pack_output_inside_context_is_never_packed() {
    // No ignore rule for the output here.
    let d = ctx(&[("Dockerfile", ""), ("a.txt", "a"), ("sub/b", "b")]);
    let out = d.path().join("out.tar");
    let out_s = out.to_str().unwrap();
    ok(["pack", p(&d), "-o", out_s]);
    let first = fs::read(&out).unwrap();
    let names = tar_names(&first);
    assert_eq!(names, ["Dockerfile", "a.txt", "sub/", "sub/b"]);
    // Again, with out.tar now present in the context.
    ok(["pack", p(&d), "-o", out_s]);
    let second = fs::read(&out).unwrap();
    assert_eq!(first, second);
    assert!(tar_names(&second)
        .iter()
        .all(|n| !n.contains("ctxray-pack")));
    assert_eq!(
        dir_listing(d.path()),
        ["Dockerfile", "a.txt", "out.tar", "sub"]
    );
    // Relative output path, run from inside the context, context ".".
    let o = bin()
        .current_dir(d.path())
        .args(["pack", ".", "-o", "out.tar"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(fs::read(&out).unwrap(), first);
    // Output in a subdirectory of the context.
    let sub_out = d.path().join("sub/x.tar");
    ok(["pack", p(&d), "-o", sub_out.to_str().unwrap()]);
    // The earlier out.tar is an ordinary file now; only x.tar is skipped.
    let mut with_old = names.clone();
    with_old.insert(2, "out.tar".to_string());
    assert_eq!(tar_names(&fs::read(&sub_out).unwrap()), with_old);
    assert_eq!(dir_listing(&d.path().join("sub")), ["b", "x.tar"]);
}

#[test]
fn pack_to_stdout_pipe() {
    let d = pack_tree();
    for engine in ["classic", "buildkit"] {
        let r = ok(["pack", p(&d), "--engine", engine, "-o", "-"]);
        assert_eq!(r.stdout, pack_bytes(p(&d), &["--engine", engine]));
    }
}

#[test]
fn pack_gzip_decompresses_to_same_tar() {
    let d = pack_tree();
    let plain = pack_bytes(p(&d), &[]);
    let gz = pack_bytes(p(&d), &["--gzip"]);
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let mut un = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut un)
        .unwrap();
    assert_eq!(un, plain);
    // Through stdout as well.
    let r = ok(["pack", p(&d), "--gzip", "-o", "-"]);
    let mut un = Vec::new();
    flate2::read::GzDecoder::new(&r.stdout[..])
        .read_to_end(&mut un)
        .unwrap();
    assert_eq!(un, plain);
}

#[test]
fn pack_replaces_existing_output_atomically() {
    let d = pack_tree();
    let outdir = tempfile::tempdir().unwrap();
    let f = outdir.path().join("out.tar");
    fs::write(&f, "OLD CONTENT that is not a tar").unwrap();
    let old_ino = fs::metadata(&f).unwrap().ino();
    // A hard link to the old file keeps seeing the old content: the new
    // output was renamed into place, not written over the old inode.
    let witness = outdir.path().join("witness");
    fs::hard_link(&f, &witness).unwrap();
    ok(["pack", p(&d), "-o", f.to_str().unwrap()]);
    let new = fs::read(&f).unwrap();
    assert_eq!(new, pack_bytes(p(&d), &[]));
    assert_ne!(fs::metadata(&f).unwrap().ino(), old_ino);
    assert_eq!(
        fs::read_to_string(&witness).unwrap(),
        "OLD CONTENT that is not a tar"
    );
    assert_eq!(dir_listing(outdir.path()), ["out.tar", "witness"]);
}

#[test]
fn pack_error_leaves_no_temp_file() {
    let d = pack_tree();
    let outdir = tempfile::tempdir().unwrap();
    let missing = outdir.path().join("no/such/dir/out.tar");
    let r = run(["pack", p(&d), "-o", missing.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("output directory"), "{}", r.stderr);
    assert!(dir_listing(outdir.path()).is_empty());
}

// ---------------------------------------------------------------- report --json

/// A tree with hardlinks, symlinks (one dangling), empty files, a pruned
/// directory and a file re-included under an excluded directory.
fn report_tree() -> TempDir {
    let d = ctx(&[
        ("Dockerfile", "FROM scratch\n"),
        ("src/main.py", "print('hello')\n"),
        ("src/empty.py", ""),
        ("src/__pycache__/main.cpython-312.pyc", "0123456789"),
        ("node_modules/pkg/index.js", &"x".repeat(5000)),
        ("node_modules/pkg/empty.js", ""),
        ("build/keep.txt", "keep me"),
        ("build/drop.bin", &"d".repeat(1234)),
        ("build/sub/deep.txt", "deep"),
        ("logs/app.log", &"l".repeat(700)),
        ("empty-dir/", ""),
        (
            ".dockerignore",
            "# comment\nnode_modules\nbuild\n!build/keep.txt\n**/__pycache__\n*.log\nlogs/\n",
        ),
    ]);
    let r = d.path();
    fs::hard_link(r.join("src/main.py"), r.join("src/main-link.py")).unwrap();
    fs::hard_link(r.join("build/drop.bin"), r.join("hard-to-drop.bin")).unwrap();
    std::os::unix::fs::symlink("src/main.py", r.join("link-to-main")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", r.join("dangling")).unwrap();
    std::os::unix::fs::symlink("../src", r.join("build/src-link")).unwrap();
    d
}

fn regular_bytes(dir: &Path) -> u64 {
    let mut sum = 0;
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = fs::symlink_metadata(e.path()).unwrap();
        if m.is_dir() {
            sum += regular_bytes(&e.path());
        } else if m.file_type().is_file() {
            sum += m.len();
        }
    }
    sum
}

fn report_json(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["report", "--json"];
    a.extend_from_slice(args);
    let r = ok(&a);
    serde_json::from_slice(&r.stdout).unwrap()
}

#[test]
fn report_json_bytes_add_up() {
    let d = report_tree();
    let total = regular_bytes(d.path());
    for engine in ["classic", "buildkit"] {
        let v = report_json(&[p(&d), "--engine", engine]);
        assert_eq!(v["schema"], 1);
        assert_eq!(v["engine"], engine);
        assert_eq!(v["ignore_file"], ".dockerignore");
        let inc = v["included"]["bytes"].as_u64().unwrap();
        let exc = v["excluded"]["bytes"].as_u64().unwrap();
        assert_eq!(inc + exc, total, "{engine}");
        assert!(exc >= 5000 + 1234 + 700 + 10, "{engine}: {exc}");
        // Sent files: Dockerfile, .dockerignore, src/{main,empty,main-link}.py,
        // build/keep.txt, hard-to-drop.bin (symlinks are not files); 13 in all.
        assert_eq!(v["included"]["files"], 7, "{engine}");
        let files =
            v["included"]["files"].as_u64().unwrap() + v["excluded"]["files"].as_u64().unwrap();
        assert_eq!(files, 13, "{engine}");
        // The rule lines are reported with their own line numbers.
        let rules = v["rules"].as_array().unwrap();
        let nm = rules
            .iter()
            .find(|r| r["pattern"] == "node_modules")
            .unwrap();
        assert_eq!(nm["line"], 2);
        assert_eq!(nm["files"], 2);
        assert_eq!(nm["bytes"], 5000);
        assert_eq!(nm["dead"], false);
    }
}

fn tar_len(d: &str, extra: &[&str]) -> u64 {
    pack_bytes(d, extra).len() as u64
}

#[test]
fn report_tar_bytes_match_pack_classic() {
    let d = report_tree();
    let v = report_json(&[p(&d), "--engine", "classic"]);
    assert_eq!(
        v["tar_bytes"].as_u64().unwrap(),
        tar_len(p(&d), &["--engine", "classic"])
    );
    assert_eq!(
        v["tar_bytes_without_ignore"].as_u64().unwrap(),
        tar_len(p(&d), &["--no-ignore"])
    );
}

#[test]
fn report_tar_bytes_match_pack_buildkit() {
    let d = report_tree();
    let v = report_json(&[p(&d), "--engine", "buildkit"]);
    assert_eq!(
        v["tar_bytes"].as_u64().unwrap(),
        tar_len(p(&d), &["--engine", "buildkit"]),
        "report --engine buildkit tar_bytes != pack --engine buildkit length"
    );
    assert_eq!(
        v["tar_bytes_without_ignore"].as_u64().unwrap(),
        tar_len(p(&d), &["--no-ignore", "--engine", "buildkit"])
    );
}

#[test]
fn report_tar_bytes_match_pack_without_reinclusion() {
    // No lazily-sent parents: both engines must agree with pack.
    let d = ctx(&[
        ("Dockerfile", ""),
        ("a/b/c.txt", "ccc"),
        ("node_modules/x.js", "xx"),
        (".dockerignore", "node_modules\n"),
    ]);
    for engine in ["classic", "buildkit"] {
        let v = report_json(&[p(&d), "--engine", engine]);
        assert_eq!(
            v["tar_bytes"].as_u64().unwrap(),
            tar_len(p(&d), &["--engine", engine]),
            "{engine}"
        );
        assert_eq!(v["included"]["dirs"], 2, "{engine}");
    }
}

#[test]
fn report_counts_lazily_sent_dirs_buildkit() {
    // BuildKit sends build/ and build/keep/ (ls shows them); the report's
    // directory count should say so.
    let d = keep_tree();
    let sent_dirs = ls(p(&d), "buildkit")
        .iter()
        .filter(|l| l.ends_with('/'))
        .count() as u64;
    assert_eq!(sent_dirs, 2);
    let v = report_json(&[p(&d), "--engine", "buildkit"]);
    assert_eq!(v["included"]["dirs"].as_u64().unwrap(), sent_dirs);
}

// ---------------------------------------------------------------- snapshots

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn snapshot_sample_context_report() {
    let o = bin()
        .current_dir(manifest_dir())
        .args(["report", "sample-context", "--color", "never"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    insta::assert_snapshot!(out, @r#"
ctxray sample-context · engine buildkit · .dockerignore (13 rules)

  sent           16 files    4.79 kB   (tar 20.99 kB)
  left out       79 files  503.23 kB
  savings   without .dockerignore: tar 606.72 kB → 20.99 kB with it (96.5% smaller)

Left out, by category
  python venv              45 files  439.37 kB  ████████████████████
  target (cargo)           24 files   42.25 kB  ██░░░░░░░░░░░░░░░░░░
  __pycache__/*.pyc         4 files   14.85 kB  █░░░░░░░░░░░░░░░░░░░
  IDE/OS junk               1 files    6.14 kB  ░░░░░░░░░░░░░░░░░░░░
  caches                    5 files      614 B  ░░░░░░░░░░░░░░░░░░░░

Savings by rule (what deleting each line would add back)
  L7    .git                              0 files        0 B  decides nothing here (dead or shadowed)
  L10   **/__pycache__                    0 files        0 B  (4 more files also left out by other lines)
  L11   **/*.pyc                          0 files        0 B  decides nothing here (dead or shadowed)
  L14   .venv                            33 files  294.65 kB  (12 more files also left out by other lines)
  L15   venv                              0 files        0 B  decides nothing here (dead or shadowed)
  L18   target                           24 files   42.25 kB
  L21   .pytest_cache                     5 files      614 B
  L22   .mypy_cache                       0 files        0 B  decides nothing here (dead or shadowed)
  L23   **/*.egg-info                     0 files        0 B  decides nothing here (dead or shadowed)
  L26   .env                              0 files        0 B  decides nothing here (dead or shadowed)
  L27   .idea                             0 files        0 B  decides nothing here (dead or shadowed)
  L28   .vscode                           0 files        0 B  decides nothing here (dead or shadowed)
  L29   **/.DS_Store                      1 files    6.14 kB

Biggest things still sent
  directories
     1.09 kB  22.8%  █████░░░░░░░░░░░░░░░  tools/healthcheck/
     1.09 kB  22.8%  █████░░░░░░░░░░░░░░░  tools/
       911 B  19.0%  ████░░░░░░░░░░░░░░░░  tools/healthcheck/src/
       751 B  15.7%  ███░░░░░░░░░░░░░░░░░  app/
       463 B   9.7%  ██░░░░░░░░░░░░░░░░░░  tests/
  files
       911 B  19.0%  ████░░░░░░░░░░░░░░░░  tools/healthcheck/src/main.rs
       881 B  18.4%  ████░░░░░░░░░░░░░░░░  Dockerfile
       541 B  11.3%  ██░░░░░░░░░░░░░░░░░░  .dockerignore
       463 B   9.7%  ██░░░░░░░░░░░░░░░░░░  tests/test_main.py
       422 B   8.8%  ██░░░░░░░░░░░░░░░░░░  app/main.py
       362 B   7.6%  ██░░░░░░░░░░░░░░░░░░  Dockerfile.simple
       357 B   7.4%  █░░░░░░░░░░░░░░░░░░░  README.md
       329 B   6.9%  █░░░░░░░░░░░░░░░░░░░  app/config.py
       155 B   3.2%  █░░░░░░░░░░░░░░░░░░░  Cargo.lock
       117 B   2.4%  ░░░░░░░░░░░░░░░░░░░░  tools/healthcheck/Cargo.toml

Findings  0 errors, 0 warnings, 9 info
  info sample-context/.dockerignore:7: `.git` matches nothing in this context
  info sample-context/.dockerignore:11: `**/*.pyc` decides nothing: everything it matches (16 files) is already left out by line 14 (`.venv`), line 10 (`**/__pycache__`)
  info sample-context/.dockerignore:15: `venv` matches nothing in this context
  info sample-context/.dockerignore:22: `.mypy_cache` matches nothing in this context
  info sample-context/.dockerignore:23: `**/*.egg-info` matches nothing in this context
  … and 4 more: ctxray lint
"#);
}

#[test]
fn snapshot_small_report() {
    let d = ctx(&[
        ("Dockerfile", "FROM scratch\nCOPY . /app\n"),
        ("app/main.py", &"p".repeat(1500)),
        ("app/__pycache__/main.cpython-312.pyc", &"c".repeat(900)),
        ("node_modules/left-pad/index.js", &"j".repeat(12000)),
        ("dist/bundle.js", &"b".repeat(3000)),
        (
            ".dockerignore",
            "node_modules\n**/__pycache__\nnever-matches\n",
        ),
    ]);
    let o = bin()
        .current_dir(d.path())
        .args(["report", ".", "--color", "never", "--tree"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    insta::assert_snapshot!(out, @r#"
ctxray . · engine buildkit · .dockerignore (3 rules)

  sent            4 files    4.57 kB   (tar 9.73 kB)
  left out        2 files   12.90 kB
  savings   without .dockerignore: tar 25.60 kB → 9.73 kB with it (62.0% smaller)

Left out, by category
  node_modules              1 files      12 kB  ████████████████████
  __pycache__/*.pyc         1 files      900 B  ██░░░░░░░░░░░░░░░░░░

Savings by rule (what deleting each line would add back)
  L1    node_modules                      1 files      12 kB
  L2    **/__pycache__                    1 files      900 B
  L3    never-matches                     0 files        0 B  decides nothing here (dead or shadowed)

Biggest things still sent
  directories
        3 kB  65.7%  █████████████░░░░░░░  dist/
     1.50 kB  32.8%  ███████░░░░░░░░░░░░░  app/
  files
        3 kB  65.7%  █████████████░░░░░░░  dist/bundle.js
     1.50 kB  32.8%  ███████░░░░░░░░░░░░░  app/main.py
        42 B   0.9%  ░░░░░░░░░░░░░░░░░░░░  .dockerignore
        25 B   0.5%  ░░░░░░░░░░░░░░░░░░░░  Dockerfile

Hints
  dist/ (build output, 3 kB) is sent: add `dist` to the ignore file

Findings  0 errors, 0 warnings, 1 info
  info .dockerignore:3: `never-matches` matches nothing in this context

Sent context
        42 B  .dockerignore
        25 B  Dockerfile
     1.50 kB  app/
     1.50 kB    main.py
        3 kB  dist/
        3 kB    bundle.js
"#);
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let m = fs::symlink_metadata(e.path()).unwrap();
        let dst = to.join(e.file_name());
        if m.is_dir() {
            copy_tree(&e.path(), &dst);
        } else if m.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn report_git_category_in_sample_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ctx");
    copy_tree(&manifest_dir().join("sample-context"), &root);
    let before = report_json(&[root.to_str().unwrap()]);
    let cat = |v: &serde_json::Value| {
        v["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == ".git")
            .cloned()
    };
    assert!(cat(&before).is_none());
    let git = root.join(".git");
    fs::create_dir_all(git.join("objects/ab")).unwrap();
    fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(git.join("objects/ab/cdef"), "z".repeat(4321)).unwrap();
    fs::write(git.join("config"), "").unwrap();
    for engine in ["classic", "buildkit"] {
        let v = report_json(&[root.to_str().unwrap(), "--engine", engine]);
        let c = cat(&v).expect("a .git category");
        assert_eq!(c["files"], 3, "{engine}");
        assert_eq!(c["bytes"], 21 + 4321, "{engine}");
        // The sent side did not change.
        assert_eq!(v["included"], before["included"], "{engine}");
        let rule = v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pattern"] == ".git")
            .unwrap()
            .clone();
        assert_eq!(rule["bytes"], 21 + 4321);
        assert_eq!(rule["dead"], false);
    }
}

// ---------------------------------------------------------------- property

const PATTERNS: &[&str] = &[
    "**/x",
    "a",
    "!a/b",
    "*/c",
    "!**/keep",
    "b/**",
    "a/*",
    "!a/*/x",
    "c",
    "!c/keep",
    "**/b",
    "!b/keep/**",
    "x*",
    "!x",
    "a/b/c",
    "!**/c",
    "*",
    "!a",
    "b/",
    "**/keep/x",
];

const NAMES: &[&str] = &["a", "b", "c", "x", "keep", "xa"];

fn arb_tree() -> impl Strategy<Value = Vec<(Vec<usize>, bool)>> {
    // Paths of up to 3 components from NAMES; bool: directory (else file).
    prop::collection::vec(
        (prop::collection::vec(0..NAMES.len(), 1..=3), any::<bool>()),
        1..12,
    )
}

fn build_tree(root: &Path, spec: &[(Vec<usize>, bool)]) {
    for (comps, is_dir) in spec {
        let mut p = root.to_path_buf();
        for (i, &c) in comps.iter().enumerate() {
            p.push(NAMES[c]);
            let last = i + 1 == comps.len();
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => break, // a file already holds this name
                Err(_) => {
                    if last && !is_dir {
                        fs::write(&p, NAMES[c]).unwrap();
                    } else {
                        fs::create_dir(&p).unwrap();
                    }
                }
            }
        }
    }
}

/// Sent paths in send order from a pruned walk.
fn pruned(ctx: &Context) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    ctx.walk(WalkMode::Sent, |ev| {
        if let Event::Entry(e) = ev {
            assert!(!e.in_skipped_dir);
            assert_ne!(e.status, Status::Pending);
            if e.status == Status::Sent {
                out.push(e.path.to_vec());
            }
        }
        Ok(())
    })
    .unwrap();
    out
}

/// Sent paths in walk order from an unpruned walk; a pending directory is
/// placed where it was entered, if its `Leave` says it was sent.
fn unpruned(ctx: &Context) -> Vec<Vec<u8>> {
    let mut seq: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut dirs: Vec<Option<usize>> = Vec::new();
    let mut seen = BTreeSet::new();
    ctx.walk(WalkMode::All, |ev| {
        match ev {
            Event::Entry(e) => {
                assert!(seen.insert(e.path.to_vec()), "entry twice");
                let i = seq.len();
                seq.push((e.path.to_vec(), e.status == Status::Sent));
                if e.kind == ctxray::walk::Kind::Dir {
                    dirs.push((e.status == Status::Pending).then_some(i));
                }
            }
            Event::Leave { path, sent } => {
                let top = dirs.pop().expect("Leave without a directory");
                if let Some(i) = top {
                    assert_eq!(seq[i].0, path);
                    seq[i].1 = sent;
                } else if sent {
                    // A directory that was not pending and is sent was
                    // already marked sent at its entry.
                    assert!(seq.iter().any(|(p, s)| p == path && *s));
                }
            }
        }
        Ok(())
    })
    .unwrap();
    assert!(dirs.is_empty());
    seq.into_iter().filter(|x| x.1).map(|x| x.0).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn pruned_walk_equals_unpruned_walk(
        tree in arb_tree(),
        pats in prop::collection::vec(0..PATTERNS.len(), 0..6),
    ) {
        let d = tempfile::tempdir().unwrap();
        build_tree(d.path(), &tree);
        let ignore: String = pats.iter().map(|&i| format!("{}\n", PATTERNS[i])).collect();
        fs::write(d.path().join(".dockerignore"), &ignore).unwrap();
        for engine in [Engine::Classic, Engine::Buildkit] {
            let c = Context::open(&Options::new(d.path(), engine)).unwrap();
            let a = pruned(&c);
            let b = unpruned(&c);
            let sa: BTreeSet<_> = a.iter().cloned().collect();
            let sb: BTreeSet<_> = b.iter().cloned().collect();
            prop_assert_eq!(&sa, &sb, "{:?} ignore {:?}", engine, ignore);
            prop_assert_eq!(a.len(), sa.len(), "duplicates in pruned walk");
            // The same order, too.
            prop_assert_eq!(&a, &b, "{:?} ignore {:?}", engine, ignore);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// `explain` says an entry is sent exactly when the walk sends it (a
    /// directory too: BuildKit sends an excluded one when something below
    /// it is sent).
    #[test]
    fn explain_agrees_with_the_walk(
        tree in arb_tree(),
        pats in prop::collection::vec(0..PATTERNS.len(), 0..6),
        wild in any::<bool>(),
    ) {
        let d = tempfile::tempdir().unwrap();
        build_tree(d.path(), &tree);
        let mut ignore: String = pats.iter().map(|&i| format!("{}\n", PATTERNS[i])).collect();
        if wild {
            // A wildcard exception: BuildKit then enters excluded directories.
            ignore.push_str("!*.none\n");
        }
        fs::write(d.path().join(".dockerignore"), &ignore).unwrap();
        for engine in [Engine::Classic, Engine::Buildkit] {
            let c = Context::open(&Options::new(d.path(), engine)).unwrap();
            let sent: BTreeSet<Vec<u8>> = pruned(&c).into_iter().collect();
            let mut all = Vec::new();
            c.walk(WalkMode::All, |ev| {
                if let Event::Entry(e) = ev {
                    all.push(e.path.to_vec());
                }
                Ok(())
            })
            .unwrap();
            for path in all {
                let x = c.explain(&path).unwrap();
                prop_assert_eq!(
                    x.sent,
                    sent.contains(&path),
                    "{:?} {:?} ignore {:?}",
                    engine,
                    String::from_utf8_lossy(&path),
                    ignore
                );
            }
        }
    }

    /// Each rule's "removing it adds back" figure is what a report of the
    /// context with that line deleted from the ignore file sends more.
    #[test]
    fn rule_removal_matches_rerun_without_the_line(
        tree in arb_tree(),
        pats in prop::collection::vec(0..PATTERNS.len(), 1..6),
    ) {
        let d = tempfile::tempdir().unwrap();
        build_tree(d.path(), &tree);
        fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let lines: Vec<&str> = pats.iter().map(|&i| PATTERNS[i]).collect();
        let write = |skip: Option<usize>| {
            let text: String = lines
                .iter()
                .enumerate()
                // A comment of the same length: the ignore file's own size is unchanged.
                .map(|(k, l)| if Some(k) == skip { format!("#{}\n", "x".repeat(l.len() - 1)) } else { format!("{l}\n") })
                .collect();
            fs::write(d.path().join(".dockerignore"), text).unwrap();
        };
        let opts = ctxray::report::ReportOptions { top: 0, tree_depth: 0 };
        for engine in [Engine::Classic, Engine::Buildkit] {
            write(None);
            let c = Context::open(&Options::new(d.path(), engine)).unwrap();
            let full = ctxray::report::build(&c, opts).unwrap();
            for rule in full.rules.iter().filter(|r| !r.exception) {
                write(Some(rule.line - 1));
                let c = Context::open(&Options::new(d.path(), engine)).unwrap();
                let without = ctxray::report::build(&c, opts).unwrap();
                let added = (
                    without.included.files as i64 - full.included.files as i64,
                    without.included.bytes as i64 - full.included.bytes as i64,
                );
                prop_assert_eq!(
                    (rule.files, rule.bytes), added,
                    "{:?} line {} `{}` of {:?}", engine, rule.line, rule.pattern, lines
                );
                prop_assert!(rule.files <= rule.decides_files as i64);
            }
        }
    }
}

#[test]
fn ls_sent_and_excluded_partition_the_context() {
    let d = report_tree();
    let mut all = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if fs::symlink_metadata(e.path()).unwrap().is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &e.path(), out);
            } else {
                out.push(rel);
            }
        }
    }
    walk(d.path(), d.path(), &mut all);
    let all: BTreeSet<String> = all.into_iter().collect();
    for engine in ["classic", "buildkit"] {
        let sent: BTreeSet<String> = ls(p(&d), engine).into_iter().collect();
        let excl: BTreeSet<String> = ok(["ls", p(&d), "--engine", engine, "--excluded"])
            .lines()
            .into_iter()
            .collect();
        assert!(sent.is_disjoint(&excl), "{engine}");
        let union: BTreeSet<String> = sent.union(&excl).cloned().collect();
        assert_eq!(union, all, "{engine}");
    }
}

// ---------------------------------------------------------------- progress

/// A context with a few thousand entries (progress is reported every 2,048).
fn many_files_ctx() -> TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    for i in 0..50 {
        let sub = d.path().join(format!("d{i}"));
        fs::create_dir(&sub).unwrap();
        for j in 0..60 {
            fs::write(sub.join(format!("f{j}")), "x").unwrap();
        }
    }
    d
}

#[test]
fn progress_only_on_a_terminal_and_never_with_json() {
    let d = many_files_ctx();
    // Not a terminal: nothing on stderr, whatever the delay.
    let r = bin()
        .env("CTXRAY_PROGRESS_DELAY_MS", "0")
        .args(["report", "--color", "never", p(&d)])
        .output()
        .unwrap();
    assert!(r.status.success());
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!stderr.contains("scanning"), "{stderr}");
    // On a terminal (util-linux `script` gives the command a pty).
    if StdCommand::new("script").arg("--version").output().is_err() {
        eprintln!("skipped the terminal half: no `script`");
        return;
    }
    let exe = env!("CARGO_BIN_EXE_ctxray");
    let on_tty = |extra: &str| {
        let o = StdCommand::new("script")
            .args([
                "-qec",
                &format!("{exe} report --color never {extra} {}", p(&d)),
                "/dev/null",
            ])
            .env("CTXRAY_PROGRESS_DELAY_MS", "0")
            .output()
            .unwrap();
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(on_tty("").contains("scanning"), "a spinner on a terminal");
    let json = on_tty("--json");
    assert!(!json.contains("scanning"), "{json}");
}

#[test]
fn pack_interrupted_leaves_the_old_output_and_no_temp_file() {
    let d = ctx(&[("Dockerfile", "FROM scratch\n")]);
    // Large enough that packing takes seconds; sparse, so cheap to make.
    fs::File::create(d.path().join("big"))
        .unwrap()
        .set_len(6 << 30)
        .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("ctx.tar");
    fs::write(&out, "the previous archive").unwrap();
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_ctxray"))
        .args(["pack", "-o"])
        .arg(&out)
        .arg(d.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary file exists and is growing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let growing = fs::read_dir(out_dir.path()).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().starts_with(".ctxray-pack-")
                && e.metadata().unwrap().len() > 0
        });
        if growing {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pack never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left: Vec<_> = fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        vec!["ctx.tar".to_string()],
        "no temporary file is left"
    );
    assert_eq!(fs::read_to_string(&out).unwrap(), "the previous archive");
}

#[test]
fn pack_writes_into_special_files_and_through_symlinks_in_place() {
    let d = ctx(&[("Dockerfile", "FROM scratch\n"), ("a.txt", "hello")]);
    let want = ok(["pack", "-o", "-", p(&d)]).stdout;
    let out = tempfile::tempdir().unwrap();
    // A FIFO (like /dev/null or a process substitution): written, never replaced.
    let fifo = out.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    ok(["pack", "-o", fifo.to_str().unwrap(), p(&d)]);
    assert_eq!(reader.join().unwrap(), want);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    // A symlink to a file: the file is replaced, the link stays.
    let target = out.path().join("real.tar");
    fs::write(&target, "old").unwrap();
    let link = out.path().join("link.tar");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    ok(["pack", "-o", link.to_str().unwrap(), p(&d)]);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(&target).unwrap(), want);
}

// ------------------------------------------------- more property tests

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Reader round trip: canonical patterns written with comments, blank
    /// lines, surrounding spaces, CRLF or LF and an optional BOM read back
    /// as themselves, each with its line number.
    #[test]
    fn reader_round_trip(
        items in prop::collection::vec(
            prop_oneof![
                // A pattern (Some) made of clean components, maybe an exception.
                (any::<bool>(), prop::collection::vec("[a-z0-9_*?.-]{1,6}", 1..4))
                    .prop_filter("no . or .. components", |(_, cs)| cs.iter().all(|c| c != "." && c != ".."))
                    .prop_map(|(bang, cs)| Some(format!("{}{}", if bang { "!" } else { "" }, cs.join("/")))),
                Just(None),
            ],
            0..12,
        ),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        pad in 0usize..3,
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        let mut want = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Some(p) => {
                    text.push_str(&format!("{}{p}{}{eol}", " ".repeat(pad), " ".repeat(pad)));
                    want.push((i + 1, p.clone()));
                }
                None if i % 2 == 0 => text.push_str(&format!("# comment {i}{eol}")),
                None => text.push_str(eol),
            }
        }
        let got: Vec<(usize, String)> = ctxray::ignorefile::parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|l| (l.line, String::from_utf8(l.pattern).unwrap()))
            .collect();
        prop_assert_eq!(got, want, "{:?}", text);
    }

    /// Report identities on random trees: included + excluded files and
    /// bytes are every regular file under the context; the predicted tar
    /// size is what `pack` writes (classic: the Docker CLI's bytes).
    #[test]
    fn report_identities_and_predicted_tar_size(
        tree in arb_tree(),
        pats in prop::collection::vec(0..PATTERNS.len(), 0..6),
        sizes in prop::collection::vec(0usize..3000, 12),
    ) {
        let d = tempfile::tempdir().unwrap();
        build_tree(d.path(), &tree);
        // Vary the file sizes (build_tree writes short names as contents).
        for (k, e) in walkdir_files(d.path()).into_iter().enumerate() {
            fs::write(&e, "z".repeat(sizes[k % sizes.len()])).unwrap();
        }
        fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let ignore: String = pats.iter().map(|&i| format!("{}\n", PATTERNS[i])).collect();
        fs::write(d.path().join(".dockerignore"), &ignore).unwrap();
        let files = walkdir_files(d.path());
        let total_bytes: u64 = files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
        let opts = ctxray::report::ReportOptions { top: 3, tree_depth: 0 };
        for engine in [Engine::Classic, Engine::Buildkit] {
            let c = Context::open(&Options::new(d.path(), engine)).unwrap();
            let r = ctxray::report::build(&c, opts).unwrap();
            prop_assert_eq!(r.included.files + r.excluded.files, files.len() as u64, "{:?} {:?}", engine, ignore);
            prop_assert_eq!(r.included.bytes + r.excluded.bytes, total_bytes, "{:?} {:?}", engine, ignore);
            let (tar, summary) = ctxray::archive::pack(&c, Vec::new(), |_| false).unwrap();
            prop_assert_eq!(r.tar_bytes, tar.len() as u64, "{:?} {:?}", engine, ignore);
            prop_assert_eq!(summary.bytes, tar.len() as u64);
        }
    }
}

/// Every regular file below `root`.
fn walkdir_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Above the entry limit the Findings are left out with a note, unless
/// `--lint`; below it they are there.
#[test]
fn report_leaves_findings_out_above_the_entry_limit() {
    let d = ctx(&[
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
        (".env", "TOKEN=1\n"),
        ("a/b/c", "x"),
    ]);
    let with = |limit: &str, extra: &[&str]| {
        let mut c = bin();
        c.env("CTXRAY_LINT_MAX_ENTRIES", limit).arg("report");
        c.args(extra).arg(p(&d));
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        (
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    };
    let (out, err) = with("3", &[]);
    assert!(!out.contains("Findings"), "{out}");
    assert!(err.contains("Findings left out"), "{err}");
    let (out, err) = with("3", &["--lint"]);
    assert!(out.contains("Findings"), "{out}");
    assert!(err.is_empty(), "{err}");
    let (out, _) = with("100", &[]);
    assert!(out.contains("Findings"), "{out}");
    let (json, _) = with("3", &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["findings"].is_null(), "{json}");
}

/// The report's Findings (gathered from its own walk) are the lint's
/// (which walks by itself): same counts, same top findings.
#[test]
fn report_findings_equal_lint_findings() {
    let d = ctx(&[
        (
            "Dockerfile",
            "FROM scratch\nCOPY app/ /app/\nCOPY conf/ /conf/\n",
        ),
        ("app/main.py", "print(1)\n"),
        ("app/__pycache__/main.cpython-312.pyc", "pyc"),
        ("lib/x/__pycache__/y.pyc", "pyc"),
        ("conf/a.yaml", "a: 1\n"),
        (".env", "TOKEN=1\n"),
        ("keep/a", "a"),
        ("keep/b", "b"),
        (
            ".dockerignore",
            "__pycache__\nconf\nnever\n*\n!app\n!keep/a\n!Dockerfile\nrun # inline\n",
        ),
    ]);
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-context");
    for c in [p(&d), sample] {
        for engine in ["buildkit", "classic"] {
            let r = run(["report", "--json", "--engine", engine, c]);
            let l = run([
                "lint",
                "--json",
                "--fail-on",
                "never",
                "--engine",
                engine,
                c,
            ]);
            assert_eq!(l.code, 0, "{}", l.stderr);
            let r: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
            let l: serde_json::Value = serde_json::from_slice(&l.stdout).unwrap();
            let rf = &r["findings"];
            for level in ["error", "warning", "info"] {
                assert_eq!(rf[level], l["counts"][level], "{c} {engine} {level}");
            }
            // The report shows the most severe first.
            let mut all: Vec<serde_json::Value> = l["findings"].as_array().unwrap().clone();
            let rank = |f: &serde_json::Value| match f["level"].as_str() {
                Some("error") => 0,
                Some("warning") => 1,
                _ => 2,
            };
            all.sort_by_key(rank);
            let top: Vec<_> = all.into_iter().take(5).collect();
            assert_eq!(rf["top"].as_array().unwrap(), &top, "{c} {engine}");
        }
    }
}

/// A context as deep as a path allows: `pack` walks on its own thread,
/// which must have room for one frame per level (a 2 MiB thread stack
/// overflowed at 300 levels in a debug build).
#[test]
fn pack_walks_a_deep_tree() {
    let d = tempfile::tempdir().unwrap();
    let mut deep = d.path().to_path_buf();
    for _ in 0..800 {
        deep.push("a");
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("f"), "x").unwrap();
    fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let tar = out.path().join("ctx.tar");
    ok(["pack", "-o", tar.to_str().unwrap(), p(&d)]);
    let names = tar_names(&fs::read(&tar).unwrap());
    // Dockerfile, 800 directories and the file.
    assert_eq!(names.len(), 802);
    assert!(names.iter().any(|n| n.ends_with("/a/f")));
}

/// `Context::with_engine` opens the context as `Context::open` does with
/// the other engine: the same patterns, trims and answers, whether the
/// engines read the same ignore file or BuildKit reads its own
/// `<Dockerfile>.dockerignore`.
#[test]
fn with_engine_equals_open() {
    let d = ctx(&[
        ("Dockerfile", "FROM scratch\n"),
        (".dockerignore", "*\n!src\nDockerfile\n.dockerignore\n"),
        ("src/a.rs", "a"),
        ("b.txt", "b"),
    ]);
    let texts = |c: &Context| -> Vec<(Vec<u8>, bool, usize)> {
        c.effective
            .patterns()
            .iter()
            .map(|p| (p.text.clone(), p.exclusion, p.line))
            .collect()
    };
    for specific in [false, true] {
        if specific {
            fs::write(d.path().join("Dockerfile.dockerignore"), "b.txt\n").unwrap();
        }
        for (from, to) in [
            (Engine::Buildkit, Engine::Classic),
            (Engine::Classic, Engine::Buildkit),
        ] {
            let a = Context::open(&Options::new(d.path(), from)).unwrap();
            let b = a.with_engine(&Options::new(d.path(), to)).unwrap();
            let want = Context::open(&Options::new(d.path(), to)).unwrap();
            assert_eq!(b.engine, to);
            assert_eq!(texts(&b), texts(&want), "{specific} {from:?} -> {to:?}");
            assert_eq!(
                b.ignore.as_ref().map(|f| f.display.clone()),
                want.ignore.as_ref().map(|f| f.display.clone())
            );
            for p in ["src/a.rs", "b.txt", "Dockerfile", ".dockerignore", "src"] {
                assert_eq!(
                    b.explain(p.as_bytes()).unwrap().sent,
                    want.explain(p.as_bytes()).unwrap().sent,
                    "{specific} {from:?} -> {to:?} {p}"
                );
            }
        }
    }
}

/// `Context::with_engine` fails where `Context::open` fails: a BuildKit
/// `<Dockerfile>.dockerignore` that cannot be looked up (its name too long)
/// is not taken for an absent one.
#[test]
fn with_engine_fails_where_open_fails() {
    let name = "D".repeat(245);
    let d = ctx(&[(name.as_str(), "FROM scratch\n"), ("a", "a")]);
    let opts = |engine| {
        let mut o = Options::new(d.path(), engine);
        o.dockerfile = Some(d.path().join(&name));
        o
    };
    let classic = Context::open(&opts(Engine::Classic)).unwrap();
    assert!(Context::open(&opts(Engine::Buildkit)).is_err());
    assert!(classic.with_engine(&opts(Engine::Buildkit)).is_err());
}
