//! `ctxray lint` acceptance on whole projects: the sample context, the
//! unused-context numbers checked against an independent count, and
//! generated contexts modelled on real projects (a yarn-workspaces
//! monorepo, a Python service, a Rust workspace, a Django app with an
//! inline comment, an API that ships its secrets, a COPY source the ignore
//! file leaves out), each with a "bad" `.dockerignore` written with
//! .gitignore habits and the "clean" fixed variant.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ctxray::context::{sent_entries, Context, Options};
use ctxray::lint::{lint, Finding, Level, LintOptions};
use ctxray::walk::{Engine, Kind};
use tempfile::TempDir;

const ENGINES: [Engine; 2] = [Engine::Buildkit, Engine::Classic];

// ---------------------------------------------------------------- helpers

fn sample() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-context"))
}

/// Writes a project: `(path, contents)`.
fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        put(dir.path(), path, contents.as_bytes());
    }
    dir
}

fn put(root: &Path, path: &str, contents: &[u8]) {
    let p = root.join(path);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, contents).unwrap();
}

fn open(root: &Path, dockerfile: Option<&Path>, engine: Engine) -> Context {
    let mut o = Options::new(root, engine);
    o.dockerfile = dockerfile.map(Path::to_path_buf);
    Context::open(&o).unwrap()
}

fn lint_with(root: &Path, dockerfile: Option<&Path>, engine: Engine) -> Vec<Finding> {
    lint(&open(root, dockerfile, engine), &LintOptions::default()).unwrap()
}

/// Lints with both engines (the default Dockerfile).
fn lint_both(root: &Path) -> Vec<(Engine, Vec<Finding>)> {
    ENGINES
        .iter()
        .map(|&e| (e, lint_with(root, None, e)))
        .collect()
}

/// `CODE:line level fix` of each finding, for assertion messages.
fn summary(v: &[Finding]) -> Vec<String> {
    v.iter()
        .map(|f| {
            format!(
                "{}:{} {} {:?}: {}",
                f.code,
                f.line.map_or_else(|| "-".into(), |l| l.to_string()),
                f.level.name(),
                f.fix,
                f.message
            )
        })
        .collect()
}

/// The 1-based line of `.dockerignore` (or any text) that reads `text`.
fn line_of(content: &str, text: &str) -> usize {
    content
        .lines()
        .position(|l| l == text)
        .unwrap_or_else(|| panic!("no line {text:?} in {content:?}"))
        + 1
}

/// The one finding with this code at this line.
fn at<'a>(v: &'a [Finding], code: &str, line: usize, engine: Engine) -> &'a Finding {
    let hits: Vec<&Finding> = v
        .iter()
        .filter(|f| f.code == code && f.line == Some(line))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{engine:?}: one {code} at line {line}: {:#?}",
        summary(v)
    );
    hits[0]
}

/// Every finding of level warning or error.
fn serious(v: &[Finding]) -> Vec<&Finding> {
    v.iter().filter(|f| f.level >= Level::Warning).collect()
}

/// Sent files (not directories) with their sizes, read from the disk.
fn sent_files(ctx: &Context) -> BTreeMap<String, u64> {
    sent_entries(ctx)
        .unwrap()
        .into_iter()
        .filter(|(_, k)| *k != Kind::Dir)
        .map(|(p, _)| {
            let p = String::from_utf8(p).unwrap();
            let size = fs::symlink_metadata(ctx.root.join(&p)).unwrap().len();
            (p, size)
        })
        .collect()
}

/// The directories of a path (every component but the last).
fn dirs(path: &str) -> Vec<&str> {
    let mut c: Vec<&str> = path.split('/').collect();
    c.pop();
    c
}

/// The nested directories named `name` that hold sent files (`a/name/`),
/// and the bytes of the sent files below them.
fn nested(sent: &BTreeMap<String, u64>, name: &str) -> (BTreeSet<String>, u64) {
    let mut tops = BTreeSet::new();
    let mut bytes = 0;
    for (p, size) in sent {
        let d = dirs(p);
        if let Some(i) = d.iter().position(|c| *c == name) {
            tops.insert(format!("{}/", d[..=i].join("/")));
            bytes += size;
        }
    }
    (tops, bytes)
}

/// Asserts a DI001 at `pattern`'s line with the `**/` fix, whose bytes are
/// exactly those of the nested copies sent (`expect_bytes`) and whose
/// level is warning.
fn assert_gitignore_ism(
    v: &[Finding],
    ignore: &str,
    pattern: &str,
    expect_bytes: u64,
    engine: Engine,
) {
    let f = at(v, "DI001", line_of(ignore, pattern), engine);
    assert_eq!(f.name, "gitignore-ism");
    assert_eq!(
        f.fix.as_deref(),
        Some(format!("**/{pattern}").as_str()),
        "{engine:?}"
    );
    assert_eq!(f.level, Level::Warning, "{engine:?}: {}", f.message);
    assert!(f.file.ends_with(".dockerignore"), "{}", f.file);
    assert_eq!(
        f.bytes, expect_bytes,
        "{engine:?} `{pattern}`: {}",
        f.message
    );
    assert!(!f.paths.is_empty());
}

fn no_di001(v: &[Finding], ignore: &str, pattern: &str, engine: Engine) {
    let line = line_of(ignore, pattern);
    assert!(
        !v.iter().any(|f| f.code == "DI001" && f.line == Some(line)),
        "{engine:?}: `{pattern}` exists only at the root: {:#?}",
        summary(v)
    );
}

