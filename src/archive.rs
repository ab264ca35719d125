//! The context tar, byte for byte as the Docker CLI writes it (SPEC §d.5):
//! Go's `archive/tar` writer driven by moby/go-archive's `addTarFile` with
//! the CLI's options (uid/gid 0, no name lookups).
//!
//! * USTAR blocks unless a field needs PAX: a non-ASCII name, a name that
//!   does not fit USTAR's 100-byte name + 155-byte prefix split, a link
//!   target over 100 bytes or non-ASCII, a size of 8 GiB or more, an mtime
//!   outside the octal field, or a `security.capability` xattr. Never GNU
//!   long-name entries.
//! * Mode: permission bits plus setuid/setgid/sticky, no file-type bits.
//! * mtime in whole seconds; uid/gid 0; user and group names empty.
//! * Hard links by inode: later names of a written inode become link
//!   entries pointing at the first written name.
//! * Sockets are skipped (Go's writer refuses them).
//! * The stream ends with two zero blocks, without record padding.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::fsx::Stat;

const BLOCK: usize = 512;
/// Files below this size are read and written through the buffer (one
/// `read`); larger ones are sent by the kernel when the output allows.
const SMALL_FILE: u64 = 64 << 10;
/// Largest value of an 11-digit octal field (size, mtime).
const MAX_OCTAL_11: i64 = 0o77777777777;
/// Largest value of a 7-digit octal field (mode, uid, gid, devices).
const MAX_OCTAL_7: i64 = 0o7777777;

/// What went into the archive for one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A header (and the data of a regular file).
    Written {
        /// Bytes this entry added to the archive (headers, data, padding).
        bytes: u64,
        /// Whether it became a hard-link entry.
        hardlink: bool,
    },
    /// Not written, as Docker skips it (a socket, an unencodable header).
    Skipped(SkipReason),
}

/// Why Docker leaves an entry out of the tar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// `archive/tar: sockets not supported`.
    Socket,
    /// The header cannot be encoded (device numbers too large).
    Unencodable,
    /// The entry vanished between the walk and `lstat`.
    Vanished,
}

/// The header Go's `tar.FileInfoHeader` + go-archive would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    /// Name (directories end in `/`).
    pub name: Vec<u8>,
    /// Type flag (`b'0'`, `b'5'`, `b'2'`, `b'1'`, `b'3'`, `b'4'`, `b'6'`).
    pub typeflag: u8,
    /// Mode bits (07777).
    pub mode: i64,
    /// Data size.
    pub size: i64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Link target (symlinks, hard links).
    pub linkname: Vec<u8>,
    /// Device major number.
    pub devmajor: i64,
    /// Device minor number.
    pub devminor: i64,
    /// `security.capability`, already downgraded as Docker does.
    pub capability: Option<Vec<u8>>,
}

fn is_ascii(s: &[u8]) -> bool {
    // Go: every rune < 0x80 and not NUL; invalid bytes decode to U+FFFD.
    s.iter().all(|&c| c != 0 && c < 0x80)
}

/// Go's `toASCII`: drops every non-ASCII rune (and NUL).
fn to_ascii(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&c| c != 0 && c < 0x80).collect()
}

/// Go's `splitUSTARPath`.
fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length = name.len();
    if length <= 100 || !is_ascii(name) {
        return None;
    } else if length > 156 {
        length = 156;
    } else if name.last() == Some(&b'/') {
        length -= 1;
    }
    // length <= name.len(); i is a position found in name[..length].
    let i = name[..length].iter().rposition(|&c| c == b'/')?;
    let nlen = name.len() - i - 1;
    if i == 0 || nlen > 100 || nlen == 0 || i > 155 {
        return None;
    }
    Some((&name[..i], &name[i + 1..])) // i < length <= name.len()
}

