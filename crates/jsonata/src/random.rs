//! Randomness for both query languages: the one pseudo-random generator
//! (JSONata's `$random`, `$shuffle`; the `States.MathRandom` intrinsic) and
//! random UUIDs (`$uuid`, `States.UUID`).
//!
//! The generator is `java.util.Random`'s, as its Javadoc specifies it (a
//! 48-bit linear congruential generator), because a seed must give the same
//! numbers as a Java implementation: `States.MathRandom(start, end, seed)` is
//! `new Random(seed).nextInt(end - start)` and `$random(seed)` is
//! `new Random(seed).nextDouble()`. AWS runs on the JVM but does not document
//! its generator, so matching its numbers is likely, not known. Without a
//! seed the generator starts from 64 bits of operating-system randomness; its
//! statistical quality (weaker than e.g. SplitMix64) is enough for sampling
//! and shuffling, and nothing here needs randomness that resists prediction.

/// `java.util.Random`: the same seed gives the same sequence as the JDK's.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const INCREMENT: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;

    /// `new Random(seed)`.
    pub fn new(seed: i64) -> Self {
        JavaRandom { state: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK }
    }

    /// A generator seeded from the operating system's randomness.
    pub fn from_entropy() -> Self {
        let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
        JavaRandom::new((high ^ low) as i64)
    }

    /// `Random.next(bits)`: the top `bits` (1 to 32) of the next state.
    pub fn next(&mut self, bits: u32) -> i32 {
        self.state = self.state.wrapping_mul(Self::MULTIPLIER).wrapping_add(Self::INCREMENT) & Self::MASK;
        (self.state >> (48 - bits)) as i32
    }

    /// `Random.nextInt(bound)`: a uniform number in `0..bound` (`bound > 0`).
    pub fn next_int(&mut self, bound: i32) -> i32 {
        let mut r = self.next(31);
        let m = bound.wrapping_sub(1);
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `Random.nextLong()`.
    pub fn next_long(&mut self) -> i64 {
        (i64::from(self.next(32)) << 32).wrapping_add(i64::from(self.next(32)))
    }

    /// `Random.nextDouble()`: a uniform number in `[0, 1)` with 53 random bits.
    pub fn next_double(&mut self) -> f64 {
        let bits = (i64::from(self.next(26)) << 27) + i64::from(self.next(27));
        bits as f64 / (1u64 << 53) as f64
    }

    /// A uniform number in `0..bound` (`bound > 0`): `nextInt(bound)` when the
    /// bound fits Java's `int` (so seeded results match Java); wider bounds,
    /// which Java's `nextInt` cannot take, draw `nextLong`s and reject the
    /// uneven tail.
    pub fn below(&mut self, bound: u64) -> u64 {
        if let Ok(int_bound) = i32::try_from(bound) {
            return u64::try_from(self.next_int(int_bound)).unwrap_or(0);
        }
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let draw = self.next_long() as u64;
            if draw < zone {
                return draw % bound;
            }
        }
    }
}

/// A random (version 4) UUID in its hyphenated lower-case form.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_jdk() {
        // new Random(0).nextInt(), new Random(42).nextInt(), new Random(11).nextLong().
        assert_eq!(JavaRandom::new(0).next(32), -1_155_484_576);
        assert_eq!(JavaRandom::new(42).next(32), -1_170_105_035);
        assert_eq!(JavaRandom::new(11).next_long(), -4_974_335_856_783_105_384);
        // new Random(3).nextInt(999), new Random(42).nextInt(10), new Random(7).nextInt(64).
        assert_eq!(JavaRandom::new(3).next_int(999), 239);
        assert_eq!(JavaRandom::new(42).next_int(10), 0);
        assert_eq!(JavaRandom::new(7).next_int(64), 46);
        // new Random(0).nextDouble(), new Random(42).nextDouble().
        assert_eq!(JavaRandom::new(0).next_double(), 0.730_967_787_376_657);
        assert_eq!(JavaRandom::new(42).next_double(), 0.727_563_680_032_868_1);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = JavaRandom::new(5);
        for bound in [1, 2, 3, 1 << 31, (1 << 31) + 1, u64::MAX] {
            for _ in 0..100 {
                assert!(r.below(bound) < bound);
            }
        }
        for _ in 0..1000 {
            let d = r.next_double();
            assert!((0.0..1.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, uuid_v4());
    }
}