/// `COPY`/`ADD` sources of a Dockerfile, by a simple line parser: the
/// arguments but the last, flags skipped, `--from` copies left out,
/// `./` and a trailing `/` removed (`.` for the whole context).
fn copy_sources(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        let Some(kw) = words.next() else { continue };
        if !kw.eq_ignore_ascii_case("COPY") && !kw.eq_ignore_ascii_case("ADD") {
            continue;
        }
        let args: Vec<&str> = words.collect();
        if args.iter().any(|a| a.starts_with("--from")) {
            continue;
        }
        let args: Vec<&str> = args.into_iter().filter(|a| !a.starts_with("--")).collect();
        for src in &args[..args.len() - 1] {
            let s = src.trim_start_matches("./").trim_end_matches('/');
            out.push(if s.is_empty() { ".".into() } else { s.into() });
        }
    }
    out
}

fn is_under(path: &str, src: &str) -> bool {
    src == "." || path == src || path.starts_with(&format!("{src}/"))
}

/// A number before `word` in `message`, after `after`: `uses 10 files`.
fn count_after(message: &str, after: &str) -> usize {
    let rest = &message[message.find(after).unwrap_or_else(|| panic!("{message}")) + after.len()..];
    let n: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    n.parse().unwrap_or_else(|_| panic!("{message}"))
}

// ------------------------------------------------------------ sample-context

#[test]
fn sample_context_has_no_errors() {
    let root = sample();
    let simple = root.join("Dockerfile.simple");
    for engine in ENGINES {
        for df in [None, Some(simple.as_path())] {
            let v = lint_with(&root, df, engine);
            let errors: Vec<&Finding> = v.iter().filter(|f| f.level == Level::Error).collect();
            assert!(errors.is_empty(), "{engine:?} {df:?}: {:#?}", summary(&v));
        }
    }
}

#[test]
fn sample_context_no_errors_through_the_binary() {
    for engine in ["buildkit", "classic"] {
        for df in [None, Some("sample-context/Dockerfile.simple")] {
            let mut args = vec!["lint", "sample-context", "--json", "--engine", engine];
            if let Some(df) = df {
                args.extend(["-f", df]);
            }
            let o = Command::new(env!("CARGO_BIN_EXE_ctxray"))
                .args(&args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap();
            let stdout = String::from_utf8(o.stdout).unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "{args:?}: {stdout}{}",
                String::from_utf8_lossy(&o.stderr)
            );
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(v["engine"], engine);
            assert_eq!(v["counts"]["error"], 0, "{args:?}: {stdout}");
            assert!(v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["level"] != "error"));
        }
    }
}

/// DF007's numbers against an independent count: the sent files, the COPY
/// sources parsed from the Dockerfile text, the build files left aside.
fn check_unused(root: &Path, dockerfile: &Path, engine: Engine) {
    let ctx = open(root, Some(dockerfile), engine);
    let v = lint(&ctx, &LintOptions::default()).unwrap();
    let text = fs::read_to_string(dockerfile).unwrap();
    let sources = copy_sources(&text);
    assert!(!sources.is_empty(), "{text}");
    let df007: Vec<&Finding> = v.iter().filter(|f| f.code == "DF007").collect();
    if sources.iter().any(|s| s == ".") {
        // The whole context is copied: nothing is unused.
        assert!(df007.is_empty(), "{engine:?}: {:#?}", summary(&v));
        return;
    }
    let df_rel = dockerfile
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let sent = sent_files(&ctx);
    let (used, rest): (Vec<_>, Vec<_>) = sent
        .iter()
        .partition(|(p, _)| sources.iter().any(|s| is_under(p, s)));
    let unused: Vec<(&String, &u64)> = rest
        .into_iter()
        .filter(|(p, _)| **p != df_rel && *p != ".dockerignore")
        .collect();
    assert!(!unused.is_empty());
    let unused_bytes: u64 = unused.iter().map(|u| *u.1).sum();
    let mut tops: BTreeMap<String, u64> = BTreeMap::new();
    for (p, size) in &unused {
        let top = match p.split_once('/') {
            Some((t, _)) => format!("{t}/"),
            None => (*p).clone(),
        };
        *tops.entry(top).or_default() += **size;
    }

    assert_eq!(df007.len(), 1, "{engine:?}: {:#?}", summary(&v));
    let f = df007[0];
    assert_eq!(f.level, Level::Info);
    assert_eq!(f.line, None);
    assert_eq!(f.bytes, unused_bytes, "{engine:?}: {}", f.message);
    assert_eq!(
        count_after(&f.message, "uses"),
        unused.len(),
        "{}",
        f.message
    );
    assert_eq!(
        count_after(&f.message, "transfers only"),
        used.len(),
        "{}",
        f.message
    );
    if tops.len() <= 10 {
        let got: BTreeSet<&String> = f.paths.iter().collect();
        assert_eq!(got, tops.keys().collect(), "{engine:?}: {}", f.message);
    }
    // Largest top-level entries first.
    let sizes: Vec<u64> = f.paths.iter().map(|p| tops[p]).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{:?}", f.paths);
}

