//! CLIP tokenization of prompts.
//!
//! A diffusers folder's `tokenizer/` holds either a `tokenizer.json` (the tokenizers
//! library's format) or, as the original SD 1.5 / 2.1 repositories do, the CLIP BPE files
//! `vocab.json` + `merges.txt`. For the latter we build the equivalent `tokenizer.json`
//! (lowercasing, CLIP's word-splitting regex, byte-level BPE with `</w>` word ends) in
//! [`clip_tokenizer_json`], which the test-model writer uses too.
//!
//! A prompt becomes `<|startoftext|> tokens… <|endoftext|>` padded to the text encoder's
//! `max_position_embeddings` (77) with the pad token from `special_tokens_map.json` /
//! `tokenizer_config.json` (SD 2.x pads with `!`, SD 1.x with `<|endoftext|>`). A prompt that
//! does not fit is an error that says how many tokens it has, never silently truncated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::error::DiffusionError;

/// CLIP's BPE merges: the first 48 894 lines after the header of OpenAI's
/// `bpe_simple_vocab_16e6.txt` (as PyPI `open_clip_torch` ships it, MIT licensed: see
/// `assets/clip/README.md`), the only ones CLIP's 49 408-token vocabulary uses. A single-file
/// checkpoint carries no tokenizer, and every SD 1.x / 2.x text encoder uses this vocabulary.
/// A single-file recipe does not list it (it is not the artist's file): it is part of the
/// engine, so changing these bytes needs an `ENGINE_VERSION` bump.
const CLIP_MERGES_GZ: &[u8] = include_bytes!("../../assets/clip/clip_bpe_merges.txt.gz");

/// Tokens in CLIP's vocabulary: 256 bytes, 256 bytes ending a word, the merges, BOS, EOS.
pub const CLIP_VOCAB_SIZE: usize = 49_408;

pub const BOS: &str = "<|startoftext|>";
pub const EOS: &str = "<|endoftext|>";

/// The tokenizers-library JSON for a CLIP BPE tokenizer with this vocabulary and merges.
/// `vocab` must contain [`BOS`] and [`EOS`].
pub fn clip_tokenizer_json(vocab: &BTreeMap<String, u32>, merges: &[String]) -> Value {
    let special = |t: &str| {
        json!({"id": vocab[t], "content": t, "single_word": false, "lstrip": false, "rstrip": false,
               "normalized": true, "special": true})
    };
    // Ordered by id, as the tokenizers library writes them.
    let vocab_obj: serde_json::Map<String, Value> = {
        let mut items: Vec<(&String, &u32)> = vocab.iter().collect();
        items.sort_by_key(|(_, id)| **id);
        items.into_iter().map(|(k, v)| (k.clone(), json!(v))).collect()
    };
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(BOS), special(EOS)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split",
             "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Removed", "invert": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOS, vocab[EOS]], "cls": [BOS, vocab[BOS]],
                           "trim_offsets": false, "add_prefix_space": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": EOS, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false,
                  "vocab": Value::Object(vocab_obj), "merges": merges}
    })
}

/// The printable character GPT-2/CLIP byte-level BPE uses for each byte, in CLIP's vocabulary
/// order: the bytes that are printable Latin-1 (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for
/// themselves and come first; the other 68 bytes follow, mapped to U+0100 onwards.
fn byte_symbols() -> Vec<(u8, char)> {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    let mut out: Vec<(u8, char)> = (0..=255u8).filter(|&b| printable(b)).map(|b| (b, char::from(b))).collect();
    for (next, b) in (256u32..).zip((0..=255u8).filter(|&b| !printable(b))) {
        out.push((b, char::from_u32(next).expect("below U+0200")));
    }
    out
}