/// Go's `formatter.formatString`.
fn put_str(b: &mut [u8], s: &[u8]) {
    let n = s.len().min(b.len());
    // n <= both lengths; s.len() < b.len() is checked before b[s.len()].
    b[..n].copy_from_slice(&s[..n]);
    if s.len() < b.len() {
        b[s.len()] = 0;
    }
    if s.len() > b.len() && b.last() == Some(&b'/') {
        // b is not empty (it has a last byte), so k < b.len() < s.len().
        let mut k = b.len() - 1;
        while k > 0 && s[k - 1] == b'/' {
            k -= 1;
        }
        b[k] = 0;
    }
}

/// Go's `formatter.formatOctal` (values that do not fit become 0).
fn put_octal(b: &mut [u8], x: i64) {
    let max = 8i64
        .checked_pow(b.len() as u32 - 1)
        .map_or(i64::MAX, |v| v - 1);
    let mut x = if (0..=max).contains(&x) { x } else { 0 };
    // Zero-padded digits filling all but the last byte, then NUL (what
    // formatString does with a string that fits).
    // Every caller passes a fixed non-empty header field, so n < b.len().
    let n = b.len() - 1;
    for d in b[..n].iter_mut().rev() {
        *d = b'0' + (x & 7) as u8;
        x >>= 3;
    }
    b[n] = 0;
}

fn checksum(block: &mut [u8; BLOCK]) {
    // Constant offsets inside the fixed-size 512-byte block.
    block[148..156].fill(b' ');
    let mut sum: u32 = block.iter().map(|&c| u32::from(c)).sum();
    // Six octal digits (the sum of 512 bytes fits), NUL, space.
    for d in block[148..154].iter_mut().rev() {
        *d = b'0' + (sum & 7) as u8;
        sum >>= 3;
    }
    block[154] = 0;
    block[155] = b' ';
}

/// Go's `formatPAXRecord`.
fn pax_record(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut size = k.len() + v.len() + 3;
    size += size.to_string().len();
    let mut rec = format!("{size} ").into_bytes();
    rec.extend_from_slice(k);
    rec.push(b'=');
    rec.extend_from_slice(v);
    rec.push(b'\n');
    if rec.len() != size {
        let size = rec.len();
        rec = format!("{size} ").into_bytes();
        rec.extend_from_slice(k);
        rec.push(b'=');
        rec.extend_from_slice(v);
        rec.push(b'\n');
    }
    rec
}

/// The length of [`pax_record`]`(k, v)`, without building it.
fn pax_record_len(k: usize, v: usize) -> usize {
    let digits = |n: usize| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let base = k + v + 3;
    let size = base + digits(base);
    if digits(size) == digits(base) {
        size
    } else {
        base + digits(size)
    }
}

/// Go's `path.Join(dir, "PaxHeaders.0", file)` for `path.Split(name)`.
fn pax_header_name(name: &[u8]) -> Vec<u8> {
    let (dir, file) = match name.iter().rposition(|&c| c == b'/') {
        Some(i) => (&name[..=i], &name[i + 1..]), // i is a position found in name
        None => (&b""[..], name),
    };
    let mut joined = Vec::new();
    for part in [dir, b"PaxHeaders.0", file] {
        if part.is_empty() {
            continue;
        }
        if !joined.is_empty() {
            joined.push(b'/');
        }
        joined.extend_from_slice(part);
    }
    crate::gostr::clean(&joined)
}

impl HeaderSpec {
    /// The length of [`HeaderSpec::encode`]'s output, computed without
    /// formatting anything (the report sizes every entry's header).
    pub fn encoded_len(&self) -> Result<u64, SkipReason> {
        let mut pax = 0usize;
        let mut ustar_ok = true;
        if !is_ascii(&self.name) || self.name.len() > 100 {
            if split_ustar_path(&self.name).is_none() {
                ustar_ok = false;
            }
            pax += pax_record_len(4, self.name.len());
        }
        if !is_ascii(&self.linkname) || self.linkname.len() > 100 {
            ustar_ok = false;
            pax += pax_record_len(8, self.linkname.len());
        }
        let decimal_len = |n: i64| n.to_string().len();
        if !(0..=MAX_OCTAL_11).contains(&self.size) {
            ustar_ok = false;
            pax += pax_record_len(4, decimal_len(self.size));
        }
        if !(0..=MAX_OCTAL_7).contains(&self.devmajor)
            || !(0..=MAX_OCTAL_7).contains(&self.devminor)
        {
            return Err(SkipReason::Unencodable);
        }
        if !(0..=MAX_OCTAL_11).contains(&self.mtime) {
            ustar_ok = false;
            pax += pax_record_len(5, decimal_len(self.mtime));
        }
        if let Some(cap) = &self.capability {
            ustar_ok = false;
            pax += pax_record_len(32, cap.len());
        }
        Ok(if ustar_ok {
            BLOCK as u64
        } else {
            (2 * BLOCK + pax.div_ceil(BLOCK) * BLOCK) as u64
        })
    }

