//! Differential tests against golden data from the real docker CLI 28.2.2
//! (classic: the exact tar it uploads) and the Go oracle's BuildKit walk
//! (tests/golden; regenerate with tests/golden/gen.py).

use ctxray::archive::{pack, TarBuilder};
use ctxray::context::{Context, Options};
use ctxray::walk::{Engine, Event, Kind, Status, WalkMode};

use crate::treespec::{golden, materialize, runnable_cases, Case};

fn options(case: &Case, root: &std::path::Path, engine: Engine) -> Options {
    let mut o = Options::new(root, engine);
    o.dockerfile = case.dockerfile.as_ref().map(|d| root.join(d));
    o
}

/// The case's tree in a fresh temporary directory.
fn materialized(case: &Case) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    materialize(case, dir.path()).unwrap();
    dir
}

#[test]
fn classic_tar_is_byte_identical_to_docker_cli() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in runnable_cases() {
        let name = &case.name;
        let dir = materialized(&case);
        let result = Context::open(&options(&case, dir.path(), Engine::Classic))
            .and_then(|ctx| pack(&ctx, Vec::new(), |_| false).map(|(bytes, _)| (ctx, bytes)));
        match (golden(name, "classic.tar"), result) {
            (Some(want), Ok((ctx, got))) => {
                checked += 1;
                if want != got {
                    let first = want
                        .iter()
                        .zip(&got)
                        .position(|(a, b)| a != b)
                        .unwrap_or(want.len().min(got.len()));
                    failures.push(format!(
                        "{name}: tar differs at byte {first} (block {}): want {} bytes, got {}",
                        first / 512,
                        want.len(),
                        got.len()
                    ));
                    continue;
                }
                // The size predicted from metadata equals what pack wrote.
                let mut counter = TarBuilder::counter();
                ctx.walk(WalkMode::Sent, |ev| {
                    if let Event::Entry(e) = ev {
                        if e.status == Status::Sent {
                            counter.add(e.path, e.abs).unwrap();
                        }
                    }
                    Ok(())
                })
                .unwrap();
                let (_, predicted) = counter.finish().unwrap();
                if predicted != got.len() as u64 {
                    failures.push(format!(
                        "{name}: predicted tar size {predicted} != written {}",
                        got.len()
                    ));
                }
            }
            (Some(_), Err(e)) => {
                failures.push(format!("{name}: docker sent a tar, ctxray failed: {e}"))
            }
            (None, Ok(_)) => failures.push(format!(
                "{name}: docker refused ({}), ctxray packed",
                String::from_utf8_lossy(&golden(name, "classic.err").unwrap_or_default()).trim()
            )),
            (None, Err(_)) => checked += 1,
        }
    }
    assert!(checked >= 30, "only {checked} cases checked");
    assert!(
        failures.is_empty(),
        "{} divergences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn buildkit_entries_match_the_oracle() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in runnable_cases() {
        let name = &case.name;
        let dir = materialized(&case);
        let result = Context::open(&options(&case, dir.path(), Engine::Buildkit)).and_then(|ctx| {
            let mut lines = Vec::new();
            ctx.walk(WalkMode::Sent, |ev| {
                if let Event::Entry(e) = ev {
                    if e.status == Status::Sent {
                        let mut l = e.path.to_vec();
                        if e.kind == Kind::Dir {
                            l.push(b'/');
                        }
                        lines.push(l);
                    }
                }
                Ok(())
            })?;
            Ok(lines)
        });
        match (golden(name, "buildkit.txt"), result) {
            (Some(want), Ok(got)) => {
                checked += 1;
                let want: Vec<&[u8]> = want
                    .split(|&c| c == b'\n')
                    .filter(|l| !l.is_empty())
                    .collect();
                let got: Vec<&[u8]> = got.iter().map(Vec::as_slice).collect();
                if want != got {
                    let show = |v: &[&[u8]]| {
                        v.iter()
                            .map(|l| String::from_utf8_lossy(l).into_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    failures.push(format!(
                        "{name}:\n  want [{}]\n  got  [{}]",
                        show(&want),
                        show(&got)
                    ));
                }
            }
            (Some(_), Err(e)) => {
                failures.push(format!("{name}: oracle listed, ctxray failed: {e}"))
            }
            (None, Ok(_)) => failures.push(format!("{name}: oracle refused, ctxray listed")),
            (None, Err(_)) => checked += 1,
        }
    }
    assert!(checked >= 30, "only {checked} cases checked");
    assert!(
        failures.is_empty(),
        "{} divergences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every archive ctxray writes for the corpus (both engines' file sets) is
/// read back by GNU tar (`tar -tvf`, no warning) and by the `tar` crate,
/// with the same number of entries.
#[test]
fn archives_read_back_with_gnu_tar_and_the_tar_crate() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    if Command::new("tar").arg("--version").output().is_err() {
        panic!("GNU tar is not on PATH");
    }
    let mut checked = 0;
    for case in runnable_cases() {
        let dir = materialized(&case);
        for engine in [Engine::Classic, Engine::Buildkit] {
            let Ok(ctx) = Context::open(&options(&case, dir.path(), engine)) else {
                continue;
            };
            let Ok((bytes, summary)) = pack(&ctx, Vec::new(), |_| false) else {
                continue;
            };
            let mut ar = tar::Archive::new(&bytes[..]);
            let crate_entries = ar
                .entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap_or_else(|err| panic!("{}: tar crate: {err}", case.name));
                    e.path_bytes().into_owned()
                })
                .count() as u64;
            assert_eq!(crate_entries, summary.entries, "{} {engine:?}", case.name);
            let mut child = Command::new("tar")
                .args(["-tvf", "-", "--quoting-style=escape"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let input = bytes.clone();
            let feeder = std::thread::spawn(move || stdin.write_all(&input));
            let out = child.wait_with_output().unwrap();
            feeder.join().unwrap().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "{} {engine:?}: GNU tar: {stderr}",
                case.name
            );
            let lines = out.stdout.iter().filter(|&&c| c == b'\n').count() as u64;
            assert_eq!(lines, summary.entries, "{} {engine:?}", case.name);
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} archives checked");
}
