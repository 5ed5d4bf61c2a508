//! The hash functions AWS offers to both query languages (`$hash` in JSONata,
//! `States.Hash` in JSONPath): MD5, SHA-1, SHA-256, SHA-384 and SHA-512 of a
//! string's UTF-8 bytes, as lower-case hexadecimal. Each caller words its own
//! error for an unknown algorithm, as AWS does.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::str::FromStr;

/// A hash algorithm, named as AWS names it (`"MD5"`, `"SHA-1"`, ...; case matters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// The name given is none of `MD5`, `SHA-1`, `SHA-256`, `SHA-384`, `SHA-512`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {0:?}")]
pub struct UnknownHashAlgorithm(pub String);

impl FromStr for HashAlgorithm {
    type Err = UnknownHashAlgorithm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name {
            "MD5" => HashAlgorithm::Md5,
            "SHA-1" => HashAlgorithm::Sha1,
            "SHA-256" => HashAlgorithm::Sha256,
            "SHA-384" => HashAlgorithm::Sha384,
            "SHA-512" => HashAlgorithm::Sha512,
            other => return Err(UnknownHashAlgorithm(other.to_string())),
        })
    }
}

impl HashAlgorithm {
    /// The digest of `text`'s UTF-8 bytes in lower-case hexadecimal.
    pub fn hex_digest(self, text: &str) -> String {
        let bytes = text.as_bytes();
        match self {
            HashAlgorithm::Md5 => hex(&Md5::digest(bytes)),
            HashAlgorithm::Sha1 => hex(&Sha1::digest(bytes)),
            HashAlgorithm::Sha256 => hex(&Sha256::digest(bytes)),
            HashAlgorithm::Sha384 => hex(&Sha384::digest(bytes)),
            HashAlgorithm::Sha512 => hex(&Sha512::digest(bytes)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_known_inputs() {
        let digest = |name: &str, text: &str| name.parse::<HashAlgorithm>().map(|a| a.hex_digest(text));
        assert_eq!(digest("MD5", ""), Ok("d41d8cd98f00b204e9800998ecf8427e".to_string()));
        assert_eq!(digest("SHA-1", "input data"), Ok("aaff4a450a104cd177d28d18d74485e8cae074b7".to_string()));
        assert_eq!(digest("SHA-256", "héllo"), Ok("3c48591d8d098a4538f5e013dfcf406e948eac4d3277b10bf614e295d6068179".to_string()));
        assert_eq!(digest("sha256", "x"), Err(UnknownHashAlgorithm("sha256".to_string())));
    }
}