    /// The header blocks Go writes for this entry (PAX header included).
    pub fn encode(&self) -> Result<Vec<u8>, SkipReason> {
        let mut pax: Vec<(&[u8], Vec<u8>)> = Vec::new();
        let mut ustar_ok = true;
        if !is_ascii(&self.name) || self.name.len() > 100 {
            if split_ustar_path(&self.name).is_none() {
                ustar_ok = false;
            }
            pax.push((b"path", self.name.clone()));
        }
        if !is_ascii(&self.linkname) || self.linkname.len() > 100 {
            ustar_ok = false;
            pax.push((b"linkpath", self.linkname.clone()));
        }
        if !(0..=MAX_OCTAL_11).contains(&self.size) {
            ustar_ok = false;
            pax.push((b"size", self.size.to_string().into_bytes()));
        }
        if !(0..=MAX_OCTAL_7).contains(&self.devmajor)
            || !(0..=MAX_OCTAL_7).contains(&self.devminor)
        {
            return Err(SkipReason::Unencodable);
        }
        if !(0..=MAX_OCTAL_11).contains(&self.mtime) {
            ustar_ok = false;
            pax.push((b"mtime", self.mtime.to_string().into_bytes()));
        }
        if let Some(cap) = &self.capability {
            ustar_ok = false;
            pax.push((b"SCHILY.xattr.security.capability", cap.clone()));
        }
        let mut out = Vec::with_capacity(BLOCK * 3);
        // All offsets below are constants inside fixed-size 512-byte blocks.
        let mut blk = [0u8; BLOCK];
        if ustar_ok {
            let (prefix, name) = split_ustar_path(&self.name).unwrap_or((b"", &self.name));
            self.template(&mut blk, name, &self.linkname);
            put_str(&mut blk[345..500], prefix);
        } else {
            pax.sort_by(|a, b| a.0.cmp(b.0));
            let data: Vec<u8> = pax.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
            let mut xname = to_ascii(&pax_header_name(&self.name));
            xname.truncate(100);
            while xname.last() == Some(&b'/') {
                xname.pop();
            }
            let mut x = [0u8; BLOCK];
            x[156] = b'x';
            put_str(&mut x[0..100], &xname);
            put_octal(&mut x[100..108], 0);
            put_octal(&mut x[108..116], 0);
            put_octal(&mut x[116..124], 0);
            put_octal(&mut x[124..136], data.len() as i64);
            put_octal(&mut x[136..148], 0);
            x[257..263].copy_from_slice(b"ustar\0");
            x[263..265].copy_from_slice(b"00");
            checksum(&mut x);
            out.extend_from_slice(&x);
            out.extend_from_slice(&data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
            self.template(&mut blk, &to_ascii(&self.name), &to_ascii(&self.linkname));
        }
        blk[257..263].copy_from_slice(b"ustar\0");
        blk[263..265].copy_from_slice(b"00");
        checksum(&mut blk);
        out.extend_from_slice(&blk);
        Ok(out)
    }

    /// Go's `templateV7Plus` with uid/gid 0 and empty user/group names.
    fn template(&self, blk: &mut [u8; BLOCK], name: &[u8], linkname: &[u8]) {
        // Constant offsets inside the fixed-size 512-byte block.
        blk[156] = self.typeflag;
        put_str(&mut blk[0..100], name);
        put_str(&mut blk[157..257], linkname);
        put_octal(&mut blk[100..108], self.mode);
        put_octal(&mut blk[108..116], 0);
        put_octal(&mut blk[116..124], 0);
        put_octal(&mut blk[124..136], self.size);
        put_octal(&mut blk[136..148], self.mtime);
        put_octal(&mut blk[329..337], self.devmajor);
        put_octal(&mut blk[337..345], self.devminor);
    }
}

/// `security.capability` as go-archive stores it (v3 downgraded to v2).
fn downgrade_capability(raw: &[u8]) -> Vec<u8> {
    let mut cap = raw.to_vec();
    if cap.len() > 3 && cap[3] == 3 {
        // cap.len() > 3: checked just above.
        cap[3] = 2;
        cap.truncate(20);
    }
    cap
}

/// Builds the header Docker writes for an entry with this `lstat` and raw
/// `security.capability` xattr ([`crate::fsx::capability`]).
pub fn header_spec(
    rel: &[u8],
    abs: &Path,
    st: &Stat,
    capability: Option<&[u8]>,
) -> Result<HeaderSpec, SkipReason> {
    let (typeflag, size, linkname) = match st.file_type() {
        libc::S_IFREG => (b'0', st.size as i64, Vec::new()),
        libc::S_IFDIR => (b'5', 0, Vec::new()),
        libc::S_IFLNK => {
            let link = fs::read_link(abs).map_err(|_| SkipReason::Vanished)?;
            (b'2', 0, link.as_os_str().as_bytes().to_vec())
        }
        libc::S_IFCHR => (b'3', 0, Vec::new()),
        libc::S_IFBLK => (b'4', 0, Vec::new()),
        libc::S_IFIFO => (b'6', 0, Vec::new()),
        _ => return Err(SkipReason::Socket),
    };
    let mut name = Vec::with_capacity(rel.len() + 1);
    name.extend_from_slice(rel);
    if st.is_dir() && !name.ends_with(b"/") {
        name.push(b'/');
    }
    Ok(HeaderSpec {
        name,
        typeflag,
        mode: i64::from(st.mode & 0o7777),
        size,
        mtime: st.mtime,
        linkname,
        devmajor: i64::from(libc::major(st.rdev)),
        devminor: i64::from(libc::minor(st.rdev)),
        capability: capability.map(downgrade_capability),
    })
}

/// Writes Docker's context tar into any `Write`, or only counts its size.
pub struct TarBuilder<W: Write> {
    out: W,
    seen_inodes: HashMap<u64, Vec<u8>>,
    buf: Vec<u8>,
    bytes: u64,
    with_data: bool,
    /// The descriptor `out` writes to, when file data may be sent to it
    /// directly (`sendfile`), bypassing the buffer.
    fd: Option<std::os::fd::RawFd>,
    /// Checked between blocks of file data: set, the write fails.
    cancel: Option<&'static std::sync::atomic::AtomicBool>,
    /// The entry's file, opened by [`TarBuilder::add_with_meta`].
    opened: Option<File>,
}

/// A file changed while it was being archived.
fn changed(abs: &Path, what: &str) -> io::Error {
    io::Error::other(format!(
        "{} changed size while being archived ({what}); the archive would be corrupt, so ctxray stops",
        abs.display()
    ))
}

impl<W: Write> TarBuilder<W> {
    /// A builder writing into `out`.
    pub fn new(out: W) -> TarBuilder<W> {
        TarBuilder {
            out,
            seen_inodes: HashMap::new(),
            buf: vec![0; 256 * 1024],
            bytes: 0,
            with_data: true,
            fd: None,
            cancel: None,
            opened: None,
        }
    }

