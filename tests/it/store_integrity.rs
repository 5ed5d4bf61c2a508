//! The store file's integrity, end to end with real processes and files: a
//! write-ahead log cut in half or damaged in the middle is refused at open
//! (naming it, the files left as they were) instead of silently losing
//! acknowledged executions, while the torn tail a kill -9 leaves is not;
//! processes creating a new store at once all succeed; `store check` passes
//! a sound store and names a damaged one; stored rows that no longer read
//! back are named with their file and execution.

use crate::support::{root, scratch, stepwasm};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use stepwasm::store::SqliteStore;
use stepwasm_sqlite::wal_check::{mark_path, wal_path};

const PASS: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"done": true}, "End": true}}}"#;

/// Executions in the stores these tests make.
const EXECUTIONS: usize = 30;

/// A store whose executions were started by `stepwasm start` processes
/// while this process held it open (as a running `serve` does), so that
/// their commits are still in the WAL; copied, WAL and mark included, to
/// `<dir>/copy.sqlite` as a killed host leaves it.
fn store_left_with_its_wal(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(&format!("integrity-{name}"));
    let definition = dir.join("pass.asl.json");
    std::fs::write(&definition, PASS).unwrap();
    let live = dir.join("live.sqlite");
    let holder = SqliteStore::open(&live).unwrap();
    for n in 0..EXECUTIONS {
        let (code, _, err) =
            stepwasm(&["start", definition.to_str().unwrap(), "--store", live.to_str().unwrap(), "--name", &format!("e{n}")]);
        assert_eq!(code, 0, "{err}");
    }
    let copy = dir.join("copy.sqlite");
    for (from, to) in [(live.clone(), copy.clone()), (wal_path(&live), wal_path(&copy)), (mark_path(&live), mark_path(&copy))] {
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    drop(holder);
    (dir, copy)
}

/// The bytes of the store file and its WAL.
fn files(store: &Path) -> (Vec<u8>, Vec<u8>) {
    (std::fs::read(store).unwrap(), std::fs::read(wal_path(store)).unwrap())
}

fn list(store: &Path) -> (i32, String, String) {
    stepwasm(&["executions", "list", "--store", store.to_str().unwrap()])
}

/// How many frames of the WAL are committed, from its mark (the WAL file
/// may also hold stale frames of an earlier generation beyond those).
fn committed_frames(store: &Path) -> usize {
    let mark = std::fs::read(mark_path(store)).unwrap();
    u32::from_be_bytes(mark[12..16].try_into().unwrap()) as usize
}

/// The WAL's page size and salts, from its header.
fn wal_geometry(store: &Path) -> (usize, [u8; 8]) {
    let wal = std::fs::read(wal_path(store)).unwrap();
    let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
    (page_size, wal[16..24].try_into().unwrap())
}

#[test]
fn a_wal_left_whole_keeps_every_execution() {
    let (dir, copy) = store_left_with_its_wal("whole");
    assert!(std::fs::metadata(wal_path(&copy)).unwrap().len() > 32, "the commits are in the WAL");
    let (code, out, err) = list(&copy);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("RUNNING")).count(), EXECUTIONS, "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_wal_cut_in_half_is_refused_at_open_naming_it_and_left_as_it_was() {
    let (dir, copy) = store_left_with_its_wal("cut");
    let wal = wal_path(&copy);
    let (page_size, _) = wal_geometry(&copy);
    // Half of the committed frames, wherever the file itself ends.
    let half = 32 + (committed_frames(&copy) * (24 + page_size)) / 2;
    std::fs::OpenOptions::new().write(true).open(&wal).unwrap().set_len(half as u64).unwrap();
    let before = files(&copy);

    let (code, out, err) = list(&copy);
    assert_eq!(code, 2, "refused, not listed: {out}");
    assert!(err.contains("copy.sqlite-wal") && err.contains("is damaged") && err.contains("frames were committed"), "{err}");
    assert!(err.contains("the file ends at byte"), "where the damage starts: {err}");
    let (code, out, _) = stepwasm(&["store", "check", "--store", copy.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("copy.sqlite-wal"), "{out}");
    let err = SqliteStore::open(&copy).unwrap_err().to_string();
    assert!(err.contains("copy.sqlite") && err.contains("move the -wal file away"), "{err}");
    assert!(files(&copy) == before, "the store and its WAL are left as they were");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_damaged_frame_in_the_middle_of_the_wal_is_refused() {
    let (dir, copy) = store_left_with_its_wal("middle");
    let (page_size, _) = wal_geometry(&copy);
    let wal = wal_path(&copy);
    let frames = committed_frames(&copy);
    assert!(frames > 2, "{frames} frames committed");
    // The page data of the middle committed frame.
    let at = 32 + (frames / 2) * (24 + page_size) + 24 + 100;
    std::os::unix::fs::FileExt::write_all_at(&std::fs::OpenOptions::new().write(true).open(&wal).unwrap(), &[0x5a; 16], at as u64).unwrap();
    let (code, _, err) = list(&copy);
    assert_eq!(code, 2);
    assert!(err.contains("copy.sqlite-wal") && err.contains("checksum does not match"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_torn_uncommitted_frame_a_kill_leaves_is_not_refused() {
    let (dir, copy) = store_left_with_its_wal("torn");
    let (page_size, salts) = wal_geometry(&copy);
    // A kill -9 between SQLite's two writes of a frame of a transaction that
    // never committed: the frame's header (this WAL's salts, no commit
    // mark, a checksum of nothing) and part of its page.
    let mut frame = vec![0u8; 24 + page_size / 3];
    frame[..4].copy_from_slice(&2u32.to_be_bytes());
    frame[8..16].copy_from_slice(&salts);
    frame[24..].fill(0x77);
    let mut wal = std::fs::OpenOptions::new().append(true).open(wal_path(&copy)).unwrap();
    std::io::Write::write_all(&mut wal, &frame).unwrap();
    drop(wal);
    let (code, out, err) = list(&copy);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("RUNNING")).count(), EXECUTIONS, "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn processes_creating_a_store_at_once_all_succeed() {
    let dir = scratch("integrity-race");
    let definition = dir.join("pass.asl.json");
    std::fs::write(&definition, PASS).unwrap();
    for round in 0..20 {
        let store = dir.join(format!("new-{round}.sqlite"));
        let store_arg = store.to_str().unwrap();
        // Two readers and two writers of a store that does not exist yet.
        let children: Vec<_> = (0..4)
            .map(|n| {
                let name = format!("e{n}");
                let args: Vec<&str> = if n % 2 == 0 {
                    vec!["executions", "list", "--store", store_arg]
                } else {
                    vec!["start", definition.to_str().unwrap(), "--store", store_arg, "--name", &name]
                };
                Command::new(env!("CARGO_BIN_EXE_stepwasm"))
                    .args(&args)
                    .current_dir(root())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let (code, out, err) = list(&store);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().filter(|l| l.starts_with("RUNNING")).count(), 2, "round {round}: {out}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn store_check_passes_a_sound_store_and_names_a_damaged_one_and_its_rows() {
    let (dir, copy) = store_left_with_its_wal("check");
    let store_arg = copy.to_str().unwrap();
    let (code, out, err) = stepwasm(&["store", "check", "--store", store_arg, "--full"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("copy.sqlite: ok"), "{out}");

    // Rows that no longer read back: an event and a name that are not UTF-8.
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let arn = "arn:aws:states:local:000000000000:execution:pass:e3";
    conn.execute(
        "UPDATE events SET event = CAST(X'7B22FF' AS TEXT) WHERE execution = (SELECT key FROM executions WHERE arn = ?1) AND id = 1",
        [arn],
    )
    .unwrap();
    let (code, _, err) = stepwasm(&["executions", "history", "e3", "--store", store_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("e3") && err.contains("event 1") && err.contains("not UTF-8"), "{err}");
    let (code, out, _) = stepwasm(&["store", "check", "--store", store_arg, "--full"]);
    assert_eq!((code, out.contains("copy.sqlite") && out.contains("event 1")), (1, true), "{out}");
    conn.execute("UPDATE executions SET name = CAST(X'FF' AS TEXT) WHERE arn = ?1", [arn]).unwrap();
    let (code, _, err) = list(&copy);
    assert_eq!(code, 2);
    assert!(err.contains("copy.sqlite") && err.contains("utf-8"), "{err}");

    // A damaged page of the database file (its WAL checkpointed into it first).
    conn.execute("DELETE FROM events WHERE execution = (SELECT key FROM executions WHERE arn = ?1)", [arn]).unwrap();
    conn.execute("DELETE FROM executions WHERE arn = ?1", [arn]).unwrap();
    let (root_page, page_size): (u64, u64) = conn
        .query_row("SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_schema WHERE name = 'executions'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    drop(conn);
    let (code, out, _) = stepwasm(&["store", "check", "--store", store_arg]);
    assert_eq!(code, 0, "{out}");
    let file = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &[0xEE; 32], (root_page - 1) * page_size).unwrap();
    let damaged = std::fs::read(&copy).unwrap();
    let (code, out, _) = stepwasm(&["store", "check", "--store", store_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("copy.sqlite") && out.contains("damaged"), "{out}");
    let (code, _, err) = list(&copy);
    assert_eq!(code, 2);
    assert!(err.contains("copy.sqlite") && err.contains("malformed"), "{err}");
    assert!(std::fs::read(&copy).unwrap() == damaged, "a damaged store is left as it was");
    std::fs::remove_dir_all(dir).unwrap();
}
