//! PNG provenance: every image Chrysalis writes carries its recipe.
//!
//! A Chrysalis PNG holds, before its pixels:
//! - a `parameters` text chunk in the exact format AUTOMATIC1111 writes, so A1111's *PNG
//!   Info* tab (and every tool that reads A1111 PNGs) shows the prompt and settings:
//!   ```text
//!   a moth at night, ink
//!   Negative prompt: blurry
//!   Steps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: 1a2b3c4d5e, Model: sd15, Chrysalis recipe: 9f…
//!   ```
//!   (prompt lines, then `Negative prompt:` only when there is one, then one line of
//!   `Key: value` pairs; values containing `,`, `:` or a newline are JSON-quoted, as A1111
//!   does). Like A1111 (through PIL) it is a `tEXt` chunk when the text is Latin-1 and an
//!   uncompressed `iTXt` chunk otherwise.
//! - an uncompressed `iTXt` chunk with keyword `chrysalis` holding the full recipe as
//!   canonical JSON: the authoritative copy, read back by [`recipe_from_png`].
//!
//! # Byte-for-byte determinism
//! `chrysalis regenerate --check` compares file bytes, so encoding must never vary. The
//! `png` crate cannot promise that: its deflate goes through `flate2`, whose backend
//! (miniz, zlib, zlib-ng, zlib-rs) is chosen by cargo *features any other crate in the build*
//! may switch on. So this module writes the PNG itself: fixed chunk order (IHDR, text,
//! iTXt, IDAT in 1 MiB chunks, IEND), a deterministic per-row filter choice (minimum sum
//! of absolute differences, ties to the lower filter type) and deflate from `miniz_oxide`,
//! pinned to an exact version in the workspace, at the zlib level the recipe's format names
//! ([`zlib_level`]). Changing any of these changes every PNG's bytes; the golden hashes in
//! the tests catch it.
//!
//! # Why level 2 (recipe format 3 on)
//! Level 6 took about 70 % of a procedural item's CPU time at 512² (73 ms of deflate against
//! 28 ms of drawing for `growth`). Level 2 takes 7 ms for files about 12 % bigger; level 1
//! saves one more millisecond for 20 % more bytes, and every level from 3 to 5 costs 2-3x
//! level 2 for 1-2 % smaller files. Bytes are what artists pay Arweave and pinning services
//! for, so the fast level stops where it stops buying speed. The level is fixed by the
//! recipe format rather than chosen per image so that a recipe still names its bytes.

use std::path::Path;

use chrysalis_core::Recipe;
use chrysalis_core::recipe::EngineSpec;
use sha2::{Digest, Sha256};

use crate::engine::RgbImage;
use crate::error::ArtError;

/// The A1111 text chunk's keyword.
pub const PARAMETERS_KEYWORD: &str = "parameters";
/// The keyword of the iTXt chunk holding the recipe's canonical JSON.
pub const RECIPE_KEYWORD: &str = "chrysalis";
/// The field naming the recipe hash in the A1111 text.
pub const RECIPE_HASH_FIELD: &str = "Chrysalis recipe";

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// The first recipe format whose PNGs deflate at [`FAST_ZLIB_LEVEL`]; older ones used
/// [`LEGACY_ZLIB_LEVEL`] and keep it, so their images regenerate to the same bytes.
pub const FAST_DEFLATE_FORMAT: u32 = 3;
const FAST_ZLIB_LEVEL: u8 = 2;
const LEGACY_ZLIB_LEVEL: u8 = 6;
const IDAT_CHUNK: usize = 1 << 20;

// ---------------------------------------------------------------------------------------
// Writing

/// Encodes `image` as a PNG carrying `recipe` (A1111 `parameters` + `chrysalis` iTXt).
/// The same pixels and recipe always give the same bytes.
pub fn encode_png(image: &RgbImage, recipe: &Recipe) -> Result<Vec<u8>, ArtError> {
    encode(image, Some(recipe))
}

/// Writes `image` as a PNG *without* a recipe (atomically, as [`write_png`]), for images
/// their recipe cannot regenerate (a diffusion run from given starting latents). Returns
/// the bytes.
pub fn write_png_without_recipe(path: &Path, image: &RgbImage) -> Result<Vec<u8>, ArtError> {
    let bytes = encode(image, None)?;
    write_atomic(path, &bytes)?;
    Ok(bytes)
}

