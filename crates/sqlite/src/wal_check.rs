//! The write-ahead log's integrity: a damaged or cut WAL is refused at open
//! instead of silently rolling the store back.
//!
//! SQLite rebuilds its view of a WAL when the first connection opens it (the
//! other connections share that view): it reads frames from the start and
//! stops, without a word, at the first frame whose salt or cumulative
//! checksum does not match, keeping the transactions committed before it. A
//! WAL cut in half, or with a damaged frame in the middle, so loses committed
//! (acknowledged) transactions at the next open; a WAL whose header is
//! damaged loses all of them.
//!
//! To tell that loss from a harmless torn tail (a kill -9 between SQLite's
//! writes of an uncommitted frame), every connection that writes the store
//! notes, after each commit, how many frames of which WAL are committed:
//! `<store>-walmark` holds the WAL's salts and its committed frame count
//! ([`note_commits`] installs the `sqlite3_wal_hook` that writes it). Before
//! a process lets SQLite read the WAL, [`verify`] checks it against that mark
//! the way SQLite's recovery would read it: same salts and fewer valid
//! committed frames than the mark says is damage, refused with the WAL's
//! path, the counts and the byte where the damage starts, the files left as
//! they were.
//!
//! Why the mark can only lag, never lead (so it gives no false alarm): it is
//! written after the commit it describes, whose frames the store's
//! `synchronous=FULL` has already synced, and it is never lowered within one
//! WAL (salts are new for each WAL). A commit made without that sync (the
//! crash-loop guard's counts, with `synchronous=NORMAL`) is not marked at all
//! ([`unmarked_commits`]): a power loss may take its frames, and a mark
//! counting them would make the intact rest look damaged; the next synced
//! commit's mark counts them, once they are on disk. It is not synced itself: after a power
//! loss it may be older, which only means less is checked. A kill -9 between
//! a commit and its mark likewise leaves the mark behind.
//!
//! What cannot be detected: a WAL deleted, or cut to less than its 32-byte
//! header (a WAL truncated to nothing after a checkpoint is normal); damage
//! to frames committed after the last mark (written by a process without the
//! hook: an older stepwasm, the sqlite3 shell); a WAL damaged while a process
//! has the store open (SQLite then uses that process's index, not recovery,
//! and reads fail). Pages of the database file itself are checked by
//! `quick_check` / `integrity_check` (`SqliteStore::check`).

use crate::connection::WAL_SIZE_LIMIT;
use rusqlite::{ffi, Connection};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bytes of the WAL header; of each frame's header.
const WAL_HEADER: usize = 32;
const FRAME_HEADER: usize = 24;
/// The WAL magic number (its low bit: big-endian checksums) and the only format version.
const WAL_MAGIC: u32 = 0x377f_0682;
const WAL_VERSION: u32 = 3_007_000;
/// SQLite's default automatic checkpoint, which a WAL hook replaces: run one
/// once a commit leaves at least this many frames in the WAL.
const AUTOCHECKPOINT_FRAMES: c_int = 1000;

/// The mark file: magic, salts (as in the WAL, 8 bytes), committed frames,
/// a checksum of the 16 bytes before it (a torn mark is ignored).
const MARK_MAGIC: &[u8; 4] = b"SWWM";
const MARK_LEN: usize = 20;

/// The WAL beside a store file, as SQLite names it.
pub fn wal_path(store: &Path) -> PathBuf {
    suffixed(store, "-wal")
}

/// The mark beside a store file.
pub fn mark_path(store: &Path) -> PathBuf {
    suffixed(store, "-walmark")
}

fn suffixed(store: &Path, suffix: &str) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The WAL holds fewer committed frames than were acknowledged: SQLite would
/// open the store without them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "its write-ahead log {wal} is damaged: {acknowledged} frames were committed in it (as {mark} notes), \
     only {intact} are intact; {damage}. Opening it would silently lose the transactions after frame {intact}; \
     nothing was changed. Restore the store and its -wal file from a backup, or move the -wal file away to \
     accept that loss"
)]
pub struct WalDamage {
    pub wal: String,
    pub mark: String,
    /// Committed frames, as the mark says.
    pub acknowledged: u32,
    /// Frames up to the last commit SQLite's recovery would keep.
    pub intact: u32,
    /// Where the damage starts and what it is.
    pub damage: String,
}

/// A parsed WAL header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    big_endian: bool,
    page_size: usize,
    salts: [u8; 8],
    checksum: (u32, u32),
}

