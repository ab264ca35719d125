//! ctxray: what `docker build` sends as its build context, and why.
//!
//! The library applies `.dockerignore` exactly as Docker's two context
//! engines do ([`walk::Engine::Classic`]: the legacy builder and the Engine
//! API's tar; [`walk::Engine::Buildkit`]: today's default `docker build`),
//! and writes the context tar byte for byte as the Docker CLI uploads it.
//! Data flows one way: ignore file ([`ignorefile`]) → [`matcher`] →
//! [`walk`] → entries → [`archive`] (the tar), [`report`], [`lint`],
//! [`check`]. Every decision carries the line of the ignore file that made
//! it.
//!
//! # The context tar for the Engine API
//!
//! What a program building images through the Engine API (e.g. with
//! bollard's `build_image`) must upload: the same bytes as
//! `DOCKER_BUILDKIT=0 docker build`.
//!
//! ```
//! use ctxray::context::{Context, Options};
//! use ctxray::walk::Engine;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY . /\n")?;
//! # std::fs::write(dir.path().join(".dockerignore"), "*.log\n")?;
//! # std::fs::write(dir.path().join("app.py"), "print('hi')\n")?;
//! # std::fs::write(dir.path().join("debug.log"), "noise")?;
//! # let context_dir = dir.path();
//! let ctx = Context::open(&Options::new(context_dir, Engine::Classic))?;
//! // Any `Write`: a Vec, a file, a hyper body channel, a gzip encoder.
//! let (tar, summary) = ctxray::archive::pack(&ctx, Vec::new(), |_| false)?;
//! assert_eq!(summary.bytes as usize, tar.len());
//! # let names: Vec<String> = tar::Archive::new(&tar[..]).entries()?
//! #     .map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
//! # assert_eq!(names, [".dockerignore", "Dockerfile", "app.py"]);
//! // e.g. bollard: docker.build_image(options, None, Some(tar.into()))
//! # Ok(())
//! # }
//! ```
//!
//! # Entries and their decisions
//!
//! ```
//! use ctxray::context::{Context, Options};
//! use ctxray::walk::{Engine, Event, Status, WalkMode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n")?;
//! # std::fs::write(dir.path().join(".dockerignore"), "*.log\n")?;
//! # std::fs::write(dir.path().join("debug.log"), "noise")?;
//! let ctx = Context::open(&Options::new(dir.path(), Engine::Buildkit))?;
//! let patterns = ctx.effective.patterns();
//! ctx.walk(WalkMode::All, |ev| {
//!     if let Event::Entry(e) = ev {
//!         let why = e.verdict.by.map(|i| format!("line {}", patterns[i].line));
//!         let sent = e.status == Status::Sent;
//!         println!("{} sent={sent} decided by {why:?}", String::from_utf8_lossy(e.path));
//!     }
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! Sizes without writing anything: [`report::build`] (what is sent and left
//! out, by category and by rule, and the exact tar size).
#![deny(missing_docs)]

pub mod archive;
pub mod check;
pub mod context;
pub mod dockerfile;
pub mod error;
pub mod fsx;
pub mod gostr;
pub mod ignorefile;
pub mod lint;
pub mod matcher;
mod redecide;
pub mod report;
pub mod walk;
