//! S3 (bucket, key) → a file under the local directory standing in for the
//! bucket (`[s3.buckets]` of the config), never anywhere else.
//!
//! A key or prefix is checked lexically first (relative, no `..`, `.` or
//! empty component, no NUL), then the path it names is canonicalized and must
//! stay inside the canonicalized bucket directory, so a symlink leading out
//! is refused too. Writes create missing directories one component at a
//! time (each checked the same way) and land atomically: a temporary file in
//! the target directory, synced, then renamed over the key.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use stepwasm_runtime::config::S3Buckets;

/// Directory entries a listing may visit, whatever it keeps: bounds the time
/// a walk of a huge tree takes.
pub const MAX_LISTING_VISITS: usize = 10_000_000;

/// Why a bucket, key or prefix cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("bucket {bucket:?} is not mapped to a directory ([s3.buckets] of {config} maps {known})")]
    Unmapped { bucket: String, config: PathBuf, known: String },
    #[error("bucket {bucket:?}: its directory {dir} cannot be opened: {source}")]
    BucketDir { bucket: String, dir: PathBuf, source: io::Error },
    #[error("s3://{bucket}/{key}: {why}")]
    BadKey { bucket: String, key: String, why: String },
    #[error("s3://{bucket}/{key}: resolves outside the bucket's directory (through a symlink), refused")]
    Outside { bucket: String, key: String },
    #[error("s3://{bucket}/{key}: NoSuchKey: The specified key does not exist.")]
    NoSuchKey { bucket: String, key: String },
    #[error("s3://{bucket}/{key}: listing visits more than {MAX_LISTING_VISITS} directory entries")]
    TooManyEntries { bucket: String, key: String },
    #[error("s3://{bucket}/{key}: {source}")]
    Io { bucket: String, key: String, source: io::Error },
}

/// One object found under a prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedObject {
    /// The S3 key: relative to the bucket directory, `/`-separated.
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

/// The canonical directory of `bucket`.
pub fn bucket_dir(buckets: &S3Buckets, bucket: &str) -> Result<PathBuf, BucketError> {
    let dir = buckets.dir(bucket).ok_or_else(|| BucketError::Unmapped {
        bucket: bucket.to_string(),
        config: buckets.origin().to_path_buf(),
        known: match buckets.names().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ") {
            names if names.is_empty() => "no bucket".to_string(),
            names => names,
        },
    })?;
    let canonical = dir.canonicalize().map_err(|source| BucketError::BucketDir { bucket: bucket.into(), dir: dir.into(), source })?;
    if !canonical.is_dir() {
        let source = io::Error::new(io::ErrorKind::NotADirectory, "not a directory");
        return Err(BucketError::BucketDir { bucket: bucket.into(), dir: dir.into(), source });
    }
    Ok(canonical)
}

/// Checks a key (or a prefix's directory part) lexically; returns its
/// components. `trailing_slash_ok` for prefixes ("logs/").
fn components<'k>(bucket: &str, key: &'k str, trailing_slash_ok: bool) -> Result<Vec<&'k str>, BucketError> {
    let bad = |why: &str| BucketError::BadKey { bucket: bucket.into(), key: key.into(), why: why.into() };
    if key.contains('\0') {
        return Err(bad("a key may not contain NUL"));
    }
    if key.starts_with('/') {
        return Err(bad("an absolute path is not a key (it starts with '/')"));
    }
    let body = if trailing_slash_ok { key.strip_suffix('/').unwrap_or(key) } else { key };
    if body.is_empty() {
        return if trailing_slash_ok && key.is_empty() { Ok(Vec::new()) } else { Err(bad("the key is empty or names a folder")) };
    }
    let parts: Vec<&str> = body.split('/').collect();
    for part in &parts {
        match *part {
            ".." => return Err(bad("a key may not contain a '..' component")),
            "." => return Err(bad("a key may not contain a '.' component")),
            "" => return Err(bad("a key may not contain an empty component ('//' or a trailing '/')")),
            _ => {}
        }
    }
    Ok(parts)
}

