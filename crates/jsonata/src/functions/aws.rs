//! The functions AWS Step Functions adds to JSONata (replacing the
//! `States.*` intrinsics): `$partition`, `$range`, `$hash`, `$random` (with
//! an optional seed), `$uuid` and `$parse`.
//!
//! AWS does not document its seeded generator; `$random(seed)` here is
//! deterministic (SplitMix64 of the seed) but will not reproduce AWS's numbers.

use super::{arg, Entry};
use crate::error::{err, JsonataError};
use crate::eval::Evaluator;
use crate::value::Value;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

pub(super) const FUNCTIONS: &[Entry] = &[
    ("partition", "<an:a>", 2, partition),
    ("range", "<nnn?:a>", 3, range),
    ("hash", "<s-s?:s>", 2, hash),
    ("random", "<n?:n>", 0, random),
    ("uuid", "<:s>", 0, uuid),
    ("parse", "<s-:x>", 1, parse),
];

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A number in [0, 1) from the evaluation's generator.
pub(crate) fn next_random(ev: &mut Evaluator) -> f64 {
    unit(splitmix(&mut ev.rng))
}

fn random(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(Value::Number(match arg(&args, 0) {
        Value::Number(seed) => {
            let mut state = seed.to_bits();
            unit(splitmix(&mut state))
        }
        _ => next_random(ev),
    }))
}

fn partition(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Value::Array(a, _) = arg(&args, 0) else {
        return Ok(Value::Undefined);
    };
    // AWS rounds a non-integer size down.
    let size = arg(&args, 1).as_f64().unwrap_or(0.0).floor();
    if size < 1.0 {
        return err("D3200", "The second argument of $partition must be a positive integer");
    }
    ev.charge(a.items.len())?;
    let size = size.min(usize::MAX as f64) as usize;
    Ok(Value::array(a.items.chunks(size).map(|c| Value::array(c.to_vec())).collect()))
}

fn range(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let (Some(start), Some(end)) = (arg(&args, 0).as_f64(), arg(&args, 1).as_f64()) else {
        return Ok(Value::Undefined);
    };
    let step = arg(&args, 2).as_f64().unwrap_or(1.0);
    if step == 0.0 {
        return err("D3201", "The step of $range must not be zero");
    }
    let count = ((end - start) / step).floor() + 1.0;
    if count <= 0.0 {
        return Ok(Value::array(Vec::new()));
    }
    if count > ev_limit(ev) as f64 {
        return err("D2014", format!("$range would produce {count} items, more than the limit of {}", ev_limit(ev)));
    }
    let count = count as usize;
    ev.check_len(count)?;
    Ok(Value::array((0..count).map(|i| Value::Number(start + step * i as f64)).collect()))
}

fn ev_limit(ev: &Evaluator) -> usize {
    ev.max_sequence()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(_: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(data) = arg(&args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    let algorithm = arg(&args, 1).as_str().unwrap_or("SHA-256");
    let digest = match algorithm {
        "MD5" => hex(&Md5::digest(data.as_bytes())),
        "SHA-1" => hex(&Sha1::digest(data.as_bytes())),
        "SHA-256" => hex(&Sha256::digest(data.as_bytes())),
        "SHA-384" => hex(&Sha384::digest(data.as_bytes())),
        "SHA-512" => hex(&Sha512::digest(data.as_bytes())),
        other => return err("D3202", format!("Unsupported hash algorithm \"{other}\": use MD5, SHA-1, SHA-256, SHA-384 or SHA-512")),
    };
    Ok(Value::string(digest))
}

fn uuid(_: &mut Evaluator, _: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    Ok(Value::string(uuid::Uuid::new_v4().to_string()))
}

fn parse(ev: &mut Evaluator, args: Vec<Value>, _: &Value) -> Result<Value, JsonataError> {
    let Some(s) = arg(&args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    ev.charge(s.len() / 64)?;
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(j) => Value::from_json(&j),
        Err(e) => err("D3203", format!("$parse: the string is not valid JSON: {e}")),
    }
}