    /// Stops writing (with an error) once `flag` is set, checked between
    /// blocks of file data (e.g. set by a signal handler).
    pub fn cancel_on(&mut self, flag: &'static std::sync::atomic::AtomicBool) {
        self.cancel = Some(flag);
    }

    fn cancelled(&self) -> io::Result<()> {
        match self.cancel {
            Some(f) if f.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(io::Error::other("interrupted"))
            }
            _ => Ok(()),
        }
    }

    /// A builder writing into `out`, which writes to the descriptor `fd`
    /// (a file, a pipe, a socket): file contents go from each file to `fd`
    /// in the kernel (`sendfile`), `out` being flushed first.
    pub fn with_fd(out: W, fd: std::os::fd::RawFd) -> TarBuilder<W> {
        let mut t = TarBuilder::new(out);
        t.fd = Some(fd);
        t
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Adds one entry (`rel` relative to the context, `abs` on disk), as
    /// go-archive's `addTarFile`: `lstat`, header, data.
    pub fn add(&mut self, rel: &[u8], abs: &Path) -> io::Result<Added> {
        let meta = match fs::symlink_metadata(abs) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Added::Skipped(SkipReason::Vanished))
            }
            Err(e) => return Err(e),
        };
        self.add_with_meta(rel, abs, &Stat::from(&meta))
    }

    /// [`TarBuilder::add`] with the entry's `lstat` already done.
    pub fn add_with_meta(&mut self, rel: &[u8], abs: &Path, st: &Stat) -> io::Result<Added> {
        // A regular file with data is opened first (its xattr read through
        // the descriptor, its data read from it): one path lookup, not
        // three. Opening fails as go-archive's open after the header would.
        let cap = if self.with_data && st.is_file() && st.size > 0 {
            let f = File::open(abs)?;
            let cap = crate::fsx::capability_of(&f);
            self.opened = Some(f);
            cap
        } else {
            crate::fsx::capability(abs)
        };
        let added = match header_spec(rel, abs, st, cap.as_deref()) {
            Ok(spec) => self.add_spec(spec, abs, st),
            Err(r) => Ok(Added::Skipped(r)),
        };
        self.opened = None;
        added
    }

    /// [`TarBuilder::add`] with the header already built by [`header_spec`]
    /// (so several builders can share one `lstat` and xattr read).
    pub fn add_spec(&mut self, mut spec: HeaderSpec, abs: &Path, stat: &Stat) -> io::Result<Added> {
        let mut hardlink = false;
        if !stat.is_dir() && stat.nlink > 1 {
            if let Some(first) = self.seen_inodes.get(&stat.ino) {
                spec.typeflag = b'1';
                spec.linkname = first.clone();
                spec.size = 0;
                hardlink = true;
            } else {
                self.seen_inodes.insert(stat.ino, spec.name.clone());
            }
        }
        let mut bytes = if self.with_data {
            let header = match spec.encode() {
                Ok(h) => h,
                Err(r) => return Ok(Added::Skipped(r)),
            };
            self.out.write_all(&header)?;
            header.len() as u64
        } else {
            match spec.encoded_len() {
                Ok(n) => n,
                Err(r) => return Ok(Added::Skipped(r)),
            }
        };
        if spec.typeflag == b'0' && spec.size > 0 {
            let size = spec.size as u64;
            if self.with_data {
                self.copy_data(abs, size)?;
            }
            bytes += size.div_ceil(BLOCK as u64) * BLOCK as u64;
        }
        self.bytes += bytes;
        Ok(Added::Written { bytes, hardlink })
    }

    fn copy_data(&mut self, abs: &Path, size: u64) -> io::Result<()> {
        let mut f = match self.opened.take() {
            Some(f) => f,
            None => File::open(abs)?,
        };
        let pad = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        // A small file: one read of one byte more than its size tells
        // whether it changed (a regular file reads short only at its end).
        if size < SMALL_FILE && (size as usize) < self.buf.len() {
            self.cancelled()?;
            let want = size as usize + 1;
            // want = size + 1 <= buf.len() (size < buf.len() above); a read
            // returns at most the slice it is given, so n <= want throughout.
            let mut n = 0;
            while n < want {
                match f.read(&mut self.buf[n..want]) {
                    Ok(0) => break,
                    Ok(k) => {
                        n += k;
                        // Short of the size: read on to tell a shrink.
                        if n >= size as usize {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if n < size as usize {
                return Err(changed(abs, "it shrank"));
            }
            if n > size as usize {
                return Err(changed(abs, "it grew"));
            }
            self.out.write_all(&self.buf[..n])?;
            // pad < BLOCK: it is a remainder modulo BLOCK.
            self.out.write_all(&[0u8; BLOCK][..pad])?;
            return Ok(());
        }
        let mut left = size;
        if let Some(fd) = self.fd {
            self.out.flush()?;
            left = self.send(&f, fd, abs, left)?;
        }
        while left > 0 {
            self.cancelled()?;
            // want <= buf.len(); a read returns n <= want.
            let want = left.min(self.buf.len() as u64) as usize;
            let n = match f.read(&mut self.buf[..want]) {
                Ok(0) => return Err(changed(abs, "it shrank")),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.out.write_all(&self.buf[..n])?;
            left -= n as u64;
        }
        // Go's writer fails with ErrWriteTooLong when more data follows.
        let mut probe = [0u8; 1];
        if f.read(&mut probe)? != 0 {
            return Err(changed(abs, "it grew"));
        }
        self.out.write_all(&[0u8; BLOCK][..pad])?; // pad < BLOCK
        Ok(())
    }

    /// Sends up to `left` bytes of `f` to `fd` with `sendfile`; returns
    /// what is left to copy the ordinary way (all of it when the kernel
    /// cannot send to this descriptor).
    fn send(
        &mut self,
        f: &File,
        fd: std::os::fd::RawFd,
        abs: &Path,
        mut left: u64,
    ) -> io::Result<u64> {
        use std::os::fd::AsRawFd;
        let mut first = true;
        while left > 0 {
            self.cancelled()?;
            let want = left.min(8 << 20) as usize;
            // SAFETY: both descriptors are open; a null offset means the
            // file's own offset, which only this loop and the fallback read.
            let n = unsafe { libc::sendfile(fd, f.as_raw_fd(), std::ptr::null_mut(), want) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) if first => {
                        self.fd = None;
                        return Ok(left);
                    }
                    _ => return Err(e),
                }
            }
            if n == 0 {
                return Err(changed(abs, "it shrank"));
            }
            first = false;
            left -= n as u64;
        }
        Ok(0)
    }

    /// Writes the two zero blocks that end the archive and returns the
    /// writer and the archive's size.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok((self.out, self.bytes + 2 * BLOCK as u64))
    }
}

impl TarBuilder<io::Sink> {
    /// A builder that computes the archive's exact size from metadata,
    /// without reading file contents.
    pub fn counter() -> TarBuilder<io::Sink> {
        TarBuilder {
            out: io::sink(),
            seen_inodes: HashMap::new(),
            buf: Vec::new(),
            bytes: 0,
            with_data: false,
            fd: None,
            cancel: None,
            opened: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> HeaderSpec {
        HeaderSpec {
            name: name.as_bytes().to_vec(),
            typeflag: b'0',
            mode: 0o644,
            size: 5,
            mtime: 1700000000,
            linkname: Vec::new(),
            devmajor: 0,
            devminor: 0,
            capability: None,
        }
    }

    #[test]
    fn ustar_header_fields() {
        let h = spec("a.txt").encode().unwrap();
        assert_eq!(h.len(), 512);
        assert_eq!(&h[100..108], b"0000644\0");
        assert_eq!(&h[124..136], b"00000000005\0");
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert_eq!(&h[329..345], b"0000000\x000000000\0");
        assert_eq!(h[155], b' ');
        let parsed = tar::Header::from_byte_slice(&h);
        assert_eq!(parsed.cksum().unwrap(), {
            let mut b = h.clone();
            b[148..156].fill(b' ');
            b.iter().map(|&c| u32::from(c)).sum::<u32>()
        });
    }

    #[test]
    fn format_choice() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let h = spec(&long).encode().unwrap();
        assert_eq!(h.len(), 512, "splittable long name stays USTAR");
        assert_eq!(&h[345..465], "d".repeat(120).as_bytes());
        let h = spec(&"x".repeat(101)).encode().unwrap();
        assert!(
            h.len() > 512 && h[156] == b'x',
            "unsplittable name needs PAX"
        );
        assert_eq!(&h[..14], b"PaxHeaders.0/x");
        let h = spec("é").encode().unwrap();
        assert_eq!(h[156], b'x');
        let mut big = spec("big");
        big.size = 8 << 30;
        let h = big.encode().unwrap();
        assert!(std::str::from_utf8(&h[512..1024])
            .unwrap()
            .starts_with("19 size=8589934592\n"));
        assert_eq!(&h[1024 + 124..1024 + 136], b"00000000000\0");
    }

    #[test]
    fn pax_records_and_names() {
        assert_eq!(pax_record(b"path", b"abc"), b"12 path=abc\n");
        assert_eq!(
            pax_record(b"path", &[b'a'; 92]).len(),
            102,
            "size digits grow the record"
        );
        assert_eq!(pax_header_name(b"a/b/c"), b"a/b/PaxHeaders.0/c");
        assert_eq!(pax_header_name(b"dir/"), b"dir/PaxHeaders.0");
        assert_eq!(pax_header_name(b"x"), b"PaxHeaders.0/x");
    }

    proptest::proptest! {
        /// The report's size-only path agrees with the writer, whatever
        /// the name, link, size, mtime and xattr.
        #[test]
        fn encoded_len_is_encode_len(
            name in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..400),
            link in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            size in proptest::prelude::prop_oneof![0i64..1 << 40, proptest::prelude::Just(8 << 30)],
            mtime in proptest::prelude::prop_oneof![0i64..1 << 34, -100i64..0],
            cap in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)),
        ) {
            let mut s = spec("x");
            s.name = name;
            s.linkname = link;
            s.size = size;
            s.mtime = mtime;
            s.capability = cap;
            proptest::prop_assert_eq!(s.encoded_len().unwrap(), s.encode().unwrap().len() as u64);
        }
    }

    #[test]
    fn split_rules() {
        assert!(split_ustar_path(b"short").is_none());
        let n = format!("{}/{}", "p".repeat(155), "n".repeat(100));
        assert!(split_ustar_path(n.as_bytes()).is_some());
        let n = format!("{}/{}", "p".repeat(156), "n".repeat(10));
        assert!(split_ustar_path(n.as_bytes()).is_none());
    }
}