/// `path` canonicalized, if it stays inside `root` (both canonical).
fn inside(root: &Path, path: &Path, bucket: &str, key: &str) -> Result<PathBuf, BucketError> {
    let canonical = path.canonicalize().map_err(|source| match source.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => BucketError::NoSuchKey { bucket: bucket.into(), key: key.into() },
        _ => BucketError::Io { bucket: bucket.into(), key: key.into(), source },
    })?;
    if canonical.starts_with(root) {
        Ok(canonical)
    } else {
        Err(BucketError::Outside { bucket: bucket.into(), key: key.into() })
    }
}

/// The regular file that `key` names in `bucket`.
pub fn resolve_key(buckets: &S3Buckets, bucket: &str, key: &str) -> Result<PathBuf, BucketError> {
    let root = bucket_dir(buckets, bucket)?;
    let parts = components(bucket, key, false)?;
    let path = inside(&root, &parts.iter().fold(root.clone(), |p, c| p.join(c)), bucket, key)?;
    if !path.is_file() {
        return Err(BucketError::NoSuchKey { bucket: bucket.into(), key: key.into() });
    }
    Ok(path)
}

/// The objects whose keys start with `prefix` (S3 semantics: a string
/// prefix, "logs/2024" matches "logs/2024-01.txt"), sorted by key as S3 lists
/// them (UTF-8 bytes), at most `keep` of them: the first ones. `more` tells
/// whether there were others. Symlinks to files inside the bucket are
/// listed; symlinked directories are not descended (keeps the walk finite);
/// a symlink leading out of the bucket is refused.
pub fn list_prefix(buckets: &S3Buckets, bucket: &str, prefix: &str, keep: usize) -> Result<(Vec<ListedObject>, bool), BucketError> {
    let root = bucket_dir(buckets, bucket)?;
    let (dir_part, _) = prefix.rsplit_once('/').map(|(d, n)| (format!("{d}/"), n)).unwrap_or_default();
    if prefix.contains('\0') {
        components(bucket, prefix, true)?;
    }
    let start_parts = components(bucket, &dir_part, true)?;
    let start = start_parts.iter().fold(root.clone(), |p, c| p.join(c));
    let start = match inside(&root, &start, bucket, prefix) {
        Ok(dir) if dir.is_dir() => dir,
        Ok(_) | Err(BucketError::NoSuchKey { .. }) => return Ok((Vec::new(), false)),
        Err(e) => return Err(e),
    };
    let io_err = |key: &str, source| BucketError::Io { bucket: bucket.into(), key: key.into(), source };
    let mut kept: BTreeMap<String, ListedObject> = BTreeMap::new();
    let mut more = false;
    let mut visits = 0usize;
    // (directory on disk, its key prefix)
    let mut stack = vec![(start, dir_part.clone())];
    while let Some((dir, dir_key)) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| io_err(&dir_key, e))? {
            visits += 1;
            if visits > MAX_LISTING_VISITS {
                return Err(BucketError::TooManyEntries { bucket: bucket.into(), key: prefix.into() });
            }
            let entry = entry.map_err(|e| io_err(&dir_key, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                let why = format!("a file name under it is not UTF-8 ({:?}), so it cannot be a key", name);
                return Err(BucketError::BadKey { bucket: bucket.into(), key: dir_key.clone(), why });
            };
            let key = format!("{dir_key}{name}");
            let file_type = entry.file_type().map_err(|e| io_err(&key, e))?;
            let path = entry.path();
            if file_type.is_dir() {
                // Only directories whose keys can still match the prefix.
                let sub = format!("{key}/");
                if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                    stack.push((path, sub));
                }
                continue;
            }
            if !key.starts_with(prefix) {
                continue;
            }
            let target = if file_type.is_symlink() {
                let target = inside(&root, &path, bucket, &key)?;
                if !target.is_file() {
                    continue;
                }
                target
            } else if file_type.is_file() {
                path
            } else {
                continue;
            };
            if kept.len() == keep && kept.last_key_value().is_some_and(|(last, _)| *last < key) {
                more = true;
                continue;
            }
            let meta = fs::metadata(&target).map_err(|e| io_err(&key, e))?;
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            kept.insert(key.clone(), ListedObject { key, path: target, size: meta.len(), modified });
            if kept.len() > keep {
                kept.pop_last();
                more = true;
            }
        }
    }
    Ok((kept.into_values().collect(), more))
}