fn encode(image: &RgbImage, recipe: Option<&Recipe>) -> Result<Vec<u8>, ArtError> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(ArtError::Encode(format!("image {w}x{h} is empty")));
    }
    let mut out = Vec::with_capacity(image.as_raw().len() / 2 + 4096);
    out.extend_from_slice(&SIGNATURE);
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour RGB, deflate, adaptive filters, no interlace
    write_chunk(&mut out, b"IHDR", &ihdr);

    if let Some(recipe) = recipe {
        let parameters = a1111_parameters(recipe);
        if let Some(latin1) = to_latin1(&parameters) {
            write_chunk(&mut out, b"tEXt", &text_payload(PARAMETERS_KEYWORD, &latin1));
        } else {
            write_chunk(&mut out, b"iTXt", &itxt_payload(PARAMETERS_KEYWORD, &parameters));
        }
        write_chunk(&mut out, b"iTXt", &itxt_payload(RECIPE_KEYWORD, &recipe.canonical_json()));
    }

    let filtered = filter_rows(image.as_raw(), w as usize * 3);
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&filtered, zlib_level(recipe));
    for chunk in compressed.chunks(IDAT_CHUNK) {
        write_chunk(&mut out, b"IDAT", chunk);
    }
    write_chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// The zlib level of the pixels of a PNG carrying `recipe`: set by its recipe format (see
/// the module docs). A PNG without a recipe is never regenerated, so it takes the fast level.
pub fn zlib_level(recipe: Option<&Recipe>) -> u8 {
    match recipe {
        Some(r) if r.format < FAST_DEFLATE_FORMAT => LEGACY_ZLIB_LEVEL,
        _ => FAST_ZLIB_LEVEL,
    }
}

/// Writes [`encode_png`]'s bytes to `path` atomically (a temporary file in the same folder,
/// then a rename), so an interrupted write never leaves half a PNG. Returns the bytes.
pub fn write_png(path: &Path, image: &RgbImage, recipe: &Recipe) -> Result<Vec<u8>, ArtError> {
    let bytes = encode_png(image, recipe)?;
    write_atomic(path, &bytes)?;
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file (`.<name>.<pid>.tmp`, hidden, so no CID
/// ever includes it) and a rename. A failed write (a full disk) removes the temporary file;
/// one left by a killed process is removed by [`remove_stale_temps`] on the next run.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArtError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "image.png".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ArtError::io("cannot write", path, e)
    })
}

/// Removes from `dir` the temporary files of [`write_atomic`] whose process is gone (killed,
/// or stopped by a full disk before it could clean up), and returns how many it removed. A
/// file of a process still running is kept: that process may be about to rename it. A
/// missing `dir` has nothing to clean.
pub fn remove_stale_temps(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else { continue };
        if !process_is_running(pid, &entry.path()) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The process id in a [`write_atomic`] temporary file's name (`.<name>.<pid>.tmp`).
fn temp_file_pid(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (name, pid) = rest.rsplit_once('.')?;
    if name.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// Whether the process that named a temporary file may still be writing it: on Linux, its
/// `/proc` entry; elsewhere, a file touched in the last hour counts as in use.
fn process_is_running(pid: u32, file: &Path) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    let age = std::fs::metadata(file).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
    age.is_none_or(|a| a < std::time::Duration::from_secs(3600))
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn text_payload(keyword: &str, latin1: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(keyword.len() + 1 + latin1.len());
    d.extend_from_slice(keyword.as_bytes());
    d.push(0);
    d.extend_from_slice(latin1);
    d
}

fn itxt_payload(keyword: &str, text: &str) -> Vec<u8> {
    let mut d = Vec::with_capacity(keyword.len() + 5 + text.len());
    d.extend_from_slice(keyword.as_bytes());
    // NUL, compression flag 0, method 0, empty language tag + NUL, empty translated keyword + NUL
    d.extend_from_slice(&[0, 0, 0, 0, 0]);
    d.extend_from_slice(text.as_bytes());
    d
}

fn to_latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Prefixes each row with its filter type, choosing per row the filter with the smallest
/// sum of absolute (signed) residuals; ties go to the lower type.
fn filter_rows(raw: &[u8], stride: usize) -> Vec<u8> {
    const BPP: usize = 3;
    let rows = raw.len() / stride;
    let mut out = Vec::with_capacity(rows * (stride + 1));
    let zero = vec![0u8; stride];
    let mut candidates: [Vec<u8>; 5] = std::array::from_fn(|_| vec![0u8; stride]);
    for y in 0..rows {
        let cur = &raw[y * stride..(y + 1) * stride];
        let prev = if y == 0 { &zero[..] } else { &raw[(y - 1) * stride..y * stride] };
        for i in 0..stride {
            let a = if i >= BPP { cur[i - BPP] } else { 0 };
            let b = prev[i];
            let c = if i >= BPP { prev[i - BPP] } else { 0 };
            let x = cur[i];
            candidates[0][i] = x;
            candidates[1][i] = x.wrapping_sub(a);
            candidates[2][i] = x.wrapping_sub(b);
            candidates[3][i] = x.wrapping_sub(((u16::from(a) + u16::from(b)) / 2) as u8);
            candidates[4][i] = x.wrapping_sub(paeth(a, b, c));
        }
        let score = |v: &[u8]| v.iter().map(|&x| u64::from((x as i8).unsigned_abs())).sum::<u64>();
        let mut best = 0;
        let mut best_score = score(&candidates[0]);
        for (f, cand) in candidates.iter().enumerate().skip(1) {
            let s = score(cand);
            if s < best_score {
                best = f;
                best_score = s;
            }
        }
        out.push(best as u8);
        out.extend_from_slice(&candidates[best]);
    }
    out
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia + ib - ic;
    let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|n| {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            c
        })
    });
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c = table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