/// Summary of a [`pack`] run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackSummary {
    /// Entries written (hard links included).
    pub entries: u64,
    /// Archive size in bytes.
    pub bytes: u64,
    /// What Docker would log and skip.
    pub warnings: Vec<String>,
}

/// Writes the context tar that the engine sends into `out` (the classic
/// engine's bytes are the Docker CLI's upload). `skip` is called with each
/// absolute path and may refuse it (e.g. the output file itself).
pub fn pack<W: Write>(
    ctx: &crate::context::Context,
    out: W,
    skip: impl FnMut(&Path) -> bool,
) -> crate::error::Result<(W, PackSummary)> {
    pack_with(ctx, TarBuilder::new(out), skip)
}

/// [`pack`] into a writer over a descriptor (a file, a pipe, stdout): the
/// same bytes, with file contents sent by the kernel (`sendfile`) instead
/// of read and written. `out` is buffered here.
///
/// With `cancel`, the write stops with an error once the flag is set (a
/// signal handler's flag: checked between blocks of file data).
pub fn pack_fd<W: Write + std::os::fd::AsRawFd>(
    ctx: &crate::context::Context,
    out: W,
    skip: impl FnMut(&Path) -> bool,
    cancel: Option<&'static std::sync::atomic::AtomicBool>,
) -> crate::error::Result<(W, PackSummary)> {
    let fd = out.as_raw_fd();
    let mut tb = TarBuilder::with_fd(io::BufWriter::with_capacity(64 << 10, out), fd);
    tb.cancel = cancel;
    let (buf, summary) = pack_with(ctx, tb, skip)?;
    let out = buf
        .into_inner()
        .map_err(|e| crate::error::Error::Other(format!("writing the archive: {}", e.error())))?;
    Ok((out, summary))
}

