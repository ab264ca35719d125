//! The context walk, as Docker's two engines do it (SPEC §c, §d.4, §e).
//!
//! Both engines walk with Go's `filepath.WalkDir`: names sorted byte-wise
//! per directory, a directory before its contents, symlinks never
//! followed, and `MatchesUsingParentResults` with the closest parent's
//! match info. They differ in when an excluded directory may be skipped
//! and in whether an excluded directory is itself sent:
//!
//! * classic (moby/go-archive `Tarballer.Do`): an excluded directory is
//!   skipped unless some exception's literal text + `/` starts with
//!   `<dir>/`; a descended excluded directory is never written.
//! * buildkit (tonistiigi/fsutil `filterFS.Walk`): skipping is allowed only
//!   when no exception (minus a trailing `/**` or `/*`) holds a wildcard;
//!   the parents of a sent entry are sent lazily, even if excluded.
//!
//! [`Walker::walk`] yields entries in send order. With [`WalkMode::All`] it also
//! yields what is left out, including the inside of skipped directories
//! (never skipping anything), for the report.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::fsx::{self, Child, Prefetch, Stat};
use crate::matcher::{without_trailing_glob, MatchError, MatchInfo, Matcher, Verdict};

/// Which of Docker's context engines to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// The legacy builder (`DOCKER_BUILDKIT=0`) and the Engine API tar.
    Classic,
    /// BuildKit, the default `docker build` since Docker 23.
    Buildkit,
}

impl Engine {
    /// The engine's name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Classic => "classic",
            Engine::Buildkit => "buildkit",
        }
    }
}

/// What kind of file system object an entry is (from `lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix socket (Docker's tar writer cannot store these).
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

impl Kind {
    /// The kind of an `st_mode`'s file-type bits.
    pub fn from_mode(mode: u32) -> Kind {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFSOCK => Kind::Socket,
            libc::S_IFCHR => Kind::CharDevice,
            libc::S_IFBLK => Kind::BlockDevice,
            _ => Kind::File,
        }
    }

    fn from_d_type(t: u8) -> Option<Kind> {
        Some(match t {
            libc::DT_DIR => Kind::Dir,
            libc::DT_LNK => Kind::Symlink,
            libc::DT_FIFO => Kind::Fifo,
            libc::DT_SOCK => Kind::Socket,
            libc::DT_CHR => Kind::CharDevice,
            libc::DT_BLK => Kind::BlockDevice,
            libc::DT_REG => Kind::File,
            _ => return None,
        })
    }
}

/// Whether an entry is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Part of the context the engine sends.
    Sent,
    /// Left out.
    Excluded,
    /// (BuildKit, [`WalkMode::All`] only) an excluded directory that is
    /// walked: it is sent if anything below it is; [`Event::Leave`] tells.
    Pending,
}

/// One entry of the walk.
#[derive(Debug)]
pub struct Entry<'a> {
    /// Path relative to the context root, `/`-separated, no trailing `/`.
    pub path: &'a [u8],
    /// Absolute path on disk.
    pub abs: &'a Path,
    /// File type.
    pub kind: Kind,
    /// Sent or not.
    pub status: Status,
    /// The matcher's verdict on this path. For entries inside a directory
    /// the engine skipped, the verdict of that directory.
    pub verdict: Verdict,
    /// True when the entry lies in a directory the engine skipped without
    /// looking inside ([`WalkMode::All`] only).
    pub in_skipped_dir: bool,
    /// Depth below the root (top-level entries have depth 1).
    pub depth: usize,
    /// The entry's `lstat`, read with its directory's listing when
    /// [`Walker::metadata`] is set (`None` for
    /// the lazily sent parents of BuildKit, and when the entry vanished).
    pub meta: Option<&'a Stat>,
}

/// What the walker reports.
#[derive(Debug)]
pub enum Event<'a> {
    /// An entry, in walk order.
    Entry(Entry<'a>),
    /// ([`WalkMode::All`] only) the walk leaves a directory.
    Leave {
        /// The directory's relative path.
        path: &'a [u8],
        /// Whether it was sent.
        sent: bool,
    },
}

/// Only what is sent (skipping what the engine skips), or everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkMode {
    /// Sent entries in send order (plus excluded non-directories met on
    /// the way, with status [`Status::Excluded`]; skipped directories are
    /// not entered).
    Sent,
    /// Every entry under the context.
    All,
}