// ---------------------------------------------------------------------------------------
// Reading

/// The text chunks of a PNG (`tEXt` and uncompressed `iTXt`; compressed ones are skipped),
/// as (keyword, text) in file order. Checks the signature and every chunk's CRC.
pub fn png_text_chunks(bytes: &[u8]) -> Result<Vec<(String, String)>, ArtError> {
    let bad = |m: &str| ArtError::Decode { what: "PNG".into(), message: m.into() };
    if bytes.len() < 8 || bytes[..8] != SIGNATURE {
        return Err(bad("not a PNG file (wrong signature)"));
    }
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let end = pos.checked_add(12).and_then(|e| e.checked_add(len)).filter(|&e| e <= bytes.len());
        let Some(end) = end else {
            return Err(bad("truncated chunk"));
        };
        let data = &bytes[pos + 8..pos + 8 + len];
        let crc = u32::from_be_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
        if crc != crc32(&bytes[pos + 4..pos + 8 + len]) {
            return Err(bad(&format!("chunk {} has a bad CRC (file damaged)", String::from_utf8_lossy(kind))));
        }
        match kind {
            b"tEXt" => {
                if let Some(nul) = data.iter().position(|&b| b == 0) {
                    let key = data[..nul].iter().map(|&b| char::from(b)).collect();
                    let text = data[nul + 1..].iter().map(|&b| char::from(b)).collect();
                    out.push((key, text));
                }
            }
            b"iTXt" => {
                if let Some((key, text)) = parse_itxt(data) {
                    out.push((key, text));
                }
            }
            b"IEND" => break,
            _ => {}
        }
        pos = end;
    }
    Ok(out)
}

fn parse_itxt(data: &[u8]) -> Option<(String, String)> {
    let nul = data.iter().position(|&b| b == 0)?;
    let key = String::from_utf8(data[..nul].to_vec()).ok()?;
    let rest = data.get(nul + 1..)?;
    let (&flag, rest) = rest.split_first()?;
    let (_method, rest) = rest.split_first()?;
    if flag != 0 {
        return None;
    }
    let lang_end = rest.iter().position(|&b| b == 0)?;
    let rest = &rest[lang_end + 1..];
    let tk_end = rest.iter().position(|&b| b == 0)?;
    let text = String::from_utf8(rest[tk_end + 1..].to_vec()).ok()?;
    Some((key, text))
}

/// The recipe a Chrysalis PNG carries (its `chrysalis` iTXt chunk), validated.
pub fn recipe_from_png(bytes: &[u8]) -> Result<Recipe, ArtError> {
    recipe_from_png_named(bytes, "this PNG")
}

fn recipe_from_png_named(bytes: &[u8], what: &str) -> Result<Recipe, ArtError> {
    let chunks = png_text_chunks(bytes)?;
    let (_, json) =
        chunks.iter().find(|(k, _)| k == RECIPE_KEYWORD).ok_or_else(|| ArtError::NoRecipe(what.to_string()))?;
    Ok(Recipe::from_json(json)?)
}

