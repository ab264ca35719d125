//! Dockerfile reader.
//!
//! Parses a Dockerfile the way BuildKit's Dockerfile frontend does, as far as
//! the build context is concerned: parser directives, line continuations,
//! comments, heredocs, instruction flags, JSON and shell forms, stages, `ARG`
//! and `ENV` substitution in `COPY`/`ADD`/`RUN --mount`, and stage
//! reachability. From that it tells which paths of the main build context a
//! build of a given target requests (BuildKit's `FollowPaths`).
//!
//! The rules mirror `moby/buildkit` `frontend/dockerfile/parser`,
//! `frontend/dockerfile/instructions`, `frontend/dockerfile/shell` and
//! `frontend/dockerfile/dockerfile2llb` (`dispatchStages`, `filterPaths`).

use std::collections::{BTreeSet, HashMap};

use regex::Regex;
use serde::Serialize;

/// A Dockerfile that could not be read: the 1-based line of the offending
/// instruction (its first line when it spans several) and a plain message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, in plain words.
    pub message: String,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    /// Build stages, in file order (`stages[i].index == i`).
    pub stages: Vec<Stage>,
    /// `ARG`s declared before the first `FROM`: name and default value (after
    /// substitution of earlier global args; unknown variables left as written).
    pub global_args: Vec<(String, Option<String>)>,
    /// Escape character (`\` unless a `# escape=` directive says `` ` ``).
    pub escape: char,
    /// Value of the `# syntax=` parser directive, if any.
    pub syntax: Option<String>,
}

/// One build stage: a `FROM` and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// Position of the stage in the file, from 0.
    pub index: usize,
    /// Stage name from `FROM … AS name`, lowercased as BuildKit does.
    pub name: Option<String>,
    /// Base image or stage name, after substitution of global args.
    pub base: String,
    /// 1-based line of the `FROM` instruction.
    pub line: usize,
    /// Instructions of the stage (the `FROM` itself excluded).
    pub instructions: Vec<Instruction>,
    /// `--platform` of the `FROM`, after substitution, if given.
    pub platform: Option<String>,
    /// Index of the earlier stage named by `base`, if it names one.
    pub base_stage: Option<usize>,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// 1-based first line.
    pub line: usize,
    /// 1-based last line (continuation lines and heredoc bodies included).
    pub end_line: usize,
    /// Instruction keyword, uppercase (`COPY`, `RUN`, …).
    pub keyword: String,
    /// What the instruction does, for the instructions that matter here.
    pub kind: InstructionKind,
}

/// Detail of the instructions that can read the build context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum InstructionKind {
    /// `COPY`.
    Copy(CopySpec),
    /// `ADD`.
    Add(CopySpec),
    /// `RUN` (its mounts).
    Run(RunSpec),
    /// Any other instruction.
    Other,
}

/// Sources, destination and flags of a `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    /// Sources, in order.
    pub sources: Vec<Source>,
    /// Destination, after substitution.
    pub dest: String,
    /// `--from` value as written (stage name, stage index or image), if given.
    pub from: Option<String>,
    /// `--chown`, after substitution.
    pub chown: Option<String>,
    /// `--chmod`, after substitution.
    pub chmod: Option<String>,
    /// `--link` (or `--link=true`).
    pub link: bool,
    /// `--parents` (COPY only).
    pub parents: bool,
    /// `--exclude` patterns, after substitution, in order.
    pub excludes: Vec<String>,
    /// Stage that `from` refers to, when it names or numbers a stage.
    pub from_stage: Option<usize>,
    /// `--checksum` (ADD only).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD only).
    pub keep_git_dir: bool,
    /// Whether the arguments were written in JSON (exec) form.
    pub json: bool,
    /// Whether a variable was replaced by a known value (from `ARG`/`ENV`
    /// defaults or given build args) in a source, the destination or a flag.
    pub expanded: bool,
    /// Variables whose value is not known here, left as written (sorted).
    pub unresolved: Vec<String>,
}

/// One source of a `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Source {
    /// A path (or glob) in the build context, or in the `--from` stage/image.
    Context {
        /// The path after quote removal and variable substitution.
        path: String,
        /// The argument as written in the Dockerfile.
        raw: String,
    },
    /// An `http://` or `https://` URL.
    Url(String),
    /// A git repository (`ADD` only): `git@host:…`, `git://`, `ssh://`, or an
    /// http(s) URL whose path ends in `.git`.
    Git(String),
    /// A heredoc (`<<EOF`): inline content, not a context path.
    Heredoc {
        /// The heredoc word (terminator), quotes removed.
        name: String,
    },
}

/// Detail of a `RUN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSpec {
    /// `--mount` flags, in order.
    pub mounts: Vec<Mount>,
    /// Variables in mount options whose value is not known, left as written.
    pub unresolved: Vec<String>,
}

/// One `RUN --mount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Mount type, lowercase: `bind` (default), `cache`, `tmpfs`, `secret`, `ssh`.
    pub kind: String,
    /// `source=`/`src=`, after substitution.
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`, after substitution.
    pub target: Option<String>,
    /// `from=`, as written.
    pub from: Option<String>,
    /// Stage that `from` names, if it names one.
    pub from_stage: Option<usize>,
}

/// A reference to the main build context made by a reachable stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextRef {
    /// Index of the stage holding the instruction.
    pub stage: usize,
    /// 1-based line of the instruction.
    pub line: usize,
    /// `COPY`, `ADD` or `RUN`.
    pub keyword: String,
    /// The path as the instruction gives it, after substitution (`.` for a
    /// bind mount without `source`).
    pub path: String,
    /// BuildKit's form of it: `path.Join("/", path)`; `/` means the whole
    /// context.
    pub normalized: String,
    /// Whether the path still holds a variable whose value is not known.
    pub unresolved: bool,
}

impl Dockerfile {
    /// Index of the last stage with this name (case-insensitive), as BuildKit
    /// resolves stage names.
    pub fn find_stage(&self, name: &str) -> Option<usize> {
        let lower = name.to_lowercase();
        self.stages
            .iter()
            .rposition(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// Index of the target stage: by name (case-insensitive) or the last stage when None.
    pub fn target_stage(&self, target: Option<&str>) -> Option<usize> {
        match target {
            Some(name) => self.find_stage(name),
            None => self.stages.len().checked_sub(1),
        }
    }

    /// Stages a stage depends on directly: its base stage, `COPY --from`
    /// stages and `RUN --mount from=` stages (sorted, deduplicated).
    pub fn stage_dependencies(&self, index: usize) -> Vec<usize> {
        let mut deps = BTreeSet::new();
        let Some(stage) = self.stages.get(index) else {
            return Vec::new();
        };
        deps.extend(stage.base_stage);
        for ins in &stage.instructions {
            match &ins.kind {
                InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
                    deps.extend(spec.from_stage);
                }
                InstructionKind::Run(run) => {
                    deps.extend(run.mounts.iter().filter_map(|m| m.from_stage));
                }
                InstructionKind::Other => {}
            }
        }
        deps.into_iter()
            .filter(|&d| d < self.stages.len())
            .collect()
    }

    /// Stages reachable from the target (`FROM <stage>`, `COPY --from=<stage>`, `RUN --mount from=<stage>`), in order.
    ///
    /// Empty when the target does not exist.
    pub fn reachable_stages(&self, target: Option<&str>) -> Vec<usize> {
        let Some(start) = self.target_stage(target) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.stages.len()];
        let mut todo = vec![start];
        while let Some(i) = todo.pop() {
            match seen.get_mut(i) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            todo.extend(self.stage_dependencies(i));
        }
        seen.iter()
            .enumerate()
            .filter(|(_, &s)| s)
            .map(|(i, _)| i)
            .collect()
    }

    /// Main-context paths referenced by COPY/ADD (no --from, not URL/git/heredoc) and RUN --mount=type=bind without from, over reachable stages: what BuildKit puts in FollowPaths.
    ///
    /// In stage order, then instruction order.
    pub fn context_refs(&self, target: Option<&str>) -> Vec<ContextRef> {
        let mut out = Vec::new();
        for i in self.reachable_stages(target) {
            let Some(stage) = self.stages.get(i) else {
                continue;
            };
            for ins in &stage.instructions {
                match &ins.kind {
                    InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
                        if spec.from.is_some() {
                            continue;
                        }
                        for src in &spec.sources {
                            if let Source::Context { path, .. } = src {
                                out.push(ContextRef {
                                    stage: i,
                                    line: ins.line,
                                    keyword: ins.keyword.clone(),
                                    path: path.clone(),
                                    normalized: join_abs(path),
                                    unresolved: !spec.unresolved.is_empty() && path.contains('$'),
                                });
                            }
                        }
                    }
                    InstructionKind::Run(run) => {
                        for m in &run.mounts {
                            if m.kind != "bind" || m.from.is_some() {
                                continue;
                            }
                            let path = m.source.clone().unwrap_or_else(|| ".".to_string());
                            out.push(ContextRef {
                                stage: i,
                                line: ins.line,
                                keyword: ins.keyword.clone(),
                                normalized: join_abs(&path),
                                unresolved: !run.unresolved.is_empty() && path.contains('$'),
                                path,
                            });
                        }
                    }
                    InstructionKind::Other => {}
                }
            }
        }
        out
    }

    /// The paths BuildKit asks the client for when building `target`, in
    /// `FollowPaths` form (relative, cleaned, sorted, deduplicated).
    ///
    /// `None` when the whole context is requested (some reference is `.` or
    /// `/`), or when a referenced path holds a variable whose value is not
    /// known here (so nothing narrower can be promised). `Some(vec![])` when no
    /// reachable instruction reads the context (or the target does not exist).
    pub fn follow_paths(&self, target: Option<&str>) -> Option<Vec<String>> {
        let mut set = BTreeSet::new();
        for r in self.context_refs(target) {
            if r.unresolved || r.normalized == "/" {
                return None;
            }
            set.insert(r.normalized.trim_start_matches('/').to_string());
        }
        Some(set.into_iter().collect())
    }
}

/// Parses a Dockerfile. Values of `ARG`s without default (and of variables
/// that are not declared in the stage) are treated as unknown.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    parse_with_build_args(text, &[])
}

/// Parses a Dockerfile as built with these `--build-arg NAME=VALUE`s: a given
/// value overrides the default of the `ARG` of that name (BuildKit ignores
/// build args that no `ARG` declares, and so does this).
pub fn parse_with_build_args(
    text: &str,
    build_args: &[(&str, &str)],
) -> Result<Dockerfile, ParseError> {
    let scanned = scan(text)?;
    let build_args: HashMap<String, String> = build_args
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    let mut b = Builder {
        escape: scanned.escape,
        build_args: &build_args,
        meta: Scope::new(Var::Unset),
        global_args: Vec::new(),
        stages: Vec::new(),
        scopes: Vec::new(),
    };
    for node in &scanned.nodes {
        b.node(node)?;
    }
    if b.stages.is_empty() {
        let line = scanned.nodes.first().map_or(1, |n| n.start);
        return Err(perr(line, "dockerfile contains no stages to build"));
    }
    let mut stages = b.stages;
    resolve_from_stages(&mut stages)?;
    Ok(Dockerfile {
        stages,
        global_args: b.global_args,
        escape: scanned.escape,
        syntax: scanned.syntax,
    })
}

fn perr(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------
// Phase 1: lines to nodes (BuildKit parser/parser.go).
// ---------------------------------------------------------------------------

/// One logical instruction as the parser sees it.
#[derive(Debug)]
struct Node {
    start: usize,
    end: usize,
    /// Keyword, lowercase.
    cmd: String,
    /// Keyword, uppercase.
    keyword: String,
    /// Leading `--flag[=value]` words, quotes removed.
    flags: Vec<String>,
    /// Rest of the line after the flags, trimmed.
    args: String,
    /// The arguments when they are a JSON array of strings.
    json: Option<Vec<String>>,
    /// For ONBUILD: the trigger keyword (lowercase) and whether it is JSON.
    sub: Option<(String, bool)>,
}

struct Scanned {
    nodes: Vec<Node>,
    escape: char,
    syntax: Option<String>,
}

struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
    syntax: Option<String>,
}

impl Directives {
    /// BuildKit `possibleParserDirective`, on one line.
    fn check(&mut self, token: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = directive(token) else {
            self.done = true;
            return Ok(());
        };
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => match value.as_str() {
                "`" => self.escape = '`',
                "\\" => self.escape = '\\',
                _ => {
                    return Err(format!(
                        "invalid escape token '{value}' does not match ` or \\"
                    ))
                }
            },
            "syntax" => self.syntax = Some(value),
            _ => {}
        }
        Ok(())
    }
}