/// The body of a gzip member (RFC 1952): header fields skipped, DEFLATE data inflated.
fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 18 || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 {
        return Err("not a gzip file".into());
    }
    let flags = data[3];
    let mut pos = 10;
    if flags & 4 != 0 {
        let n = u16::from_le_bytes([data[pos], data[pos + 1]]) as usize;
        pos += 2 + n;
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            pos += data[pos..].iter().position(|&b| b == 0).ok_or("unterminated gzip header field")? + 1;
        }
    }
    if flags & 2 != 0 {
        pos += 2;
    }
    miniz_oxide::inflate::decompress_to_vec(data.get(pos..).ok_or("truncated gzip header")?)
        .map_err(|e| format!("cannot inflate: {e:?}"))
}

/// CLIP's vocabulary (token -> id) and merges, from the bundled merges file.
pub fn clip_vocab_and_merges() -> Result<(BTreeMap<String, u32>, Vec<String>), DiffusionError> {
    let bundled = || PathBuf::from("<bundled CLIP vocabulary>");
    let text = gunzip(CLIP_MERGES_GZ).map_err(|e| tok_err(&bundled(), e))?;
    let text = String::from_utf8(text).map_err(|_| tok_err(&bundled(), "not UTF-8"))?;
    let merges: Vec<String> = text.lines().map(str::to_string).collect();
    let symbols: Vec<String> = byte_symbols().into_iter().map(|(_, c)| c.to_string()).collect();
    let mut tokens: Vec<String> = symbols.clone();
    tokens.extend(symbols.iter().map(|s| format!("{s}</w>")));
    for m in &merges {
        let (a, b) = m.split_once(' ').ok_or_else(|| tok_err(&bundled(), format!("bad merge line {m:?}")))?;
        tokens.push(format!("{a}{b}"));
    }
    tokens.push(BOS.into());
    tokens.push(EOS.into());
    if tokens.len() != CLIP_VOCAB_SIZE {
        return Err(tok_err(&bundled(), format!("{} tokens, expected {CLIP_VOCAB_SIZE}", tokens.len())));
    }
    let vocab = tokens.into_iter().enumerate().map(|(i, t)| (t, i as u32)).collect();
    Ok((vocab, merges))
}

/// A loaded CLIP tokenizer.
pub struct ClipTokenizer {
    tok: tokenizers::Tokenizer,
    bos: u32,
    eos: u32,
    pad: u32,
    max_len: usize,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer").field("bos", &self.bos).field("eos", &self.eos).field("pad", &self.pad).finish()
    }
}

fn tok_err(path: &Path, message: impl Into<String>) -> DiffusionError {
    DiffusionError::Tokenizer { path: path.to_path_buf(), message: message.into() }
}

/// The files of `tokenizer/` the tokenizer is built from (those that exist).
pub(crate) fn tokenizer_files(dir: &Path) -> Result<Vec<PathBuf>, DiffusionError> {
    let json = dir.join("tokenizer.json");
    let mut files = if json.is_file() {
        vec![json]
    } else {
        let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));
        if !vocab.is_file() || !merges.is_file() {
            return Err(DiffusionError::MissingFile {
                path: json,
                what: "tokenizer (tokenizer/tokenizer.json, or tokenizer/vocab.json with tokenizer/merges.txt)".into(),
            });
        }
        vec![vocab, merges]
    };
    for extra in ["special_tokens_map.json", "tokenizer_config.json"] {
        if dir.join(extra).is_file() {
            files.push(dir.join(extra));
        }
    }
    Ok(files)
}

fn read_text(path: &Path) -> Result<String, DiffusionError> {
    std::fs::read_to_string(path).map_err(|e| DiffusionError::io(path, e))
}

/// A tokenizer from its tokenizers-library JSON. The library is third-party code fed a
/// user's file: a panic inside it becomes an error naming the file, like any other failure.
fn build_tokenizer(path: &Path, json: &str, what: &str) -> Result<tokenizers::Tokenizer, DiffusionError> {
    match std::panic::catch_unwind(|| json.parse::<tokenizers::Tokenizer>()) {
        Ok(Ok(tok)) => Ok(tok),
        Ok(Err(e)) => Err(tok_err(path, format!("{what}: {e}"))),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown failure");
            Err(tok_err(path, format!("{what}: the tokenizers library failed on this file ({reason})")))
        }
    }
}

