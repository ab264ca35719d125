//! Docker CLI plugin mode (docker/cli `cli-plugins`): installed as
//! `~/.docker/cli-plugins/docker-ctxray`, ctxray runs as `docker ctxray ...`.
//!
//! The protocol, as docker/cli's plugin manager speaks it:
//! * `docker-ctxray docker-cli-plugin-metadata` prints a JSON object
//!   (`SchemaVersion` "0.1.0", `Vendor`, ...) and exits 0; docker runs it
//!   to list plugins (`docker --help`) and before every invocation.
//! * `docker [GLOBAL OPTIONS] ctxray ARGS...` runs the binary with docker's
//!   own arguments unchanged: `docker-ctxray [GLOBAL OPTIONS] ctxray ARGS...`
//!   (argv[1] is the plugin name when there are no global options).
//! * `docker help ctxray [SUB]` runs `docker-ctxray help ctxray [SUB]`.
//! * Shell completion runs `docker-ctxray __complete ctxray ARGS...`.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The plugin's name (the binary is `docker-<name>`).
pub const NAME: &str = "ctxray";

/// The metadata subcommand docker runs.
pub const METADATA: &str = "docker-cli-plugin-metadata";

/// How the binary was invoked.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    /// As `ctxray` (or `docker-ctxray` run by hand): parse as given.
    Normal(Vec<OsString>),
    /// Docker asks for the plugin metadata.
    Metadata,
    /// Docker asks for shell completions (cobra's `__complete`).
    Complete,
    /// Run by docker: the arguments after the plugin name, with argv[0].
    Plugin(Vec<OsString>),
}

/// docker's global options that take a value (`docker --help`).
const VALUE_OPTIONS: &[&str] = &[
    "--config",
    "-c",
    "--context",
    "-H",
    "--host",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
];

/// Classifies the command line.
pub fn classify(args: Vec<OsString>) -> Invocation {
    if args.get(1).is_some_and(|a| a == METADATA) {
        return Invocation::Metadata;
    }
    let as_plugin = args
        .first()
        .and_then(|a| Path::new(a).file_stem())
        .is_some_and(|s| s == OsStr::new(&format!("docker-{NAME}")));
    if !as_plugin {
        return Invocation::Normal(args);
    }
    // Skip docker's global options up to the plugin name.
    let mut help = false;
    let mut i = 1;
    while let Some(a) = args.get(i) {
        let s = a.to_string_lossy();
        if s == NAME {
            // args.get(i) is Some with i >= 1, so args[0] exists and i + 1 <= len.
            let mut rest = vec![args[0].clone()];
            rest.extend(args[i + 1..].iter().cloned());
            if help {
                rest.push("--help".into());
            }
            return Invocation::Plugin(rest);
        }
        if s == "__complete" || s == "__completeNoDesc" {
            return Invocation::Complete;
        }
        if s == "help" {
            help = true;
        } else if VALUE_OPTIONS.contains(&s.as_ref()) {
            i += 1;
        } else if !s.starts_with('-') {
            break;
        }
        i += 1;
    }
    // Run by hand as docker-ctxray: an ordinary command line.
    Invocation::Normal(args)
}

/// The metadata JSON docker reads.
pub fn metadata() -> String {
    let mut m = serde_json::json!({
        "SchemaVersion": "0.1.0",
        "Vendor": "ctxray",
        "Version": env!("CARGO_PKG_VERSION"),
        "ShortDescription": "Show what docker build sends as its build context, and why",
    });
    let url = env!("CARGO_PKG_REPOSITORY");
    if !url.is_empty() {
        m["URL"] = url.into(); // json! object: inserts the key
    }
    serde_json::to_string_pretty(&m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn classifies() {
        use Invocation::*;
        assert_eq!(
            classify(os(&["ctxray", "report"])),
            Normal(os(&["ctxray", "report"]))
        );
        assert_eq!(classify(os(&["ctxray", METADATA])), Metadata);
        assert_eq!(classify(os(&["/p/docker-ctxray", METADATA])), Metadata);
        let p = "/home/u/.docker/cli-plugins/docker-ctxray";
        assert_eq!(
            classify(os(&[p, "ctxray", "report", "."])),
            Plugin(os(&[p, "report", "."]))
        );
        assert_eq!(classify(os(&[p, "ctxray"])), Plugin(os(&[p])));
        assert_eq!(
            classify(os(&[
                p,
                "--debug",
                "-H",
                "unix:///x",
                "--context=x",
                "ctxray",
                "ls"
            ])),
            Plugin(os(&[p, "ls"]))
        );
        // A global option's value is not the plugin name.
        assert_eq!(
            classify(os(&[p, "--context", "ctxray", "ctxray", "ls"])),
            Plugin(os(&[p, "ls"]))
        );
        assert_eq!(
            classify(os(&[p, "help", "ctxray"])),
            Plugin(os(&[p, "--help"]))
        );
        assert_eq!(
            classify(os(&[p, "help", "ctxray", "check"])),
            Plugin(os(&[p, "check", "--help"]))
        );
        assert_eq!(classify(os(&[p, "__complete", "ctxray", ""])), Complete);
        // Run by hand.
        assert_eq!(
            classify(os(&[p, "report", "."])),
            Normal(os(&[p, "report", "."]))
        );
        assert_eq!(
            classify(os(&["docker-ctxray.exe", "ctxray"])),
            Plugin(os(&["docker-ctxray.exe"]))
        );
    }

    #[test]
    fn metadata_is_what_docker_wants() {
        let v: serde_json::Value = serde_json::from_str(&metadata()).unwrap();
        assert_eq!(v["SchemaVersion"], "0.1.0");
        assert_eq!(v["Vendor"], "ctxray");
        assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
        assert!(v["ShortDescription"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
    }
}
