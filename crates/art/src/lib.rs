//! Art engines for Chrysalis: the procedural engine, the diffusion pipeline, image I/O and
//! PNG provenance. Every engine generates from a [`chrysalis_core`] recipe so that an image
//! can be regenerated bit-for-bit.
//!
//! - [`engine`]: the [`Engine`] trait every engine implements, and the dispatcher.
//! - [`procedural`]: the built-in deterministic engine (no weights).
//! - [`diffusion`]: the Stable-Diffusion pipeline (candle).
//! - [`gallery`]: images generated into a project (files + `generations` rows), checks.
//! - [`png_meta`]: PNGs carrying their recipe (AUTOMATIC1111 `parameters` + `chrysalis` iTXt).

pub mod diffusion;
pub mod engine;
pub mod error;
pub mod gallery;
pub mod png_meta;
pub mod procedural;

pub use engine::{Attribute, Engine, GenProgress, GeneratedImage, RgbImage, engine_for, generate};
pub use error::ArtError;
