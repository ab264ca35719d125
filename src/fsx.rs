//! Directory listings with each entry's `lstat`, read relative to the
//! directory's descriptor (`fstatat`) instead of resolving every entry's
//! whole path again; a prefetcher that reads directories on other cores
//! ahead of a depth-first walk; the `security.capability` xattr.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString, OsString};
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

/// The `lstat` fields the walker and the tar writer use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Apparent size in bytes.
    pub size: u64,
    /// Modification time, whole seconds since the epoch.
    pub mtime: i64,
    /// Inode number.
    pub ino: u64,
    /// Hard-link count.
    pub nlink: u64,
    /// Device number of a device file.
    pub rdev: u64,
}

impl Stat {
    /// The file-type bits.
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }
    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }
    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }
}

impl From<&Metadata> for Stat {
    fn from(m: &Metadata) -> Stat {
        Stat {
            mode: m.mode(),
            size: m.size(),
            mtime: m.mtime(),
            ino: m.ino(),
            nlink: m.nlink(),
            rdev: m.rdev(),
        }
    }
}

impl Stat {
    fn from_libc(st: &libc::stat) -> Stat {
        Stat {
            mode: st.st_mode,
            size: st.st_size as u64,
            mtime: st.st_mtime,
            ino: st.st_ino,
            nlink: st.st_nlink,
            rdev: st.st_rdev,
        }
    }
}

/// One directory entry (its name lives in its [`Entries`]).
#[derive(Debug, Clone)]
pub struct Child {
    /// Where the name starts in the listing's name buffer.
    name_at: usize,
    /// The name's length (at most 255 bytes from `readdir`).
    name_len: u16,
    /// `d_type` (`libc::DT_*`; `DT_UNKNOWN` when the file system gives none).
    pub d_type: u8,
    /// Its `lstat`, when asked for and the entry still exists.
    pub meta: Option<Stat>,
}

/// A directory's entries sorted by name bytes (as Go's `os.ReadDir`), the
/// names in one buffer (two allocations per directory, not one per entry).
#[derive(Debug, Clone, Default)]
pub struct Entries {
    names: Vec<u8>,
    children: Vec<Child>,
}

