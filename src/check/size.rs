//! Sizes (`50MB`, `1.5GiB`, `1024`) and percentages (`10`, `2.5%`).

/// Parses a size: a non-negative number with an optional unit. Decimal
/// units (`k`/`kB`, `M`/`MB`, `G`/`GB`, `T`/`TB`) are powers of 1000,
/// binary units (`KiB`, `MiB`, `GiB`, `TiB`) powers of 1024; `B` or no unit
/// is bytes. Units are case-insensitive; a fraction is rounded down to a
/// whole byte.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let mult: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000_u128.pow(2),
        "g" | "gb" => 1000_u128.pow(3),
        "t" | "tb" => 1000_u128.pow(4),
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
            "bad size {s:?}: unknown unit {unit:?} (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
        ))
        }
    };
    let num = num.replace('_', "");
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num.as_str(), ""),
    };
    if int.is_empty() && frac.is_empty() || frac.contains('.') || frac.len() > 18 {
        return Err(format!(
            "bad size {s:?}: expected a number with an optional unit, like 50MB, 1.5GiB or 1024"
        ));
    }
    let parse = |d: &str| -> Result<u128, String> {
        if d.is_empty() {
            return Ok(0);
        }
        d.parse::<u128>()
            .map_err(|_| format!("bad size {s:?}: the number is too large"))
    };
    let scale = 10_u128.pow(frac.len() as u32);
    let total = parse(int)?
        .checked_mul(scale)
        .and_then(|v| v.checked_add(parse(frac).ok()?))
        .and_then(|v| v.checked_mul(mult))
        .map(|v| v / scale)
        .ok_or_else(|| format!("bad size {s:?}: too large"))?;
    u64::try_from(total).map_err(|_| format!("bad size {s:?}: too large"))
}

/// Parses a percentage: a non-negative number, optionally followed by `%`.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "bad percentage {s:?}: expected a non-negative number like 10 or 2.5%"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (s, v) in [
            ("1024", 1024),
            ("0", 0),
            ("50MB", 50_000_000),
            ("50 mb", 50_000_000),
            ("1.5GiB", 1_610_612_736),
            ("1.5GB", 1_500_000_000),
            ("2KiB", 2048),
            ("2k", 2000),
            ("10B", 10),
            (" 3 TiB ", 3 << 40),
            ("1_000", 1000),
            (".5kB", 500),
            ("1.0005kB", 1000),
        ] {
            assert_eq!(parse_size(s), Ok(v), "{s}");
        }
        for s in [
            "",
            "MB",
            "abc",
            "1.2.3",
            "-5",
            "5 XB",
            "1e3",
            "99999999999999999999TB",
        ] {
            assert!(parse_size(s).is_err(), "{s}");
        }
        assert!(parse_size("5XB").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn percents() {
        assert_eq!(parse_percent("10"), Ok(10.0));
        assert_eq!(parse_percent("2.5%"), Ok(2.5));
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("ten").is_err());
        assert!(parse_percent("NaN").is_err());
    }
}
