//! The engine's walk re-decided with another matcher, for files of a walk
//! already made: what the walk with that matcher would do, without going
//! back to the filesystem.
//!
//! The walker decides a non-directory from its own verdict (matched with its
//! parent directory's results) unless an ancestor directory was skipped: an
//! excluded directory that the engine may skip and that no exception
//! re-opens. [`Redecider`] keeps that state for the directories of the
//! current path, filled on demand, so a caller that feeds it paths in walk
//! order pays only for the directories above the files it asks about.

use crate::matcher::{MatchInfo, Matcher, Verdict};
use crate::walk::{self, Engine};

/// Re-decides files in walk order with `matcher` (see the module docs).
pub(crate) struct Redecider {
    matcher: Matcher,
    engine: Engine,
    only_prefix_excl: bool,
    /// The directories of the current path (depth 1, 2, ...), as the walk
    /// with `matcher` sees them; filled on demand.
    frames: Vec<Frame>,
}

struct Frame {
    info: MatchInfo,
    /// The walk skips this directory (or an ancestor).
    blocked: bool,
}

impl Redecider {
    pub fn new(matcher: Matcher, engine: Engine) -> Redecider {
        Redecider {
            only_prefix_excl: walk::only_prefix(&matcher, true),
            matcher,
            engine,
            frames: Vec::new(),
        }
    }

    /// The matcher it decides with.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The walk is at an entry of depth `depth` (1 = top level): forget the
    /// directories that are not its ancestors. Call it for every entry (or
    /// at least every directory) in walk order, or at each directory's end.
    pub fn at_depth(&mut self, depth: usize) {
        self.frames.truncate(depth.saturating_sub(1));
    }

    /// The verdict of the non-directory at `path` (`depth` components, its
    /// directories being the current path's), or `None` when the walk skips
    /// one of its directories (or a pattern cannot compile): then it is not
    /// sent. It is sent exactly when this is `Some` and not excluded.
    pub fn file(&mut self, path: &[u8], depth: usize) -> Option<Verdict> {
        let dirs = depth.saturating_sub(1);
        let mut ends = path
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'/')
            .map(|(k, _)| k)
            .skip(self.frames.len());
        while self.frames.len() < dirs {
            let Some(end) = ends.next() else { break };
            let dir = path.get(..end).unwrap_or_default();
            let frame = match self.frames.last() {
                Some(p) if p.blocked => Frame {
                    info: MatchInfo::default(),
                    blocked: true,
                },
                parent => match self
                    .matcher
                    .matches_using_parent_results(dir, parent.map(|p| &p.info))
                {
                    Ok((v, info)) => {
                        let may_skip = match self.engine {
                            Engine::Classic => true,
                            Engine::Buildkit => self.only_prefix_excl,
                        };
                        let reopened = self.matcher.has_exclusions()
                            && walk::prefix_reopens(
                                &self.matcher,
                                dir,
                                true,
                                self.engine == Engine::Buildkit,
                            );
                        Frame {
                            info,
                            blocked: v.excluded && may_skip && !reopened,
                        }
                    }
                    // A pattern that cannot compile stops the walk.
                    Err(_) => Frame {
                        info: MatchInfo::default(),
                        blocked: true,
                    },
                },
            };
            self.frames.push(frame);
        }
        let parent = self.frames.last();
        if parent.is_some_and(|p| p.blocked) {
            return None;
        }
        self.matcher
            .matches_using_parent_results(path, parent.map(|p| &p.info))
            .ok()
            .map(|(v, _)| v)
    }

    /// Whether the walk sends the non-directory at `path` (see [`Self::file`]).
    pub fn sends(&mut self, path: &[u8], depth: usize) -> bool {
        self.file(path, depth).is_some_and(|v| !v.excluded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignorefile::parse;

    fn m(text: &str) -> Matcher {
        Matcher::new(&parse(text.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn skipped_directory_blocks_its_files() {
        // Classic skips `a` (no exception re-opens it): `a/keep` stays out.
        let mut r = Redecider::new(m("a\n!keep\n"), Engine::Classic);
        assert!(r.file(b"a/keep", 2).is_none());
        r.at_depth(1);
        assert!(r.sends(b"b", 1));
        assert!(r.sends(b"keep", 1));
    }

    #[test]
    fn reopened_directory_lets_an_exception_through() {
        let mut r = Redecider::new(m("a\n!a/keep\n"), Engine::Classic);
        assert!(r.sends(b"a/keep", 2));
        assert!(!r.sends(b"a/other", 2));
        let v = r.file(b"a/other", 2).unwrap();
        assert_eq!(v.by, Some(0));
    }

    #[test]
    fn engines_differ_on_wildcard_exceptions() {
        // BuildKit enters every excluded directory when an exception has a
        // wildcard; classic only one whose path starts an exception.
        let text = "a\n!*/keep\n";
        let mut c = Redecider::new(m(text), Engine::Classic);
        let mut b = Redecider::new(m(text), Engine::Buildkit);
        assert!(!c.sends(b"a/keep", 2));
        assert!(b.sends(b"a/keep", 2));
    }

    #[test]
    fn stale_frames_are_forgotten_at_each_depth() {
        let mut r = Redecider::new(m("x\n"), Engine::Classic);
        assert!(r.file(b"x/f", 2).is_none());
        // A sibling directory at the same depth: its frame must replace x's.
        r.at_depth(1);
        assert!(r.sends(b"y/f", 2));
    }
}
