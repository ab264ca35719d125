//! The `.ctxray.toml` configuration file: its `[check]` table.
//!
//! ```toml
//! [check]
//! max-bytes = "50MB"          # or a number of bytes
//! max-files = 5000
//! max-tar-bytes = "60MiB"
//! deny = [".git", "**/*.pem"] # replaces the default [".git"]
//! require = ["Dockerfile", "app/main.py"]
//! fail-on = "warning"         # info | warning | error | never
//! baseline = "ctxray-baseline.json"
//! max-growth = 10             # percent, with baseline
//! disable = ["secrets"]       # rule ids to turn off
//! ```
//!
//! Every error names the file, the line and the key.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::size::{parse_percent, parse_size};
use super::{FailOn, RuleId, Settings};

/// The configuration file's name at the context root.
pub const FILE_NAME: &str = ".ctxray.toml";

/// A configuration file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {}{message}", file.display(), key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The key concerned (dotted, e.g. `check.max-bytes`), if any.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()
        .get(..at)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    dir: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, at: usize, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: line_of(self.text, at),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn integer(v: &DeValue<'_>) -> Option<Result<u64, ()>> {
    match v {
        DeValue::Integer(i) => {
            let digits = i.as_str();
            Some(
                i128::from_str_radix(digits, i.radix())
                    .ok()
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or(()),
            )
        }
        _ => None,
    }
}

fn size_value(c: &Ctx<'_>, key: &str, v: &Spanned<DeValue<'_>>) -> Result<u64, ConfigError> {
    let at = v.span().start;
    match integer(v.get_ref()) {
        Some(Ok(n)) => return Ok(n),
        Some(Err(())) => return Err(c.err(at, key, "expected a non-negative size in bytes")),
        None => {}
    }
    match v.get_ref() {
        DeValue::String(s) => parse_size(s).map_err(|m| c.err(at, key, m)),
        other => Err(c.err(
            at,
            key,
            format!(
                "expected a size (a number of bytes, or a string like \"50MB\"), found {}",
                type_name(other)
            ),
        )),
    }
}

fn count_value(c: &Ctx<'_>, key: &str, v: &Spanned<DeValue<'_>>) -> Result<u64, ConfigError> {
    match integer(v.get_ref()) {
        Some(Ok(n)) => Ok(n),
        Some(Err(())) => Err(c.err(v.span().start, key, "expected a non-negative integer")),
        None => Err(c.err(
            v.span().start,
            key,
            format!(
                "expected a non-negative integer, found {}",
                type_name(v.get_ref())
            ),
        )),
    }
}

fn string_list(
    c: &Ctx<'_>,
    key: &str,
    v: &Spanned<DeValue<'_>>,
) -> Result<Vec<(String, usize)>, ConfigError> {
    let DeValue::Array(items) = v.get_ref() else {
        return Err(c.err(
            v.span().start,
            key,
            format!(
                "expected an array of strings, found {}",
                type_name(v.get_ref())
            ),
        ));
    };
    let mut out = Vec::new();
    for item in items {
        match item.get_ref() {
            DeValue::String(s) => out.push((s.to_string(), line_of(c.text, item.span().start))),
            other => {
                return Err(c.err(
                    item.span().start,
                    key,
                    format!(
                        "expected an array of strings, found {} in it",
                        type_name(other)
                    ),
                ))
            }
        }
    }
    Ok(out)
}

const KEYS: &str =
    "max-bytes, max-files, max-tar-bytes, deny, require, fail-on, baseline, max-growth, disable";