/// Go regexp `\s`.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// Matches `#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` (after the `#`, any
/// Unicode space is skipped); returns the lowercase key and the value.
fn directive(token: &str) -> Option<(String, String)> {
    let rest = token.strip_prefix('#')?.trim_start();
    if !rest.chars().next()?.is_ascii_alphabetic() {
        return None;
    }
    let klen = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let key = rest.get(..klen)?;
    let after = rest.get(klen..)?.trim_start_matches(is_re_space);
    let after = after.strip_prefix('=')?;
    let value = after.trim_matches(is_re_space);
    let value = if value.is_empty() {
        // `(.+?)` needs a character: the regexp gives back the last space.
        after.chars().last()?.to_string()
    } else {
        value.to_string()
    };
    Some((key.to_ascii_lowercase(), value))
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// BuildKit's line continuation: the escape character at the end of the line
/// (trailing spaces/tabs allowed), unless it is itself escaped. Returns the
/// line without it and whether the line is complete.
fn trim_continuation(line: &str, esc: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    if let Some(before) = t.strip_suffix(esc) {
        if before.is_empty() || !before.ends_with(esc) {
            return (before, false);
        }
    }
    (line, true)
}

fn scan(text: &str) -> Result<Scanned, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut d = Directives {
        escape: '\\',
        done: false,
        seen: Vec::new(),
        syntax: None,
    };
    let mut nodes = Vec::new();
    let mut i = 0;
    while let Some(&raw) = lines.get(i) {
        let token = trim_newline(raw).trim_start();
        d.check(token).map_err(|m| perr(i + 1, m))?;
        i += 1;
        let start = i;
        let token = if token.starts_with('#') { "" } else { token };
        let (first, mut complete) = trim_continuation(token, d.escape);
        if complete && first.is_empty() {
            continue;
        }
        let mut line = first.to_string();
        while !complete {
            let Some(&next) = lines.get(i) else { break };
            let raw = trim_newline(next);
            d.check(raw).map_err(|m| perr(i + 1, m))?;
            i += 1;
            let lt = raw.trim_start();
            if lt.starts_with('#') || lt.is_empty() {
                // Comment lines and empty lines inside a continuation are skipped.
                continue;
            }
            let (part, c) = trim_continuation(raw, d.escape);
            line.push_str(part);
            complete = c;
        }
        let mut node = new_node(&line, start).map_err(|m| perr(start, m))?;
        if can_contain_heredoc(&node) {
            let docs = heredocs_from_line(&line).map_err(|m| perr(start, m))?;
            for doc in docs {
                let mut terminated = false;
                while let Some(&next) = lines.get(i) {
                    i += 1;
                    let mut cand = trim_newline(next);
                    if doc.chomp {
                        cand = cand.trim_start_matches('\t');
                    }
                    if cand == doc.name {
                        terminated = true;
                        break;
                    }
                }
                if !terminated {
                    return Err(perr(start, format!("unterminated heredoc {}", doc.name)));
                }
            }
        }
        node.end = i;
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err(perr(lines.len().max(1), "file with no instructions"));
    }
    Ok(Scanned {
        nodes,
        escape: d.escape,
        syntax: d.syntax,
    })
}

/// Whitespace that separates the keyword and whitespace-delimited arguments
/// (`[\t\v\f\r ]`).
fn is_token_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// BuildKit `splitCommand`: keyword, flags, rest.
fn split_command(line: &str) -> (String, Vec<String>, String) {
    let t = line.trim();
    let (cmd, rest) = match t.find(is_token_ws) {
        Some(p) => (t.get(..p).unwrap_or(t), t.get(p..).unwrap_or("")),
        None => (t, ""),
    };
    let rest = rest.trim_start_matches(is_token_ws);
    let (args, flags) = extract_builder_flags(rest);
    (cmd.to_string(), flags, args.trim().to_string())
}

