//! Deterministic pseudo-random content for tests, cross-checks and benchmarks: the same seed
//! and length always give the same bytes, generated on the fly (nothing is held in memory).

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

/// An endless splitmix64 byte stream, truncated to `len` bytes.
pub struct PseudoRandom {
    state: u64,
    left: u64,
    word: [u8; 8],
    used: usize,
}

impl PseudoRandom {
    pub fn new(seed: u64, len: u64) -> Self {
        Self { state: seed ^ 0x9E37_79B9_7F4A_7C15, left: len, word: [0; 8], used: 8 }
    }

    fn next_word(&mut self) -> [u8; 8] {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }
}

impl Read for PseudoRandom {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        let mut i = 0;
        while i < n {
            if self.used == 8 {
                // whole words straight into the buffer while they fit
                while n - i >= 8 {
                    buf[i..i + 8].copy_from_slice(&self.next_word());
                    i += 8;
                }
                if i == n {
                    break;
                }
                self.word = self.next_word();
                self.used = 0;
            }
            buf[i] = self.word[self.used];
            self.used += 1;
            i += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes `len` pseudo-random bytes from `seed` to `path`.
pub fn write_file(path: &Path, seed: u64, len: u64) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    io::copy(&mut PseudoRandom::new(seed, len), &mut out)?;
    out.flush()
}

/// A folder of `count` small files named `00000.json`… (as a collection stage folder), each
/// `size_of(i)` bytes of content seeded by its index.
pub fn write_folder(dir: &Path, count: usize, size_of: impl Fn(usize) -> u64) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for i in 0..count {
        write_file(&dir.join(format!("{i:05}.json")), i as u64, size_of(i))?;
    }
    Ok(())
}