/// The bytes of the image file at `path`, refusing anything that is not a regular file first:
/// opening a named pipe (FIFO) would wait for a writer forever, and a device could be
/// endless.
pub fn read_image_file(path: &Path) -> Result<Vec<u8>, ArtError> {
    let meta = std::fs::metadata(path).map_err(|e| ArtError::io("cannot read", path, e))?;
    if !meta.is_file() {
        let kind = file_kind(&meta);
        return Err(ArtError::io(
            "cannot read",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {kind}, not a regular file")),
        ));
    }
    std::fs::read(path).map_err(|e| ArtError::io("cannot read", path, e))
}

/// What kind of file `meta` describes, in words, for "not a regular file" messages.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if meta.is_dir() { "a folder" } else { "not a regular file" }
}

/// Reads `path` and returns its bytes and the recipe inside.
pub fn recipe_from_png_file(path: &Path) -> Result<(Vec<u8>, Recipe), ArtError> {
    let bytes = read_image_file(path)?;
    let recipe = recipe_from_png_named(&bytes, &path.display().to_string()).map_err(|e| match e {
        ArtError::Decode { message, .. } => ArtError::Decode { what: path.display().to_string(), message },
        other => other,
    })?;
    Ok((bytes, recipe))
}

/// Decodes any image file (PNG, JPEG) to RGB8: img2img sources, checks.
pub fn decode_rgb(bytes: &[u8], what: &str) -> Result<RgbImage, ArtError> {
    image::load_from_memory(bytes)
        .map(|i| i.to_rgb8())
        .map_err(|e| ArtError::Decode { what: what.to_string(), message: e.to_string() })
}

/// Reads an image file as RGB8 with the SHA-256 of its bytes (what an img2img recipe
/// records as `init_image.sha256`).
pub fn load_image_file(path: &Path) -> Result<(RgbImage, String), ArtError> {
    let bytes = read_image_file(path)?;
    let image = decode_rgb(&bytes, &path.display().to_string())?;
    Ok((image, hex::encode(Sha256::digest(&bytes))))
}

// ---------------------------------------------------------------------------------------
// AUTOMATIC1111 `parameters`

/// The contents of an AUTOMATIC1111 `parameters` text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct A1111Parameters {
    pub prompt: String,
    pub negative_prompt: String,
    /// `Key: value` pairs of the last line, in order, values unquoted.
    pub fields: Vec<(String, String)>,
}

impl A1111Parameters {
    /// The value of field `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The text exactly as A1111 writes it: prompt, `Negative prompt:` line only when there
    /// is one, the fields line; surrounding whitespace trimmed (A1111 strips the whole text).
    pub fn to_text(&self) -> String {
        let negative = if self.negative_prompt.is_empty() {
            String::new()
        } else {
            format!("\nNegative prompt: {}", self.negative_prompt)
        };
        let fields = self.fields.iter().map(|(k, v)| format!("{k}: {}", a1111_quote(v))).collect::<Vec<_>>().join(", ");
        format!("{}{negative}\n{fields}", self.prompt).trim().to_string()
    }

    /// Parses a `parameters` text the way A1111's `parse_generation_parameters` does: the
    /// last line holds the fields when it has at least three `Key: value` pairs; lines before
    /// it are the prompt until one starts with `Negative prompt:`, then the negative prompt.
    pub fn parse(text: &str) -> Result<Self, ArtError> {
        let mut lines: Vec<&str> = text.trim().split('\n').collect();
        let last = lines.last().copied().unwrap_or("");
        let fields = parse_fields(last);
        let fields = match fields {
            Some(f) if f.len() >= 3 => {
                lines.pop();
                f
            }
            _ => return Err(ArtError::A1111("its last line has no `Key: value, Key: value, ...` settings".into())),
        };
        let (mut prompt, mut negative) = (String::new(), String::new());
        let mut in_negative = false;
        for line in lines {
            let mut line = line.trim();
            if let Some(rest) = line.strip_prefix("Negative prompt:") {
                in_negative = true;
                line = rest.trim();
            }
            let target = if in_negative { &mut negative } else { &mut prompt };
            if !target.is_empty() {
                target.push('\n');
            }
            target.push_str(line);
        }
        Ok(Self { prompt, negative_prompt: negative, fields })
    }
}

/// A1111's `quote`: values containing `,`, `:` or a newline become JSON strings.
fn a1111_quote(v: &str) -> String {
    if v.contains([',', ':', '\n']) { serde_json::to_string(v).expect("a string serializes") } else { v.to_string() }
}