/// One sent entry, handed from the walk to the writer.
struct Sent {
    rel: Vec<u8>,
    abs: std::path::PathBuf,
    meta: Option<Stat>,
}

/// Entries per hand-over from the walk to the writer.
const BATCH: usize = 64;

/// Stack of the walk's thread (virtual: only what deep trees use is
/// touched). 2 MiB overflowed at about 1,800 levels in a release build.
const WALK_STACK: usize = 64 << 20;

fn pack_with<W: Write>(
    ctx: &crate::context::Context,
    mut tb: TarBuilder<W>,
    mut skip: impl FnMut(&Path) -> bool,
) -> crate::error::Result<(W, PackSummary)> {
    use crate::walk::{Event, Status, WalkMode};
    use std::sync::mpsc;
    let mut summary = PackSummary::default();
    // The walk (listings, lstat, matching) runs on its own thread, a few
    // batches ahead of the writer (open, read, write): the archive's order
    // is the walk's, and memory stays bounded.
    let (tx, rx) = mpsc::sync_channel::<Vec<Sent>>(8);
    // Set when the writer fails: the walk stops at its next entry.
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let stopped = &stopped;
    let (walked, written) = std::thread::scope(|scope| {
        let walk = move || {
            let mut batch = Vec::with_capacity(BATCH);
            let r = ctx.walk_meta(WalkMode::Sent, |ev| {
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(crate::error::Error::Other(String::new()));
                }
                let Event::Entry(e) = ev else { return Ok(()) };
                if e.status != Status::Sent {
                    return Ok(());
                }
                batch.push(Sent {
                    rel: e.path.to_vec(),
                    abs: e.abs.to_path_buf(),
                    meta: e.meta.copied(),
                });
                if batch.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // The writer stopped (it failed): stop walking.
                    tx.send(full)
                        .map_err(|_| crate::error::Error::Other(String::new()))?;
                }
                Ok(())
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            r
        };
        // The walk recurses once per directory level: give it the main
        // thread's room (a spawned thread gets 2 MiB, too little for the
        // deepest trees a path can hold).
        let walker = std::thread::Builder::new()
            .stack_size(WALK_STACK)
            .spawn_scoped(scope, walk)
            .map_err(|e| crate::error::Error::Other(format!("starting the walk: {e}")));
        let mut write = || -> crate::error::Result<()> {
            for batch in &rx {
                for e in batch {
                    if skip(&e.abs) {
                        continue;
                    }
                    // The walk read the entry's lstat with its directory's
                    // listing; BuildKit's lazily sent parents come without one.
                    let added = match &e.meta {
                        Some(st) => tb.add_with_meta(&e.rel, &e.abs, st),
                        None => tb.add(&e.rel, &e.abs),
                    };
                    match added.map_err(|err| crate::error::Error::Io {
                        path: e.abs.clone(),
                        source: err,
                    })? {
                        Added::Written { .. } => summary.entries += 1,
                        Added::Skipped(SkipReason::Socket) => summary.warnings.push(format!(
                            "{}: a socket; Docker's tar writer cannot store it and skips it",
                            String::from_utf8_lossy(&e.rel)
                        )),
                        Added::Skipped(SkipReason::Unencodable) => summary.warnings.push(format!(
                            "{}: device numbers too large for a tar header; Docker skips it",
                            String::from_utf8_lossy(&e.rel)
                        )),
                        Added::Skipped(SkipReason::Vanished) => {}
                    }
                }
            }
            Ok(())
        };
        let walker = match walker {
            Ok(w) => w,
            Err(e) => return (Err(e), Ok(())),
        };
        let written = write();
        // A failed writer stops the walk (and reading: a hand-over fails).
        stopped.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(rx);
        let walked = walker
            .join()
            .unwrap_or_else(|_| Err(crate::error::Error::Other("the walk panicked".into())));
        (walked, written)
    });
    // The writer's error first (the walk then only saw it stop).
    written?;
    let warnings = walked?;
    summary
        .warnings
        .extend(warnings.into_iter().map(|w| w.message));
    let (out, bytes) = tb
        .finish()
        .map_err(|e| crate::error::Error::Other(format!("writing the archive: {e}")))?;
    summary.bytes = bytes;
    Ok((out, summary))
}
