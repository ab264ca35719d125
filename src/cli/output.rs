//! Output policy: colors, sanitized names, human sizes, bars.

use std::io::IsTerminal;

/// Whether to color, decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

pub fn use_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// ANSI styling that is a no-op when colors are off.
#[derive(Debug, Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.wrap("36", s)
    }
}

/// A file name made safe to print: control characters, invalid UTF-8 and
/// bidirectional overrides are escaped.
pub fn sanitize(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while !rest.is_empty() {
        let (c, n) = ctxray::gostr::decode_rune(rest);
        match c {
            Some('\\') => out.push_str("\\\\"),
            Some(c)
                if c.is_control()
                    || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') =>
            {
                if (c as u32) < 0x80 {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                } else {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32));
                }
            }
            Some(c) => out.push(c),
            // rest is not empty (loop condition); decode_rune's width fits it.
            None => out.push_str(&format!("\\x{:02x}", rest[0])),
        }
        rest = &rest[n.max(1)..];
    }
    out
}

/// `sanitize` for a string that may already be lossy.
pub fn sanitize_str(s: &str) -> String {
    sanitize(s.as_bytes())
}

/// Human size (decimal units, like `docker build`'s context line).
pub fn size(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::DECIMAL)
}

/// A bar of `width` cells for `part` of `whole`, shaded like dust's.
pub fn bar(part: u64, whole: u64, width: usize) -> String {
    if whole == 0 {
        return " ".repeat(width);
    }
    let cells = ((part as f64 / whole as f64) * width as f64).round() as usize;
    let cells = cells.min(width);
    format!("{}{}", "█".repeat(cells), "░".repeat(width - cells))
}

/// `part` as a percentage of `whole`.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// `println!` that returns the write error (a closed pipe ends the command
/// quietly instead of panicking).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `print!` that returns the write error.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

pub(crate) use {out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_controls_and_bad_bytes() {
        assert_eq!(sanitize(b"a\nb"), "a\\x0ab");
        assert_eq!(sanitize(b"\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(sanitize(b"x\xffy"), "x\\xffy");
        assert_eq!(sanitize("é\u{202e}".as_bytes()), "é\\u{202e}");
    }

    #[test]
    fn bars() {
        assert_eq!(bar(1, 2, 4), "██░░");
        assert_eq!(bar(0, 0, 2), "  ");
    }
}
