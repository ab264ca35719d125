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
