//! A Distributed Map's ItemReader: the items read from an S3 object (JSON,
//! JSON Lines or CSV, `s3:getObject`) or the objects listed under a prefix
//! (`s3:listObjectsV2`), in the local directories standing in for buckets.
//!
//! Everything is bounded while it is read, never after: the file
//! ([`MAX_FILE_BYTES`]), each item ([`MAX_ITEM_BYTES`] of JSON, like AWS's
//! payload limit), a CSV header (10 KiB, as AWS documents) and the number of
//! items (the host's `max_items`, after `ReaderConfig.MaxItems`). Every
//! failure is `States.ItemReaderFailed` with a cause naming the bucket, the
//! key and, for a malformed file, the 1-based line (and column) where it broke.

use super::buckets::{self, BucketError};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::time::UNIX_EPOCH;
use stepwasm_runtime::config::S3Buckets;

/// The largest object an ItemReader reads (AWS reads larger ones; a host
/// holding every item in memory does not).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// The largest single item, as compact JSON (AWS's 256 KiB payload limit).
pub const MAX_ITEM_BYTES: usize = 256 * 1024;
/// The largest CSV header row (AWS: "CSV headers of up to 10 KB").
pub const MAX_CSV_HEADER_BYTES: usize = 10 * 1024;

pub const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
pub const LIST_OBJECTS_V2: &str = "arn:aws:states:::s3:listObjectsV2";

/// Why the items could not be read: `States.ItemReaderFailed` and its cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("States.ItemReaderFailed: {cause}")]
pub struct ItemReaderError {
    cause: String,
}

impl ItemReaderError {
    fn new(cause: impl Into<String>) -> ItemReaderError {
        ItemReaderError { cause: cause.into() }
    }

    /// The error name AWS gives it.
    pub fn error(&self) -> &'static str {
        "States.ItemReaderFailed"
    }

    pub fn cause(&self) -> &str {
        &self.cause
    }
}

