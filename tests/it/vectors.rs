//! Every row of the spec's machine-generated vectors (tests/data/VECTORS*.tsv,
//! produced by running Docker's own code): the `expected` column is the
//! classic engine, the `buildkit` column the BuildKit engine. Each path is
//! created in an empty temporary context and the real walk decides.

use std::path::Path;

use ctxray::ignorefile;
use ctxray::matcher::{Matcher, NewError};
use ctxray::walk::{Engine, Event, Status, WalkMode, Walker};

fn decode(s: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| it.next()).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("unknown escape \\{other:?} in {s:?}"),
        }
    }
    out.into_bytes()
}

fn go_list(lines: &[ignorefile::PatternLine]) -> String {
    let v: Vec<String> = lines
        .iter()
        .map(|l| String::from_utf8_lossy(&l.pattern).into_owned())
        .collect();
    format!("[{}]", v.join(" "))
}

/// What the engine does with `path` in an otherwise empty context, in the
/// words of the vector files.
fn outcome(engine: Engine, patterns: &[u8], path: &str) -> String {
    let lines = match ignorefile::parse(patterns) {
        Ok(l) => l,
        Err(e) => return format!("error: {e}"),
    };
    let m = match Matcher::new(&lines) {
        Ok(m) => m,
        Err(e) => {
            let msg = match e {
                NewError::LoneBang { .. } => "illegal exclusion pattern: \"!\"".to_string(),
                NewError::Syntax { .. } => "syntax error in pattern".to_string(),
            };
            return match engine {
                Engine::Classic => format!("error: {msg}"),
                Engine::Buildkit => {
                    format!("error: invalid excludepatterns: {}: {msg}", go_list(&lines))
                }
            };
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let is_dir = path.ends_with('/');
    let clean = path.trim_end_matches('/');
    let full = dir.path().join(clean);
    if is_dir {
        std::fs::create_dir_all(&full).unwrap();
    } else {
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, "x").unwrap();
    }
    let w = Walker::new(engine, &m, WalkMode::Sent);
    let mut found = false;
    let res = w.walk(dir.path(), |ev| -> Result<(), ctxray::walk::WalkError> {
        if let Event::Entry(e) = ev {
            if e.status == Status::Sent && e.path == clean.as_bytes() {
                found = true;
            }
        }
        Ok(())
    });
    match res {
        Err(_) if engine == Engine::Buildkit => {
            "error: failed to match excludepatterns: syntax error in pattern".into()
        }
        Err(e) => format!("error: {e}"),
        Ok(warnings) => {
            if let Some(w) = warnings
                .iter()
                .find(|w| w.message.starts_with("Error matching"))
            {
                let end = w.message.find(" (line").unwrap_or(w.message.len());
                return format!("error: {}", &w.message[..end]);
            }
            if found { "included" } else { "excluded" }.into()
        }
    }
}

fn run_file(name: &str) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut rows = 0;
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 {
            continue;
        }
        rows += 1;
        let patterns = decode(cols[0]);
        let path = String::from_utf8(decode(cols[1])).unwrap();
        for (engine, want) in [(Engine::Classic, cols[2]), (Engine::Buildkit, cols[4])] {
            let got = outcome(engine, &patterns, &path);
            if got != want {
                failures.push(format!(
                    "{name}:{} {:?} path {:?} [{}]: want {want:?}, got {got:?}",
                    n + 1,
                    cols[0],
                    cols[1],
                    engine.name()
                ));
            }
        }
    }
    assert!(rows > 10, "no rows read from {name}");
    assert!(
        failures.is_empty(),
        "{} of {} rows fail:\n{}",
        failures.len(),
        rows,
        failures.join("\n")
    );
}

#[test]
fn vectors() {
    run_file("VECTORS.tsv");
}

#[test]
fn vectors_errors() {
    run_file("VECTORS_ERRORS.tsv");
}