#[test]
fn sample_context_unused_context_numbers() {
    let root = fs::canonicalize(sample()).unwrap();
    for engine in ENGINES {
        // Dockerfile.simple ends with `COPY . .`: no DF007 at all.
        check_unused(&root, &root.join("Dockerfile.simple"), engine);
        // The multi-stage Dockerfile copies requirements.txt and app/.
        check_unused(&root, &root.join("Dockerfile"), engine);
    }
}

#[test]
fn unused_context_exact_numbers() {
    let ignore = "**/__pycache__\n**/*.pyc\n.venv\n";
    let dockerfile = "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY app/ /app/\nCMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\"]\n";
    let main = format!("{:<200}", "from fastapi import FastAPI\napp = FastAPI()");
    let models = format!("{:<120}", "from pydantic import BaseModel");
    let reqs = format!("{:<40}", "fastapi==0.111.0\nuvicorn==0.30.1");
    let readme = format!("{:<300}", "# inventory service");
    let test = format!("{:<90}", "def test_health(client): ...");
    let conftest = format!("{:<50}", "import pytest");
    let docs = format!("{:<700}", "# API");
    let d = project(&[
        (".dockerignore", ignore),
        ("Dockerfile", dockerfile),
        ("requirements.txt", &reqs),
        ("app/__init__.py", ""),
        ("app/main.py", &main),
        ("app/models.py", &models),
        ("app/__pycache__/main.cpython-312.pyc", "\u{1}compiled"),
        ("README.md", &readme),
        ("tests/test_main.py", &test),
        ("tests/conftest.py", &conftest),
        ("docs/api.md", &docs),
        (".venv/pyvenv.cfg", "home = /usr/bin\n"),
    ]);
    let root = fs::canonicalize(d.path()).unwrap();
    for engine in ENGINES {
        check_unused(&root, &root.join("Dockerfile"), engine);
        let v = lint_with(&root, None, engine);
        let f = v.iter().find(|f| f.code == "DF007").unwrap();
        // Unused: README.md 300, tests/ 140, docs/ 700 = 1140 B in 4 files;
        // transferred: requirements.txt 40 + app/ 320 = 360 B in 4 files.
        assert_eq!(
            f.message,
            "no COPY/ADD/RUN --mount of a reachable stage uses 4 files, 1.14 kB of the context (docs/ 700 B, README.md 300 B, tests/ 140 B): BuildKit transfers only 4 files, 360 B for this Dockerfile; the classic builder sends everything",
            "{engine:?}"
        );
        assert_eq!(f.bytes, 1140);
        assert_eq!(f.paths, ["docs/", "README.md", "tests/"]);
        assert!(f.file.ends_with("Dockerfile"), "{}", f.file);
        assert_eq!(serious(&v).len(), 0, "{engine:?}: {:#?}", summary(&v));
    }
}

// ------------------------------------------------- yarn-workspaces monorepo

const MONOREPO_BAD: &str =
    "# dependencies\nnode_modules\n\n# build output\ndist\n.git\nyarn-error.log\n";
const MONOREPO_CLEAN: &str =
    "# dependencies\n**/node_modules\n\n# build output\n**/dist\n.git\nyarn-error.log\n";