/// BuildKit `extractBuilderFlags`: leading words starting with `--` are flags
/// (quotes removed, `\` escapes the next character); `--` alone ends them.
fn extract_builder_flags(line: &str) -> (String, Vec<String>) {
    const SPACES: u8 = 0;
    const WORD: u8 = 1;
    const QUOTE: u8 = 2;
    let b = line.as_bytes();
    let rest_from = |pos: usize| line.get(pos..).unwrap_or("").to_string();
    let mut words = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut phase = SPACES;
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    loop {
        let ch = b.get(pos).copied();
        if phase == SPACES {
            let Some(c) = ch else { break };
            if c.is_ascii_whitespace() || c == 0x0b {
                pos += 1;
                continue;
            }
            if c != b'-' || b.get(pos + 1) != Some(&b'-') {
                return (rest_from(pos), words);
            }
            phase = WORD;
        }
        let Some(c) = ch else {
            if word != b"--" && (blank_ok || !word.is_empty()) {
                words.push(String::from_utf8_lossy(&word).into_owned());
            }
            break;
        };
        if phase == WORD {
            if c.is_ascii_whitespace() || c == 0x0b {
                phase = SPACES;
                if word == b"--" {
                    return (rest_from(pos), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(String::from_utf8_lossy(&word).into_owned());
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if c == b'\'' || c == b'"' {
                quote = c;
                blank_ok = true;
                phase = QUOTE;
                pos += 1;
                continue;
            }
            let mut c = c;
            if c == b'\\' {
                match b.get(pos + 1) {
                    None => {
                        pos += 1;
                        continue;
                    }
                    Some(&n) => {
                        pos += 1;
                        c = n;
                    }
                }
            }
            word.push(c);
            pos += 1;
            continue;
        }
        // In quotes.
        if c == quote {
            phase = WORD;
            pos += 1;
            continue;
        }
        let mut c = c;
        if c == b'\\' {
            match b.get(pos + 1) {
                None => {
                    phase = WORD;
                    pos += 1;
                    continue;
                }
                Some(&n) => {
                    pos += 1;
                    c = n;
                }
            }
        }
        word.push(c);
        pos += 1;
    }
    (String::new(), words)
}

fn new_node(line: &str, start: usize) -> Result<Node, String> {
    let (cmd_raw, flags, args) = split_command(line);
    let cmd = cmd_raw.to_lowercase();
    let json = json_args(&cmd, &args)?;
    let mut sub = None;
    if cmd == "onbuild" && !args.is_empty() {
        let (sub_raw, _, sub_args) = split_command(&args);
        let sub_cmd = sub_raw.to_lowercase();
        let sub_json = if sub_cmd == "onbuild" {
            None
        } else {
            json_args(&sub_cmd, &sub_args)?
        };
        sub = Some((sub_cmd, sub_json.is_some()));
    }
    Ok(Node {
        start,
        end: start,
        keyword: cmd_raw.to_uppercase(),
        cmd,
        flags,
        args,
        json,
        sub,
    })
}

/// The JSON-array form of the arguments for the instructions that accept one;
/// an error for a JSON array that holds something else than strings.
fn json_args(cmd: &str, args: &str) -> Result<Option<Vec<String>>, String> {
    let text = match cmd {
        "add" | "copy" | "volume" => args,
        "cmd" | "entrypoint" | "run" | "shell" if !args.is_empty() => args,
        "healthcheck" => {
            let rest = args
                .find(char::is_whitespace)
                .and_then(|p| args.get(p..))
                .unwrap_or("")
                .trim_start();
            if rest.is_empty() {
                return Ok(None);
            }
            return match parse_json_array(rest) {
                JsonArgs::NonString => Err(NOT_STRING_ARRAY.to_string()),
                _ => Ok(None),
            };
        }
        _ => return Ok(None),
    };
    match parse_json_array(text) {
        JsonArgs::Strings(v) => Ok(Some(v)),
        JsonArgs::NonString => Err(NOT_STRING_ARRAY.to_string()),
        JsonArgs::NotJson => Ok(None),
    }
}

const NOT_STRING_ARRAY: &str =
    "bad JSON: when using JSON array syntax, arrays must be comprised of strings only";

fn can_contain_heredoc(node: &Node) -> bool {
    let (cmd, json) = if node.cmd == "onbuild" {
        match &node.sub {
            Some((c, j)) => (c.as_str(), *j),
            None => return false,
        }
    } else {
        (node.cmd.as_str(), node.json.is_some())
    };
    matches!(cmd, "add" | "copy" | "run") && !json
}

struct Heredoc {
    name: String,
    chomp: bool,
}

/// BuildKit `ParseHeredoc`: `^(\d*)<<(-?)([^<]*)$` and a single shell word.
fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(rest) = word.get(digits..).and_then(|r| r.strip_prefix("<<")) else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let unknown = |_: &str| Var::Unknown;
    let mut lex = Lex::new(rest, '\\', &unknown);
    let (_, words) = lex.process_stop_on(None, false)?;
    match words.as_slice() {
        [name] => Ok(Some(Heredoc {
            name: name.clone(),
            chomp,
        })),
        _ => Ok(None),
    }
}

/// BuildKit `MustParseHeredoc`: errors mean "not a heredoc".
fn heredoc_word(word: &str) -> Option<Heredoc> {
    parse_heredoc(word).ok().flatten()
}

/// BuildKit `heredocsFromLine`: shell words of the line (quotes and escapes
/// kept, variables left alone) that are heredoc openers, in order.
fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, String> {
    let unknown = |_: &str| Var::Unknown;
    let mut lex = Lex::new(line, '\\', &unknown);
    lex.raw_quotes = true;
    let words = match lex.process_stop_on(None, true) {
        Ok((_, w)) => w,
        Err(_) => Vec::new(),
    };
    let mut docs = Vec::new();
    for w in words {
        if let Some(h) = parse_heredoc(&w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

// ---------------------------------------------------------------------------
// JSON arrays (Go encoding/json, enough to tell what BuildKit tells).
// ---------------------------------------------------------------------------

enum JsonArgs {
    NotJson,
    NonString,
    Strings(Vec<String>),
}

/// Go's `json.Unmarshal` into `[]any`, after a leading `[`: a syntax error
/// means "not JSON" (BuildKit then falls back to the shell form).
fn parse_json_array(text: &str) -> JsonArgs {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Value,
        ValueOrEnd,
        After,
        KeyOrEnd,
        Key,
        Colon,
    }
    const MAX_DEPTH: usize = 10_000;
    let text = text.trim_start();
    if !text.starts_with('[') {
        return JsonArgs::NotJson;
    }
    let b = text.as_bytes();
    let mut i = 0;
    let mut stack: Vec<u8> = Vec::new();
    let mut elems: Vec<Option<String>> = Vec::new();
    let mut st = St::Value;
    let skip_ws = |i: &mut usize| {
        while matches!(b.get(*i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        match st {
            St::Value | St::ValueOrEnd => {
                if st == St::ValueOrEnd && b.get(i) == Some(&b']') {
                    i += 1;
                    stack.pop();
                    st = St::After;
                    continue;
                }
                let top = stack.len() == 1;
                match b.get(i) {
                    Some(b'[') | Some(b'{') => {
                        if stack.len() >= MAX_DEPTH {
                            return JsonArgs::NotJson;
                        }
                        if top {
                            elems.push(None);
                        }
                        let open = b.get(i).copied().unwrap_or(b'[');
                        stack.push(open);
                        i += 1;
                        st = if open == b'[' {
                            St::ValueOrEnd
                        } else {
                            St::KeyOrEnd
                        };
                    }
                    Some(b'"') => {
                        let Some(s) = json_string(b, &mut i) else {
                            return JsonArgs::NotJson;
                        };
                        if top {
                            elems.push(Some(s));
                        }
                        st = St::After;
                    }
                    Some(b't') | Some(b'f') | Some(b'n') => {
                        let rest = b.get(i..).unwrap_or(&[]);
                        let lit: &[u8] = if rest.starts_with(b"true") {
                            b"true"
                        } else if rest.starts_with(b"false") {
                            b"false"
                        } else if rest.starts_with(b"null") {
                            b"null"
                        } else {
                            return JsonArgs::NotJson;
                        };
                        i += lit.len();
                        if top {
                            elems.push(None);
                        }
                        st = St::After;
                    }
                    Some(b'-' | b'0'..=b'9') => {
                        if !json_number(b, &mut i) {
                            return JsonArgs::NotJson;
                        }
                        if top {
                            elems.push(None);
                        }
                        st = St::After;
                    }
                    _ => return JsonArgs::NotJson,
                }
            }
            St::After => {
                let Some(&open) = stack.last() else { break };
                match (open, b.get(i)) {
                    (b'[', Some(b',')) => {
                        i += 1;
                        st = St::Value;
                    }
                    (b'{', Some(b',')) => {
                        i += 1;
                        st = St::Key;
                    }
                    (b'[', Some(b']')) | (b'{', Some(b'}')) => {
                        i += 1;
                        stack.pop();
                    }
                    _ => return JsonArgs::NotJson,
                }
            }
            St::KeyOrEnd => {
                if b.get(i) == Some(&b'}') {
                    i += 1;
                    stack.pop();
                    st = St::After;
                } else {
                    st = St::Key;
                }
            }
            St::Key => {
                if b.get(i) != Some(&b'"') || json_string(b, &mut i).is_none() {
                    return JsonArgs::NotJson;
                }
                st = St::Colon;
            }
            St::Colon => {
                if b.get(i) != Some(&b':') {
                    return JsonArgs::NotJson;
                }
                i += 1;
                st = St::Value;
            }
        }
    }
    skip_ws(&mut i);
    if i != b.len() {
        return JsonArgs::NotJson;
    }
    let mut out = Vec::with_capacity(elems.len());
    for e in elems {
        match e {
            Some(s) => out.push(s),
            None => return JsonArgs::NonString,
        }
    }
    JsonArgs::Strings(out)
}

/// A JSON string starting at `b[*i] == '"'`; advances past it.
fn json_string(b: &[u8], i: &mut usize) -> Option<String> {
    *i += 1;
    let mut out: Vec<u8> = Vec::new();
    loop {
        let c = *b.get(*i)?;
        *i += 1;
        match c {
            b'"' => return String::from_utf8(out).ok(),
            b'\\' => {
                let e = *b.get(*i)?;
                *i += 1;
                let ch = match e {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hi = json_hex4(b, i)?;
                        if (0xD800..0xDC00).contains(&hi)
                            && b.get(*i) == Some(&b'\\')
                            && b.get(*i + 1) == Some(&b'u')
                        {
                            let mut j = *i + 2;
                            let lo = json_hex4(b, &mut j)?;
                            if (0xDC00..0xE000).contains(&lo) {
                                *i = j;
                                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                char::from_u32(cp).unwrap_or('\u{fffd}')
                            } else {
                                '\u{fffd}'
                            }
                        } else {
                            char::from_u32(hi).unwrap_or('\u{fffd}')
                        }
                    }
                    _ => return None,
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            0..=0x1f => return None,
            _ => out.push(c),
        }
    }
}

fn json_hex4(b: &[u8], i: &mut usize) -> Option<u32> {
    let digits = b.get(*i..*i + 4)?;
    let s = std::str::from_utf8(digits).ok()?;
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    *i += 4;
    u32::from_str_radix(s, 16).ok()
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; advances past it.
fn json_number(b: &[u8], i: &mut usize) -> bool {
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if b.get(*i) == Some(&b'-') {
        *i += 1;
    }
    match b.get(*i) {
        Some(b'0') => *i += 1,
        Some(b'1'..=b'9') => {
            digits(i);
        }
        _ => return false,
    }
    if b.get(*i) == Some(&b'.') {
        *i += 1;
        if !digits(i) {
            return false;
        }
    }
    if matches!(b.get(*i), Some(b'e' | b'E')) {
        *i += 1;
        if matches!(b.get(*i), Some(b'+' | b'-')) {
            *i += 1;
        }
        if !digits(i) {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------
// Shell-word processing (BuildKit shell/lex.go).
// ---------------------------------------------------------------------------

/// What is known of a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    /// Set, to this value.
    Known(String),
    /// Maybe set, value not known here: references are left as written.
    Unknown,
    /// Not set.
    Unset,
}

/// Nesting limit for `${…}` inside `${…}` (keeps the stack bounded).
const MAX_NESTING: usize = 64;

#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

struct Lex<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    raw_quotes: bool,
    raw_escapes: bool,
    lookup: &'a dyn Fn(&str) -> Var,
    depth: usize,
    expanded: bool,
    unresolved: Vec<String>,
}

impl<'a> Lex<'a> {
    fn new(word: &str, escape: char, lookup: &'a dyn Fn(&str) -> Var) -> Self {
        Lex {
            chars: word.chars().collect(),
            pos: 0,
            escape,
            raw_quotes: false,
            raw_escapes: false,
            lookup,
            depth: 0,
            expanded: false,
            unresolved: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get(&mut self, name: &str) -> Var {
        let v = (self.lookup)(name);
        match &v {
            Var::Known(_) | Var::Unset => self.expanded = true,
            Var::Unknown => self.unresolved.push(name.to_string()),
        }
        v
    }

    /// The source text from `start` to the current position.
    fn literal(&self, start: usize) -> String {
        self.chars
            .get(start..self.pos)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        if self.depth > MAX_NESTING {
            return Err("variable substitutions nested too deeply".to_string());
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let r = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        r
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let t = self.process_dollar()?;
                    result.push_str(&t);
                    words.add_string(&t);
                }
                '\'' => {
                    let t = self.single_quote()?;
                    result.push_str(&t);
                    words.add_raw_string(&t);
                }
                '"' => {
                    let t = self.double_quote()?;
                    result.push_str(&t);
                    words.add_raw_string(&t);
                }
                _ => {
                    self.pos += 1;
                    let mut ch = ch;
                    if ch == self.escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => {
                                ch = c;
                                words.add_raw_char(ch);
                            }
                        }
                    } else {
                        words.add_char(ch);
                    }
                    result.push(ch);
                }
            }
        }
        if let Some(s) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        self.pos += 1;
        if self.raw_quotes {
            result.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    )
                }
                Some('\'') => {
                    if self.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        self.pos += 1;
        if self.raw_quotes {
            result.push('"');
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    if self.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(c) => {
                    self.pos += 1;
                    let mut ch = c;
                    if ch == self.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(c) = self.peek().filter(|&c| is_digit(c)) {
                    name.push(c);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !(ch.is_alphabetic() || is_digit(ch) || ch == '_') {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }

    fn process_dollar(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.get(&name) {
                Var::Known(v) => v,
                Var::Unset => String::new(),
                Var::Unknown => self.literal(start),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            Some(_) => {}
        }
        let name = self.process_name();
        let missing_brace = |lex: &Lex, e: String| {
            if lex.peek().is_none() {
                "syntax error: missing '}'".to_string()
            } else {
                e
            }
        };
        match self.next() {
            Some('}') => Ok(match self.get(&name) {
                Var::Known(v) => v,
                Var::Unset => String::new(),
                Var::Unknown => self.literal(start),
            }),
            Some(c) if matches!(c, ':' | '+' | '-' | '?' | '#' | '%') => {
                let mut op = c;
                let mut null_is_unset = false;
                if c == ':' {
                    null_is_unset = true;
                    op = self.next().unwrap_or('\u{fffd}');
                }
                let raw = op == '#' || op == '%';
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => return Err(missing_brace(self, e)),
                };
                let (value, set) = match self.get(&name) {
                    Var::Known(v) => (v, true),
                    Var::Unset => (String::new(), false),
                    Var::Unknown => return Ok(self.literal(start)),
                };
                let empty = !set || (null_is_unset && value.is_empty());
                match op {
                    '-' => Ok(if empty { word } else { value }),
                    '+' => Ok(if empty { String::new() } else { word }),
                    '?' => {
                        if !set || (null_is_unset && value.is_empty()) {
                            let default = if set {
                                "is not allowed to be empty"
                            } else {
                                "is not allowed to be unset"
                            };
                            let msg = if word.is_empty() { default } else { &word };
                            Err(format!("{name}: {msg}"))
                        } else {
                            Ok(value)
                        }
                    }
                    '%' | '#' => {
                        let (pattern, greedy) = match word.strip_prefix(op) {
                            Some(p) => (p, true),
                            None => (word.as_str(), false),
                        };
                        if op == '%' {
                            trim_suffix(pattern, &value, greedy)
                        } else {
                            trim_prefix(pattern, &value, greedy)
                        }
                    }
                    _ => Err(format!(
                        "unsupported modifier ({}{op}) in substitution",
                        if null_is_unset { ":" } else { "" }
                    )),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.pos += 1;
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(e) => {
                        return Err(if self.peek().is_none() {
                            "syntax error: missing '/' in ${}".to_string()
                        } else {
                            e
                        })
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(e) => return Err(missing_brace(self, e)),
                };
                let value = match self.get(&name) {
                    Var::Known(v) => v,
                    Var::Unset => String::new(),
                    Var::Unknown => return Ok(self.literal(start)),
                };
                let re = shell_pattern_regex(&pattern, true, false)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                Ok(if replace_all {
                    re.replace_all(&value, replacement.as_str()).into_owned()
                } else {
                    re.replace(&value, replacement.as_str()).into_owned()
                })
            }
            None => Err("syntax error: missing '}'".to_string()),
            Some(other) => Err(format!("unsupported modifier ({other}) in substitution")),
        }
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// BuildKit `convertShellPatternToRegex`: `*` any string, `?` one character,
/// `\` escapes `*`, `?`, `\` (and is dropped before `}` and `/`).
fn shell_pattern_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, String> {
    let mut out = String::new();
    if anchored {
        out.push('^');
    }
    let mut it = pattern.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            '\\' => {
                if matches!(it.peek(), Some('}' | '/')) {
                    continue;
                }
                match it.next() {
                    Some(t @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(t);
                    }
                    Some(t) => return Err(format!("invalid escape '\\{t}'")),
                    None => return Err("invalid escape '\\'".to_string()),
                }
            }
            _ => out.push_str(&regex::escape(c.encode_utf8(&mut [0u8; 4]))),
        }
    }
    Regex::new(&out).map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let re = shell_pattern_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(m) => value.get(m.end()..).unwrap_or("").to_string(),
        None => value.to_string(),
    })
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    // Reverse pattern (keeping `\x` pairs) and value: shortest/longest suffix
    // becomes shortest/longest prefix.
    let chars: Vec<char> = pattern.chars().collect();
    let mut units: Vec<&[char]> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let len = if chars.get(i) == Some(&'\\') && i + 1 < chars.len() {
            2
        } else {
            1
        };
        if let Some(u) = chars.get(i..i + len) {
            units.push(u);
        }
        i += len;
    }
    let rev_pattern: String = units.iter().rev().flat_map(|u| u.iter()).collect();
    let rev_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&rev_pattern, &rev_value, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Expands one word as BuildKit does for COPY/ADD/ENV/ARG values: quotes
/// removed, escapes processed, variables substituted.
fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Var,
    track: &mut Track,
) -> Result<String, String> {
    let mut lex = Lex::new(word, escape, lookup);
    let (res, _) = lex
        .process_stop_on(None, false)
        .map_err(|e| format!("failed to process {word:?}: {e}"))?;
    track.expanded |= lex.expanded;
    track.unresolved.extend(lex.unresolved);
    Ok(res)
}

#[derive(Default)]
struct Track {
    expanded: bool,
    unresolved: BTreeSet<String>,
}

impl Track {
    fn value(&self, s: String) -> Var {
        if self.unresolved.is_empty() {
            Var::Known(s)
        } else {
            Var::Unknown
        }
    }
}

// ---------------------------------------------------------------------------
// Phase 2: nodes to stages (BuildKit instructions/parse.go, dockerfile2llb).
// ---------------------------------------------------------------------------

const KNOWN_INSTRUCTIONS: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// ARGs BuildKit defines in the global scope without a declaration.
const AUTOMATIC_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETSTAGE",
];

#[derive(Debug, Clone)]
struct Scope {
    env: HashMap<String, Var>,
    args: HashMap<String, Var>,
    /// Value of names declared nowhere.
    missing: Var,
}

impl Scope {
    fn new(missing: Var) -> Self {
        Scope {
            env: HashMap::new(),
            args: HashMap::new(),
            missing,
        }
    }

    /// ENV wins over ARG of the same name.
    fn get(&self, name: &str) -> Var {
        if let Some(v) = self.env.get(name).or_else(|| self.args.get(name)) {
            return v.clone();
        }
        if AUTOMATIC_ARGS.contains(&name) {
            return Var::Unknown;
        }
        self.missing.clone()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagKind {
    Bool,
    Str,
    Strs,
}

#[derive(Default)]
struct Flags {
    bools: HashMap<String, bool>,
    strs: HashMap<String, String>,
    lists: HashMap<String, Vec<String>>,
}

impl Flags {
    fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }
    /// A string flag's value; an empty value counts as not given.
    fn str(&self, name: &str) -> Option<String> {
        self.strs.get(name).filter(|v| !v.is_empty()).cloned()
    }
    fn list(&self, name: &str) -> Vec<String> {
        self.lists.get(name).cloned().unwrap_or_default()
    }
}

/// BuildKit `BFlags.Parse`.
fn parse_flags(args: &[String], allowed: &[(&str, FlagKind)]) -> Result<Flags, String> {
    let mut out = Flags::default();
    let mut used: Vec<&str> = Vec::new();
    for arg in args {
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("bad flag: arg should start with -- : {arg}"));
        };
        if body.is_empty() {
            break;
        }
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(_, kind)) = allowed.iter().find(|(n, _)| *n == name) else {
            return Err(format!("unknown flag: --{name}"));
        };
        if kind != FlagKind::Strs && used.contains(&name) {
            return Err(format!("duplicate flag specified: --{name}"));
        }
        used.push(name);
        match (kind, value) {
            (FlagKind::Bool, None) => {
                out.bools.insert(name.to_string(), true);
            }
            (FlagKind::Bool, Some(v)) => {
                let b = match v.to_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    "" => return Err(format!("missing a value on flag: --{name}")),
                    _ => {
                        return Err(format!(
                            "expecting boolean value for flag --{name}, not: {v}"
                        ))
                    }
                };
                out.bools.insert(name.to_string(), b);
            }
            (_, None) => return Err(format!("missing a value on flag: --{name}")),
            (FlagKind::Str, Some(v)) => {
                out.strs.insert(name.to_string(), v.to_string());
            }
            (FlagKind::Strs, Some(v)) => {
                out.lists
                    .entry(name.to_string())
                    .or_default()
                    .push(v.to_string());
            }
        }
    }
    Ok(out)
}

/// BuildKit `parseStringsWhitespaceDelimited`.
fn split_ws(s: &str) -> Vec<String> {
    s.split(is_token_ws)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// BuildKit `parseWords`: whitespace-separated words, quotes kept, the escape
/// character kept with the character it escapes.
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut sb = String::new();
    let mut phase = 0u8; // 0 spaces, 1 word, 2 quote
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    loop {
        let ch = chars.get(pos).copied();
        if phase == 0 {
            let Some(c) = ch else { break };
            if c.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = 1;
        }
        let Some(c) = ch else {
            if blank_ok || !sb.is_empty() {
                words.push(std::mem::take(&mut sb));
            }
            break;
        };
        if phase == 1 {
            if c.is_whitespace() {
                phase = 0;
                if blank_ok || !sb.is_empty() {
                    words.push(std::mem::take(&mut sb));
                }
                sb.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if c == '\'' || c == '"' {
                quote = c;
                blank_ok = true;
                phase = 2;
            }
            let mut c = c;
            if c == escape {
                match chars.get(pos + 1) {
                    None => {
                        pos += 1;
                        continue;
                    }
                    Some(&n) => {
                        sb.push(c);
                        pos += 1;
                        c = n;
                    }
                }
            }
            sb.push(c);
            pos += 1;
            continue;
        }
        if c == quote {
            phase = 1;
        }
        let mut c = c;
        if c == escape && quote != '\'' {
            match chars.get(pos + 1) {
                None => {
                    phase = 1;
                    pos += 1;
                    continue;
                }
                Some(&n) => {
                    sb.push(c);
                    pos += 1;
                    c = n;
                }
            }
        }
        sb.push(c);
        pos += 1;
    }
    words
}

/// BuildKit `parseNameVal` (ENV, LABEL): `k=v …` or the legacy `k v`.
fn parse_name_val(rest: &str, escape: char, kw: &str) -> Result<Vec<(String, String)>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(format!("{kw} requires at least one argument"));
    };
    let pairs = if !first.contains('=') {
        let t = rest.trim_start_matches(is_token_ws);
        let Some(p) = t.find(is_token_ws) else {
            return Err(format!("{kw} must have two arguments"));
        };
        let key = t.get(..p).unwrap_or("");
        let value = t.get(p..).unwrap_or("").trim_start_matches(is_token_ws);
        vec![(key.to_string(), value.to_string())]
    } else {
        let mut v = Vec::new();
        for w in &words {
            let Some((k, val)) = w.split_once('=') else {
                return Err(format!(
                    "syntax error - can't find = in {w:?}. Must be of the form: name=value"
                ));
            };
            v.push((k.to_string(), val.to_string()));
        }
        v
    };
    if pairs.iter().any(|(k, _)| k.is_empty()) {
        return Err(format!("{kw} names can not be blank"));
    }
    Ok(pairs)
}

/// ARG words: name and optional default.
fn parse_arg_words(args: &str, escape: char) -> Result<Vec<(String, Option<String>)>, String> {
    let words = parse_words(args, escape);
    if words.is_empty() {
        return Err("ARG requires at least one argument".to_string());
    }
    let mut out = Vec::new();
    for w in words {
        match w.split_once('=') {
            Some(("", _)) => return Err("ARG names can not be blank".to_string()),
            Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
            None => out.push((w, None)),
        }
    }
    Ok(out)
}

fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// Whether an `ADD` source is a git repository (BuildKit `gitutil.ParseGitRef`).
fn is_git_ref(s: &str) -> bool {
    if s.starts_with("./") || s.starts_with("../") {
        return false;
    }
    if let Some(p) = s.find("://") {
        let proto = s.get(..p).unwrap_or("");
        if proto.is_empty() || !proto.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        return match proto.to_ascii_lowercase().as_str() {
            "git" | "ssh" => true,
            "http" | "https" => {
                let rest = s.get(p + 3..).unwrap_or("");
                let rest = rest.split(['#', '?']).next().unwrap_or("");
                rest.find('/')
                    .and_then(|i| rest.get(i..))
                    .is_some_and(|path| path.ends_with(".git"))
            }
            _ => false,
        };
    }
    // scp-like `user@host:path`.
    let Some((user, rest)) = s.split_once('@') else {
        return false;
    };
    let Some((host, _)) = rest.split_once(':') else {
        return false;
    };
    !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn classify(raw: &str, path: String, is_add: bool) -> Source {
    if is_add && is_git_ref(&path) {
        Source::Git(path)
    } else if path.starts_with("http://") || path.starts_with("https://") {
        Source::Url(path)
    } else {
        Source::Context {
            path,
            raw: raw.to_string(),
        }
    }
}

/// Go `path.Join("/", p)`: rooted and cleaned.
fn join_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// One record of Go's `encoding/csv` (comma-separated, `"` quoting).
fn csv_record(s: &str) -> Result<Vec<String>, String> {
    if s.is_empty() {
        return Err("EOF".to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut f = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("extraneous or missing \" in quoted-field".to_string()),
                    Some('"') => match chars.get(i + 1) {
                        Some('"') => {
                            f.push('"');
                            i += 2;
                        }
                        Some(',') => {
                            i += 2;
                            break;
                        }
                        None => {
                            fields.push(f);
                            return Ok(fields);
                        }
                        Some(_) => {
                            return Err("extraneous or missing \" in quoted-field".to_string())
                        }
                    },
                    Some(&c) => {
                        f.push(c);
                        i += 1;
                    }
                }
            }
            fields.push(f);
        } else {
            loop {
                match chars.get(i) {
                    None => {
                        fields.push(f);
                        return Ok(fields);
                    }
                    Some(',') => {
                        i += 1;
                        break;
                    }
                    Some('"') => return Err("bare \" in non-quoted-field".to_string()),
                    Some(&c) => {
                        f.push(c);
                        i += 1;
                    }
                }
            }
            fields.push(f);
        }
    }
}

/// BuildKit `parseMount`, for what matters here (unknown keys are ignored;
/// BuildKit rejects them only when the stage is built).
fn parse_mount(
    val: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Var,
    track: &mut Track,
) -> Result<Mount, String> {
    let fields = csv_record(val).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = Mount {
        kind: "bind".to_string(),
        source: None,
        target: None,
        from: None,
        from_stage: None,
    };
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            continue; // ro, rw, required
        };
        let key = key.to_lowercase();
        if key == "from" {
            let mut it = value.chars();
            while let Some(c) = it.next() {
                if c == '$' && it.clone().next().is_some() {
                    return Err(
                        "'from' doesn't support variable expansion, define alias stage instead"
                            .to_string(),
                    );
                }
            }
            if !value.is_empty() {
                m.from = Some(value.to_string());
            }
            continue;
        }
        match key.as_str() {
            "type" => {
                let mut t = Track::default();
                let kind = expand(value, escape, lookup, &mut t)?;
                // Leave an unresolved `$VAR` as written.
                m.kind = if t.unresolved.is_empty() {
                    kind.to_lowercase()
                } else {
                    kind
                };
                track.expanded |= t.expanded;
                track.unresolved.extend(t.unresolved);
            }
            "source" | "src" => m.source = Some(expand(value, escape, lookup, track)?),
            "target" | "dst" | "destination" => {
                m.target = Some(expand(value, escape, lookup, track)?)
            }
            _ => {}
        }
    }
    Ok(m)
}

