//! One driving process per store: `serve`, `resume` and `run --store` hold
//! an exclusive lock on `<store>.lock` for as long as they run. Two hosts
//! driving the same executions would run their tasks twice and refuse each
//! other's events; the lock turns that mistake (a restart that overlaps the
//! old process, a second `serve` by accident) into a clear refusal.
//!
//! The lock is `flock(LOCK_EX)` on the lock file, which the kernel releases
//! when the process ends however it ends (kill -9 included): a lock is never
//! stale. The holder writes its pid and command into the file so that a
//! refused process can name it. Readers of the store (`executions`, `task`,
//! `start`) do not take the lock.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The lock of one store, held until dropped (or the process ends).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
}

/// Who holds a store's lock, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `None` when the holder has not written its pid yet (it just took the lock).
    pub pid: Option<u32>,
    /// The holder's command (`stepwasm serve`).
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid} ({})", self.command),
            None => write!(f, "another process"),
        }
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("store {store} is in use by {holder}; one process drives a store at a time (wait with --wait-for-lock)")]
    InUse { store: String, holder: Holder },
    #[error("store {store}: cannot lock {path}: {source}")]
    Io { store: String, path: String, source: std::io::Error },
}

/// What the lock of a store does when another process holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenHeld {
    /// Refuse at once ([`LockError::InUse`]).
    Refuse,
    /// Wait until the holder exits.
    Wait,
}

impl StoreLock {
    /// The lock file of the store at `store`: `<store>.lock` beside it.
    pub fn path_for(store: &Path) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock of `store` for this process, which runs `command`
    /// (e.g. `stepwasm serve`). When another process holds it: refused, or
    /// (`WhenHeld::Wait`) `waiting` is called with the holder and the lock
    /// is waited for.
    pub fn acquire(store: &Path, command: &str, when_held: WhenHeld, waiting: impl FnOnce(&Holder)) -> Result<StoreLock, LockError> {
        let path = StoreLock::path_for(store);
        let io = |source| LockError::Io { store: store.display().to_string(), path: path.display().to_string(), source };
        // Not truncated on open: the file holds the holder's pid until we hold the lock.
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        if !flock(&file, libc::LOCK_EX | libc::LOCK_NB).map_err(io)? {
            let holder = read_holder(&mut file);
            if when_held == WhenHeld::Refuse {
                return Err(LockError::InUse { store: store.display().to_string(), holder });
            }
            waiting(&holder);
            flock(&file, libc::LOCK_EX).map_err(io)?;
        }
        // Only to name the holder: on a full disk the lock holds without it.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(format!("{}\n{command}\n", std::process::id()).as_bytes()));
        Ok(StoreLock { _file: file, path })
    }

    /// Who holds the lock of `store` now, if anyone.
    pub fn holder(store: &Path) -> Result<Option<Holder>, std::io::Error> {
        let mut file = match File::open(StoreLock::path_for(store)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // A shared lock is granted only when nobody holds the exclusive one.
        if flock(&file, libc::LOCK_SH | libc::LOCK_NB)? {
            flock(&file, libc::LOCK_UN)?;
            return Ok(None);
        }
        Ok(Some(read_holder(&mut file)))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `flock(2)` on `file`: false when `LOCK_NB` was given and another holds it.
fn flock(file: &File, operation: libc::c_int) -> Result<bool, std::io::Error> {
    loop {
        // SAFETY: flock on a descriptor this `File` owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(true);
        }
        let error = std::io::Error::last_os_error();
        match error.kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(error),
        }
    }
}

/// The holder as its lock file names it (`pid\ncommand\n`); a file still
/// empty (the holder took the lock a moment ago) names no pid.
fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.take(4096).read_to_string(&mut text));
    let mut lines = text.lines();
    let pid = lines.next().and_then(|line| line.trim().parse().ok());
    let command = lines.next().map(str::trim).filter(|c| !c.is_empty()).unwrap_or("stepwasm").to_string();
    Holder { pid, command }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("stepwasm-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = dir.join("store.sqlite");
        assert_eq!(StoreLock::holder(&store).unwrap(), None, "no lock file yet");
        let first = StoreLock::acquire(&store, "stepwasm serve", WhenHeld::Refuse, |_| panic!("free")).unwrap();
        assert_eq!(first.path(), dir.join("store.sqlite.lock"));
        let me = Holder { pid: Some(std::process::id()), command: "stepwasm serve".into() };
        assert_eq!(StoreLock::holder(&store).unwrap(), Some(me.clone()));
        // flock locks belong to the open file, so a second open in this
        // process is refused like another process would be.
        let refused = StoreLock::acquire(&store, "stepwasm resume", WhenHeld::Refuse, |_| panic!("refused, not waited")).unwrap_err();
        let message = refused.to_string();
        assert!(matches!(&refused, LockError::InUse { holder, .. } if *holder == me), "{refused:?}");
        assert!(message.contains(&format!("is in use by pid {} (stepwasm serve)", std::process::id())), "{message}");

        // The holder lets go once the second says it waits.
        let (waits, told) = std::sync::mpsc::channel::<()>();
        let released = std::thread::spawn(move || {
            told.recv().unwrap();
            drop(first);
        });
        let mut waited_for = None;
        let second = StoreLock::acquire(&store, "stepwasm resume", WhenHeld::Wait, |h| {
            waited_for = Some(h.clone());
            waits.send(()).unwrap();
        })
        .unwrap();
        released.join().unwrap();
        assert_eq!(waited_for, Some(me));
        assert_eq!(StoreLock::holder(&store).unwrap().map(|h| h.command), Some("stepwasm resume".into()));
        drop(second);
        assert_eq!(StoreLock::holder(&store).unwrap(), None, "the file stays, the lock does not");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