fn yarn_monorepo(ignore: &str) -> TempDir {
    let pkg = |name: &str, deps: &str| {
        format!(
            "{{\n  \"name\": \"{name}\",\n  \"version\": \"0.4.2\",\n  \"main\": \"dist/index.js\",\n  \"types\": \"dist/index.d.ts\",\n  \"scripts\": {{ \"build\": \"tsc -p tsconfig.json\" }},\n  \"dependencies\": {{ {deps} }}\n}}\n"
        )
    };
    let ui = pkg("@acme/ui", "\"clsx\": \"^2.1.1\", \"react\": \"^18.3.1\"");
    let utils = pkg("@acme/utils", "\"date-fns\": \"^3.6.0\"");
    let web = "{\n  \"name\": \"web\",\n  \"private\": true,\n  \"scripts\": { \"build\": \"next build\", \"start\": \"next start\" },\n  \"dependencies\": { \"@acme/ui\": \"*\", \"@acme/utils\": \"*\", \"next\": \"14.2.4\" }\n}\n";
    project(&[
        (".dockerignore", ignore),
        (
            "Dockerfile",
            "# syntax=docker/dockerfile:1\nFROM node:20-alpine AS build\nWORKDIR /repo\nCOPY package.json yarn.lock ./\nCOPY packages/ui/package.json packages/ui/\nCOPY packages/utils/package.json packages/utils/\nCOPY apps/web/package.json apps/web/\nRUN yarn install --frozen-lockfile\nCOPY . .\nRUN yarn build\n\nFROM node:20-alpine\nWORKDIR /app\nCOPY --from=build /repo/apps/web/.next ./.next\nCOPY --from=build /repo/node_modules ./node_modules\nCMD [\"yarn\", \"--cwd\", \"apps/web\", \"start\"]\n",
        ),
        (
            "package.json",
            "{\n  \"name\": \"acme\",\n  \"private\": true,\n  \"workspaces\": [\"packages/*\", \"apps/*\"],\n  \"scripts\": { \"build\": \"yarn workspaces run build\" },\n  \"devDependencies\": { \"typescript\": \"^5.4.5\" }\n}\n",
        ),
        (
            "yarn.lock",
            "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\nclsx@^2.1.1:\n  version \"2.1.1\"\n  resolved \"https://registry.yarnpkg.com/clsx/-/clsx-2.1.1.tgz\"\n\nreact@^18.3.1:\n  version \"18.3.1\"\n",
        ),
        ("yarn-error.log", "Arguments: \n  /usr/local/bin/node /usr/local/bin/yarn install\n"),
        (".gitignore", "node_modules\ndist\n.next\nyarn-error.log\n"),
        ("tsconfig.base.json", "{ \"compilerOptions\": { \"strict\": true, \"target\": \"es2020\" } }\n"),
        ("README.md", "# acme\n\nyarn workspaces: packages/ui, packages/utils, apps/web\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        (".git/config", "[core]\n\trepositoryformatversion = 0\n"),
        (".git/objects/pack/pack-1a2b.pack", "PACK...."),
        // The root node_modules (hoisted) ...
        ("node_modules/.yarn-integrity", "{ \"systemParams\": \"linux-x64-115\" }\n"),
        ("node_modules/react/package.json", "{ \"name\": \"react\", \"version\": \"18.3.1\" }\n"),
        ("node_modules/react/index.js", "module.exports = require('./cjs/react.production.min.js');\n"),
        ("node_modules/react/cjs/react.production.min.js", "/** @license React */ 'use strict';var l=Symbol.for(\"react.element\");\n"),
        ("node_modules/typescript/package.json", "{ \"name\": \"typescript\", \"version\": \"5.4.5\" }\n"),
        ("node_modules/typescript/lib/tsc.js", "#!/usr/bin/env node\nrequire('./_tsc.js')\n"),
        ("node_modules/.bin/tsc", "#!/usr/bin/env node\nrequire('../typescript/lib/tsc.js')\n"),
        // ... and one per workspace (versions that could not be hoisted).
        ("packages/ui/package.json", &ui),
        ("packages/ui/tsconfig.json", "{ \"extends\": \"../../tsconfig.base.json\", \"compilerOptions\": { \"outDir\": \"dist\" } }\n"),
        ("packages/ui/src/index.ts", "export { Button } from './Button';\n"),
        ("packages/ui/src/Button.tsx", "import clsx from 'clsx';\nexport const Button = (p: { primary?: boolean }) => <button className={clsx('btn', p.primary && 'btn-primary')} />;\n"),
        ("packages/ui/dist/index.js", "\"use strict\";Object.defineProperty(exports,\"__esModule\",{value:true});\n"),
        ("packages/ui/dist/index.d.ts", "export { Button } from './Button';\n"),
        ("packages/ui/dist/Button.js", "\"use strict\";var clsx_1=require(\"clsx\");\n"),
        ("packages/ui/node_modules/clsx/package.json", "{ \"name\": \"clsx\", \"version\": \"2.1.1\" }\n"),
        ("packages/ui/node_modules/clsx/dist/clsx.js", "function r(e){var t,f,n=\"\";return n}module.exports=r;\n"),
        ("packages/utils/package.json", &utils),
        ("packages/utils/src/index.ts", "export * from './date';\n"),
        ("packages/utils/src/date.ts", "import { format } from 'date-fns';\nexport const iso = (d: Date) => format(d, 'yyyy-MM-dd');\n"),
        ("packages/utils/dist/index.js", "\"use strict\";__exportStar(require(\"./date\"),exports);\n"),
        ("packages/utils/dist/date.js", "\"use strict\";const date_fns_1=require(\"date-fns\");\n"),
        ("packages/utils/node_modules/date-fns/package.json", "{ \"name\": \"date-fns\", \"version\": \"3.6.0\" }\n"),
        ("packages/utils/node_modules/date-fns/index.js", "export * from './format.js';\n"),
        ("packages/utils/node_modules/date-fns/format.js", "export function format(date, fmt) { return String(date) }\n"),
        ("apps/web/package.json", web),
        ("apps/web/next.config.js", "module.exports = { transpilePackages: ['@acme/ui'] };\n"),
        ("apps/web/src/pages/index.tsx", "import { Button } from '@acme/ui';\nexport default function Home() { return <Button primary /> }\n"),
        ("apps/web/src/pages/_app.tsx", "export default function App({ Component, pageProps }) { return <Component {...pageProps} /> }\n"),
        ("apps/web/public/robots.txt", "User-agent: *\nAllow: /\n"),
        ("apps/web/node_modules/next/package.json", "{ \"name\": \"next\", \"version\": \"14.2.4\" }\n"),
        ("apps/web/node_modules/next/dist/server/next.js", "\"use strict\";Object.defineProperty(exports,\"__esModule\",{value:true});\n"),
        ("apps/web/node_modules/.bin/next", "#!/usr/bin/env node\nrequire('../next/dist/bin/next')\n"),
    ])
}

#[test]
fn monorepo_bad_nested_node_modules_and_dist() {
    let d = yarn_monorepo(MONOREPO_BAD);
    for (engine, v) in lint_both(d.path()) {
        let sent = sent_files(&open(d.path(), None, engine));
        // The root copy is excluded; the nested ones are all sent.
        assert!(!sent.keys().any(|p| p.starts_with("node_modules/")));
        let (nm_tops, nm_bytes) = nested(&sent, "node_modules");
        assert_eq!(
            nm_tops,
            BTreeSet::from([
                "apps/web/node_modules/".to_string(),
                "packages/ui/node_modules/".to_string(),
                "packages/utils/node_modules/".to_string(),
            ])
        );
        let (dist_tops, dist_bytes) = nested(&sent, "dist");
        assert!(dist_tops.contains("packages/ui/dist/"));
        assert!(dist_tops.contains("packages/utils/dist/"));

        assert_gitignore_ism(&v, MONOREPO_BAD, "node_modules", nm_bytes, engine);
        assert_gitignore_ism(&v, MONOREPO_BAD, "dist", dist_bytes, engine);
        let f = at(&v, "DI001", line_of(MONOREPO_BAD, "node_modules"), engine);
        assert_eq!(
            f.paths.iter().collect::<BTreeSet<_>>(),
            nm_tops.iter().collect(),
            "{engine:?}"
        );
        let f = at(&v, "DI001", line_of(MONOREPO_BAD, "dist"), engine);
        assert_eq!(
            f.paths.iter().collect::<BTreeSet<_>>(),
            dist_tops.iter().collect(),
            "{engine:?}"
        );
        no_di001(&v, MONOREPO_BAD, ".git", engine);
        assert!(
            !v.iter().any(|f| f.level == Level::Error),
            "{engine:?}: {:#?}",
            summary(&v)
        );
    }
}

#[test]
fn monorepo_clean_has_no_findings() {
    let d = yarn_monorepo(MONOREPO_CLEAN);
    for (engine, v) in lint_both(d.path()) {
        assert!(v.is_empty(), "{engine:?}: {:#?}", summary(&v));
        let sent = sent_files(&open(d.path(), None, engine));
        assert!(!sent
            .keys()
            .any(|p| dirs(p).contains(&"node_modules") || dirs(p).contains(&"dist")));
    }
}

// ------------------------------------------------------------ Python service

const PYTHON_BAD: &str =
    "# Byte-compiled / optimized\n__pycache__\n*.pyc\n\n# Environments\n.venv\n.pytest_cache\n";
const PYTHON_CLEAN: &str = "# Byte-compiled / optimized\n**/__pycache__\n**/*.pyc\n\n# Environments\n.venv\n.pytest_cache\n";

fn python_service(ignore: &str) -> TempDir {
    let pyc = "\u{cb}\r\r\n\0\0\0\0compiled bytecode";
    project(&[
        (".dockerignore", ignore),
        (
            "Dockerfile",
            "FROM python:3.12-slim\nENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\nWORKDIR /srv\nCOPY . .\nRUN pip install --no-cache-dir .\nCMD [\"uvicorn\", \"inventory.main:app\", \"--host\", \"0.0.0.0\"]\n",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"inventory\"\nversion = \"1.3.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"fastapi>=0.110\", \"sqlalchemy>=2.0\"]\n\n[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n",
        ),
        ("requirements.lock", "fastapi==0.111.0\nsqlalchemy==2.0.30\nuvicorn==0.30.1\n"),
        ("README.md", "# inventory\n\n`uvicorn inventory.main:app --reload`\n"),
        (".gitignore", "__pycache__/\n*.py[cod]\n.venv/\n.pytest_cache/\n"),
        ("conftest.py", "import pytest\n"),
        ("__pycache__/conftest.cpython-312-pytest-8.3.5.pyc", pyc),
        ("src/inventory/__init__.py", "__version__ = \"1.3.0\"\n"),
        ("src/inventory/main.py", "from fastapi import FastAPI\nfrom .api.routes import router\napp = FastAPI()\napp.include_router(router)\n"),
        ("src/inventory/api/__init__.py", ""),
        ("src/inventory/api/routes.py", "from fastapi import APIRouter\nrouter = APIRouter()\n\n@router.get('/health')\ndef health():\n    return {'ok': True}\n"),
        ("src/inventory/db/__init__.py", ""),
        ("src/inventory/db/models.py", "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"),
        ("src/inventory/db/session.py", "from sqlalchemy import create_engine\n"),
        ("src/inventory/db/migrations/0001_initial.py", "def upgrade(): ...\n"),
        ("src/inventory/__pycache__/__init__.cpython-312.pyc", pyc),
        ("src/inventory/__pycache__/main.cpython-312.pyc", pyc),
        ("src/inventory/api/__pycache__/routes.cpython-312.pyc", pyc),
        ("src/inventory/db/__pycache__/models.cpython-312.pyc", pyc),
        ("src/inventory/db/__pycache__/session.cpython-312.pyc", pyc),
        // Legacy `compileall -b` output next to the sources.
        ("src/inventory/db/migrations/0001_initial.pyc", pyc),
        ("scripts/seed_db.py", "from inventory.db.session import engine\n"),
        ("scripts/seed_db.pyc", pyc),
        ("tests/__init__.py", ""),
        ("tests/test_routes.py", "def test_health(client):\n    assert client.get('/health').json() == {'ok': True}\n"),
        ("tests/__pycache__/test_routes.cpython-312-pytest-8.3.5.pyc", pyc),
        ("tests/__pycache__/__init__.cpython-312.pyc", pyc),
        (".pytest_cache/v/cache/nodeids", "[\"tests/test_routes.py::test_health\"]\n"),
        (".pytest_cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n"),
        (".venv/pyvenv.cfg", "home = /usr/local/bin\ninclude-system-site-packages = false\nversion = 3.12.4\n"),
        (".venv/bin/activate", "# This file must be used with \"source bin/activate\"\n"),
        (".venv/bin/python", "#!/bin/sh\n"),
        (".venv/lib/python3.12/site-packages/fastapi/__init__.py", "__version__ = \"0.111.0\"\n"),
        (".venv/lib/python3.12/site-packages/fastapi/__pycache__/__init__.cpython-312.pyc", pyc),
        (".venv/lib/python3.12/site-packages/sqlalchemy/__init__.py", "__version__ = \"2.0.30\"\n"),
    ])
}

#[test]
fn python_bad_nested_bytecode_not_root_venv() {
    let d = python_service(PYTHON_BAD);
    for (engine, v) in lint_both(d.path()) {
        let sent = sent_files(&open(d.path(), None, engine));
        let (_, cache_bytes) = nested(&sent, "__pycache__");
        let pyc_bytes: u64 = sent
            .iter()
            .filter(|(p, _)| p.ends_with(".pyc"))
            .map(|(_, s)| s)
            .sum();
        assert!(cache_bytes > 0 && pyc_bytes > cache_bytes);
        assert_gitignore_ism(&v, PYTHON_BAD, "__pycache__", cache_bytes, engine);
        assert_gitignore_ism(&v, PYTHON_BAD, "*.pyc", pyc_bytes, engine);
        // Near misses: `.venv` and `.pytest_cache` exist only at the root.
        no_di001(&v, PYTHON_BAD, ".venv", engine);
        no_di001(&v, PYTHON_BAD, ".pytest_cache", engine);
        assert!(
            !v.iter().any(|f| f.level == Level::Error),
            "{engine:?}: {:#?}",
            summary(&v)
        );
    }
}

#[test]
fn python_clean_has_no_findings() {
    let d = python_service(PYTHON_CLEAN);
    for (engine, v) in lint_both(d.path()) {
        assert!(v.is_empty(), "{engine:?}: {:#?}", summary(&v));
    }
}

// ------------------------------------------------------------ Rust workspace

const RUST_BAD: &str = "# build artifacts\ntarget\n";
const RUST_CLEAN: &str = "# build artifacts\n**/target\n";

fn rust_workspace(ignore: &str) -> TempDir {
    let bin = "\u{7f}ELF\u{2}\u{1}\u{1}\0 not really a binary";
    project(&[
        (".dockerignore", ignore),
        (
            "Dockerfile",
            "FROM rust:1.79-bookworm AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release --locked -p tool\n\nFROM debian:bookworm-slim\nCOPY --from=build /src/target/release/tool /usr/local/bin/tool\nENTRYPOINT [\"tool\"]\n",
        ),
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n"),
        ("Cargo.lock", "# This file is automatically @generated by Cargo.\nversion = 3\n\n[[package]]\nname = \"tool\"\nversion = \"0.2.0\"\n"),
        ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.79\"\n"),
        ("README.md", "# tool\n\n`cargo run -p tool -- --help`\n"),
        ("crates/core/Cargo.toml", "[package]\nname = \"core\"\nversion = \"0.2.0\"\nedition = \"2021\"\n"),
        ("crates/core/src/lib.rs", "pub fn parse(s: &str) -> usize { s.len() }\n"),
        ("crates/tool/Cargo.toml", "[package]\nname = \"tool\"\nversion = \"0.2.0\"\nedition = \"2021\"\n\n[dependencies]\ncore = { path = \"../core\" }\n"),
        ("crates/tool/src/main.rs", "fn main() { println!(\"{}\", core::parse(\"x\")); }\n"),
        ("crates/tool/src/cli.rs", "pub struct Args;\n"),
        ("target/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n"),
        ("target/.rustc_info.json", "{\"rustc_fingerprint\":1}\n"),
        ("target/release/tool", bin),
        ("target/release/deps/tool-3f1c2a.d", "/src/crates/tool/src/main.rs:\n"),
        ("target/debug/deps/libcore-9a8b7c.rlib", bin),
        ("target/debug/.fingerprint/core-9a8b7c/lib-core", "9a8b7c"),
        // `cargo build` run inside the crate with CARGO_TARGET_DIR unset in a
        // shell where it was once set differently: a second target dir.
        ("crates/tool/target/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n"),
        ("crates/tool/target/debug/tool", bin),
        ("crates/tool/target/debug/deps/tool-77aa01.d", "/src/crates/tool/src/main.rs:\n"),
        ("crates/tool/target/debug/incremental/tool-1x/s-abc/query-cache.bin", bin),
    ])
}