/// Writes `bytes` as `key` in `bucket`, atomically; returns the file's path.
pub fn write_object(buckets: &S3Buckets, bucket: &str, key: &str, bytes: &[u8]) -> Result<PathBuf, BucketError> {
    let root = bucket_dir(buckets, bucket)?;
    let parts = components(bucket, key, false)?;
    let Some((file_name, dirs)) = parts.split_last() else {
        return Err(BucketError::BadKey { bucket: bucket.into(), key: key.into(), why: "the key is empty".into() });
    };
    let io_err = |source| BucketError::Io { bucket: bucket.into(), key: key.into(), source };
    let mut dir = root.clone();
    for part in dirs {
        let next = dir.join(part);
        match fs::symlink_metadata(&next) {
            Ok(meta) if meta.is_dir() => dir = next,
            Ok(meta) if meta.file_type().is_symlink() => {
                dir = inside(&root, &next, bucket, key)?;
                if !dir.is_dir() {
                    return Err(io_err(io::Error::new(io::ErrorKind::NotADirectory, format!("{part:?} is not a directory"))));
                }
            }
            Ok(_) => return Err(io_err(io::Error::new(io::ErrorKind::NotADirectory, format!("{part:?} is a file, not a folder")))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::create_dir(&next) {
                    Ok(()) => {}
                    // Created meanwhile by another writer: checked again below.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(e)),
                }
                dir = inside(&root, &next, bucket, key)?;
            }
            Err(e) => return Err(io_err(e)),
        }
    }
    let target = dir.join(file_name);
    if let Ok(meta) = fs::symlink_metadata(&target) {
        if meta.file_type().is_symlink() {
            // A rename replaces the link itself, but a link leading out is
            // refused all the same: the operator meant something by it.
            inside(&root, &target, bucket, key)?;
        } else if meta.is_dir() {
            return Err(io_err(io::Error::new(io::ErrorKind::IsADirectory, "a folder of that name exists")));
        }
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let temp = dir.join(format!(".{file_name}.tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let written = (|| {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, &target)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_err(e));
    }
    Ok(target)
}

/// A directory removed when dropped, for the tests of this module's siblings.
#[cfg(test)]
pub(crate) struct TestDir(pub PathBuf);

#[cfg(test)]
impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("stepwasm-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TestDir(dir.canonicalize().unwrap())
    }

    /// Buckets `name` → `<dir>/<name>` (created), from a config in `dir`.
    pub fn buckets(&self, names: &[&str]) -> S3Buckets {
        for n in names {
            fs::create_dir_all(self.0.join(n)).unwrap();
        }
        S3Buckets::new(&self.0.join("stepwasm.toml"), names.iter().map(|n| (n.to_string(), PathBuf::from(n)))).unwrap()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn keys_resolve_inside_the_bucket_only() {
        let t = TestDir::new("buckets");
        let b = t.buckets(&["data"]);
        t.write("data/a/b.json", "[]");
        t.write("secret.txt", "no");
        assert_eq!(resolve_key(&b, "data", "a/b.json").unwrap(), t.0.join("data/a/b.json"));
        let err = |key: &str| resolve_key(&b, "data", key).unwrap_err().to_string();
        assert!(err("../secret.txt").contains("'..'"), "{}", err("../secret.txt"));
        assert!(err("a/../../secret.txt").contains("'..'"));
        assert!(err("/etc/passwd").contains("absolute"));
        assert!(err("a\0b").contains("NUL"));
        assert!(err("a//b.json").contains("empty component"));
        assert!(err("a/").contains("trailing '/'"), "{}", err("a/"));
        assert!(err("a/missing.json").contains("NoSuchKey") && err("a/missing.json").contains("s3://data/a/missing.json"));
        assert!(err("a").contains("NoSuchKey"), "a directory is not an object");
        symlink(t.0.join("secret.txt"), t.0.join("data/out.txt")).unwrap();
        assert!(err("out.txt").contains("outside the bucket"), "{}", err("out.txt"));
        symlink(t.0.join("data/a/b.json"), t.0.join("data/in.json")).unwrap();
        assert_eq!(resolve_key(&b, "data", "in.json").unwrap(), t.0.join("data/a/b.json"));
        let unmapped = resolve_key(&b, "other", "x").unwrap_err().to_string();
        assert!(unmapped.contains("\"other\"") && unmapped.contains("stepwasm.toml") && unmapped.contains("\"data\""), "{unmapped}");
    }

    #[test]
    fn listing_is_recursive_sorted_by_key_prefix_matched_and_bounded() {
        let t = TestDir::new("buckets");
        let b = t.buckets(&["data"]);
        for f in ["logs/b.txt", "logs/a-c.txt", "logs/a/x.txt", "logs/2024-01.txt", "other.txt", "logs2/z.txt"] {
            t.write(&format!("data/{f}"), f);
        }
        let keys = |prefix: &str, keep| {
            let (objects, more) = list_prefix(&b, "data", prefix, keep).unwrap();
            (objects.into_iter().map(|o| o.key).collect::<Vec<_>>(), more)
        };
        // '-' (0x2d) sorts before '/' (0x2f): S3's byte order, not the walk's.
        assert_eq!(keys("logs/", 100).0, ["logs/2024-01.txt", "logs/a-c.txt", "logs/a/x.txt", "logs/b.txt"]);
        assert_eq!(keys("logs", 100).0.len(), 5);
        assert_eq!(keys("logs/a", 100).0, ["logs/a-c.txt", "logs/a/x.txt"]);
        assert_eq!(keys("", 100).0.len(), 6);
        assert_eq!(keys("logs/", 2), (vec!["logs/2024-01.txt".to_string(), "logs/a-c.txt".to_string()], true));
        assert_eq!(keys("nothing/", 10), (vec![], false));
        let (objects, _) = list_prefix(&b, "data", "other", 10).unwrap();
        assert_eq!(objects[0].size, 9);
        assert!(list_prefix(&b, "data", "../", 10).unwrap_err().to_string().contains("'..'"));
        assert!(list_prefix(&b, "data", "/etc/", 10).unwrap_err().to_string().contains("absolute"));
        symlink("/etc/hostname", t.0.join("data/logs/link.txt")).unwrap();
        assert!(list_prefix(&b, "data", "logs/", 10).unwrap_err().to_string().contains("outside the bucket"));
    }

    #[test]
    fn writes_create_folders_replace_atomically_and_never_leave_the_bucket() {
        let t = TestDir::new("buckets");
        let b = t.buckets(&["out"]);
        let path = write_object(&b, "out", "jobs/1/manifest.json", b"{}").unwrap();
        assert_eq!(path, t.0.join("out/jobs/1/manifest.json"));
        write_object(&b, "out", "jobs/1/manifest.json", b"{\"a\":1}").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}");
        assert_eq!(fs::read_dir(t.0.join("out/jobs/1")).unwrap().count(), 1, "no temporary file left");
        fs::create_dir(t.0.join("elsewhere")).unwrap();
        symlink(t.0.join("elsewhere"), t.0.join("out/escape")).unwrap();
        assert!(write_object(&b, "out", "escape/x.json", b"1").unwrap_err().to_string().contains("outside the bucket"));
        assert!(!t.0.join("elsewhere/x.json").exists());
        symlink(t.0.join("elsewhere/f"), t.0.join("out/f.json")).unwrap();
        assert!(write_object(&b, "out", "f.json", b"1").is_err());
        assert!(write_object(&b, "out", "../x.json", b"1").unwrap_err().to_string().contains("'..'"));
        assert!(write_object(&b, "out", "/tmp/x.json", b"1").unwrap_err().to_string().contains("absolute"));
    }
}