impl From<BucketError> for ItemReaderError {
    fn from(e: BucketError) -> ItemReaderError {
        ItemReaderError::new(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum InputType {
    Json,
    Jsonl,
    Csv,
}

/// Where the object is and how many items to take.
struct Source<'a> {
    bucket: &'a str,
    key: &'a str,
    /// MaxItems, or the host's cap plus one when MaxItems is 0 or over it
    /// (reading that one more item is the failure).
    take: usize,
    max_items: usize,
}

impl Source<'_> {
    fn fail(&self, what: impl fmt::Display) -> ItemReaderError {
        ItemReaderError::new(format!("s3://{}/{}: {what}", self.bucket, self.key))
    }

    fn at_line(&self, line: usize, column: Option<usize>, what: impl fmt::Display) -> ItemReaderError {
        match column {
            Some(c) => self.fail(format_args!("line {line}, column {c}: {what}")),
            None => self.fail(format_args!("line {line}: {what}")),
        }
    }

    fn over_cap(&self) -> String {
        format!("more than {} items, this host's limit for a Map Run (set ReaderConfig.MaxItems to read fewer)", self.max_items)
    }

    /// Whether `count` items read are the host cap's one too many.
    fn over(&self, count: usize) -> bool {
        count > self.max_items
    }
}

/// Reads the items an ItemReader (its Parameters already resolved) names.
pub fn read_items(buckets: &S3Buckets, reader: &Value, max_items: usize) -> Result<Vec<Value>, ItemReaderError> {
    let resource = reader.get("Resource").and_then(Value::as_str).unwrap_or_default();
    let params = reader.get("Parameters").or_else(|| reader.get("Arguments")).unwrap_or(&Value::Null);
    let config = reader.get("ReaderConfig").unwrap_or(&Value::Null);
    let field = |name: &str| params.get(name).and_then(Value::as_str);
    let bucket = field("Bucket").ok_or_else(|| ItemReaderError::new("ItemReader Parameters.Bucket must be a string"))?;
    let max_items_asked = match config.get("MaxItems") {
        None | Some(Value::Null) => 0,
        Some(v) => {
            v.as_u64().ok_or_else(|| ItemReaderError::new(format!("ReaderConfig.MaxItems must be a non-negative integer, not {v}")))?
        }
    };
    let max_items_asked = usize::try_from(max_items_asked).unwrap_or(usize::MAX);
    let take = if max_items_asked == 0 || max_items_asked > max_items { max_items.saturating_add(1) } else { max_items_asked };
    match resource {
        GET_OBJECT => {
            let key = field("Key").ok_or_else(|| ItemReaderError::new("ItemReader Parameters.Key must be a string"))?;
            let source = Source { bucket, key, take, max_items };
            let input_type = match config.get("InputType").and_then(Value::as_str) {
                Some("JSON") => InputType::Json,
                Some("JSONL") => InputType::Jsonl,
                Some("CSV") => InputType::Csv,
                Some(other) => {
                    return Err(
                        source.fail(format_args!("ReaderConfig.InputType {other:?} is not supported by this host (JSON, JSONL, CSV)"))
                    )
                }
                None => return Err(source.fail("ReaderConfig.InputType is required to read an object (JSON, JSONL or CSV)")),
            };
            let path = buckets::resolve_key(buckets, bucket, key)?;
            let file = File::open(&path).map_err(|e| source.fail(e))?;
            let size = file.metadata().map_err(|e| source.fail(e))?.len();
            if size > MAX_FILE_BYTES {
                return Err(
                    source.fail(format_args!("the object is {size} bytes, over this host's limit of {MAX_FILE_BYTES} for an ItemReader"))
                );
            }
            // take(): a file growing while it is read is still bounded.
            let reader = BufReader::new(file.take(MAX_FILE_BYTES + 1));
            match input_type {
                InputType::Json => read_json(&source, reader),
                InputType::Jsonl => read_jsonl(&source, reader),
                InputType::Csv => read_csv(&source, reader, config),
            }
        }
        LIST_OBJECTS_V2 => {
            let prefix = match params.get("Prefix") {
                None | Some(Value::Null) => "",
                Some(Value::String(p)) => p,
                Some(_) => return Err(ItemReaderError::new("ItemReader Parameters.Prefix must be a string")),
            };
            let source = Source { bucket, key: prefix, take, max_items };
            if config.get("Transformation").is_some() || config.get("InputType").is_some() {
                return Err(
                    source.fail("listing with ReaderConfig.InputType or Transformation (LOAD_AND_FLATTEN) is not supported by this host")
                );
            }
            let (objects, _more) = buckets::list_prefix(buckets, bucket, prefix, take)?;
            if source.over(objects.len()) {
                return Err(source.fail(source.over_cap()));
            }
            objects.into_iter().map(|o| listed_item(&source, o)).collect()
        }
        other => Err(ItemReaderError::new(format!(
            "ItemReader Resource {other:?} is not supported by this host ({GET_OBJECT}, {LIST_OBJECTS_V2})"
        ))),
    }
}

/// An object as listObjectsV2 gives it to an iteration: `LastModified` in
/// epoch seconds, `Etag` the quoted MD5 of the content (a single-part
/// upload's ETag).
fn listed_item(source: &Source, object: buckets::ListedObject) -> Result<Value, ItemReaderError> {
    use md5::{Digest, Md5};
    let mut hasher = Md5::new();
    let file = File::open(&object.path).map_err(|e| ItemReaderError::new(format!("s3://{}/{}: {e}", source.bucket, object.key)))?;
    std::io::copy(&mut BufReader::new(file), &mut hasher)
        .map_err(|e| ItemReaderError::new(format!("s3://{}/{}: {e}", source.bucket, object.key)))?;
    let etag: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let modified = object.modified.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut item = Map::new();
    item.insert("Etag".into(), Value::String(format!("\"{etag}\"")));
    item.insert("Key".into(), Value::String(object.key));
    item.insert("LastModified".into(), Value::from(modified));
    item.insert("Size".into(), Value::from(object.size));
    item.insert("StorageClass".into(), Value::String("STANDARD".into()));
    Ok(Value::Object(item))
}

fn check_item(item: &Value) -> Result<(), String> {
    match stepwasm_asl::size::json_size_within(item, MAX_ITEM_BYTES) {
        Some(_) => Ok(()),
        None => Err(format!("an item is larger than {MAX_ITEM_BYTES} bytes of JSON (AWS's payload limit)")),
    }
}

/// serde_json's message without the " at line L column C" it appends (the
/// cause names the line first).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.rsplit_once(" at line ").map_or(text.as_str(), |(t, _)| t).to_string()
}