#[test]
fn rust_bad_nested_target() {
    let d = rust_workspace(RUST_BAD);
    for (engine, v) in lint_both(d.path()) {
        let sent = sent_files(&open(d.path(), None, engine));
        let (tops, bytes) = nested(&sent, "target");
        assert_eq!(tops, BTreeSet::from(["crates/tool/target/".to_string()]));
        assert_gitignore_ism(&v, RUST_BAD, "target", bytes, engine);
        let f = at(&v, "DI001", line_of(RUST_BAD, "target"), engine);
        assert_eq!(f.paths, ["crates/tool/target/"]);
        assert!(serious(&v).len() == 1, "{engine:?}: {:#?}", summary(&v));
    }
}

#[test]
fn rust_clean_has_no_findings() {
    let d = rust_workspace(RUST_CLEAN);
    for (engine, v) in lint_both(d.path()) {
        assert!(v.is_empty(), "{engine:?}: {:#?}", summary(&v));
    }
}

// ---------------------------------------------- inline comment (Django app)

const DJANGO_BAD: &str = ".git\n*.sqlite3\nrun # mounted as volume\n";
const DJANGO_CLEAN: &str = ".git\n*.sqlite3\nrun\n";

fn django_app(ignore: &str) -> TempDir {
    project(&[
        (".dockerignore", ignore),
        (
            "Dockerfile",
            "FROM python:3.8\nENV PYTHONUNBUFFERED 1\nWORKDIR /scionlab\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\nCMD [\"gunicorn\", \"scionlab.wsgi\"]\n",
        ),
        ("requirements.txt", "Django==3.2.25\ngunicorn==22.0.0\nhuey==2.5.0\n"),
        ("manage.py", "#!/usr/bin/env python\nimport os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'scionlab.settings.development')\n"),
        ("docker-compose.yml", "services:\n  django:\n    build: .\n    volumes:\n      - ./run:/scionlab/run\n"),
        ("db.sqlite3", "SQLite format 3\0"),
        (".git/HEAD", "ref: refs/heads/master\n"),
        ("scionlab/__init__.py", ""),
        ("scionlab/wsgi.py", "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"),
        ("scionlab/urls.py", "from django.urls import path\nurlpatterns = []\n"),
        ("scionlab/settings/__init__.py", ""),
        ("scionlab/settings/common.py", "INSTALLED_APPS = ['scionlab']\nMEDIA_ROOT = 'run/media'\n"),
        ("scionlab/settings/development.py", "from .common import *\nDEBUG = True\n"),
        ("scionlab/models/core.py", "from django.db import models\nclass AS(models.Model):\n    as_id = models.CharField(max_length=32)\n"),
        ("scionlab/templates/scionlab/base.html", "<!doctype html><title>SCIONLab</title>{% block content %}{% endblock %}\n"),
        ("scionlab/static/scionlab/css/main.css", "body { font-family: sans-serif; }\n"),
        // Runtime data of the development server, mounted as a volume.
        ("run/dev.sqlite3", "SQLite format 3\0 development database"),
        ("run/logs/django.log", "INFO 2024-05-02 12:00:01 autoreload Watching for file changes\n"),
        ("run/media/uploads/topology.json", "{ \"ISD_AS\": \"19-ffaa:1:1\" }\n"),
        ("run/huey.db", "huey task queue"),
    ])
}