/// Parses the text of a configuration file. Relative paths in it (the
/// baseline) are taken relative to the file's directory.
pub fn parse(text: &str, file: &Path) -> Result<Settings, ConfigError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let c = Ctx { file, text, dir };
    let root = DeTable::parse(text).map_err(|e| ConfigError {
        file: file.to_path_buf(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        key: None,
        message: format!("not valid TOML: {}", e.message().trim()),
    })?;
    let mut settings = Settings {
        source: Some(file.to_path_buf()),
        ..Settings::default()
    };
    for (k, v) in root.get_ref() {
        let name = k.get_ref().as_ref();
        if name != "check" {
            return Err(c.err(
                k.span().start,
                name,
                "unknown key (the configuration goes in a [check] table)",
            ));
        }
        let DeValue::Table(t) = v.get_ref() else {
            return Err(c.err(
                v.span().start,
                name,
                format!("expected a table, found {}", type_name(v.get_ref())),
            ));
        };
        for (k, v) in t {
            apply(&c, &mut settings, k, v)?;
        }
    }
    Ok(settings)
}

fn apply(
    c: &Ctx<'_>,
    s: &mut Settings,
    k: &Spanned<std::borrow::Cow<'_, str>>,
    v: &Spanned<DeValue<'_>>,
) -> Result<(), ConfigError> {
    let name = k.get_ref().as_ref();
    let key = format!("check.{name}");
    let key = key.as_str();
    let at = v.span().start;
    let line = line_of(c.text, at);
    match name {
        "max-bytes" => s.max_bytes = Some(size_value(c, key, v)?),
        "max-tar-bytes" => s.max_tar_bytes = Some(size_value(c, key, v)?),
        "max-files" => s.max_files = Some(count_value(c, key, v)?),
        "deny" => {
            s.deny = Some(
                string_list(c, key, v)?
                    .into_iter()
                    .map(|(g, l)| super::Glob {
                        pattern: g,
                        origin: format!("{}:{l}", c.file.display()),
                        line: l,
                    })
                    .collect(),
            )
        }
        "require" => s.require = Some(string_list(c, key, v)?.into_iter().map(|p| p.0).collect()),
        "fail-on" => {
            let DeValue::String(t) = v.get_ref() else {
                return Err(c.err(
                    at,
                    key,
                    format!(
                        "expected one of \"info\", \"warning\", \"error\", \"never\", found {}",
                        type_name(v.get_ref())
                    ),
                ));
            };
            s.fail_on = Some(FailOn::parse(t).map_err(|m| c.err(at, key, m))?);
        }
        "baseline" => {
            let DeValue::String(t) = v.get_ref() else {
                return Err(c.err(
                    at,
                    key,
                    format!("expected a path string, found {}", type_name(v.get_ref())),
                ));
            };
            s.baseline = Some((c.dir.join(t.as_ref()), line));
        }
        "max-growth" => {
            let pct = match v.get_ref() {
                DeValue::Integer(_) => integer(v.get_ref())
                    .and_then(Result::ok)
                    .map(|n| n as f64)
                    .ok_or_else(|| c.err(at, key, "expected a non-negative percentage"))?,
                DeValue::Float(f) => parse_percent(f.as_str()).map_err(|m| c.err(at, key, m))?,
                DeValue::String(t) => parse_percent(t).map_err(|m| c.err(at, key, m))?,
                other => {
                    return Err(c.err(
                        at,
                        key,
                        format!("expected a percentage, found {}", type_name(other)),
                    ))
                }
            };
            s.max_growth = Some((pct, line));
        }
        "disable" => {
            for (id, l) in string_list(c, key, v)? {
                let rule = RuleId::from_id(&id).ok_or_else(|| ConfigError {
                    file: c.file.to_path_buf(),
                    line: l,
                    key: Some(key.to_string()),
                    message: format!(
                        "unknown rule {id:?} (rules: {})",
                        RuleId::ALL.map(|r| r.id()).join(", ")
                    ),
                })?;
                s.disable.push(rule);
            }
        }
        _ => {
            return Err(c.err(
                k.span().start,
                key,
                format!("unknown key (known keys: {KEYS})"),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Settings, ConfigError> {
        parse(text, Path::new("dir/.ctxray.toml"))
    }

    fn e(text: &str) -> ConfigError {
        p(text).unwrap_err()
    }

    #[test]
    fn full_file() {
        let s = p(r#"
# comment
[check]
max-bytes = "50MB"
max-files = 0x10
max-tar-bytes = 1024
deny = [".git", "**/*.pem"]
require = ["Dockerfile"]
fail-on = "warning"
baseline = "base.json"
max-growth = 2.5
disable = ["secrets", "lint"]
"#)
        .unwrap();
        assert_eq!(s.max_bytes, Some(50_000_000));
        assert_eq!(s.max_files, Some(16));
        assert_eq!(s.max_tar_bytes, Some(1024));
        let deny = s.deny.unwrap();
        assert_eq!(deny.len(), 2);
        assert_eq!(deny[1].pattern, "**/*.pem");
        assert_eq!(deny[1].line, 7);
        assert_eq!(deny[1].origin, "dir/.ctxray.toml:7");
        assert_eq!(s.require, Some(vec!["Dockerfile".to_string()]));
        assert_eq!(s.fail_on, Some(FailOn::At(crate::lint::Level::Warning)));
        assert_eq!(s.baseline, Some((PathBuf::from("dir/base.json"), 10)));
        assert_eq!(s.max_growth, Some((2.5, 11)));
        assert_eq!(s.disable, vec![RuleId::Secrets, RuleId::Lint]);
        // Empty and dotted forms.
        assert_eq!(p("").unwrap().max_bytes, None);
        assert_eq!(p("check.max-files = 3").unwrap().max_files, Some(3));
        assert_eq!(
            p("[check]\nmax-growth = \"5%\"").unwrap().max_growth,
            Some((5.0, 2))
        );
    }

    #[test]
    fn errors_name_file_key_and_line() {
        let x = e("[check]\nmax-bytes = \"50MB\"\nmax-byts = 3\n");
        assert_eq!(x.line, 3);
        assert_eq!(x.key.as_deref(), Some("check.max-byts"));
        assert!(x.message.contains("unknown key"), "{x}");
        assert!(
            x.to_string()
                .starts_with("dir/.ctxray.toml:3: check.max-byts: unknown key"),
            "{x}"
        );

        let x = e("[check]\n\nmax-files = \"many\"\n");
        assert_eq!((x.line, x.key.as_deref()), (3, Some("check.max-files")));
        assert!(x.message.contains("found a string"), "{x}");

        let x = e("[check]\nmax-bytes = \"50XB\"\n");
        assert_eq!((x.line, x.key.as_deref()), (2, Some("check.max-bytes")));
        assert!(x.message.contains("unknown unit"), "{x}");

        let x = e("[check]\nmax-bytes = -1\n");
        assert_eq!(x.line, 2);

        let x = e("[check]\ndeny = [\n  \".git\",\n  3,\n]\n");
        assert_eq!((x.line, x.key.as_deref()), (4, Some("check.deny")));

        let x = e("[check]\nfail-on = \"fatal\"\n");
        assert_eq!((x.line, x.key.as_deref()), (2, Some("check.fail-on")));

        let x = e("[check]\ndisable = [\"dney\"]\n");
        assert_eq!((x.line, x.key.as_deref()), (2, Some("check.disable")));
        assert!(x.message.contains("unknown rule \"dney\""), "{x}");

        let x = e("[lint]\nx = 1\n");
        assert_eq!((x.line, x.key.as_deref()), (1, Some("lint")));

        let x = e("check = 3\n");
        assert_eq!((x.line, x.key.as_deref()), (1, Some("check")));

        let x = e("[check]\nmax-bytes = \n");
        assert_eq!((x.line, x.key.as_deref()), (2, None));
        assert!(x.message.contains("not valid TOML"), "{x}");

        let x = e("[check]\nmax-growth = true\n");
        assert_eq!((x.line, x.key.as_deref()), (2, Some("check.max-growth")));
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