impl Header {
    /// The header as SQLite's recovery accepts it, or why not.
    fn parse(bytes: &[u8; WAL_HEADER]) -> Result<Header, &'static str> {
        let word = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let (magic, version, page_size) = (word(0), word(4), word(8));
        if magic & !1 != WAL_MAGIC {
            return Err("its magic number is wrong");
        }
        if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
            return Err("its page size is invalid");
        }
        let big_endian = magic & 1 == 1;
        let checksum = checksum(big_endian, &bytes[..24], (0, 0));
        if checksum != (word(24), word(28)) {
            return Err("its checksum does not match");
        }
        if version != WAL_VERSION {
            return Err("its format version is unknown");
        }
        let mut salts = [0; 8];
        salts.copy_from_slice(&bytes[16..24]);
        Ok(Header { big_endian, page_size: page_size as usize, salts, checksum })
    }

    fn frame_size(&self) -> usize {
        FRAME_HEADER + self.page_size
    }
}

/// SQLite's WAL checksum: over 32-bit words (big- or little-endian as the
/// magic says), in pairs, continuing from `start`.
fn checksum(big_endian: bool, data: &[u8], start: (u32, u32)) -> (u32, u32) {
    let (mut s1, mut s2) = start;
    for pair in data.chunks_exact(8) {
        let word =
            |b: &[u8]| if big_endian { u32::from_be_bytes([b[0], b[1], b[2], b[3]]) } else { u32::from_le_bytes([b[0], b[1], b[2], b[3]]) };
        s1 = s1.wrapping_add(word(&pair[..4])).wrapping_add(s2);
        s2 = s2.wrapping_add(word(&pair[4..])).wrapping_add(s1);
    }
    (s1, s2)
}

/// What the mark says: `frames` committed frames in the WAL with `salts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    salts: [u8; 8],
    frames: u32,
}