#[test]
fn django_bad_inline_comment() {
    let d = django_app(DJANGO_BAD);
    let line = line_of(DJANGO_BAD, "run # mounted as volume");
    for (engine, v) in lint_both(d.path()) {
        let f = at(&v, "DI002", line, engine);
        assert_eq!(f.name, "inline-comment");
        assert_eq!(f.level, Level::Warning);
        assert_eq!(f.fix.as_deref(), Some("run"));
        assert!(f.message.contains("`run`"), "{}", f.message);
        // run/ is sent because of it; the message says what `run` would
        // leave out.
        let sent = sent_files(&open(d.path(), None, engine));
        let run: Vec<u64> = sent
            .iter()
            .filter(|(p, _)| p.starts_with("run/"))
            .map(|(_, s)| *s)
            .collect();
        assert!(!run.is_empty());
        let want = format!(
            "`run` would leave out {} files, {} B (run/)",
            run.len(),
            run.iter().sum::<u64>()
        );
        assert!(f.message.contains(&want), "{engine:?}: {}", f.message);
        assert!(
            !v.iter().any(|f| f.level == Level::Error),
            "{engine:?}: {:#?}",
            summary(&v)
        );
    }
}

#[test]
fn django_clean_has_no_findings() {
    let d = django_app(DJANGO_CLEAN);
    for (engine, v) in lint_both(d.path()) {
        assert!(v.is_empty(), "{engine:?}: {:#?}", summary(&v));
        let sent = sent_files(&open(d.path(), None, engine));
        assert!(!sent.keys().any(|p| p.starts_with("run/")));
    }
}