struct Builder<'a> {
    escape: char,
    build_args: &'a HashMap<String, String>,
    meta: Scope,
    global_args: Vec<(String, Option<String>)>,
    stages: Vec<Stage>,
    scopes: Vec<Scope>,
}

impl Builder<'_> {
    fn node(&mut self, n: &Node) -> Result<(), ParseError> {
        let err = |m: String| perr(n.start, m);
        if !KNOWN_INSTRUCTIONS.contains(&n.cmd.as_str()) {
            return Err(err(format!("unknown instruction: {}", n.keyword)));
        }
        if n.cmd == "from" {
            return self.from(n).map_err(err);
        }
        if self.stages.is_empty() {
            if n.cmd == "arg" {
                return self.meta_arg(n).map_err(err);
            }
            let mut scratch = Scope::new(Var::Unknown);
            self.instruction(n, &mut scratch).map_err(err)?;
            return Err(err("no build stage in current context".to_string()));
        }
        let mut scope = self
            .scopes
            .pop()
            .unwrap_or_else(|| Scope::new(Var::Unknown));
        let kind = self.instruction(n, &mut scope);
        self.scopes.push(scope);
        let kind = kind.map_err(err)?;
        if let Some(stage) = self.stages.last_mut() {
            stage.instructions.push(Instruction {
                line: n.start,
                end_line: n.end,
                keyword: n.keyword.clone(),
                kind,
            });
        }
        Ok(())
    }

    fn from(&mut self, n: &Node) -> Result<(), String> {
        let args = split_ws(&n.args);
        let name = match args.as_slice() {
            [_] => None,
            [_, kw, name] if kw.eq_ignore_ascii_case("as") => {
                let lower = name.to_lowercase();
                if !valid_stage_name(&lower) {
                    return Err(format!(
                        "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                    ));
                }
                Some(lower)
            }
            _ => return Err("FROM requires either one or three arguments".to_string()),
        };
        let flags = parse_flags(&n.flags, &[("platform", FlagKind::Str)])?;
        let base_raw = args.first().map(String::as_str).unwrap_or("");
        let meta = &self.meta;
        let lookup = |k: &str| meta.get(k);
        let mut track = Track::default();
        let base = expand(base_raw, self.escape, &lookup, &mut track)?;
        if base.is_empty() && track.unresolved.is_empty() {
            return Err(format!("base name ({base_raw}) should not be blank"));
        }
        let platform = match flags.str("platform") {
            Some(p) => Some(expand(&p, self.escape, &lookup, &mut Track::default())?),
            None => None,
        };
        let lower = base.to_lowercase();
        let base_stage = self
            .stages
            .iter()
            .rposition(|s| s.name.as_deref() == Some(lower.as_str()));
        let scope = base_stage
            .and_then(|i| self.scopes.get(i))
            .cloned()
            .unwrap_or_else(|| Scope::new(Var::Unknown));
        self.stages.push(Stage {
            index: self.stages.len(),
            name,
            base,
            line: n.start,
            instructions: Vec::new(),
            platform,
            base_stage,
        });
        self.scopes.push(scope);
        Ok(())
    }

    fn meta_arg(&mut self, n: &Node) -> Result<(), String> {
        for (key, default) in parse_arg_words(&n.args, self.escape)? {
            let mut recorded = None;
            let mut value = Var::Unknown;
            if let Some(d) = &default {
                let meta = &self.meta;
                let lookup = |k: &str| meta.get(k);
                let mut track = Track::default();
                let v = expand(d, self.escape, &lookup, &mut track)?;
                recorded = Some(v.clone());
                value = track.value(v);
            }
            if let Some(v) = self.build_args.get(&key) {
                value = Var::Known(v.clone());
            }
            self.meta.args.insert(key.clone(), value);
            self.global_args.push((key, recorded));
        }
        Ok(())
    }

    fn instruction(&self, n: &Node, scope: &mut Scope) -> Result<InstructionKind, String> {
        let none: &[(&str, FlagKind)] = &[];
        let exactly_one = |kw: &str| {
            if n.args.is_empty() {
                Err(format!("{kw} requires exactly one argument"))
            } else {
                Ok(())
            }
        };
        match n.cmd.as_str() {
            "copy" => return self.copy(n, false, scope).map(InstructionKind::Copy),
            "add" => return self.copy(n, true, scope).map(InstructionKind::Add),
            "run" => return self.run(n, scope).map(InstructionKind::Run),
            "arg" => self.stage_arg(n, scope)?,
            "env" => {
                parse_flags(&n.flags, none)?;
                let pairs = parse_name_val(&n.args, self.escape, "ENV")?;
                let mut values = Vec::new();
                for (k, v) in pairs {
                    let lookup = |name: &str| scope.get(name);
                    let mut track = Track::default();
                    let value = expand(&v, self.escape, &lookup, &mut track)?;
                    values.push((k, track.value(value)));
                }
                // All values of one ENV see the environment from before it.
                scope.env.extend(values);
            }
            "label" => {
                parse_flags(&n.flags, none)?;
                parse_name_val(&n.args, self.escape, "LABEL")?;
            }
            "maintainer" | "user" | "workdir" => {
                exactly_one(&n.keyword)?;
                parse_flags(&n.flags, none)?;
            }
            "stopsignal" => exactly_one(&n.keyword)?,
            "expose" | "volume" => {
                let args = n.json.clone().unwrap_or_else(|| split_ws(&n.args));
                if args.is_empty() {
                    return Err(format!("{} requires at least one argument", n.keyword));
                }
                parse_flags(&n.flags, none)?;
                if n.cmd == "volume" && args.iter().any(|a| a.trim().is_empty()) {
                    return Err("VOLUME specified can not be an empty string".to_string());
                }
            }
            "shell" => {
                parse_flags(&n.flags, none)?;
                match &n.json {
                    Some(v) if !v.is_empty() => {}
                    Some(_) => return Err("SHELL requires at least one argument".to_string()),
                    None if n.args.is_empty() => {
                        return Err("SHELL requires at least one argument".to_string())
                    }
                    None => {
                        return Err("SHELL requires the arguments to be in JSON form".to_string())
                    }
                }
            }
            "onbuild" => {
                let Some((trigger, _)) = &n.sub else {
                    return Err("ONBUILD requires at least one argument".to_string());
                };
                parse_flags(&n.flags, none)?;
                match trigger.as_str() {
                    "onbuild" => {
                        return Err(
                            "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_string()
                        )
                    }
                    "maintainer" | "from" => {
                        return Err(format!(
                            "{} isn't allowed as an ONBUILD trigger",
                            trigger.to_uppercase()
                        ))
                    }
                    _ => {}
                }
            }
            "cmd" | "entrypoint" => parse_flags(&n.flags, none).map(drop)?,
            _ => {} // HEALTHCHECK: not checked here.
        }
        Ok(InstructionKind::Other)
    }

    fn stage_arg(&self, n: &Node, scope: &mut Scope) -> Result<(), String> {
        for (key, default) in parse_arg_words(&n.args, self.escape)? {
            let value = if let Some(v) = self.build_args.get(&key) {
                Var::Known(v.clone())
            } else if let Some(d) = default {
                let lookup = |name: &str| scope.get(name);
                let mut track = Track::default();
                let v = expand(&d, self.escape, &lookup, &mut track)?;
                track.value(v)
            } else {
                // Redeclared global ARG: takes the global value.
                self.meta.args.get(&key).cloned().unwrap_or(Var::Unknown)
            };
            scope.args.insert(key, value);
        }
        Ok(())
    }

    fn copy(&self, n: &Node, is_add: bool, scope: &Scope) -> Result<CopySpec, String> {
        use FlagKind::{Bool, Str, Strs};
        let kw = if is_add { "ADD" } else { "COPY" };
        let args = n.json.clone().unwrap_or_else(|| split_ws(&n.args));
        let Some((dest_raw, srcs)) = args.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Err(format!(
                "{kw} requires at least two arguments, but only one was provided. Destination could not be determined"
            ));
        };
        let allowed: &[(&str, FlagKind)] = if is_add {
            &[
                ("exclude", Strs),
                ("chown", Str),
                ("chmod", Str),
                ("link", Bool),
                ("keep-git-dir", Bool),
                ("checksum", Str),
                ("unpack", Bool),
            ]
        } else {
            &[
                ("chown", Str),
                ("from", Str),
                ("chmod", Str),
                ("link", Bool),
                ("exclude", Strs),
                ("parents", Bool),
            ]
        };
        let flags = parse_flags(&n.flags, allowed)?;
        if heredoc_word(dest_raw).is_some() {
            return Err(format!("{kw} cannot accept a heredoc as a destination"));
        }
        let from = flags.str("from");
        if let Some(f) = &from {
            let unset = |_: &str| Var::Unset;
            let r = expand(f, self.escape, &unset, &mut Track::default())?;
            if r != *f {
                return Err("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".to_string());
            }
        }
        let lookup = |name: &str| scope.get(name);
        let mut track = Track::default();
        let mut ex = |s: &str| expand(s, self.escape, &lookup, &mut track);
        let chown = flags.str("chown").map(|v| ex(&v)).transpose()?;
        let chmod = flags.str("chmod").map(|v| ex(&v)).transpose()?;
        let checksum = flags.str("checksum").map(|v| ex(&v)).transpose()?;
        let excludes = flags
            .list("exclude")
            .iter()
            .map(|v| ex(v))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sources = Vec::new();
        for raw in srcs {
            if let Some(h) = heredoc_word(raw) {
                sources.push(Source::Heredoc { name: h.name });
                continue;
            }
            let path = ex(raw)?;
            sources.push(classify(raw, path, is_add));
        }
        let dest = ex(dest_raw)?;
        Ok(CopySpec {
            sources,
            dest,
            from,
            chown,
            chmod,
            link: flags.bool("link"),
            parents: flags.bool("parents"),
            excludes,
            from_stage: None,
            checksum,
            keep_git_dir: flags.bool("keep-git-dir"),
            json: n.json.is_some(),
            expanded: track.expanded,
            unresolved: track.unresolved.into_iter().collect(),
        })
    }

    fn run(&self, n: &Node, scope: &Scope) -> Result<RunSpec, String> {
        use FlagKind::{Str, Strs};
        let flags = parse_flags(
            &n.flags,
            &[
                ("mount", Strs),
                ("network", Str),
                ("security", Str),
                ("device", Strs),
            ],
        )?;
        let lookup = |name: &str| scope.get(name);
        let mut track = Track::default();
        let mounts = flags
            .list("mount")
            .iter()
            .map(|m| parse_mount(m, self.escape, &lookup, &mut track))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunSpec {
            mounts,
            unresolved: track.unresolved.into_iter().collect(),
        })
    }
}

