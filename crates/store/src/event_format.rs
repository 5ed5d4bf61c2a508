//! How a history event is kept: the bytes of its row in the store, and
//! reading them back.
//!
//! Version 1 ([`FORMAT_VERSION`]) is the serde JSON of [`HistoryEvent`],
//! compact, UTF-8, kept as SQLite TEXT: every event written so far. Its
//! bytes are frozen (`tests/golden/events-v1.jsonl` holds one of each kind):
//! a change to how an event serialises is a new version, and stores keep
//! their version-1 rows, which every later build must still read.
//!
//! A row names its version in a header, `<version>:` in ASCII decimal before
//! the payload; version 1 has none (its rows predate versions, and a JSON
//! object starts with `{`, never a digit). A row of a version this build does
//! not know is refused ([`EventFormatError::UnknownVersion`]), not guessed at.
//!
//! Besides [`decode`], the store's own SQL reads version-1 fields in place
//! (the crash-loop guard's `json_extract` of `timestamp_ms` and
//! `kind.TaskStarted`): a new version has to be taught there too.

use stepwasm_engine::HistoryEvent;

/// The version this build writes.
pub const FORMAT_VERSION: u64 = 1;

/// Why an event cannot be written, or its stored bytes read back.
#[derive(Debug, thiserror::Error)]
pub enum EventFormatError {
    /// Written by a newer stepwasm, in a format this one does not know.
    #[error("it is in event format version {version}, newer than this stepwasm knows ({FORMAT_VERSION}): use a newer stepwasm")]
    UnknownVersion { version: u64 },
    #[error("it is not UTF-8 text ({0})")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// Not the JSON of an event (serde's words).
    #[error("{0}")]
    Malformed(#[source] serde_json::Error),
    #[error("cannot be written: {0}")]
    Unwritable(#[source] serde_json::Error),
}

/// The bytes that keep `event`, in version [`FORMAT_VERSION`].
pub fn encode(event: &HistoryEvent) -> Result<String, EventFormatError> {
    serde_json::to_string(event).map_err(EventFormatError::Unwritable)
}

/// The event kept in `bytes`, of any version this build reads.
pub fn decode(bytes: &[u8]) -> Result<HistoryEvent, EventFormatError> {
    match version_header(bytes) {
        None => decode_v1(bytes),
        Some((version, payload)) if version <= FORMAT_VERSION => decode_v1(payload),
        Some((version, _)) => Err(EventFormatError::UnknownVersion { version }),
    }
}

/// The version a row's header names (a number from 1, no leading zero) and
/// the payload after it; `None` for a row without one (version 1).
fn version_header(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || bytes[0] == b'0' || bytes.get(digits) != Some(&b':') {
        return None;
    }
    let version = std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()?;
    Some((version, &bytes[digits + 1..]))
}

fn decode_v1(bytes: &[u8]) -> Result<HistoryEvent, EventFormatError> {
    let text = std::str::from_utf8(bytes).map_err(EventFormatError::NotUtf8)?;
    serde_json::from_str(text).map_err(EventFormatError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stepwasm_engine::{EventKind, Scope};

    fn started() -> HistoryEvent {
        HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp_ms: 5,
            scope: Scope::root(),
            kind: EventKind::ExecutionStarted { input: json!({}).into() },
        }
    }

    #[test]
    fn version_one_is_the_bare_json_and_reads_back() {
        let text = encode(&started()).unwrap();
        assert_eq!(text, r#"{"id":1,"previous_event_id":0,"timestamp_ms":5,"kind":{"ExecutionStarted":{"input":{}}}}"#);
        assert_eq!(decode(text.as_bytes()).unwrap(), started());
        assert_eq!(decode(format!("1:{text}").as_bytes()).unwrap(), started(), "a header naming version 1 reads as version 1");
    }

    #[test]
    fn a_newer_version_is_refused_and_damage_is_not_taken_for_a_version() {
        let err = decode(br#"2:{"id":1}"#).unwrap_err();
        assert!(matches!(err, EventFormatError::UnknownVersion { version: 2 }), "{err}");
        assert!(err.to_string().contains("newer than this stepwasm knows"), "{err}");
        for damaged in [&b"02:{}"[..], b"2", b"", b"99999999999999999999999:{}", b"{\"id\": 1, \"kind\": 7}"] {
            assert!(matches!(decode(damaged), Err(EventFormatError::Malformed(_))), "{:?}", String::from_utf8_lossy(damaged));
        }
        assert!(matches!(decode(b"{\"\xff\"}"), Err(EventFormatError::NotUtf8(_))));
    }
}