// ------------------------------------------------------ secrets in an API

const API_BAD: &str = "node_modules\nnpm-debug.log\n";
const API_CLEAN: &str = "node_modules\nnpm-debug.log\n.env\ncerts/*.key\n";
const API_DOCKERFILE: &str = "FROM node:20-alpine\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci --omit=dev\nCOPY . /app\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n";

fn api_with_secrets(ignore: &str) -> TempDir {
    project(&[
        (".dockerignore", ignore),
        ("Dockerfile", API_DOCKERFILE),
        (
            "package.json",
            "{\n  \"name\": \"orders-api\",\n  \"version\": \"2.1.0\",\n  \"main\": \"server.js\",\n  \"dependencies\": { \"express\": \"^4.19.2\", \"pg\": \"^8.11.5\" }\n}\n",
        ),
        ("package-lock.json", "{\n  \"name\": \"orders-api\",\n  \"lockfileVersion\": 3,\n  \"packages\": {}\n}\n"),
        ("npm-debug.log", "0 info it worked if it ends with ok\n"),
        ("server.js", "require('dotenv').config();\nconst https = require('https');\nconst app = require('./src/app');\nhttps.createServer({ key: fs.readFileSync('certs/server.key') }, app).listen(3000);\n"),
        ("src/app.js", "const express = require('express');\nmodule.exports = express().use('/orders', require('./routes/orders'));\n"),
        ("src/routes/orders.js", "const router = require('express').Router();\nmodule.exports = router;\n"),
        ("src/db.js", "const { Pool } = require('pg');\nmodule.exports = new Pool({ connectionString: process.env.DATABASE_URL });\n"),
        (".env", "DATABASE_URL=postgres://orders:s3cr3t@db.internal:5432/orders\nJWT_SECRET=9f86d081884c7d659a2feaa0c55ad015\n"),
        (".env.example", "DATABASE_URL=postgres://user:password@localhost:5432/orders\nJWT_SECRET=\n"),
        ("certs/server.key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"),
        ("certs/server.crt", "-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUB\n-----END CERTIFICATE-----\n"),
        ("node_modules/express/package.json", "{ \"name\": \"express\", \"version\": \"4.19.2\" }\n"),
        ("node_modules/express/index.js", "module.exports = require('./lib/express');\n"),
        ("node_modules/pg/package.json", "{ \"name\": \"pg\", \"version\": \"8.11.5\" }\n"),
    ])
}