/// The pad token named by `special_tokens_map.json` or `tokenizer_config.json`, if any.
fn pad_token(dir: &Path) -> Result<Option<String>, DiffusionError> {
    for name in ["special_tokens_map.json", "tokenizer_config.json"] {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let v: Value = serde_json::from_str(&read_text(&path)?)
            .map_err(|e| DiffusionError::bad_config(&path, format!("not valid JSON: {e}")))?;
        match v.get("pad_token") {
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(Value::Object(o)) => {
                if let Some(Value::String(s)) = o.get("content") {
                    return Ok(Some(s.clone()));
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

impl ClipTokenizer {
    /// Loads `dir` (a model's `tokenizer/` folder) for prompts of at most `max_len` tokens.
    pub fn load(dir: &Path, max_len: usize) -> Result<Self, DiffusionError> {
        let files = tokenizer_files(dir)?;
        let main = &files[0];
        let tok = if main.ends_with("tokenizer.json") {
            let text = read_text(main)?;
            // The tokenizers library panics (instead of failing) on some malformed JSON, e.g.
            // a syntax error inside `decoder`: check the syntax first, with our own message.
            serde_json::from_str::<serde::de::IgnoredAny>(&text)
                .map_err(|e| tok_err(main, format!("not valid JSON: {e}")))?;
            build_tokenizer(main, &text, "cannot load")?
        } else {
            let vocab_path = dir.join("vocab.json");
            let vocab: BTreeMap<String, u32> = serde_json::from_str(&read_text(&vocab_path)?)
                .map_err(|e| tok_err(&vocab_path, format!("not a token -> id JSON map: {e}")))?;
            let merges_path = dir.join("merges.txt");
            let merges: Vec<String> = read_text(&merges_path)?
                .lines()
                .filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            for t in [BOS, EOS] {
                if !vocab.contains_key(t) {
                    return Err(tok_err(&vocab_path, format!("has no {t} token: not a CLIP vocabulary")));
                }
            }
            let json = clip_tokenizer_json(&vocab, &merges).to_string();
            build_tokenizer(&merges_path, &json, "cannot build a BPE tokenizer")?
        };
        Self::finish(tok, main, pad_token(dir)?, max_len)
    }

    /// CLIP's own tokenizer (the bundled vocabulary), padding with `pad` (SD 1.x pads with
    /// [`EOS`], SD 2.x's OpenCLIP with `!`).
    /// The tokenizer is built once per process (about 100 000 vocabulary entries and merges).
    pub fn builtin(pad: &str, max_len: usize) -> Result<Self, DiffusionError> {
        static BUILT: std::sync::OnceLock<tokenizers::Tokenizer> = std::sync::OnceLock::new();
        let path = PathBuf::from("<bundled CLIP vocabulary>");
        let tok = match BUILT.get() {
            Some(t) => t.clone(),
            None => {
                let (vocab, merges) = clip_vocab_and_merges()?;
                let tok = build_tokenizer(&path, &clip_tokenizer_json(&vocab, &merges).to_string(), "cannot build")?;
                BUILT.get_or_init(|| tok).clone()
            }
        };
        Self::finish(tok, &path, Some(pad.to_string()), max_len)
    }

    fn finish(
        tok: tokenizers::Tokenizer,
        main: &Path,
        pad: Option<String>,
        max_len: usize,
    ) -> Result<Self, DiffusionError> {
        let id = |t: &str| {
            tok.token_to_id(t).ok_or_else(|| tok_err(main, format!("has no {t} token: not a CLIP tokenizer")))
        };
        let (bos, eos) = (id(BOS)?, id(EOS)?);
        let pad = match pad {
            Some(p) => id(&p)?,
            None => eos,
        };
        Ok(Self { tok, bos, eos, pad, max_len })
    }

    /// `text` as `max_len` token ids: start, tokens, end, padding. `which` ("prompt",
    /// "negative prompt") names the text in the too-long error.
    pub fn encode(&self, text: &str, which: &'static str) -> Result<Vec<u32>, DiffusionError> {
        let enc = self.tok.encode(text, false).map_err(|e| DiffusionError::Tokenizer {
            path: PathBuf::from("tokenizer"),
            message: format!("cannot tokenize the {which}: {e}"),
        })?;
        let ids = enc.get_ids();
        let tokens = ids.len() + 2;
        if tokens > self.max_len {
            return Err(DiffusionError::PromptTooLong { which, tokens, max: self.max_len });
        }
        let mut out = Vec::with_capacity(self.max_len);
        out.push(self.bos);
        out.extend_from_slice(ids);
        out.push(self.eos);
        out.resize(self.max_len, self.pad);
        Ok(out)
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::testing::clip_vocab;

    fn tiny_tokenizer(dir: &Path, json: bool) -> ClipTokenizer {
        let words: Vec<String> = ["a", "moth", "glowing"].iter().map(|s| s.to_string()).collect();
        let (vocab, merges) = clip_vocab(&words);
        if json {
            std::fs::write(dir.join("tokenizer.json"), clip_tokenizer_json(&vocab, &merges).to_string()).unwrap();
        } else {
            std::fs::write(dir.join("vocab.json"), serde_json::to_string(&vocab).unwrap()).unwrap();
            std::fs::write(dir.join("merges.txt"), format!("#version: 0.2\n{}\n", merges.join("\n"))).unwrap();
        }
        ClipTokenizer::load(dir, 16).unwrap()
    }

    #[test]
    fn prompts_become_start_tokens_end_and_padding() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tiny_tokenizer(dir.path(), true);
        let ids = tok.encode("A  Glowing MOTH", "prompt").unwrap();
        assert_eq!(ids.len(), 16);
        assert_eq!(ids[0], tok.bos);
        // Lower-cased, whitespace-split, whole-word merges: three tokens.
        assert_eq!(ids[4], tok.eos);
        assert!(ids[5..].iter().all(|&i| i == tok.pad));
        assert_eq!(tok.encode("a glowing moth", "prompt").unwrap(), ids);
        // Unknown words fall back to byte tokens rather than failing.
        assert!(tok.encode("zebra", "prompt").unwrap()[1..6].iter().all(|&i| i != tok.eos));
    }

    #[test]
    fn vocab_and_merges_build_the_same_tokenizer() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (ta, tb) = (tiny_tokenizer(a.path(), true), tiny_tokenizer(b.path(), false));
        for text in ["a glowing moth", "Moths, glowing!", "zebra 42"] {
            assert_eq!(ta.encode(text, "prompt").unwrap(), tb.encode(text, "prompt").unwrap(), "{text}");
        }
    }

    #[test]
    fn the_bundled_vocabulary_is_clips() {
        // Ids of OpenAI's CLIP tokenizer, as every SD 1.x / 2.x model card's examples show them.
        let tok = ClipTokenizer::builtin(EOS, 77).unwrap();
        let ids = tok.encode("a photo of a cat", "prompt").unwrap();
        assert_eq!(ids[..7], [49406, 320, 1125, 539, 320, 2368, 49407]);
        assert!(ids[7..].iter().all(|&i| i == 49407));
        // SD 2.x pads with "!" (id 0).
        let ids = ClipTokenizer::builtin("!", 77).unwrap().encode("a cat", "prompt").unwrap();
        assert_eq!(ids[..5], [49406, 320, 2368, 49407, 0]);
        assert_eq!(byte_symbols()[0], (b'!', '!'));
        assert_eq!(byte_symbols()[188], (0, '\u{100}'));
    }

    #[test]
    fn too_long_prompts_say_how_long() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tiny_tokenizer(dir.path(), true);
        assert!(tok.encode(&"moth ".repeat(14), "prompt").is_ok());
        match tok.encode(&"moth ".repeat(15), "prompt") {
            Err(DiffusionError::PromptTooLong { tokens: 17, max: 16, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
