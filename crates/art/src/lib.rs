//! Art engines for Chrysalis: the procedural engine, the diffusion pipeline, image I/O and
//! PNG provenance. Every engine generates from a [`chrysalis_core`] recipe so that an image
//! can be regenerated bit-for-bit (diffusion: on the same CPU family, see [`diffusion`]).
//!
//! - [`engine`]: the [`Engine`] trait every engine implements.
//! - [`engines`]: the factory that picks the engine a recipe names.
//! - [`procedural`]: the built-in deterministic engine (no weights).
//! - [`diffusion`]: the Stable-Diffusion pipeline (candle).
//! - [`gallery`]: images generated into a project (files + `generations` rows), checks.
//! - [`png_meta`]: PNGs carrying their recipe (AUTOMATIC1111 `parameters` + `chrysalis` iTXt).
//!
//! Art never touches the network or the chain: it depends on no HTTP or Solana crate. It
//! reads a recipe, model weights already on disk and, for img2img, an earlier image; it
//! writes pixels, PNG bytes (encoded here with a pinned `miniz_oxide`, so the bytes never
//! vary), the project's `generations` rows and a local cache of model file hashes.
//!
//! Start reading at [`Engine`], then [`engines`] (which engine a recipe names) and
//! [`png_meta`] (how the recipe travels inside the PNG).

pub mod diffusion;
pub mod engine;
pub mod engines;
pub mod error;
pub mod gallery;
pub mod png_meta;
pub mod procedural;

pub use engine::{Attribute, Engine, GenProgress, GeneratedImage, RgbImage};
pub use engines::{engine_for, engine_on, generate};
pub use error::ArtError;
