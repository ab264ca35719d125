//! Files that hold secrets and must not be sent.

/// If the context path `rel` (slash-separated, relative to the context
/// root) names a file that usually holds a secret, what kind it is.
pub fn secret_kind(rel: &[u8]) -> Option<&'static str> {
    let name = rel.rsplit(|&c| c == b'/').next().unwrap_or(rel);
    let has_dir = |d: &[u8]| rel.split(|&c| c == b'/').rev().skip(1).any(|c| c == d);
    let ends = |s: &[u8]| name.len() > s.len() && name.ends_with(s);
    match name {
        b".env" => return Some("environment file"),
        b"id_rsa" | b"id_dsa" | b"id_ecdsa" | b"id_ed25519" => return Some("SSH private key"),
        b".npmrc" | b".pypirc" | b".netrc" | b".git-credentials" => {
            return Some("credentials file")
        }
        b"credentials" | b"credentials.json" => return Some("credentials file"),
        _ => {}
    }
    if name.starts_with(b".env.")
        && !matches!(
            name,
            b".env.example" | b".env.sample" | b".env.template" | b".env.dist"
        )
    {
        return Some("environment file");
    }
    if ends(b".pem") || ends(b".key") || ends(b".p12") || ends(b".pfx") {
        return Some("private key or certificate");
    }
    if ends(b".tfstate") || ends(b".tfstate.backup") {
        return Some("terraform state");
    }
    if has_dir(b".aws") || has_dir(b".ssh") {
        return Some("credentials directory");
    }
    if name == b"config.json" && has_dir(b".docker") {
        return Some("docker credentials");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::secret_kind;

    #[test]
    fn kinds() {
        for p in [
            ".env",
            "app/.env.production",
            "id_rsa",
            "certs/server.key",
            "x.pem",
            "infra/prod.tfstate",
            ".aws/credentials",
            "home/.ssh/config",
            ".docker/config.json",
            ".npmrc",
        ] {
            assert!(secret_kind(p.as_bytes()).is_some(), "{p}");
        }
        for p in [
            ".env.example",
            "environment.py",
            "key",
            "docker/config.json",
            "pem",
            "src/.envrc.md",
        ] {
            assert_eq!(secret_kind(p.as_bytes()), None, "{p}");
        }
    }
}