#[test]
fn api_bad_ships_secrets() {
    let d = api_with_secrets(API_BAD);
    let copy_line = line_of(API_DOCKERFILE, "COPY . /app");
    for (engine, v) in lint_both(d.path()) {
        let se: Vec<&Finding> = v.iter().filter(|f| f.code == "SE001").collect();
        let named: BTreeSet<&str> = se.iter().map(|f| f.paths[0].as_str()).collect();
        assert_eq!(
            named,
            BTreeSet::from([".env", "certs/server.key"]),
            "{engine:?}: {:#?}",
            summary(&v)
        );
        for f in se {
            assert_eq!(f.name, "secret-sent");
            assert_eq!(f.level, Level::Error, "{engine:?}: {}", f.message);
            assert!(f.file.ends_with(".dockerignore"), "{}", f.file);
            assert!(
                f.message.contains(&format!(
                    "Dockerfile:{copy_line} `COPY .` copies it into the image"
                )),
                "{engine:?}: {}",
                f.message
            );
            let size = fs::metadata(d.path().join(&f.paths[0])).unwrap().len();
            assert_eq!(f.bytes, size);
        }
    }
}

#[test]
fn api_clean_has_no_findings() {
    let d = api_with_secrets(API_CLEAN);
    for (engine, v) in lint_both(d.path()) {
        assert!(v.is_empty(), "{engine:?}: {:#?}", summary(&v));
    }
}

// ------------------------------------------------ a COPY source left out

const GO_BAD: &str = ".git\nREADME.md\nMakefile\n# local overrides\nconfig\n";
const GO_CLEAN: &str = ".git\nREADME.md\nMakefile\n";
const GO_DOCKERFILE: &str = "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY cmd/ ./cmd/\nCOPY internal/ ./internal/\nRUN CGO_ENABLED=0 go build -o /out/server ./cmd/server\n\nFROM gcr.io/distroless/static-debian12\nCOPY --from=build /out/server /server\nCOPY config/ /etc/app/\nENTRYPOINT [\"/server\", \"-config\", \"/etc/app/app.yaml\"]\n";

fn go_service(ignore: &str) -> TempDir {
    project(&[
        (".dockerignore", ignore),
        ("Dockerfile", GO_DOCKERFILE),
        ("go.mod", "module github.com/acme/server\n\ngo 1.22\n\nrequire gopkg.in/yaml.v3 v3.0.1\n"),
        ("go.sum", "gopkg.in/yaml.v3 v3.0.1 h1:fxVm/GzAzEWqLHuvctI91KS9hhNmmWOoWu0XTYJS7CA=\n"),
        ("README.md", "# server\n\n`make run`\n"),
        ("Makefile", "run:\n\tgo run ./cmd/server -config config/app.yaml\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        ("cmd/server/main.go", "package main\n\nimport \"github.com/acme/server/internal/handler\"\n\nfunc main() { handler.Serve() }\n"),
        ("internal/handler/handler.go", "package handler\n\nfunc Serve() {}\n"),
        ("internal/handler/handler_test.go", "package handler\n\nimport \"testing\"\n\nfunc TestServe(t *testing.T) {}\n"),
        ("config/app.yaml", "listen: \":8080\"\nlog_level: info\n"),
        ("config/logging.yaml", "format: json\n"),
    ])
}

#[test]
fn go_bad_copy_source_excluded() {
    let d = go_service(GO_BAD);
    let df_line = line_of(GO_DOCKERFILE, "COPY config/ /etc/app/");
    let ig_line = line_of(GO_BAD, "config");
    for (engine, v) in lint_both(d.path()) {
        let f = at(&v, "DF001", df_line, engine);
        assert_eq!(f.name, "copy-excluded");
        assert_eq!(f.level, Level::Error);
        assert!(f.file.ends_with("Dockerfile"), "{}", f.file);
        assert!(f.message.contains("`COPY config/`"), "{}", f.message);
        assert!(
            f.message
                .contains(&format!(".dockerignore:{ig_line} (`config`)")),
            "{engine:?}: {}",
            f.message
        );
        // The bytes of the files under the excluded directory.
        let want = ("listen: \":8080\"\nlog_level: info\n".len() + "format: json\n".len()) as u64;
        assert_eq!(f.bytes, want, "{engine:?}");
        assert_eq!(
            v.iter().filter(|f| f.level == Level::Error).count(),
            1,
            "{engine:?}: {:#?}",
            summary(&v)
        );
    }
}

#[test]
fn go_clean_has_no_findings() {
    let d = go_service(GO_CLEAN);
    for (engine, v) in lint_both(d.path()) {
        assert!(v.is_empty(), "{engine:?}: {:#?}", summary(&v));
    }
}
