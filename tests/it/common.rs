//! Helpers shared by the test modules.

use std::fs;

use tempfile::TempDir;

/// A temporary tree: `(path, contents)`; a path ending in `/` is a
/// directory. Parents are created as needed.
pub fn tree(files: &[(&str, &str)]) -> TempDir {
    let bytes: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
    tree_bytes(&bytes)
}

/// [`tree`] with raw contents.
pub fn tree_bytes(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let p = dir.path().join(path.trim_end_matches('/'));
        if path.ends_with('/') {
            fs::create_dir_all(&p).unwrap();
        } else {
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, contents).unwrap();
        }
    }
    dir
}