impl Mark {
    fn encode(&self) -> [u8; MARK_LEN] {
        let mut bytes = [0; MARK_LEN];
        bytes[..4].copy_from_slice(MARK_MAGIC);
        bytes[4..12].copy_from_slice(&self.salts);
        bytes[12..16].copy_from_slice(&self.frames.to_be_bytes());
        let (_, sum) = checksum(false, &bytes[..16], (0, 0));
        bytes[16..].copy_from_slice(&sum.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Mark> {
        let bytes: &[u8; MARK_LEN] = bytes.get(..MARK_LEN)?.try_into().ok()?;
        let (_, sum) = checksum(false, &bytes[..16], (0, 0));
        if &bytes[..4] != MARK_MAGIC || bytes[16..] != sum.to_be_bytes() {
            return None;
        }
        let mut salts = [0; 8];
        salts.copy_from_slice(&bytes[4..12]);
        Some(Mark { salts, frames: u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) })
    }

    fn read(path: &Path) -> Option<Mark> {
        let mut bytes = [0; MARK_LEN];
        File::open(path).ok()?.read_exact_at(&mut bytes, 0).ok()?;
        Mark::decode(&bytes)
    }
}

/// Up to the first `WAL_HEADER` bytes of the WAL (fewer if it is shorter;
/// none if there is no WAL).
fn header_bytes(wal: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(WAL_HEADER);
    match File::open(wal) {
        Ok(file) => file.take(WAL_HEADER as u64).read_to_end(&mut bytes).map(drop)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(bytes)
}

/// Checks the WAL of the store file at `store` against its mark, before any
/// connection of this process reads it (see the module doc). `Ok` when there
/// is nothing to compare (no mark, no WAL, another WAL than the marked one)
/// or the WAL holds at least what the mark says; I/O errors reading the WAL
/// are returned as such.
pub fn verify(store: &Path) -> Result<Result<(), WalDamage>, std::io::Error> {
    // SQLite opens the file through its real path, and the hook notes marks there.
    let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
    let (wal, mark_file) = (wal_path(&store), mark_path(&store));
    // Another process may be writing the WAL meanwhile (it then restarts it
    // from the beginning only after writing a new header): a scan is
    // trusted when the header read before and after it is the same.
    for _ in 0..5 {
        // The mark first: the frames it counts were written before it.
        let Some(mark) = Mark::read(&mark_file) else { return Ok(Ok(())) };
        let before = header_bytes(&wal)?;
        let verdict = judge(&wal, &mark_file, &before, mark)?;
        if header_bytes(&wal)? == before {
            return Ok(verdict);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Rewritten all along: a live writer, whose index SQLite uses, not recovery.
    Ok(Ok(()))
}

/// The verdict on the WAL whose first bytes are `head`, against `mark`.
fn judge(wal: &Path, mark_file: &Path, head: &[u8], mark: Mark) -> std::io::Result<Result<(), WalDamage>> {
    let Ok(head) = <&[u8; WAL_HEADER]>::try_from(head) else {
        // No WAL, or less than a header: nothing SQLite would read either.
        return Ok(Ok(()));
    };
    let damage = |intact: u32, damage: String| {
        Err(WalDamage { wal: wal.display().to_string(), mark: mark_file.display().to_string(), acknowledged: mark.frames, intact, damage })
    };
    let file = File::open(wal)?;
    let header = match Header::parse(head) {
        Ok(header) => header,
        Err(why) => {
            // SQLite ignores the whole WAL. Damage if its first frame is one
            // of the marked WAL's: a frame's salts are its WAL's.
            let mut frame = [0; FRAME_HEADER];
            let marked = mark.frames > 0
                && file.read_exact_at(&mut frame, WAL_HEADER as u64).is_ok()
                && frame[8..16] == mark.salts
                && file.metadata()?.len() >= (WAL_HEADER + FRAME_HEADER + 512) as u64;
            return Ok(if marked { damage(0, format!("its header (bytes 0 to 31) is damaged: {why}")) } else { Ok(()) });
        }
    };
    if header.salts != mark.salts || mark.frames == 0 {
        return Ok(Ok(()));
    }
    let scan = scan(&file, &header, mark.frames)?;
    Ok(match scan.first_bad {
        Some(damaged) if scan.committed < mark.frames => damage(scan.committed, damaged),
        _ => Ok(()),
    })
}

/// What a scan of the WAL found, read as SQLite's recovery reads it.
struct Scan {
    /// Frames up to the last valid commit frame.
    committed: u32,
    /// Where and why the valid frames end, if they end before `up_to`.
    first_bad: Option<String>,
}

/// Reads the frames of `file` from the first until `up_to` of them are known
/// valid (or one is not), following the checksum chain.
fn scan(file: &File, header: &Header, up_to: u32) -> std::io::Result<Scan> {
    let len = file.metadata()?.len();
    let size = header.frame_size();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(WAL_HEADER as u64))?;
    let mut frame = vec![0; size];
    let (mut sum, mut committed) = (header.checksum, 0);
    for index in 1..=up_to {
        let offset = WAL_HEADER as u64 + u64::from(index - 1) * size as u64;
        let bad =
            |why: String| Ok(Scan { committed, first_bad: Some(format!("the damage starts at byte {offset}, frame {index}: {why}")) });
        if offset + size as u64 > len {
            return bad(format!("the file ends at byte {len}, before the frame's {size} bytes"));
        }
        reader.read_exact(&mut frame)?;
        if frame[8..16] != header.salts {
            return bad("it is not a frame of this log (its salts differ)".into());
        }
        if frame[..4] == [0; 4] {
            return bad("its page number is 0".into());
        }
        sum = checksum(header.big_endian, &frame[..8], sum);
        sum = checksum(header.big_endian, &frame[FRAME_HEADER..], sum);
        let stored = (
            u32::from_be_bytes([frame[16], frame[17], frame[18], frame[19]]),
            u32::from_be_bytes([frame[20], frame[21], frame[22], frame[23]]),
        );
        if sum != stored {
            return bad("its checksum does not match".into());
        }
        if frame[4..8] != [0; 4] {
            committed = index;
        }
    }
    Ok(Scan { committed, first_bad: None })
}

thread_local! {
    /// Whether this thread's commits are left unmarked ([`unmarked_commits`]).
    static UNMARKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, the commits this thread makes (on connections with the hook
/// of [`note_commits`]) are not noted in the mark: for commits made with
/// `synchronous=NORMAL`, whose frames may not be on disk (see the module doc).
#[must_use = "commits are left unmarked only while the guard lives"]
pub struct UnmarkedCommits {
    was: bool,
    /// The flag is this thread's: the guard stays on it.
    _on_this_thread: std::marker::PhantomData<*const ()>,
}

/// Leaves this thread's commits unmarked until the guard is dropped.
pub fn unmarked_commits() -> UnmarkedCommits {
    UnmarkedCommits { was: UNMARKED.with(|u| u.replace(true)), _on_this_thread: std::marker::PhantomData }
}

impl Drop for UnmarkedCommits {
    fn drop(&mut self) {
        UNMARKED.with(|u| u.set(self.was));
    }
}

/// Has `conn` note, after each of its commits, how many frames of its WAL
/// are committed (see the module doc), and run SQLite's automatic
/// checkpoint, which this hook replaces (PASSIVE once 1000 frames are in the
/// WAL), or a TRUNCATE checkpoint once the WAL file is over
/// [`WAL_SIZE_LIMIT`]: readers overlapping one another can keep passive
/// checkpoints from ever reaching its end. Set up before the first write.
pub fn note_commits(conn: &Connection) {
    // SAFETY: the hook is a plain function with no user data; the handle is
    // the live connection's.
    unsafe {
        ffi::sqlite3_wal_hook(conn.handle(), Some(after_commit), std::ptr::null_mut());
    }
}

/// The WAL hook: called by SQLite after a commit, with the WAL's frame count.
unsafe extern "C" fn after_commit(_: *mut c_void, db: *mut ffi::sqlite3, name: *const c_char, frames: c_int) -> c_int {
    // SAFETY: SQLite passes its connection and the database's name, valid for this call.
    let file = unsafe { ffi::sqlite3_db_filename(db, name) };
    let mut over_limit = false;
    if !file.is_null() && frames > 0 {
        // SAFETY: a NUL-terminated string owned by the connection.
        let file = unsafe { CStr::from_ptr(file) };
        if let Ok(file) = file.to_str() {
            let store = Path::new(file);
            // A mark not written leaves it behind: less is checked, nothing is wrong.
            if !UNMARKED.with(std::cell::Cell::get) {
                let _ = std::panic::catch_unwind(|| write_mark(store, frames as u32));
            }
            over_limit = std::fs::metadata(wal_path(store)).is_ok_and(|m| m.len() > WAL_SIZE_LIMIT);
        }
    }
    // SAFETY: as SQLite's own automatic checkpoint does from this hook.
    unsafe {
        if over_limit {
            // Readers kept passive checkpoints from reaching the end: this one
            // waits for them (the busy timeout) and empties the WAL.
            let mode = ffi::SQLITE_CHECKPOINT_TRUNCATE;
            ffi::sqlite3_wal_checkpoint_v2(db, name, mode, std::ptr::null_mut(), std::ptr::null_mut());
        } else if frames >= AUTOCHECKPOINT_FRAMES {
            ffi::sqlite3_wal_checkpoint(db, name);
        }
    }
    ffi::SQLITE_OK
}

/// Notes `frames` committed frames of the store's WAL, if frame `frames` of
/// that WAL is indeed a commit frame of it (another process may have
/// restarted the WAL since this commit: then its own mark says more), and
/// unless the mark already says more of the same WAL.
fn write_mark(store: &Path, frames: u32) -> std::io::Result<()> {
    let wal = File::open(wal_path(store))?;
    let mut head = [0; WAL_HEADER];
    wal.read_exact_at(&mut head, 0)?;
    let Ok(header) = Header::parse(&head) else { return Ok(()) };
    let mut frame = [0; FRAME_HEADER];
    wal.read_exact_at(&mut frame, WAL_HEADER as u64 + u64::from(frames - 1) * header.frame_size() as u64)?;
    if frame[8..16] != header.salts || frame[4..8] == [0; 4] {
        return Ok(());
    }
    let path = mark_path(store);
    if Mark::read(&path).is_some_and(|mark| mark.salts == header.salts && mark.frames >= frames) {
        return Ok(());
    }
    let mark = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)?;
    mark.write_all_at(&Mark { salts: header.salts, frames }.encode(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stepwasm-walcheck-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A store file with `commits` committed transactions left in its WAL
    /// (the connection is leaked, as a killed process leaves it), copied to
    /// `copy` with its WAL and mark.
    fn store_with_wal(dir: &Path, commits: usize) -> PathBuf {
        let path = dir.join("live.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        note_commits(&conn);
        conn.execute_batch("CREATE TABLE t (n INTEGER, pad TEXT)").unwrap();
        for n in 0..commits {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", rusqlite::params![n, "x".repeat(3000)]).unwrap();
        }
        let copy = dir.join("copy.sqlite");
        for suffix in ["", "-wal", "-walmark"] {
            std::fs::copy(suffixed(&path, suffix), suffixed(&copy, suffix)).unwrap();
        }
        std::mem::forget(conn);
        copy
    }

    fn rows(path: &Path) -> i64 {
        Connection::open(path).unwrap().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn an_intact_wal_passes_and_keeps_everything() {
        let dir = dir("intact");
        let store = store_with_wal(&dir, 20);
        let mark = Mark::read(&mark_path(&store)).unwrap();
        assert!(mark.frames >= 20, "{mark:?}");
        assert_eq!(verify(&store).unwrap(), Ok(()));
        assert_eq!(rows(&store), 20);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cut_wal_is_refused_with_where_the_damage_starts_and_left_as_it_was() {
        let dir = dir("cut");
        let store = store_with_wal(&dir, 20);
        let wal = wal_path(&store);
        let len = std::fs::metadata(&wal).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
        file.set_len(len / 2).unwrap();
        let damage = verify(&store).unwrap().unwrap_err();
        assert!(damage.intact < damage.acknowledged, "{damage}");
        let text = damage.to_string();
        assert!(text.contains("copy.sqlite-wal") && text.contains("the file ends at byte"), "{text}");
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), len / 2, "untouched");
        // What SQLite would have done: open it with the tail gone.
        assert!(rows(&store) < 20);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_frame_damaged_in_the_middle_is_refused() {
        let dir = dir("middle");
        let store = store_with_wal(&dir, 20);
        let wal = wal_path(&store);
        let len = std::fs::metadata(&wal).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
        file.write_all_at(b"garbage", len / 2).unwrap();
        let text = verify(&store).unwrap().unwrap_err().to_string();
        assert!(text.contains("checksum does not match"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_header_is_refused_and_a_torn_uncommitted_tail_is_not() {
        let dir = dir("header");
        let store = store_with_wal(&dir, 5);
        let wal = wal_path(&store);
        let pristine = std::fs::read(&wal).unwrap();
        // A partial frame after the last commit (a kill -9 between SQLite's
        // two writes of an uncommitted frame): same salts, half a page.
        let mut torn = pristine.clone();
        let header = Header::parse(torn[..32].try_into().unwrap()).unwrap();
        let mut partial = vec![0u8; FRAME_HEADER + header.page_size / 2];
        partial[..4].copy_from_slice(&7u32.to_be_bytes());
        partial[8..16].copy_from_slice(&header.salts);
        torn.extend_from_slice(&partial);
        std::fs::write(&wal, &torn).unwrap();
        assert_eq!(verify(&store).unwrap(), Ok(()));
        // A whole uncommitted frame with a wrong checksum: also harmless.
        torn.truncate(pristine.len());
        partial.resize(header.frame_size(), 1);
        torn.extend_from_slice(&partial);
        std::fs::write(&wal, &torn).unwrap();
        assert_eq!(verify(&store).unwrap(), Ok(()));
        let mut broken = pristine;
        broken[24] ^= 0xff;
        std::fs::write(&wal, &broken).unwrap();
        let text = verify(&store).unwrap().unwrap_err().to_string();
        assert!(text.contains("header (bytes 0 to 31) is damaged"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unsynced_commit_is_not_marked_and_the_next_synced_one_is() {
        let dir = dir("unmarked");
        let store = store_with_wal(&dir, 3);
        let conn = Connection::open(&store).unwrap();
        note_commits(&conn);
        let marked = Mark::read(&mark_path(&store)).unwrap();
        {
            let _unmarked = unmarked_commits();
            conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
            conn.execute("INSERT INTO t VALUES (100, 'unsynced')", []).unwrap();
            conn.pragma_update(None, "synchronous", "FULL").unwrap();
        }
        assert_eq!(Mark::read(&mark_path(&store)), Some(marked), "not marked while its frames may not be on disk");
        conn.execute("INSERT INTO t VALUES (101, 'synced')", []).unwrap();
        let after = Mark::read(&mark_path(&store)).unwrap();
        assert!(after.salts == marked.salts && after.frames >= marked.frames + 2, "{after:?} after {marked:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_mark_of_another_wal_or_a_torn_mark_checks_nothing() {
        let dir = dir("other");
        let store = store_with_wal(&dir, 5);
        let path = mark_path(&store);
        let mut mark = Mark::read(&path).unwrap();
        mark.frames += 1000;
        let mut other = mark;
        other.salts[0] ^= 1;
        std::fs::write(&path, other.encode()).unwrap();
        assert_eq!(verify(&store).unwrap(), Ok(()), "another WAL's mark");
        let mut torn = mark.encode();
        torn[13] ^= 1;
        std::fs::write(&path, torn).unwrap();
        assert_eq!(verify(&store).unwrap(), Ok(()), "a torn mark");
        std::fs::write(&path, mark.encode()).unwrap();
        assert!(verify(&store).unwrap().is_err(), "the same WAL, frames missing");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