impl Entries {
    /// The entries, each with its name, in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], &Child)> {
        self.children.iter().map(|c| (self.name(c), c))
    }

    /// The name of `c` (an entry of this listing).
    pub fn name(&self, c: &Child) -> &[u8] {
        self.names
            .get(c.name_at..c.name_at + usize::from(c.name_len))
            .unwrap_or_default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether the directory is empty.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

/// A directory's listing, or why it could not be read.
pub type Listing = io::Result<Entries>;

struct DirStream(*mut libc::DIR);

impl Drop for DirStream {
    fn drop(&mut self) {
        // SAFETY: the stream came from a successful `fdopendir` and is
        // closed exactly once, here.
        unsafe {
            libc::closedir(self.0);
        }
    }
}

fn cstring(p: &[u8]) -> io::Result<CString> {
    CString::new(p).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
}

/// Lists `dir` (never following a symlink in its last component), with
/// each entry's metadata when `meta`.
pub fn list(dir: &Path, meta: bool) -> Listing {
    let c = cstring(dir.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is an open directory descriptor; on success the stream
    // owns it, on failure we close it.
    let dirp = unsafe { libc::fdopendir(fd) };
    if dirp.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: `fd` is open and owned here.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    let stream = DirStream(dirp);
    let mut out = Entries::default();
    loop {
        // SAFETY: errno is thread-local; clearing it tells end from error.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream.0` is a live stream used by this thread only.
        let ent = unsafe { libc::readdir64(stream.0) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            if e.raw_os_error().unwrap_or(0) != 0 {
                return Err(e);
            }
            break;
        }
        // SAFETY: a non-null entry from readdir64 is valid until the next
        // call on the stream; `d_name` is NUL-terminated.
        let (name, d_type) = unsafe {
            let ent = &*ent;
            (CStr::from_ptr(ent.d_name.as_ptr()), ent.d_type)
        };
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        let meta = if meta {
            // SAFETY: the stream is live, so its descriptor is.
            stat_at(unsafe { libc::dirfd(stream.0) }, name)
        } else {
            None
        };
        // A name from readdir is at most 255 bytes (NAME_MAX).
        let name_len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.children.push(Child {
            name_at: out.names.len(),
            name_len,
            d_type,
            meta,
        });
        out.names
            .extend_from_slice(bytes.get(..usize::from(name_len)).unwrap_or(bytes));
    }
    let names = &out.names;
    let name = |c: &Child| {
        names
            .get(c.name_at..c.name_at + usize::from(c.name_len))
            .unwrap_or_default()
    };
    out.children.sort_unstable_by(|a, b| name(a).cmp(name(b)));
    Ok(out)
}

fn stat_at(dfd: libc::c_int, name: &CStr) -> Option<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `dfd` is an open directory, `name` NUL-terminated, `st`
    // writable; on success the kernel filled it.
    let r = unsafe {
        libc::fstatat(
            dfd,
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: fstatat succeeded.
    Some(Stat::from_libc(unsafe { &st.assume_init() }))
}

const CAP_NAME: &CStr = c"security.capability";

/// Reads `security.capability` into a buffer with `get` (a `*getxattr`
/// call given the name, the buffer and its size).
fn read_capability(
    get: impl FnOnce(*const libc::c_char, *mut libc::c_void, usize) -> libc::ssize_t,
) -> Option<Vec<u8>> {
    let mut buf = [0u8; 128];
    let n = get(CAP_NAME.as_ptr(), buf.as_mut_ptr().cast(), buf.len());
    if n <= 0 {
        return None;
    }
    buf.get(..n as usize).map(<[u8]>::to_vec)
}

/// `security.capability` of `path` itself (never of a symlink's target).
pub fn capability(path: &Path) -> Option<Vec<u8>> {
    let c = cstring(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; `read_capability` passes
    // a static NUL-terminated name and a buffer writable for its size.
    read_capability(|name, buf, len| unsafe { libc::lgetxattr(c.as_ptr(), name, buf, len) })
}

/// `security.capability` of an open file.
pub fn capability_of(f: &std::fs::File) -> Option<Vec<u8>> {
    use std::os::fd::AsRawFd;
    // SAFETY: `f` is open; `read_capability` passes a static
    // NUL-terminated name and a buffer writable for its size.
    read_capability(|name, buf, len| unsafe { libc::fgetxattr(f.as_raw_fd(), name, buf, len) })
}

/// Reads directories ahead of a depth-first walk on other threads.
///
/// The walk announces the directories it will enter ([`Prefetch::ahead`],
/// in visiting order) and takes each listing when it gets there
/// ([`Prefetch::take`]); a listing not yet started is read by the walk
/// itself, so the walk never waits on queued work. Listings read ahead are
/// bounded ([`MAX_AHEAD`] entries), so memory stays flat.
pub struct Prefetch {
    state: Mutex<PfState>,
    /// Workers wait here for work.
    work_cv: Condvar,
    /// The walk waits here for a listing being read.
    walk_cv: Condvar,
    meta: bool,
}

/// Most entries held in listings read ahead and not yet taken.
pub const MAX_AHEAD: usize = 1 << 16;

#[derive(Default)]
struct PfState {
    /// Directories to read, the next one last.
    queue: Vec<PathBuf>,
    /// Keyed by the path's bytes (hashing a `Path` parses its components).
    running: HashSet<OsString>,
    done: HashMap<OsString, Listing>,
    held: usize,
    idle_workers: usize,
    walk_waiting: bool,
    shutdown: bool,
}

fn held(l: &Listing) -> usize {
    l.as_ref().map_or(1, |v| v.len() + 1)
}

impl Prefetch {
    /// A prefetcher reading metadata with listings when `meta`.
    pub fn new(meta: bool) -> Prefetch {
        Prefetch {
            state: Mutex::new(PfState::default()),
            work_cv: Condvar::new(),
            walk_cv: Condvar::new(),
            meta,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PfState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Announces directories the walk will enter, in visiting order.
    pub fn ahead(&self, dirs: impl DoubleEndedIterator<Item = PathBuf>) {
        let mut st = self.lock();
        let before = st.queue.len();
        st.queue.extend(dirs.rev());
        let wake = st.idle_workers > 0 && st.queue.len() > before && st.held < MAX_AHEAD;
        drop(st);
        if wake {
            self.work_cv.notify_all();
        }
    }

    /// The listing of `dir`, read ahead or read now.
    pub fn take(&self, dir: &Path) -> Listing {
        let mut st = self.lock();
        loop {
            if let Some(l) = st.done.remove(dir.as_os_str()) {
                let was_full = st.held >= MAX_AHEAD;
                st.held -= held(&l);
                let wake = was_full && st.held < MAX_AHEAD && st.idle_workers > 0;
                drop(st);
                if wake {
                    self.work_cv.notify_all();
                }
                return l;
            }
            if !st.running.contains(dir.as_os_str()) {
                break;
            }
            // Being read by a worker: help with the queue meanwhile rather
            // than wait.
            let (guard, read) = self.read_next(st);
            st = guard;
            if read {
                continue;
            }
            st.walk_waiting = true;
            st = self.walk_cv.wait(st).unwrap_or_else(|p| p.into_inner());
            st.walk_waiting = false;
        }
        if let Some(i) = st
            .queue
            .iter()
            .rposition(|q| q.as_os_str() == dir.as_os_str())
        {
            st.queue.remove(i);
        }
        drop(st);
        list(dir, self.meta)
    }

    /// Reads the next queued directory, the lock released meanwhile, and
    /// keeps its listing; `false` when nothing may be read now (the queue
    /// is empty or enough is held).
    fn read_next<'a>(&'a self, mut st: MutexGuard<'a, PfState>) -> (MutexGuard<'a, PfState>, bool) {
        if st.held >= MAX_AHEAD {
            return (st, false);
        }
        let Some(dir) = st.queue.pop() else {
            return (st, false);
        };
        st.running.insert(dir.clone().into_os_string());
        drop(st);
        let l = list(&dir, self.meta);
        let mut st = self.lock();
        st.running.remove(dir.as_os_str());
        st.held += held(&l);
        st.done.insert(dir.into_os_string(), l);
        (st, true)
    }

    /// A worker's loop: read queued directories until [`Prefetch::stop`].
    pub fn work(&self) {
        let mut st = self.lock();
        loop {
            if st.shutdown {
                return;
            }
            let (guard, read) = self.read_next(st);
            st = guard;
            if read {
                if st.walk_waiting {
                    self.walk_cv.notify_one();
                }
                continue;
            }
            st.idle_workers += 1;
            st = self.work_cv.wait(st).unwrap_or_else(|p| p.into_inner());
            st.idle_workers -= 1;
        }
    }

    /// Stops the workers and drops what they read.
    pub fn stop(&self) {
        let mut st = self.lock();
        st.shutdown = true;
        st.queue.clear();
        st.done.clear();
        st.held = 0;
        drop(st);
        self.work_cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn listing_matches_std() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("b"), "xyz").unwrap();
        fs::create_dir(d.path().join("a")).unwrap();
        std::os::unix::fs::symlink("nowhere", d.path().join("c")).unwrap();
        let l = list(d.path(), true).unwrap();
        let names: Vec<_> = l.iter().map(|(n, _)| n.to_vec()).collect();
        assert_eq!(names, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        for (name, c) in l.iter() {
            let p = d.path().join(std::ffi::OsStr::from_bytes(name));
            let want = Stat::from(&fs::symlink_metadata(&p).unwrap());
            assert_eq!(c.meta.unwrap(), want);
            assert_eq!(capability(&p), None);
        }
        let kinds: Vec<Stat> = l.iter().map(|(_, c)| c.meta.unwrap()).collect();
        assert!(kinds[0].is_dir());
        assert!(kinds[2].is_symlink());
        assert!(
            list(&d.path().join("c"), false).is_err(),
            "never follows a symlink"
        );
    }

    #[test]
    fn listing_sorts_names_of_every_length_by_bytes() {
        let d = tempfile::tempdir().unwrap();
        let mut want: Vec<Vec<u8>> = Vec::new();
        for i in 0..300usize {
            let name = format!("{}{}", (b'a' + (i % 26) as u8) as char, "é".repeat(i % 120));
            if fs::write(d.path().join(&name), "").is_ok() {
                want.push(name.into_bytes());
            }
        }
        want.sort();
        want.dedup();
        let l = list(d.path(), false).unwrap();
        let got: Vec<Vec<u8>> = l.iter().map(|(n, _)| n.to_vec()).collect();
        assert_eq!(got, want);
        assert_eq!(l.len(), want.len());
    }

    #[test]
    fn prefetch_gives_every_listing_once() {
        let d = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        for i in 0..50 {
            let p = d.path().join(format!("d{i:02}"));
            fs::create_dir(&p).unwrap();
            fs::write(p.join("f"), "x").unwrap();
            dirs.push(p);
        }
        let pf = Prefetch::new(true);
        std::thread::scope(|s| {
            s.spawn(|| pf.work());
            pf.ahead(dirs.iter().cloned());
            for p in &dirs {
                let l = pf.take(p).unwrap();
                assert_eq!(l.len(), 1);
                let (name, c) = l.iter().next().unwrap();
                assert_eq!((name, c.meta.unwrap().size), (&b"f"[..], 1));
            }
            pf.stop();
        });
        assert_eq!(pf.lock().held, 0);
    }
}
