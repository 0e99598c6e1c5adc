//! A deterministic PRNG and byte-level mutations: bit flips, random bytes,
//! inserts, deletes, duplicated chunks, splices with other corpus inputs,
//! numeric boundary values (as ASCII digits and as little-endian integers),
//! dictionary tokens and long runs of one byte.

/// splitmix64: tiny, fast, and the same sequence for the same seed on
/// every machine, so a run can be repeated with `--seed`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Numbers that break parsers: limits of each integer width, signs,
/// overflow by one, huge digit runs, floats.
const ASCII_BOUNDARIES: &[&str] = &[
    "0",
    "-1",
    "1",
    "9",
    "10",
    "99",
    "100",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "00000000000000000001",
    "1e308",
    "-0",
    "NaN",
    "inf",
    "0x7fffffff",
];

const BINARY_BOUNDARIES: &[u64] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
    u64::MAX - 1000,
];

/// Apply 1 to 4 random mutations to `input`, keeping it at most `max_len`.
pub fn mutate(
    rng: &mut Rng,
    input: &mut Vec<u8>,
    corpus: &[Vec<u8>],
    dict: &[&[u8]],
    max_len: usize,
) {
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, input, corpus, dict);
    }
    input.truncate(max_len);
}

fn mutate_once(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[&[u8]]) {
    let len = input.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = rng.next_u64() as u8;
        }
        2 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            input.splice(at..at, bytes);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(len / 4 + 1));
            input.drain(at..at + n);
        }
        4 if len > 0 => duplicate_chunk(rng, input),
        5 if !corpus.is_empty() => {
            let other = &corpus[rng.below(corpus.len())];
            splice_from(rng, input, other);
        }
        6 => ascii_boundary(rng, input),
        7 if len > 0 => binary_boundary(rng, input),
        8 if !dict.is_empty() => {
            let at = rng.below(len + 1);
            let tok = dict[rng.below(dict.len())];
            input.splice(at..at, tok.iter().copied());
        }
        9 if len > 0 => {
            // A long run of one byte: deep nesting, huge numbers, long lines.
            let at = rng.below(len + 1);
            let b = [b'[', b'{', b'9', b'\n', b'.', b'0', 0xff, b'a'][rng.below(8)];
            let n = 1 + rng.below(512);
            input.splice(at..at, std::iter::repeat_n(b, n));
        }
        10 if len > 1 => {
            // Swap two bytes (field order, delimiters).
            let (a, b) = (rng.below(len), rng.below(len));
            input.swap(a, b);
        }
        _ => {
            let at = rng.below(len + 1);
            input.insert(at, rng.next_u64() as u8);
        }
    }
}

fn duplicate_chunk(rng: &mut Rng, input: &mut Vec<u8>) {
    let len = input.len();
    let from = rng.below(len);
    let n = 1 + rng.below((len - from).min(256));
    let chunk = input[from..from + n].to_vec();
    let at = rng.below(len + 1);
    input.splice(at..at, chunk);
}

fn splice_from(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    if other.is_empty() {
        return;
    }
    let from = rng.below(other.len());
    let n = 1 + rng.below((other.len() - from).min(1024));
    let chunk = &other[from..from + n];
    let at = rng.below(input.len() + 1);
    if rng.chance(2) {
        // Overwrite in place (keeps offsets of binary formats).
        let end = (at + n).min(input.len());
        input.splice(at..end, chunk.iter().copied());
    } else {
        input.splice(at..at, chunk.iter().copied());
    }
}

/// Replace a run of ASCII digits (the one at or after a random position,
/// else insert at it) with a boundary number.
fn ascii_boundary(rng: &mut Rng, input: &mut Vec<u8>) {
    let value = ASCII_BOUNDARIES[rng.below(ASCII_BOUNDARIES.len())].as_bytes();
    let start = rng.below(input.len() + 1);
    let Some(first) = input[start..].iter().position(u8::is_ascii_digit) else {
        input.splice(start..start, value.iter().copied());
        return;
    };
    let a = start + first;
    let n = input[a..].iter().take_while(|b| b.is_ascii_digit()).count();
    input.splice(a..a + n, value.iter().copied());
}

/// Overwrite a little-endian integer of width 1, 2, 4 or 8 at a random
/// offset with a boundary value (sizes, offsets, counts of binary formats).
fn binary_boundary(rng: &mut Rng, input: &mut [u8]) {
    let width = [1usize, 2, 4, 8][rng.below(4)];
    if input.len() < width {
        return;
    }
    let at = rng.below(input.len() - width + 1);
    let mut v = BINARY_BOUNDARIES[rng.below(BINARY_BOUNDARIES.len())];
    if rng.chance(4) {
        v = (input.len() as u64)
            .wrapping_add(rng.below(3) as u64)
            .wrapping_sub(1);
    }
    input[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut x = b"version 11.2, V11.2.152".to_vec();
            for _ in 0..100 {
                mutate(&mut rng, &mut x, &[b"abc".to_vec()], &[b"::"], 4096);
            }
            x
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn mutations_respect_the_length_cap() {
        let mut rng = Rng::new(1);
        let mut x = vec![b'1'; 100];
        for _ in 0..1000 {
            mutate(&mut rng, &mut x, &[vec![b'z'; 2000]], &[b"[[x]]"], 128);
            assert!(x.len() <= 128);
        }
    }
}