/// JSON: the object is one array; its elements are the items.
fn read_json(source: &Source, reader: impl Read) -> Result<Vec<Value>, ItemReaderError> {
    struct Items<'s, 'a>(&'s Source<'a>);
    impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
        type Value = Vec<Value>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Items<'_, '_> {
        type Value = Vec<Value>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array of items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
            let mut items = Vec::new();
            while items.len() < self.0.take {
                let Some(item) = seq.next_element::<Value>()? else { return Ok(items) };
                check_item(&item).map_err(A::Error::custom)?;
                items.push(item);
                if self.0.over(items.len()) {
                    return Err(A::Error::custom(self.0.over_cap()));
                }
            }
            // MaxItems reached: the rest is only checked, never kept.
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(items)
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let parsed = Items(source).deserialize(&mut de).and_then(|items| de.end().map(|()| items));
    parsed.map_err(|e| match e.line() {
        0 => source.fail(e),
        line => source.at_line(line, Some(e.column()), without_position(&e)),
    })
}

/// Reads one line of at most `max` bytes (without its newline) into `buf`;
/// false at the end. Err(()) when the line is longer.
fn read_line_bounded(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Result<bool, ()>> {
    buf.clear();
    let n = reader.by_ref().take(max as u64 + 2).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Ok(false));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    Ok(if buf.len() > max { Err(()) } else { Ok(true) })
}

/// JSON Lines: one JSON value per line; blank lines are skipped.
fn read_jsonl(source: &Source, mut reader: impl BufRead) -> Result<Vec<Value>, ItemReaderError> {
    let mut items = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    while items.len() < source.take {
        line += 1;
        match read_line_bounded(&mut reader, &mut buf, MAX_ITEM_BYTES).map_err(|e| source.fail(e))? {
            Ok(false) => break,
            Err(()) => {
                return Err(source.at_line(
                    line,
                    None,
                    format_args!("an item is larger than {MAX_ITEM_BYTES} bytes of JSON (AWS's payload limit)"),
                ))
            }
            Ok(true) => {}
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item: Value = serde_json::from_slice(&buf).map_err(|e| source.at_line(line, Some(e.column()), without_position(&e)))?;
        check_item(&item).map_err(|m| source.at_line(line, None, m))?;
        items.push(item);
        if source.over(items.len()) {
            return Err(source.at_line(line, None, source.over_cap()));
        }
    }
    Ok(items)
}

fn csv_delimiter(config: &Value) -> Result<u8, String> {
    Ok(match config.get("CSVDelimiter").and_then(Value::as_str) {
        None | Some("COMMA") => b',',
        Some("PIPE") => b'|',
        Some("SEMICOLON") => b';',
        Some("SPACE") => b' ',
        Some("TAB") => b'\t',
        Some(other) => return Err(format!("ReaderConfig.CSVDelimiter {other:?} is not one of COMMA, PIPE, SEMICOLON, SPACE, TAB")),
    })
}

/// CSV: each row an object of header → value (strings). The headers are the
/// first row (`FIRST_ROW`) or `CSVHeaders` (`GIVEN`).
fn read_csv(source: &Source, reader: impl BufRead, config: &Value) -> Result<Vec<Value>, ItemReaderError> {
    let delimiter = csv_delimiter(config).map_err(|m| source.fail(m))?;
    let mut rows = CsvRows::new(reader, delimiter);
    let headers: Vec<String> = match config.get("CSVHeaderLocation").and_then(Value::as_str) {
        None | Some("FIRST_ROW") => match rows.next(source, MAX_CSV_HEADER_BYTES)? {
            Some((_, mut headers)) => {
                if let Some(first) = headers.first_mut() {
                    // A UTF-8 byte order mark is not part of the first header.
                    if let Some(rest) = first.strip_prefix('\u{feff}') {
                        *first = rest.to_string();
                    }
                }
                headers
            }
            None => return Ok(Vec::new()),
        },
        Some("GIVEN") => match config.get("CSVHeaders").and_then(Value::as_array) {
            Some(given) if !given.is_empty() => given
                .iter()
                .map(|h| h.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| source.fail("ReaderConfig.CSVHeaders must be an array of strings"))?,
            _ => return Err(source.fail("ReaderConfig.CSVHeaderLocation GIVEN needs CSVHeaders, a non-empty array of strings")),
        },
        Some(other) => return Err(source.fail(format_args!("ReaderConfig.CSVHeaderLocation {other:?} is not FIRST_ROW or GIVEN"))),
    };
    let mut items = Vec::new();
    while items.len() < source.take {
        let Some((line, fields)) = rows.next(source, MAX_ITEM_BYTES)? else { break };
        if fields.len() != headers.len() {
            let relation = if fields.len() > headers.len() { "more" } else { "fewer" };
            return Err(source.at_line(
                line,
                None,
                format_args!("the row has {} fields, {relation} than the {} headers", fields.len(), headers.len()),
            ));
        }
        let item = Value::Object(headers.iter().cloned().zip(fields.into_iter().map(Value::String)).collect());
        check_item(&item).map_err(|m| source.at_line(line, None, m))?;
        items.push(item);
        if source.over(items.len()) {
            return Err(source.at_line(line, None, source.over_cap()));
        }
    }
    Ok(items)
}

/// An RFC 4180 reader: quoted fields may hold the delimiter, newlines and
/// doubled quotes; a quote inside an unquoted field is kept as it is; blank
/// lines are skipped. Each record is bounded while it is read.
struct CsvRows<R> {
    reader: R,
    delimiter: u8,
    line: usize,
    done: bool,
}

impl<R: BufRead> CsvRows<R> {
    fn new(reader: R, delimiter: u8) -> CsvRows<R> {
        CsvRows { reader, delimiter, line: 1, done: false }
    }

    fn next_byte(&mut self, source: &Source) -> Result<Option<u8>, ItemReaderError> {
        let buf = self.reader.fill_buf().map_err(|e| source.fail(e))?;
        let Some(&b) = buf.first() else { return Ok(None) };
        self.reader.consume(1);
        Ok(Some(b))
    }

    /// The next record: its first line and its fields; None at the end.
    fn next(&mut self, source: &Source, max_bytes: usize) -> Result<Option<(usize, Vec<String>)>, ItemReaderError> {
        #[derive(PartialEq)]
        enum State {
            FieldStart,
            Unquoted,
            Quoted,
            QuoteInQuoted,
        }
        loop {
            if self.done {
                return Ok(None);
            }
            let start = self.line;
            let mut column = 0usize;
            let mut fields: Vec<Vec<u8>> = Vec::new();
            let mut field: Vec<u8> = Vec::new();
            let mut bytes = 0usize;
            let mut state = State::FieldStart;
            let mut any = false;
            let ended = loop {
                let Some(b) = self.next_byte(source)? else {
                    self.done = true;
                    if state == State::Quoted {
                        return Err(source.at_line(start, None, "a quoted field is never closed (unterminated '\"')"));
                    }
                    break any;
                };
                column += 1;
                bytes += 1;
                if bytes > max_bytes {
                    return Err(source.at_line(start, None, format_args!("the row is longer than {max_bytes} bytes")));
                }
                match (&state, b) {
                    (State::Quoted, b'"') => state = State::QuoteInQuoted,
                    (State::Quoted, b) => {
                        if b == b'\n' {
                            self.line += 1;
                            column = 0;
                        }
                        field.push(b);
                    }
                    (State::QuoteInQuoted, b'"') => {
                        field.push(b'"');
                        state = State::Quoted;
                    }
                    (_, b'\r') if state != State::Quoted => {} // before '\n'
                    (_, b'\n') => {
                        self.line += 1;
                        break any;
                    }
                    (_, d) if d == self.delimiter => {
                        any = true;
                        fields.push(std::mem::take(&mut field));
                        state = State::FieldStart;
                    }
                    (State::FieldStart, b'"') => {
                        any = true;
                        state = State::Quoted;
                    }
                    (State::QuoteInQuoted, other) => {
                        return Err(source.at_line(
                            self.line,
                            Some(column),
                            format_args!("{:?} after a closing quote (a quote inside a quoted field is written \"\")", other as char),
                        ));
                    }
                    (_, b) => {
                        any = true;
                        field.push(b);
                        state = State::Unquoted;
                    }
                }
            };
            if !ended {
                continue; // a blank line (or the end)
            }
            fields.push(field);
            let fields = fields
                .into_iter()
                .map(String::from_utf8)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| source.at_line(start, None, "the row is not valid UTF-8"))?;
            return Ok(Some((start, fields)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::buckets::TestDir;
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::symlink;

    fn get(key: &str, config: Value) -> Value {
        json!({"Resource": GET_OBJECT, "Parameters": {"Bucket": "data", "Key": key}, "ReaderConfig": config})
    }

    fn setup() -> (TestDir, S3Buckets) {
        let t = TestDir::new("items");
        let b = t.buckets(&["data"]);
        (t, b)
    }

    #[test]
    fn json_arrays_jsonl_and_max_items() {
        let (t, b) = setup();
        t.write("data/items.json", r#"[{"a":1}, 2, "three", [4]]"#);
        assert_eq!(
            read_items(&b, &get("items.json", json!({"InputType": "JSON"})), 100).unwrap(),
            [json!({"a":1}), json!(2), json!("three"), json!([4])]
        );
        assert_eq!(
            read_items(&b, &get("items.json", json!({"InputType": "JSON", "MaxItems": 2})), 100).unwrap(),
            [json!({"a":1}), json!(2)]
        );
        t.write("data/items.jsonl", "{\"a\":1}\n\n  \n[2]\r\n\"x\"");
        assert_eq!(
            read_items(&b, &get("items.jsonl", json!({"InputType": "JSONL"})), 100).unwrap(),
            [json!({"a":1}), json!([2]), json!("x")]
        );
        assert_eq!(read_items(&b, &get("items.jsonl", json!({"InputType": "JSONL", "MaxItems": 1})), 100).unwrap(), [json!({"a":1})]);
        t.write("data/empty.json", "[]");
        assert_eq!(read_items(&b, &get("empty.json", json!({"InputType": "JSON"})), 100).unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn malformed_files_name_bucket_key_and_line() {
        let (t, b) = setup();
        t.write("data/bad.json", "[\n{\"a\": 1},\n{\"b\": }\n]");
        let err = read_items(&b, &get("bad.json", json!({"InputType": "JSON"})), 100).unwrap_err();
        assert_eq!(err.error(), "States.ItemReaderFailed");
        assert!(err.cause().starts_with("s3://data/bad.json: line 3, column 7:"), "{}", err.cause());
        t.write("data/obj.json", "{\"a\": 1}");
        let err = read_items(&b, &get("obj.json", json!({"InputType": "JSON"})), 100).unwrap_err();
        assert!(err.cause().contains("a JSON array of items") && err.cause().contains("line 1"), "{}", err.cause());
        t.write("data/bad.jsonl", "1\n2\n{oops\n");
        let err = read_items(&b, &get("bad.jsonl", json!({"InputType": "JSONL"})), 100).unwrap_err();
        assert!(err.cause().starts_with("s3://data/bad.jsonl: line 3, column 2:"), "{}", err.cause());
        t.write("data/bad.csv", "a,b\n1,2\n3,4,5\n");
        let err = read_items(&b, &get("bad.csv", json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})), 100).unwrap_err();
        assert!(
            err.cause().starts_with("s3://data/bad.csv: line 3:") && err.cause().contains("3 fields, more than the 2 headers"),
            "{}",
            err.cause()
        );
        t.write("data/open.csv", "a,b\n1,\"2\n3,4\n");
        let err = read_items(&b, &get("open.csv", json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})), 100).unwrap_err();
        assert!(err.cause().starts_with("s3://data/open.csv: line 2:") && err.cause().contains("unterminated"), "{}", err.cause());
        let err = read_items(&b, &get("none.json", json!({"InputType": "JSON"})), 100).unwrap_err();
        assert!(err.cause().contains("NoSuchKey") && err.cause().contains("s3://data/none.json"), "{}", err.cause());
        let err = read_items(&b, &get("x.json", json!({"InputType": "PARQUET"})), 100).unwrap_err();
        assert!(err.cause().contains("PARQUET"), "{}", err.cause());
    }

    #[test]
    fn csv_headers_quotes_and_delimiters() {
        let (t, b) = setup();
        t.write("data/r.csv", "id,text\r\n1,\"a, \"\"quoted\"\"\nline\"\n\n2,plain\n3,\n");
        let items = read_items(&b, &get("r.csv", json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})), 100).unwrap();
        assert_eq!(
            items,
            [json!({"id": "1", "text": "a, \"quoted\"\nline"}), json!({"id": "2", "text": "plain"}), json!({"id": "3", "text": ""})]
        );
        t.write("data/g.csv", "1|307|3.5\n1|481|3.5\n");
        let config = json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["userId", "movieId", "rating"], "CSVDelimiter": "PIPE"});
        let items = read_items(&b, &get("g.csv", config), 100).unwrap();
        assert_eq!(
            items,
            [json!({"userId": "1", "movieId": "307", "rating": "3.5"}), json!({"userId": "1", "movieId": "481", "rating": "3.5"})]
        );
        t.write("data/t.csv", "a\tb\nx y\tz\n");
        let items = read_items(
            &b,
            &get("t.csv", json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "TAB", "MaxItems": 1})),
            100,
        )
        .unwrap();
        assert_eq!(items, [json!({"a": "x y", "b": "z"})]);
    }

    #[test]
    fn the_host_cap_and_item_size_are_enforced_while_reading() {
        let (t, b) = setup();
        t.write("data/five.json", "[1,2,3,4,5]");
        t.write("data/five.jsonl", "1\n2\n3\n4\n5\n");
        t.write("data/five.csv", "h\n1\n2\n3\n4\n5\n");
        for (key, config) in [
            ("five.json", json!({"InputType": "JSON"})),
            ("five.jsonl", json!({"InputType": "JSONL"})),
            ("five.csv", json!({"InputType": "CSV"})),
        ] {
            let err = read_items(&b, &get(key, config.clone()), 4).unwrap_err();
            assert!(err.cause().contains("more than 4 items"), "{key}: {}", err.cause());
            assert_eq!(read_items(&b, &get(key, config.clone()), 5).unwrap().len(), 5);
            let mut limited = config;
            limited["MaxItems"] = json!(3);
            assert_eq!(read_items(&b, &get(key, limited), 4).unwrap().len(), 3, "MaxItems under the cap reads");
        }
        let big = "x".repeat(MAX_ITEM_BYTES);
        t.write("data/big.json", &format!("[\"{big}\"]"));
        t.write("data/big.jsonl", &format!("1\n\"{big}\"\n"));
        let err = read_items(&b, &get("big.json", json!({"InputType": "JSON"})), 10).unwrap_err();
        assert!(err.cause().contains("larger than 262144"), "{}", err.cause());
        let err = read_items(&b, &get("big.jsonl", json!({"InputType": "JSONL"})), 10).unwrap_err();
        assert!(err.cause().contains("line 2") && err.cause().contains("larger than 262144"), "{}", err.cause());
    }

    #[test]
    fn keys_outside_the_bucket_are_refused() {
        let (t, b) = setup();
        t.write("secret.json", "[1]");
        symlink(t.0.join("secret.json"), t.0.join("data/link.json")).unwrap();
        for key in ["../secret.json", "/etc/passwd", "link.json"] {
            let err = read_items(&b, &get(key, json!({"InputType": "JSON"})), 10).unwrap_err();
            assert_eq!(err.error(), "States.ItemReaderFailed");
            assert!(
                err.cause().contains("'..'") || err.cause().contains("absolute") || err.cause().contains("outside the bucket"),
                "{}",
                err.cause()
            );
        }
        let reader =
            json!({"Resource": GET_OBJECT, "Parameters": {"Bucket": "nope", "Key": "a.json"}, "ReaderConfig": {"InputType": "JSON"}});
        assert!(read_items(&b, &reader, 10).unwrap_err().cause().contains("\"nope\" is not mapped"));
    }

    #[test]
    fn list_objects_v2_items_are_s3_shaped_and_sorted() {
        let (t, b) = setup();
        t.write("data/img/b.jpg", "hello");
        t.write("data/img/a/z.jpg", "");
        t.write("data/img/a-1.jpg", "x");
        t.write("data/other.txt", "x");
        let reader = json!({"Resource": LIST_OBJECTS_V2, "Parameters": {"Bucket": "data", "Prefix": "img/"}});
        let items = read_items(&b, &reader, 10).unwrap();
        let keys: Vec<_> = items.iter().map(|i| i["Key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["img/a-1.jpg", "img/a/z.jpg", "img/b.jpg"]);
        let hello = &items[2];
        assert_eq!(hello["Etag"], json!("\"5d41402abc4b2a76b9719d911017c592\""));
        assert_eq!(hello["Size"], json!(5));
        assert_eq!(hello["StorageClass"], json!("STANDARD"));
        let modified = std::fs::metadata(t.0.join("data/img/b.jpg")).unwrap().modified().unwrap();
        assert_eq!(hello["LastModified"], json!(modified.duration_since(UNIX_EPOCH).unwrap().as_secs()));
        assert_eq!(hello.as_object().unwrap().keys().collect::<Vec<_>>(), ["Etag", "Key", "LastModified", "Size", "StorageClass"]);
        let limited =
            json!({"Resource": LIST_OBJECTS_V2, "Parameters": {"Bucket": "data", "Prefix": "img/"}, "ReaderConfig": {"MaxItems": 1}});
        assert_eq!(read_items(&b, &limited, 10).unwrap()[0]["Key"], json!("img/a-1.jpg"));
        assert!(read_items(&b, &reader, 2).unwrap_err().cause().contains("more than 2 items"));
        let all = json!({"Resource": LIST_OBJECTS_V2, "Parameters": {"Bucket": "data"}});
        assert_eq!(read_items(&b, &all, 10).unwrap().len(), 4);
    }
}