/// Resolves `COPY --from` (stage name or index) and `RUN --mount from=`
/// (stage name) against all stages of the file, as BuildKit does.
fn resolve_from_stages(stages: &mut [Stage]) -> Result<(), ParseError> {
    let names: Vec<Option<String>> = stages.iter().map(|s| s.name.clone()).collect();
    let count = names.len();
    let by_name = |name: &str| {
        let lower = name.to_lowercase();
        names
            .iter()
            .rposition(|n| n.as_deref() == Some(lower.as_str()))
    };
    for stage in stages.iter_mut() {
        for ins in &mut stage.instructions {
            match &mut ins.kind {
                InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
                    let Some(from) = &spec.from else { continue };
                    spec.from_stage = match from.parse::<i64>() {
                        Ok(i) => match usize::try_from(i).ok().filter(|&i| i < count) {
                            Some(i) => Some(i),
                            None => return Err(perr(ins.line, format!("invalid stage index {i}"))),
                        },
                        Err(_) => by_name(from),
                    };
                }
                InstructionKind::Run(run) => {
                    for m in &mut run.mounts {
                        if m.kind != "tmpfs" {
                            m.from_stage = m.from.as_deref().and_then(by_name);
                        }
                    }
                }
                InstructionKind::Other => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Dockerfile {
        match parse(text) {
            Ok(d) => d,
            Err(e) => panic!("parse failed: {e}\n---\n{text}"),
        }
    }

    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(d) => panic!("expected an error, got {d:?}\n---\n{text}"),
            Err(e) => e,
        }
    }

    /// The instructions of the last stage.
    fn last(d: &Dockerfile) -> &[Instruction] {
        d.stages
            .last()
            .map(|s| s.instructions.as_slice())
            .unwrap_or(&[])
    }

    fn copy_spec(ins: &Instruction) -> &CopySpec {
        match &ins.kind {
            InstructionKind::Copy(s) | InstructionKind::Add(s) => s,
            other => panic!("not COPY/ADD: {other:?}"),
        }
    }

    fn first_copy(text: &str) -> CopySpec {
        let d = ok(text);
        let ins = last(&d)
            .iter()
            .find(|i| matches!(i.kind, InstructionKind::Copy(_) | InstructionKind::Add(_)))
            .unwrap_or_else(|| panic!("no COPY/ADD in {text}"));
        copy_spec(ins).clone()
    }

    fn paths(spec: &CopySpec) -> Vec<String> {
        spec.sources
            .iter()
            .map(|s| match s {
                Source::Context { path, .. } => path.clone(),
                Source::Url(u) => format!("url:{u}"),
                Source::Git(g) => format!("git:{g}"),
                Source::Heredoc { name } => format!("heredoc:{name}"),
            })
            .collect()
    }

    fn mounts(text: &str) -> Vec<Mount> {
        let d = ok(text);
        last(&d)
            .iter()
            .find_map(|i| match &i.kind {
                InstructionKind::Run(r) => Some(r.mounts.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no RUN in {text}"))
    }

    fn lines(d: &Dockerfile) -> Vec<(String, usize, usize)> {
        d.stages
            .iter()
            .flat_map(|s| {
                std::iter::once((format!("FROM {}", s.base), s.line, s.line)).chain(
                    s.instructions
                        .iter()
                        .map(|i| (i.keyword.clone(), i.line, i.end_line)),
                )
            })
            .collect()
    }

    fn refs(d: &Dockerfile, target: Option<&str>) -> Vec<(usize, usize, String, String)> {
        d.context_refs(target)
            .into_iter()
            .map(|r| (r.stage, r.line, r.keyword, r.path))
            .collect()
    }

    #[test]
    fn minimal_file() {
        let d = ok("FROM alpine\nCOPY a /b\n");
        assert_eq!(d.escape, '\\');
        assert_eq!(d.syntax, None);
        assert_eq!(d.stages.len(), 1);
        let s = &d.stages[0];
        assert_eq!(
            (s.index, s.name.clone(), s.base.as_str(), s.line),
            (0, None, "alpine", 1)
        );
        let spec = copy_spec(&s.instructions[0]);
        assert_eq!(
            spec.sources,
            vec![Source::Context {
                path: "a".into(),
                raw: "a".into()
            }]
        );
        assert_eq!(spec.dest, "/b");
        assert!(!spec.json && !spec.expanded && spec.unresolved.is_empty());
    }

    #[test]
    fn directives() {
        // (text, escape, syntax)
        let cases: &[(&str, char, Option<&str>)] = &[
            ("# escape=`\nFROM a\n", '`', None),
            ("# escape=\\\nFROM a\n", '\\', None),
            ("#ESCAPE = `\nFROM a\n", '`', None),
            ("  # escape=`  \nFROM a\n", '`', None),
            (
                "# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n",
                '`',
                Some("docker/dockerfile:1"),
            ),
            (
                "# Syntax = docker/dockerfile:1.7 \nFROM a\n",
                '\\',
                Some("docker/dockerfile:1.7"),
            ),
            ("# check=skip=all\n# escape=`\nFROM a\n", '`', None),
            // A comment that is not a directive ends directives.
            ("# hello\n# escape=`\nFROM a\n", '\\', None),
            ("# unknown=x\n# escape=`\nFROM a\n", '\\', None),
            // So does an empty line or an instruction.
            ("\n# escape=`\nFROM a\n", '\\', None),
            ("FROM a\n# escape=`\n", '\\', None),
            // BOM before the directive.
            ("\u{feff}# escape=`\nFROM a\n", '`', None),
        ];
        for (text, escape, syntax) in cases {
            let d = ok(text);
            assert_eq!(d.escape, *escape, "{text:?}");
            assert_eq!(d.syntax.as_deref(), *syntax, "{text:?}");
        }
    }

    #[test]
    fn directive_errors() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "# escape=`\n# escape=\\\nFROM a\n",
                2,
                "only one escape parser directive",
            ),
            (
                "# syntax=a\n# SYNTAX=b\nFROM a\n",
                2,
                "only one syntax parser directive",
            ),
            ("# escape=x\nFROM a\n", 1, "invalid escape token 'x'"),
            ("# escape=\\\\\nFROM a\n", 1, "invalid escape token"),
        ];
        for (text, line, msg) in cases {
            let e = err(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
        }
    }

    #[test]
    fn escape_backtick_drives_continuations() {
        let d = ok("# escape=`\nFROM a\nCOPY c:\\src `\n  d:\\dst\nRUN echo \\\nCOPY x y\n");
        let ins = last(&d);
        assert_eq!(ins.len(), 3);
        let spec = copy_spec(&ins[0]);
        // `\` is a plain character with the backtick escape.
        assert_eq!(paths(spec), vec!["c:\\src"]);
        assert_eq!(spec.dest, "d:\\dst");
        assert_eq!((ins[0].line, ins[0].end_line), (3, 4));
        // `RUN echo \` does not continue: COPY x y is its own instruction.
        assert_eq!((ins[1].keyword.as_str(), ins[1].line), ("RUN", 5));
        assert_eq!((ins[2].keyword.as_str(), ins[2].line), ("COPY", 6));
    }

    #[test]
    fn continuations_comments_and_line_numbers() {
        let text = "\
# leading comment
FROM alpine AS base

COPY a \\
# comment inside continuation
     b \\

  /dst
  # indented comment
RUN echo one \\   
    two
copy  y x\\\\
EXPOSE 1
";
        let d = ok(text);
        assert_eq!(
            lines(&d),
            vec![
                ("FROM alpine".to_string(), 2, 2),
                ("COPY".to_string(), 4, 8),
                ("RUN".to_string(), 10, 11),
                ("COPY".to_string(), 12, 12),
                ("EXPOSE".to_string(), 13, 13),
            ]
        );
        let ins = last(&d);
        let spec = copy_spec(&ins[0]);
        assert_eq!(paths(spec), vec!["a", "b"]);
        assert_eq!(spec.dest, "/dst");
        assert_eq!((ins[0].line, ins[0].end_line), (4, 8));
        assert_eq!((ins[1].line, ins[1].end_line), (10, 11));
        // `x\\` ends in an escaped escape: no continuation.
        assert_eq!((ins[2].line, ins[2].end_line), (12, 12));
    }

    #[test]
    fn unknown_instruction_after_escaped_escape() {
        // `y z` on its own line is an unknown instruction `Y`.
        let e = err("FROM a\nCOPY x y\\\\\nz w\n");
        assert_eq!(e, perr(3, "unknown instruction: Z"));
        assert_eq!(e.to_string(), "line 3: unknown instruction: Z");
    }

    #[test]
    fn crlf_bom_and_case() {
        let d = ok(
            "\u{feff}from alpine as Build\r\ncopy \\\r\n  a \\\r\n  /b\r\nCoPy --FROM=x c d\r\n"
                .replace("--FROM", "--from")
                .as_str(),
        );
        assert_eq!(d.stages[0].name.as_deref(), Some("build"));
        let ins = last(&d);
        assert_eq!(ins[0].keyword, "COPY");
        assert_eq!(paths(copy_spec(&ins[0])), vec!["a"]);
        assert_eq!(copy_spec(&ins[0]).dest, "/b");
        assert_eq!((ins[0].line, ins[0].end_line), (2, 4));
        assert_eq!(copy_spec(&ins[1]).from.as_deref(), Some("x"));
        // Uppercase flag names are unknown flags, as in BuildKit.
        let e = err("FROM a\nCOPY --FROM=x c d\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown flag: --FROM"), "{e}");
    }

    #[test]
    fn heredocs() {
        let text = "\
FROM alpine
COPY <<EOF /etc/conf
a
EOF
RUN <<EOT bash
  echo hi
EOT
COPY <<-\"ONE\" <<'TWO' /dst/
\tone
\tONE
two
TWO
RUN cat <<A >x && cat <<B >y
A
B
COPY real /x
";
        let d = ok(text);
        let ins = last(&d);
        assert_eq!(
            ins.iter()
                .map(|i| (i.keyword.as_str(), i.line, i.end_line))
                .collect::<Vec<_>>(),
            vec![
                ("COPY", 2, 4),
                ("RUN", 5, 7),
                ("COPY", 8, 12),
                ("RUN", 13, 15),
                ("COPY", 16, 16)
            ]
        );
        assert_eq!(paths(copy_spec(&ins[0])), vec!["heredoc:EOF"]);
        assert_eq!(
            paths(copy_spec(&ins[2])),
            vec!["heredoc:ONE", "heredoc:TWO"]
        );
        assert_eq!(copy_spec(&ins[2]).dest, "/dst/");
        assert_eq!(refs(&d, None), vec![(0, 16, "COPY".into(), "real".into())]);
    }

    #[test]
    fn heredoc_near_misses() {
        // (text, expected keywords with lines)
        let cases: &[(&str, &[(&str, usize)])] = &[
            // JSON form: no heredoc, the next line is an instruction.
            (
                "FROM a\nRUN [\"cat\", \"<<EOF\"]\nEXPOSE 1\n",
                &[("RUN", 2), ("EXPOSE", 3)],
            ),
            // Quoted `<<EOF` is not a heredoc.
            (
                "FROM a\nRUN echo \"<<EOF\"\nEXPOSE 1\n",
                &[("RUN", 2), ("EXPOSE", 3)],
            ),
            // Unbalanced quote: BuildKit finds no heredoc at all.
            (
                "FROM a\nRUN echo don't <<EOF\nEXPOSE 1\n",
                &[("RUN", 2), ("EXPOSE", 3)],
            ),
            // Heredocs only for RUN/COPY/ADD.
            (
                "FROM a\nCMD cat <<EOF\nEXPOSE 1\n",
                &[("CMD", 2), ("EXPOSE", 3)],
            ),
            // `<<` alone, or with an empty word, is not a heredoc.
            (
                "FROM a\nRUN echo << x\nEXPOSE 1\n",
                &[("RUN", 2), ("EXPOSE", 3)],
            ),
            (
                "FROM a\nRUN echo <<\"\"\nEXPOSE 1\n",
                &[("RUN", 2), ("EXPOSE", 3)],
            ),
            // `<<-` strips leading tabs from the terminator only with `-`.
            (
                "FROM a\nRUN cat <<EOF\n\tEOF\nEOF\nEXPOSE 1\n",
                &[("RUN", 2), ("EXPOSE", 5)],
            ),
            // Terminator with CRLF.
            (
                "FROM a\r\nRUN cat <<EOF\r\nx\r\nEOF\r\nEXPOSE 1\r\n",
                &[("RUN", 2), ("EXPOSE", 5)],
            ),
            // ONBUILD RUN heredoc is consumed too.
            (
                "FROM a\nONBUILD RUN <<EOF\nFOO\nEOF\nEXPOSE 1\n",
                &[("ONBUILD", 2), ("EXPOSE", 5)],
            ),
            // Heredoc after a continuation.
            (
                "FROM a\nRUN \\\n  cat <<EOF\nx\nEOF\nEXPOSE 1\n",
                &[("RUN", 2), ("EXPOSE", 6)],
            ),
        ];
        for (text, want) in cases {
            let d = ok(text);
            let got: Vec<(&str, usize)> = last(&d)
                .iter()
                .map(|i| (i.keyword.as_str(), i.line))
                .collect();
            assert_eq!(got, *want, "{text:?}");
        }
    }

    #[test]
    fn heredoc_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("FROM a\nRUN cat <<EOF\nx\n", 2, "unterminated heredoc"),
            ("FROM a\nCOPY <<A <<B /x\nA\nb\n", 2, "unterminated heredoc"),
            ("FROM a\nRUN \\\n cat <<EOF\n", 2, "unterminated heredoc"),
            (
                "FROM a\nCOPY x <<EOF\nEOF\n",
                2,
                "COPY cannot accept a heredoc as a destination",
            ),
            (
                "FROM a\nRUN x\nCOPY <<EOF\nEOF\n",
                3,
                "COPY requires at least two arguments",
            ),
        ];
        for (text, line, msg) in cases {
            let e = err(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
        }
    }

    #[test]
    fn json_form() {
        let spec = first_copy("FROM a\nCOPY [\"a b\", \"c\", \"/dst/\"]\n");
        assert!(spec.json);
        assert_eq!(paths(&spec), vec!["a b", "c"]);
        assert_eq!(spec.dest, "/dst/");
        // With flags, escapes and unicode escapes.
        let spec =
            first_copy("FROM a\nADD --chown=1:1 [ \"a\\u0020b\", \"\\u00e9t\\u00e9\", \"/d\" ] \n");
        assert_eq!(paths(&spec), vec!["a b", "été"]);
        // JSON strings are shell-processed afterwards, as in BuildKit: a lone
        // quote is an error, a `$` is substituted.
        let e = err("FROM a\nCOPY [\"q\\\"uote\", \"/d\"]\n");
        assert!(e.message.contains("failed to process"), "{e}");
        assert_eq!(spec.chown.as_deref(), Some("1:1"));
        // Malformed JSON falls back to the shell form (as BuildKit does).
        let spec = first_copy("FROM a\nCOPY [\"a\", /dst\n");
        assert!(!spec.json);
        assert_eq!(spec.sources.len(), 1);
        assert_eq!(spec.dest, "/dst");
        let spec = first_copy("FROM a\nCOPY ['a', 'b']\n");
        assert!(!spec.json);
        assert_eq!(paths(&spec), vec!["[a,"]);
    }

    #[test]
    fn json_errors() {
        let cases: &[(&str, usize)] = &[
            ("FROM a\nCOPY [\"a\", 1]\n", 2),
            ("FROM a\nRUN [\"a\", null]\n", 2),
            ("FROM a\nCMD [[\"a\"]]\n", 2),
            ("FROM a\nRUN x\nCOPY \\\n  [\"a\", {\"k\": \"v\"}]\n", 3),
        ];
        for (text, line) in cases {
            let e = err(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains("bad JSON"), "{text:?}: {e}");
        }
    }

    #[test]
    fn shell_form_quotes_and_escapes() {
        // (COPY arguments, expected sources, expected dest)
        let cases: &[(&str, &[&str], &str)] = &[
            ("a b /dst", &["a", "b"], "/dst"),
            ("\"a\" 'b' /dst", &["a", "b"], "/dst"),
            ("a\\*b /dst", &["a*b"], "/dst"),
            ("'$NOPE' /dst", &["$NOPE"], "/dst"),
            ("a\t\tb   /dst", &["a", "b"], "/dst"),
            ("\"\" /dst", &[""], "/dst"),
        ];
        for (args, want, dest) in cases {
            let spec = first_copy(&format!("FROM a\nCOPY {args}\n"));
            assert_eq!(paths(&spec), *want, "{args}");
            assert_eq!(spec.dest, *dest, "{args}");
        }
        // A quoted name with a space is split first: BuildKit rejects it.
        let e = err("FROM a\nCOPY \"a b\" /dst\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("failed to process"), "{e}");
    }

    #[test]
    fn copy_add_flags() {
        let spec = first_copy(
            "FROM a\nCOPY --from=build --chown=app:app --chmod=0755 --link --parents \
             --exclude=*.md --exclude='docs/**' src /dst\n",
        );
        assert_eq!(spec.from.as_deref(), Some("build"));
        assert_eq!(spec.chown.as_deref(), Some("app:app"));
        assert_eq!(spec.chmod.as_deref(), Some("0755"));
        assert!(spec.link && spec.parents);
        assert_eq!(spec.excludes, vec!["*.md", "docs/**"]);
        let spec = first_copy("FROM a\nCOPY --link=false --parents=TRUE a b\n");
        assert!(!spec.link && spec.parents);
        let spec = first_copy(
            "FROM a\nADD --checksum=sha256:abc --keep-git-dir=true --link --unpack=false \
             --exclude=x https://e.com/f.tgz /d\n",
        );
        assert_eq!(spec.checksum.as_deref(), Some("sha256:abc"));
        assert!(spec.keep_git_dir && spec.link);
        assert_eq!(spec.excludes, vec!["x"]);
        assert_eq!(paths(&spec), vec!["url:https://e.com/f.tgz"]);
        // `--` ends the flags; an empty --from is no --from.
        let spec = first_copy("FROM a\nCOPY --from= -- --x /d\n");
        assert_eq!(spec.from, None);
        assert_eq!(paths(&spec), vec!["--x"]);
    }

    #[test]
    fn flag_errors() {
        let cases: &[(&str, &str)] = &[
            ("COPY --nope a b", "unknown flag: --nope"),
            ("COPY --checksum=x a b", "unknown flag: --checksum"),
            ("COPY --keep-git-dir a b", "unknown flag: --keep-git-dir"),
            ("ADD --from=x a b", "unknown flag: --from"),
            ("ADD --parents a b", "unknown flag: --parents"),
            (
                "COPY --from=a --from=b a b",
                "duplicate flag specified: --from",
            ),
            (
                "COPY --link=maybe a b",
                "expecting boolean value for flag --link",
            ),
            ("COPY --link= a b", "missing a value on flag: --link"),
            ("COPY --chown a b", "missing a value on flag: --chown"),
            ("COPY --exclude a b", "missing a value on flag: --exclude"),
            ("RUN --mounts=type=bind x", "unknown flag: --mounts"),
            ("FROM --platform a", "missing a value on flag: --platform"),
            ("WORKDIR --x /a", "unknown flag: --x"),
            (
                "COPY --from=$STAGE a b",
                "variable expansion is not supported for --from",
            ),
        ];
        for (ins, msg) in cases {
            let text = format!("FROM a\nRUN ok\n{ins}\n");
            let e = err(&text);
            assert_eq!(e.line, 3, "{ins}: {e}");
            assert!(e.message.contains(msg), "{ins}: {e}");
        }
    }

    #[test]
    fn run_mounts() {
        // (RUN flags, expected (kind, source, target, from))
        type M<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let cases: &[(&str, &[M])] = &[
            ("--mount=target=/src", &[("bind", None, Some("/src"), None)]),
            (
                "--mount=type=bind,source=go.mod,target=/go.mod",
                &[("bind", Some("go.mod"), Some("/go.mod"), None)],
            ),
            (
                "--mount=type=BIND,src=a,dst=/a --mount=src=b,destination=/b,ro",
                &[
                    ("bind", Some("a"), Some("/a"), None),
                    ("bind", Some("b"), Some("/b"), None),
                ],
            ),
            (
                "--mount=type=cache,target=/root/.cache",
                &[("cache", None, Some("/root/.cache"), None)],
            ),
            (
                "--mount=type=secret,id=npm,target=/run/secrets/npm,required",
                &[("secret", None, Some("/run/secrets/npm"), None)],
            ),
            ("--mount=type=ssh", &[("ssh", None, None, None)]),
            (
                "--mount=type=tmpfs,target=/tmp",
                &[("tmpfs", None, Some("/tmp"), None)],
            ),
            (
                "--mount=from=builder,source=/out,target=/in",
                &[("bind", Some("/out"), Some("/in"), Some("builder"))],
            ),
            (
                "--mount=\"type=bind,source=a,target=/a\"",
                &[("bind", Some("a"), Some("/a"), None)],
            ),
            // Quotes are removed by the flag reader: `b` is then a bare field.
            (
                "--mount=type=bind,\"source=a,b\",target=/a",
                &[("bind", Some("a"), Some("/a"), None)],
            ),
            // Escaped quotes survive to the CSV reader, which honours them.
            (
                "--mount=type=bind,\\\"source=a,b\\\",target=/a",
                &[("bind", Some("a,b"), Some("/a"), None)],
            ),
            ("--network=none --security=insecure", &[]),
        ];
        for (flags, want) in cases {
            let got = mounts(&format!("FROM a AS builder\nRUN {flags} make\n"));
            let got: Vec<M> = got
                .iter()
                .map(|m| {
                    (
                        m.kind.as_str(),
                        m.source.as_deref(),
                        m.target.as_deref(),
                        m.from.as_deref(),
                    )
                })
                .collect();
            assert_eq!(got, *want, "{flags}");
        }
    }

    #[test]
    fn run_mount_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "--mount=from=$X,target=/a",
                "'from' doesn't support variable expansion",
            ),
            ("--mount=", "failed to parse csv mounts"),
            // Flag quotes are removed first: an escaped quote reaches the CSV reader.
            ("--mount=source=a\\\"b", "failed to parse csv mounts"),
            ("--mount", "missing a value on flag: --mount"),
        ];
        for (flags, msg) in cases {
            let e = err(&format!("FROM a\nRUN {flags} make\n"));
            assert_eq!(e.line, 2, "{flags}: {e}");
            assert!(e.message.contains(msg), "{flags}: {e}");
        }
    }

    #[test]
    fn stages_and_names() {
        let d = ok("\
FROM --platform=linux/amd64 golang:1.22 AS Build
FROM build as test
FROM scratch
FROM BUILD AS final
");
        let got: Vec<_> = d
            .stages
            .iter()
            .map(|s| {
                (
                    s.index,
                    s.name.as_deref(),
                    s.base.as_str(),
                    s.base_stage,
                    s.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Some("build"), "golang:1.22", None, 1),
                (1, Some("test"), "build", Some(0), 2),
                (2, None, "scratch", None, 3),
                (3, Some("final"), "BUILD", Some(0), 4),
            ]
        );
        assert_eq!(d.stages[0].platform.as_deref(), Some("linux/amd64"));
        assert_eq!(d.target_stage(None), Some(3));
        assert_eq!(d.target_stage(Some("TEST")), Some(1));
        assert_eq!(d.target_stage(Some("nope")), None);
        assert_eq!(d.find_stage("Build"), Some(0));
    }

    #[test]
    fn stage_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("FROM a AS 1x\n", 1, "invalid name for build stage"),
            ("FROM a AS b_c!\n", 1, "invalid name for build stage"),
            (
                "FROM a b\n",
                1,
                "FROM requires either one or three arguments",
            ),
            (
                "FROM a AS b c\n",
                1,
                "FROM requires either one or three arguments",
            ),
            ("FROM\n", 1, "FROM requires either one or three arguments"),
            ("ARG X=\nFROM $X\n", 2, "base name ($X) should not be blank"),
            ("FROM a\nCOPY --from=5 x y\n", 2, "invalid stage index 5"),
            ("FROM a\nCOPY --from=-1 x y\n", 2, "invalid stage index -1"),
            ("RUN x\nFROM a\n", 1, "no build stage in current context"),
            ("ARG A\n", 1, "dockerfile contains no stages to build"),
            ("", 1, "file with no instructions"),
            ("# only\n\n# comments\n", 3, "file with no instructions"),
            ("FROM a\nFOO bar\n", 2, "unknown instruction: FOO"),
            ("FROM a\nCOPY\n", 2, "COPY requires at least two arguments"),
            (
                "FROM a\nRUN x\nADD \\\n  onlyone\n",
                3,
                "ADD requires at least two arguments",
            ),
            (
                "FROM a\nWORKDIR\n",
                2,
                "WORKDIR requires exactly one argument",
            ),
            ("FROM a\nENV\n", 2, "ENV requires at least one argument"),
            ("FROM a\nENV A\n", 2, "ENV must have two arguments"),
            ("FROM a\nENV A=1 B\n", 2, "can't find = in"),
            ("FROM a\nARG =x\n", 2, "ARG names can not be blank"),
            ("FROM a\nSHELL sh -c\n", 2, "JSON form"),
            ("FROM a\nONBUILD ONBUILD RUN x\n", 2, "chaining ONBUILD"),
            (
                "FROM a\nONBUILD FROM x\n",
                2,
                "FROM isn't allowed as an ONBUILD trigger",
            ),
            (
                "FROM a\nVOLUME [\"\"]\n",
                2,
                "VOLUME specified can not be an empty string",
            ),
        ];
        for (text, line, msg) in cases {
            let e = err(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
        }
    }

    #[test]
    fn reachability() {
        let text = "\
FROM alpine AS base
COPY base.txt /
FROM base AS deps
COPY deps.txt /
FROM golang AS tools
COPY tools.txt /
FROM alpine AS unused
COPY unused.txt /
FROM alpine AS cachesrc
FROM alpine AS final
COPY --from=deps /x /x
COPY --from=2 /y /y
RUN --mount=type=cache,from=cachesrc,target=/c --mount=type=bind,source=go.sum,target=/g true
COPY --from=nginx:latest /etc/nginx /etc/nginx
COPY final.txt /
";
        let d = ok(text);
        assert_eq!(d.reachable_stages(None), vec![0, 1, 2, 4, 5]);
        assert_eq!(d.reachable_stages(Some("deps")), vec![0, 1]);
        assert_eq!(d.reachable_stages(Some("unused")), vec![3]);
        assert_eq!(d.reachable_stages(Some("missing")), Vec::<usize>::new());
        assert_eq!(d.stage_dependencies(5), vec![1, 2, 4]);
        let final_ins = last(&d);
        assert_eq!(copy_spec(&final_ins[0]).from_stage, Some(1));
        assert_eq!(copy_spec(&final_ins[1]).from_stage, Some(2));
        assert_eq!(copy_spec(&final_ins[3]).from_stage, None);
        assert_eq!(
            refs(&d, None),
            vec![
                (0, 2, "COPY".into(), "base.txt".into()),
                (1, 4, "COPY".into(), "deps.txt".into()),
                (2, 6, "COPY".into(), "tools.txt".into()),
                (5, 13, "RUN".into(), "go.sum".into()),
                (5, 15, "COPY".into(), "final.txt".into()),
            ]
        );
        assert_eq!(
            d.follow_paths(None),
            Some(vec![
                "base.txt".to_string(),
                "deps.txt".into(),
                "final.txt".into(),
                "go.sum".into(),
                "tools.txt".into()
            ])
        );
        assert_eq!(
            d.follow_paths(Some("unused")),
            Some(vec!["unused.txt".to_string()])
        );
        assert_eq!(d.follow_paths(Some("cachesrc")), Some(vec![]));
    }

    #[test]
    fn duplicate_stage_names_resolve_like_buildkit() {
        let d = ok("FROM a AS x\nFROM b AS x\nFROM x AS y\nFROM c\nCOPY --from=x /a /a\n");
        // FROM x: the latest earlier `x`; --from=x: the last `x` of the file.
        assert_eq!(d.stages[2].base_stage, Some(1));
        assert_eq!(copy_spec(&last(&d)[0]).from_stage, Some(1));
        assert_eq!(d.target_stage(Some("x")), Some(1));
    }

    #[test]
    fn context_refs_kinds() {
        let text = "\
FROM alpine
COPY . /app
ADD https://example.com/a.tgz /
ADD git@github.com:moby/buildkit.git /bk
ADD https://github.com/moby/buildkit.git#v0.1 /bk2
ADD ssh://host/repo /r
ADD local.tgz /
COPY <<EOF /x
EOF
COPY http://example.com/x /x
COPY git@github.com:moby/buildkit.git /y
RUN --mount=type=bind,target=/ctx true
RUN --mount=type=secret,id=s --mount=type=ssh --mount=type=tmpfs,target=/t --mount=type=cache,target=/c true
";
        let d = ok(text);
        let ins = last(&d);
        assert_eq!(
            paths(copy_spec(&ins[1])),
            vec!["url:https://example.com/a.tgz"]
        );
        assert_eq!(
            paths(copy_spec(&ins[2])),
            vec!["git:git@github.com:moby/buildkit.git"]
        );
        assert_eq!(
            paths(copy_spec(&ins[3])),
            vec!["git:https://github.com/moby/buildkit.git#v0.1"]
        );
        assert_eq!(paths(copy_spec(&ins[4])), vec!["git:ssh://host/repo"]);
        assert_eq!(paths(copy_spec(&ins[7])), vec!["url:http://example.com/x"]);
        // COPY takes no git sources: a context path.
        assert_eq!(
            paths(copy_spec(&ins[8])),
            vec!["git@github.com:moby/buildkit.git"]
        );
        let got = d.context_refs(None);
        let got: Vec<(usize, &str, &str, &str)> = got
            .iter()
            .map(|r| {
                (
                    r.line,
                    r.keyword.as_str(),
                    r.path.as_str(),
                    r.normalized.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "COPY", ".", "/"),
                (7, "ADD", "local.tgz", "/local.tgz"),
                (
                    11,
                    "COPY",
                    "git@github.com:moby/buildkit.git",
                    "/git@github.com:moby/buildkit.git"
                ),
                (12, "RUN", ".", "/"),
            ]
        );
        assert_eq!(d.follow_paths(None), None);
    }

    #[test]
    fn follow_paths_normalization() {
        // (COPY sources, expected follow paths)
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("./src/../lib/ ./a//b", Some(&["a/b", "lib"])),
            ("/abs/x x", Some(&["abs/x", "x"])),
            ("./", None),
            ("/", None),
            ("..", None),
            ("*.go go.mod", Some(&["*.go", "go.mod"])),
        ];
        for (srcs, want) in cases {
            let d = ok(&format!("FROM a\nCOPY {srcs} /dst/\n"));
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(d.follow_paths(None), want, "{srcs}");
        }
    }

    #[test]
    fn arg_env_substitution() {
        // (Dockerfile body after `FROM img`, expected sources, dest, expanded, unresolved)
        type Case<'a> = (&'a str, &'a [&'a str], &'a str, bool, &'a [&'a str]);
        let cases: &[Case] = &[
            ("ARG SRC=app\nCOPY $SRC /dst", &["app"], "/dst", true, &[]),
            (
                "ARG SRC=app\nCOPY ${SRC}/x /${SRC}",
                &["app/x"],
                "/app",
                true,
                &[],
            ),
            ("ENV D=/opt\nCOPY a $D/", &["a"], "/opt/", true, &[]),
            (
                "ARG V\nCOPY app-$V.tar /",
                &["app-$V.tar"],
                "/",
                false,
                &["V"],
            ),
            (
                "COPY $UNDECLARED /",
                &["$UNDECLARED"],
                "/",
                false,
                &["UNDECLARED"],
            ),
            ("ARG E=\nCOPY ${E:-def} /", &["def"], "/", true, &[]),
            ("ARG E=\nCOPY ${E-def}x /", &["x"], "/", true, &[]),
            ("ARG E=set\nCOPY ${E:+alt} /", &["alt"], "/", true, &[]),
            ("ARG E=\nCOPY ${E:+alt}z /", &["z"], "/", true, &[]),
            ("ARG U\nCOPY ${U:-d} /", &["${U:-d}"], "/", false, &["U"]),
            (
                "ARG F=a/b/c.tar.gz\nCOPY ${F%.*} ${F%%.*} ${F#*/} ${F##*/} /",
                &["a/b/c.tar", "a/b/c", "b/c.tar.gz", "c.tar.gz"],
                "/",
                true,
                &[],
            ),
            (
                "ARG F=aXbX\nCOPY ${F/X/-} ${F//X/-} /",
                &["a-bX", "a-b-"],
                "/",
                true,
                &[],
            ),
            ("ARG A=1\nARG B=${A}2\nCOPY $B /", &["12"], "/", true, &[]),
            ("ARG A\nARG B=${A}2\nCOPY $B /", &["$B"], "/", false, &["B"]),
            ("ENV A=1 B=$A\nCOPY x$B /", &["x$B"], "/", false, &["B"]),
            ("ARG X=arg\nENV X=env\nCOPY $X /", &["env"], "/", true, &[]),
            ("ENV X=env\nARG X=arg\nCOPY $X /", &["env"], "/", true, &[]),
            (
                "ENV X \"a b\"\nCOPY [\"$X\", \"/\"]",
                &["a b"],
                "/",
                true,
                &[],
            ),
            (
                "ARG S=s\nCOPY \\$S '$S' \"$S\" /",
                &["$S", "$S", "s"],
                "/",
                true,
                &[],
            ),
            // `$$` is the special parameter `$` (not known); a lone `$` stays.
            ("ARG S=s\nCOPY $$ a$ /", &["$$", "a$"], "/", false, &["$"]),
        ];
        for (body, want, dest, expanded, unresolved) in cases {
            let spec = first_copy(&format!("FROM img\n{body}\n"));
            assert_eq!(paths(&spec), *want, "{body}");
            assert_eq!(spec.dest, *dest, "{body}");
            assert_eq!(spec.expanded, *expanded, "{body}");
            assert_eq!(spec.unresolved, *unresolved, "{body}");
        }
    }

    #[test]
    fn substitution_in_flags() {
        let spec = first_copy(
            "FROM a\nARG U=app\nARG M=755\nCOPY --chown=$U:$U --chmod=${M} --exclude=$U/* x y\n",
        );
        assert_eq!(spec.chown.as_deref(), Some("app:app"));
        assert_eq!(spec.chmod.as_deref(), Some("755"));
        assert_eq!(spec.excludes, vec!["app/*"]);
        assert!(spec.expanded);
        let m = mounts("FROM a\nARG SRC=go.sum\nRUN --mount=source=$SRC,target=/x${SRC} true\n");
        assert_eq!(m[0].source.as_deref(), Some("go.sum"));
        assert_eq!(m[0].target.as_deref(), Some("/xgo.sum"));
    }

    #[test]
    fn substitution_errors() {
        let cases: &[&str] = &[
            "ARG A=1\nCOPY ${A /",
            "ARG A=1\nCOPY ${} /",
            "ARG A=\nCOPY ${A:?must be set} /",
            "ARG A=1\nCOPY ${A!x} /",
            "RUN true\nCOPY 'unterminated /",
        ];
        for body in cases {
            let e = err(&format!("FROM a\n{body}\n"));
            assert_eq!(e.line, 3, "{body}: {e}");
        }
        let e = err("FROM a\nARG A=1\nCOPY ${A /\n");
        assert!(e.message.contains("missing '}'"), "{e}");
        // A known, non-empty value passes `:?`.
        let spec = first_copy("FROM a\nARG A=1\nCOPY ${A:?} /\n");
        assert_eq!(paths(&spec), vec!["1"]);
    }

    #[test]
    fn global_args_scope() {
        let text = "\
ARG BASE=alpine
ARG TAG=3.19
ARG DIR=srcdir
ARG NODEF
FROM ${BASE}:${TAG} AS one
COPY $DIR /a
FROM $BASE AS two
ARG DIR
ARG TAG=local
COPY $DIR/$TAG /b
FROM ${NODEF:-x} AS three
FROM ${UNDECL:-busybox} AS four
FROM --platform=$BUILDPLATFORM img AS five
";
        let d = ok(text);
        assert_eq!(
            d.global_args,
            vec![
                ("BASE".to_string(), Some("alpine".to_string())),
                ("TAG".into(), Some("3.19".into())),
                ("DIR".into(), Some("srcdir".into())),
                ("NODEF".into(), None),
            ]
        );
        let bases: Vec<&str> = d.stages.iter().map(|s| s.base.as_str()).collect();
        assert_eq!(
            bases,
            vec!["alpine:3.19", "alpine", "${NODEF:-x}", "busybox", "img"]
        );
        assert_eq!(d.stages[4].platform.as_deref(), Some("$BUILDPLATFORM"));
        // A global ARG is not visible in a stage unless redeclared.
        assert_eq!(paths(copy_spec(&d.stages[0].instructions[0])), vec!["$DIR"]);
        assert_eq!(
            paths(copy_spec(&d.stages[1].instructions[2])),
            vec!["srcdir/local"]
        );
    }

    #[test]
    fn build_args_override() {
        let text =
            "ARG TAG=1\nARG NODEF\nFROM img:$TAG\nARG NODEF\nARG LOCAL=l\nCOPY $NODEF $LOCAL /\n";
        let d = parse_with_build_args(
            text,
            &[("TAG", "2"), ("NODEF", "n"), ("LOCAL", "L"), ("OTHER", "o")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.stages[0].base, "img:2");
        assert_eq!(
            paths(copy_spec(&d.stages[0].instructions[2])),
            vec!["n", "L"]
        );
        let d = ok(text);
        assert_eq!(d.stages[0].base, "img:1");
        assert_eq!(
            paths(copy_spec(&d.stages[0].instructions[2])),
            vec!["$NODEF", "l"]
        );
    }

    #[test]
    fn env_and_args_inherited_from_base_stage() {
        let d = ok("FROM a AS base\nENV APP=/app\nARG V=1\nFROM base\nCOPY $APP/$V /\nFROM a\nCOPY $APP /\n");
        assert_eq!(
            paths(copy_spec(&d.stages[1].instructions[0])),
            vec!["/app/1"]
        );
        assert_eq!(paths(copy_spec(&d.stages[2].instructions[0])), vec!["$APP"]);
    }

    #[test]
    fn unresolved_refs_block_follow_paths() {
        let d = ok("FROM a\nARG SRC\nCOPY $SRC /\nCOPY known /\n");
        let r = d.context_refs(None);
        assert_eq!(r.len(), 2);
        assert!(r[0].unresolved && !r[1].unresolved);
        assert_eq!(d.follow_paths(None), None);
        let d = ok("FROM a\nARG SRC\nRUN --mount=source=$SRC,target=/s true\n");
        assert!(d.context_refs(None)[0].unresolved);
        // A mount type that is not known is kept as written: not a bind mount.
        let d = ok("FROM a\nARG T\nRUN --mount=type=$T,target=/s true\n");
        assert_eq!(
            mounts("FROM a\nARG T\nRUN --mount=type=$T true\n")[0].kind,
            "$T"
        );
        assert_eq!(d.follow_paths(None), Some(vec![]));
        // A literal `$` that is escaped is not unresolved.
        let d = ok("FROM a\nCOPY \\$file /\n");
        assert_eq!(d.follow_paths(None), Some(vec!["$file".to_string()]));
    }

    #[test]
    fn other_instructions_are_recorded() {
        let d = ok("\
FROM a
LABEL a=b \"c d\"=e
ENV A=1
EXPOSE 80 443
VOLUME [\"/data\"]
USER app
WORKDIR /w
SHELL [\"bash\", \"-c\"]
HEALTHCHECK --interval=5s CMD true
STOPSIGNAL SIGTERM
CMD [\"run\"]
ENTRYPOINT run
ONBUILD COPY . /src
MAINTAINER me
");
        let kws: Vec<&str> = last(&d).iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(
            kws,
            vec![
                "LABEL",
                "ENV",
                "EXPOSE",
                "VOLUME",
                "USER",
                "WORKDIR",
                "SHELL",
                "HEALTHCHECK",
                "STOPSIGNAL",
                "CMD",
                "ENTRYPOINT",
                "ONBUILD",
                "MAINTAINER"
            ]
        );
        assert!(last(&d).iter().all(|i| i.kind == InstructionKind::Other));
        assert_eq!(d.follow_paths(None), Some(vec![]));
    }

    #[test]
    fn flags_with_quotes_and_spaces() {
        let spec = first_copy("FROM a\nCOPY --chown=\"a b\" --exclude='x y' \"s\" /d\n");
        assert_eq!(spec.chown.as_deref(), Some("a b"));
        assert_eq!(spec.excludes, vec!["x y"]);
        assert_eq!(paths(&spec), vec!["s"]);
    }

    #[test]
    fn words_and_json_helpers() {
        assert_eq!(
            parse_words("a \"b c\" d\\ e 'f\\'", '\\'),
            vec!["a", "\"b c\"", "d\\ e", "'f\\'"]
        );
        assert!(matches!(parse_json_array("[]"), JsonArgs::Strings(v) if v.is_empty()));
        assert!(matches!(parse_json_array("[\"a\"] x"), JsonArgs::NotJson));
        assert!(
            matches!(parse_json_array("[\"\\ud83d\\ude00\"]"), JsonArgs::Strings(v) if v == ["😀"])
        );
        assert!(matches!(
            parse_json_array("[1.5e+3, -0]"),
            JsonArgs::NonString
        ));
        assert!(matches!(parse_json_array("[01]"), JsonArgs::NotJson));
        assert!(matches!(parse_json_array("[\"a\nb\"]"), JsonArgs::NotJson));
        let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        assert!(matches!(parse_json_array(&deep), JsonArgs::NotJson));
        let deep_ok = format!("[\"a\", {}{}]", "[".repeat(500), "]".repeat(500));
        assert!(matches!(parse_json_array(&deep_ok), JsonArgs::NonString));
        assert_eq!(join_abs("a/../../b/./c/"), "/b/c");
        assert_eq!(join_abs(""), "/");
        assert!(is_git_ref("git@github.com:a/b"));
        assert!(is_git_ref("GIT://host/x"));
        assert!(is_git_ref("https://h/x.git?ref=1"));
        assert!(!is_git_ref("https://h/x.tgz"));
        assert!(!is_git_ref("https://h.git"));
        assert!(!is_git_ref("./git@h:x"));
        assert!(!is_git_ref("user@:x"));
    }

    #[test]
    fn deep_substitution_nesting_is_an_error_not_a_crash() {
        let nested = format!("{}x{}", "${A:-".repeat(5_000), "}".repeat(5_000));
        let e = err(&format!("FROM a\nARG A=\nCOPY {nested} /\n"));
        assert_eq!(e.line, 3);
        let heredocish = format!("FROM a\nRUN {} \n", "${X:-".repeat(5_000));
        assert!(parse(&heredocish).is_ok());
    }

    const COMPLEX: &str = "\u{feff}# syntax=docker/dockerfile:1.7\r
# escape=\\\r
ARG BASE=alpine:3.19\r
ARG V\r
FROM --platform=$BUILDPLATFORM ${BASE} AS Build\r
ARG V=1.${V:-0}\r
ENV APP=/app GOFLAGS=\"-mod=vendor\"\r
WORKDIR $APP\r
COPY --chown=1:1 --exclude=*.md [\"go.mod\", \"go.sum\", \"./\"]\r
RUN --mount=type=cache,target=/root/.cache \\\r
    --mount=type=bind,source=vendor,target=vendor \\\r
# a comment\r
\r
    go build -o /out/app ./... && echo 'done' \"ok\"\r
COPY <<-EOF /etc/app.conf\r
\tkey=${V}\r
\tEOF\r
RUN <<A cat && <<'B' cat\r
a\r
A\r
b $x\r
B\r
FROM scratch AS final\r
COPY --from=build /out/app /app\r
ADD --checksum=sha256:00 https://example.com/x.tgz git@github.com:a/b.git /x/\r
COPY [\"a b\", \"c\\u00e9\", \"/d/\"]\r
ONBUILD RUN <<EOF\r
x\r
EOF\r
LABEL a=\"b c\" d=e\r
HEALTHCHECK CMD [\"true\"]\r
ENTRYPOINT [\"/app\"]\r
";

    #[test]
    fn complex_file() {
        let d = ok(COMPLEX);
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1.7"));
        assert_eq!(d.stages.len(), 2);
        assert_eq!(d.stages[0].base, "alpine:3.19");
        assert_eq!(d.stages[0].name.as_deref(), Some("build"));
        assert_eq!(
            lines(&d)
                .iter()
                .map(|(k, a, b)| format!("{k}:{a}-{b}"))
                .collect::<Vec<_>>(),
            vec![
                "FROM alpine:3.19:5-5",
                "ARG:6-6",
                "ENV:7-7",
                "WORKDIR:8-8",
                "COPY:9-9",
                "RUN:10-14",
                "COPY:15-17",
                "RUN:18-22",
                "FROM scratch:23-23",
                "COPY:24-24",
                "ADD:25-25",
                "COPY:26-26",
                "ONBUILD:27-29",
                "LABEL:30-30",
                "HEALTHCHECK:31-31",
                "ENTRYPOINT:32-32",
            ]
        );
        assert_eq!(
            d.follow_paths(None),
            Some(vec![
                "a b".to_string(),
                "cé".into(),
                "go.mod".into(),
                "go.sum".into(),
                "vendor".into()
            ])
        );
        assert_eq!(d.reachable_stages(None), vec![0, 1]);
        let stage0 = &d.stages[0].instructions;
        assert_eq!(paths(copy_spec(&stage0[3])), vec!["go.mod", "go.sum"]);
        assert_eq!(copy_spec(&stage0[3]).excludes, vec!["*.md"]);
    }

    /// No input makes the reader panic: every prefix of a complex Dockerfile
    /// (at every byte offset), with both escape characters, plus odd inputs.
    #[test]
    fn no_input_panics() {
        let variants = [
            COMPLEX.to_string(),
            COMPLEX.replace("# escape=\\", "# escape=`"),
            COMPLEX.replace("\r\n", "\n"),
            COMPLEX.replace('"', "'"),
        ];
        for text in &variants {
            let bytes = text.as_bytes();
            for cut in 0..=bytes.len() {
                let prefix = String::from_utf8_lossy(&bytes[..cut]);
                let r = std::panic::catch_unwind(|| {
                    if let Ok(d) = parse(&prefix) {
                        let _ = d.context_refs(None);
                        let _ = d.follow_paths(Some("build"));
                        let _ = d.reachable_stages(Some("final"));
                    }
                });
                assert!(r.is_ok(), "panic on prefix of {cut} bytes: {prefix:?}");
                // Suffixes too: starts in the middle of constructs.
                let suffix = String::from_utf8_lossy(&bytes[cut..]);
                let r = std::panic::catch_unwind(|| {
                    let _ = parse(&suffix);
                });
                assert!(r.is_ok(), "panic on suffix from {cut}: {suffix:?}");
            }
        }
        let odd = [
            "\\",
            "`",
            "\u{feff}",
            "FROM",
            "FROM a\nCOPY --",
            "FROM a\nCOPY -- --",
            "FROM a\nCOPY \"--a\" b",
            "FROM a\nCOPY --a=\"",
            "FROM a\nCOPY --a=\\",
            "FROM a\nCOPY x ${",
            "FROM a\nCOPY x ${a",
            "FROM a\nCOPY x ${a:",
            "FROM a\nCOPY x ${a/",
            "FROM a\nCOPY x ${a//b",
            "FROM a\nARG a=x\nCOPY ${a%\\} /",
            "FROM a\nARG a=x\nCOPY ${a#[} /",
            "FROM a\nARG a=x\nCOPY ${a/[/]} /",
            "FROM a\nRUN <<",
            "FROM a\nRUN 9<<-",
            "FROM a\nRUN <<\"",
            "FROM a\nRUN <<'x",
            "FROM a\nRUN --mount=\"",
            "FROM a\nRUN --mount=a,\"b\"c",
            "FROM a\nCOPY [\"\\u",
            "FROM a\nCOPY [\"\\ud800\\u\"]",
            "FROM a\nCOPY [\"\\ud800\", \"\\udc00x\"] /",
            "FROM a\nCOPY [-] /",
            "FROM a\nCOPY [1e] /",
            "FROM a\nCOPY [{\"a\":}] /",
            "FROM a\nCOPY [{\"a\" 1}] /",
            "FROM a\nONBUILD",
            "FROM a\nONBUILD ONBUILD",
            "FROM a\nHEALTHCHECK",
            "FROM a\nHEALTHCHECK CMD [1]",
            "ARG\nFROM a",
            "# escape=`\n`",
            "FROM a\n\u{a0}COPY\u{a0}x y",
            "FROM a\nCOPY ü\\\u{a0}ß /",
            "FROM a\nCOPY --chown=\\ü a b",
        ];
        for text in odd {
            let r = std::panic::catch_unwind(|| {
                if let Ok(d) = parse(text) {
                    let _ = d.follow_paths(None);
                }
            });
            assert!(r.is_ok(), "panic on {text:?}");
        }
    }
}