/// `Key: value, Key: "quoted, value", ...` → pairs; `None` when the line is not of that form.
fn parse_fields(line: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let colon = rest.find(':')?;
        let key = &rest[..colon];
        let first = key.chars().next()?;
        if !(first.is_alphanumeric() || first == '_')
            || !key.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | ' ' | '-' | '/'))
            || key.len() < 2
        {
            return None;
        }
        rest = rest[colon + 1..].trim_start();
        // A JSON string when the value is one and a `,` or the end follows it; otherwise,
        // as in A1111's own reader, the text up to the next `,` (a value such as `"` or
        // `"a" b`, which A1111 writes unquoted, is text, not a broken line).
        let (value, after) = match json_string_prefix(rest) {
            Some((v, after)) if after.trim_start().is_empty() || after.trim_start().starts_with(',') => (v, after),
            _ => {
                let end = rest.find(',').unwrap_or(rest.len());
                (rest[..end].trim_end().to_string(), &rest[end..])
            }
        };
        rest = after;
        out.push((key.trim().to_string(), value));
        rest = rest.trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None if rest.is_empty() => break,
            None => return None,
        }
    }
    Some(out)
}

/// The JSON string `text` starts with, decoded, and the text after it; `None` when `text`
/// does not start with a complete, valid JSON string.
fn json_string_prefix(text: &str) -> Option<(String, &str)> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    if i >= bytes.len() {
        return None;
    }
    let value = serde_json::from_str::<String>(&text[..=i]).ok()?;
    Some((value, &text[i + 1..]))
}

/// A fingerprint for A1111's `Model hash` of a procedural style: first 10 hex digits of
/// SHA-256 over `chrysalis-procedural:v<version>:<style>`.
pub fn procedural_model_hash(engine_version: u32, style: &str) -> String {
    hex::encode(Sha256::digest(format!("chrysalis-procedural:v{engine_version}:{style}")))[..10].to_string()
}

/// The recipe format from which a PNG's `parameters` text uses A1111's keys only for what
/// A1111 knows (a procedural image has a seed and a size, but no sampler, steps, CFG scale
/// or model) and puts everything of ours under `Chrysalis …` keys. Older recipes keep the
/// layout they were published with, so their PNGs regenerate to the same bytes.
pub const OWN_KEYS_FORMAT: u32 = 2;

/// The A1111 fields for `recipe`.
pub fn a1111_for(recipe: &Recipe) -> A1111Parameters {
    let size = format!("{}x{}", recipe.width, recipe.height);
    let own_keys = recipe.format >= OWN_KEYS_FORMAT;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut f = |k: &str, v: String| fields.push((k.to_string(), v));
    match &recipe.engine {
        EngineSpec::Diffusion(d) => {
            f("Steps", d.steps.to_string());
            f("Sampler", d.scheduler.a1111_name().to_string());
            f("CFG scale", d.guidance.to_string());
            f("Seed", recipe.seed.to_string());
            f("Size", size);
            f("Model hash", d.model.short_hash());
            f("Model", d.model.name.clone());
            if let Some(init) = &d.init_image {
                f("Denoising strength", init.strength.to_string());
            }
        }
        EngineSpec::Procedural(p) if own_keys => {
            f("Seed", recipe.seed.to_string());
            f("Size", size);
            f("Chrysalis engine", format!("procedural v{}", p.engine_version));
            f("Chrysalis style", p.style.clone());
            if !p.params.is_empty() {
                let params = p.params.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
                f("Chrysalis params", params);
            }
        }
        // Recipe format 1: the layout its PNGs were published with (kept byte for byte).
        EngineSpec::Procedural(p) => {
            f("Steps", "1".into());
            f("Sampler", p.style.clone());
            f("CFG scale", "0".into());
            f("Seed", recipe.seed.to_string());
            f("Size", size);
            f("Model hash", procedural_model_hash(p.engine_version, &p.style));
            f("Model", format!("chrysalis-procedural-v{}", p.engine_version));
            if !p.params.is_empty() {
                let params = p.params.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
                f("Style params", params);
            }
        }
    }
    f(if own_keys { "Chrysalis stage" } else { "Stage" }, recipe.stage.to_string());
    f(RECIPE_HASH_FIELD, recipe.hash().to_string());
    A1111Parameters { prompt: recipe.prompt.clone(), negative_prompt: recipe.negative_prompt.clone(), fields }
}

/// The `parameters` text for `recipe`.
pub fn a1111_parameters(recipe: &Recipe) -> String {
    a1111_for(recipe).to_text()
}