/// A problem the walk met.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// A pattern that cannot compile was reached.
    #[error(transparent)]
    Match(#[from] MatchError),
    /// Reading a directory or an entry failed where the engine fails.
    #[error("{path}: {source}")]
    Io {
        /// The absolute path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Something Docker would log and carry on from (classic engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What happened.
    pub message: String,
}

/// The walker's configuration.
pub struct Walker<'m> {
    /// The engine.
    pub engine: Engine,
    /// The exclude patterns (as the engine holds them).
    pub excludes: &'m Matcher,
    /// BuildKit include patterns (`FollowPaths`), if any.
    pub includes: Option<&'m Matcher>,
    /// Sent entries only, or all.
    pub mode: WalkMode,
    /// Read every entry's metadata with its directory's listing
    /// ([`Entry::meta`]); with [`WalkMode::All`], directories are also read
    /// ahead on the other cores.
    pub metadata: bool,
}

impl<'m> Walker<'m> {
    /// A walker over `excludes`, with no include patterns and no metadata.
    pub fn new(engine: Engine, excludes: &'m Matcher, mode: WalkMode) -> Walker<'m> {
        Walker {
            engine,
            excludes,
            includes: None,
            mode,
            metadata: false,
        }
    }
}

const PATTERN_CHARS: &[u8] = b"*[]?^\\";

/// Whether some pattern of `m` (exceptions when `exceptions`, else normal
/// ones) has text + `/` starting with `dir/`; BuildKit strips a trailing
/// `/**` or `/*` first.
pub(crate) fn prefix_reopens(m: &Matcher, dir: &[u8], exceptions: bool, strip: bool) -> bool {
    m.prefix_reopens(dir, exceptions, strip)
}

/// Whether no pattern of `m` (exceptions when `exceptions`, else normal
/// ones), minus a trailing `/**` or `/*`, holds a wildcard: then BuildKit
/// may skip directories by the prefix test alone.
pub(crate) fn only_prefix(m: &Matcher, exceptions: bool) -> bool {
    !m.patterns_of(exceptions).any(|p| {
        without_trailing_glob(&p.text)
            .iter()
            .any(|c| PATTERN_CHARS.contains(c))
    })
}

struct DirFrame {
    rel_len: usize,
    excl_info: MatchInfo,
    incl_info: Option<MatchInfo>,
    /// Buildkit: not yet sent; sent lazily before its first sent descendant.
    pending: bool,
    sent: bool,
    /// The directory's own verdict (for a lazily sent parent).
    verdict: Verdict,
}

struct State<'w, 'm, F> {
    w: &'w Walker<'m>,
    emit: F,
    rel: Vec<u8>,
    abs: PathBuf,
    frames: Vec<DirFrame>,
    warnings: Vec<Warning>,
    only_prefix_excl: bool,
    only_prefix_incl: bool,
    stop: bool,
    prefetch: Option<&'w Prefetch>,
}

impl<'w, 'm, E, F> State<'w, 'm, F>
where
    F: FnMut(Event<'_>) -> Result<(), E>,
    E: From<WalkError>,
{
    fn entry(
        &mut self,
        kind: Kind,
        status: Status,
        verdict: Verdict,
        in_skipped_dir: bool,
        meta: Option<&Stat>,
    ) -> Result<(), E> {
        let depth = self.frames.len() + 1;
        (self.emit)(Event::Entry(Entry {
            path: &self.rel,
            abs: &self.abs,
            kind,
            status,
            verdict,
            in_skipped_dir,
            depth,
            meta,
        }))
    }

    /// BuildKit: send the pending ancestors of an entry about to be sent.
    fn flush_pending(&mut self) -> Result<(), E> {
        // i < frames.len(); a frame's rel_len is rel's length when it was
        // pushed, and rel is only cut back once its frames are popped.
        for i in 0..self.frames.len() {
            if self.frames[i].sent {
                continue;
            }
            self.frames[i].sent = true;
            if self.w.mode == WalkMode::Sent {
                let f = &self.frames[i];
                let rel = &self.rel[..f.rel_len];
                // The ancestor's absolute path: strip the extra components.
                let extra = self.frames.len() - i;
                let mut abs: &Path = &self.abs;
                for _ in 0..extra {
                    abs = abs.parent().unwrap_or(abs);
                }
                (self.emit)(Event::Entry(Entry {
                    path: rel,
                    abs,
                    kind: Kind::Dir,
                    status: Status::Sent,
                    verdict: f.verdict,
                    in_skipped_dir: false,
                    depth: i + 1,
                    meta: None,
                }))?;
            }
        }
        Ok(())
    }

    fn walk_dir(&mut self, skipped: Option<Verdict>) -> Result<(), E> {
        let listing = match self.prefetch {
            Some(pf) => pf.take(&self.abs),
            None => fsx::list(&self.abs, self.w.metadata),
        };
        let children = match listing {
            Ok(c) => c,
            Err(e) => {
                let path = self.abs.display().to_string();
                let excluded_here =
                    skipped.is_some() || self.frames.last().is_some_and(|f| f.pending || !f.sent);
                match self.w.engine {
                    // go-archive logs and carries on with what it could read.
                    Engine::Classic => {
                        self.warnings.push(Warning {
                            message: format!("can't read directory {path}: {e}"),
                        });
                        return Ok(());
                    }
                    Engine::Buildkit
                        if excluded_here && e.kind() == std::io::ErrorKind::PermissionDenied =>
                    {
                        return Ok(())
                    }
                    Engine::Buildkit if skipped.is_some() => return Ok(()),
                    Engine::Buildkit => return Err(WalkError::Io { path, source: e }.into()),
                }
            }
        };
        if let Some(pf) = self.prefetch {
            let abs = &self.abs;
            pf.ahead(
                children
                    .iter()
                    .filter(|(_, c)| c.meta.is_some_and(|m| m.is_dir()))
                    .map(|(name, _)| abs.join(OsStr::from_bytes(name))),
            );
        }
        for (name, child) in children.iter() {
            if self.stop {
                break;
            }
            let rel_len = self.rel.len();
            if rel_len > 0 {
                self.rel.push(b'/');
            }
            self.rel.extend_from_slice(name);
            self.abs.push(OsStr::from_bytes(name));
            let kind = match &child.meta {
                Some(m) => Some(Kind::from_mode(m.mode)),
                None if self.w.metadata => None,
                None => Kind::from_d_type(child.d_type).or_else(|| {
                    std::fs::symlink_metadata(&self.abs)
                        .ok()
                        .map(|m| Kind::from_mode(fsx::Stat::from(&m).mode))
                }),
            };
            let r = match kind {
                Some(kind) => self.visit(kind, skipped, child),
                None => Ok(()), // vanished: Go's WalkDir reports and moves on
            };
            self.abs.pop();
            self.rel.truncate(rel_len);
            r?;
        }
        Ok(())
    }

    fn visit(&mut self, kind: Kind, skipped: Option<Verdict>, child: &Child) -> Result<(), E> {
        let is_dir = kind == Kind::Dir;
        let meta = child.meta.as_ref();
        if let Some(v) = skipped {
            // Inside a directory the engine skipped (All mode only).
            self.entry(kind, Status::Excluded, v, true, meta)?;
            if is_dir {
                self.frames.push(DirFrame {
                    rel_len: self.rel.len(),
                    excl_info: MatchInfo::default(),
                    incl_info: None,
                    pending: false,
                    sent: false,
                    verdict: v,
                });
                let r = self.walk_dir(Some(v));
                self.frames.pop();
                r?;
                (self.emit)(Event::Leave {
                    path: &self.rel,
                    sent: false,
                })?;
            }
            return Ok(());
        }
        let parent = self.frames.last();
        // BuildKit include patterns (FollowPaths) come first: a path they
        // do not match is not sent, and a directory outside every include
        // prefix is skipped (fsutil filterFS.Walk).
        let mut not_followed = false;
        let mut incl_info = None;
        if let Some(inc) = self.w.includes {
            let pi = parent.and_then(|f| f.incl_info.as_ref());
            let (iv, ii) = match inc.matches_using_parent_results(&self.rel, pi) {
                Ok(x) => x,
                Err(e) => return self.match_failed(e),
            };
            incl_info = Some(ii);
            // For an include matcher, "excluded" means "matched": wanted.
            if !iv.excluded {
                if is_dir && self.only_prefix_incl && !prefix_reopens(inc, &self.rel, false, true) {
                    return self.skip_dir(
                        Verdict {
                            excluded: false,
                            by: None,
                        },
                        meta,
                    );
                }
                not_followed = true;
            }
        }
        let parent = self.frames.last();
        let (verdict, info) = match self
            .w
            .excludes
            .matches_using_parent_results(&self.rel, parent.map(|f| &f.excl_info))
        {
            Ok(x) => x,
            Err(e) => return self.match_failed(e),
        };
        let mut status = Status::Sent;
        if verdict.excluded {
            if !is_dir {
                return self.entry(kind, Status::Excluded, verdict, false, meta);
            }
            let may_skip = match self.w.engine {
                Engine::Classic => true,
                Engine::Buildkit => self.only_prefix_excl,
            };
            let reopened = self.w.excludes.has_exclusions()
                && prefix_reopens(
                    self.w.excludes,
                    &self.rel,
                    true,
                    self.w.engine == Engine::Buildkit,
                );
            if may_skip && !reopened {
                return self.skip_dir(verdict, meta);
            }
            status = match self.w.engine {
                Engine::Classic => Status::Excluded,
                Engine::Buildkit => Status::Pending,
            };
        } else if not_followed {
            if !is_dir {
                return self.entry(kind, Status::Excluded, verdict, false, meta);
            }
            status = Status::Pending;
        }
        if status == Status::Sent && self.w.engine == Engine::Buildkit {
            self.flush_pending()?;
        }
        if status == Status::Sent || self.w.mode == WalkMode::All {
            self.entry(kind, status, verdict, false, meta)?;
        }
        if is_dir {
            self.frames.push(DirFrame {
                rel_len: self.rel.len(),
                excl_info: info,
                incl_info,
                pending: status == Status::Pending,
                sent: status == Status::Sent,
                verdict,
            });
            let r = self.walk_dir(None);
            let frame = self.frames.pop();
            r?;
            if self.w.mode == WalkMode::All {
                let sent = frame.is_some_and(|f| f.sent);
                (self.emit)(Event::Leave {
                    path: &self.rel,
                    sent,
                })?;
            }
        }
        Ok(())
    }

    fn skip_dir(&mut self, verdict: Verdict, meta: Option<&Stat>) -> Result<(), E> {
        if self.w.mode == WalkMode::All {
            self.entry(Kind::Dir, Status::Excluded, verdict, false, meta)?;
            self.frames.push(DirFrame {
                rel_len: self.rel.len(),
                excl_info: MatchInfo::default(),
                incl_info: None,
                pending: false,
                sent: false,
                verdict,
            });
            let r = self.walk_dir(Some(verdict));
            self.frames.pop();
            r?;
            (self.emit)(Event::Leave {
                path: &self.rel,
                sent: false,
            })?;
        }
        Ok(())
    }

    fn match_failed(&mut self, e: MatchError) -> Result<(), E> {
        match self.w.engine {
            // go-archive logs "Error matching X" and stops the walk; the tar
            // it has written so far is closed and sent (SPEC §b.6).
            Engine::Classic => {
                self.warnings.push(Warning {
                    message: format!(
                        "Error matching {}: syntax error in pattern (line {}: {}); Docker stops the walk here and sends a truncated context",
                        e.path, e.line, e.pattern
                    ),
                });
                self.stop = true;
                Ok(())
            }
            Engine::Buildkit => Err(WalkError::Match(e).into()),
        }
    }
}

impl<'m> Walker<'m> {
    /// Walks the context at `root` (an existing directory, symlinks already
    /// resolved), calling `emit` for each event. Returns the warnings Docker
    /// would have logged.
    pub fn walk<E, F>(&self, root: &Path, emit: F) -> Result<Vec<Warning>, E>
    where
        F: FnMut(Event<'_>) -> Result<(), E>,
        E: From<WalkError>,
    {
        let workers = if self.metadata && self.mode == WalkMode::All {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8)) - 1
        } else {
            0
        };
        let prefetch = (workers > 0).then(|| Prefetch::new(self.metadata));
        let mut st = State {
            w: self,
            emit,
            rel: Vec::with_capacity(256),
            abs: root.to_path_buf(),
            frames: Vec::new(),
            warnings: Vec::new(),
            only_prefix_excl: only_prefix(self.excludes, true),
            only_prefix_incl: self.includes.is_none_or(|m| only_prefix(m, false)),
            stop: false,
            prefetch: prefetch.as_ref(),
        };
        let Some(pf) = prefetch.as_ref() else {
            st.walk_dir(None)?;
            return Ok(st.warnings);
        };
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| pf.work());
            }
            // Stops the workers however the walk ends.
            struct Stop<'a>(&'a Prefetch);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.stop();
                }
            }
            let _stop = Stop(pf);
            st.walk_dir(None)?;
            Ok(st.warnings)
        })
    }
}
