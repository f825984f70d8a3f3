//! # The project gallery
//!
//! Every image the desktop app's Create screen (or any other front end) generates *into a
//! project* goes through here: the PNG, with its recipe embedded ([`crate::png_meta`]), is
//! written to `<project>/images/`, and a row of the project database's `generations` table
//! records the full recipe, the file's path and SHA-256, its size and, for img2img, the
//! gallery image it started from.
//!
//! ## Why the work is split in three
//! A generation is [`prepare`] (read the project: the img2img source), [`render`] (the
//! engine: seconds to minutes, no project access) and [`record`] (write the file and the
//! row). A front end holds its project lock only for the first and the last, so the
//! gallery stays browsable while an image is being made. [`generate`] runs all three.
//!
//! ## Files and crash safety
//! The file name is `images/<recipe hash, 16 hex>-<PNG sha256, 8 hex>.png`: a name that
//! says what made the image and which bytes it holds. The PNG is written atomically before
//! its row is inserted, so a crash leaves at worst an unrecorded file that the same
//! generation writes again byte for byte. Generating a recipe that is already in the
//! gallery with the same bytes returns the existing entry instead of a duplicate.
//!
//! ## Checking an image
//! [`regenerate_check`] makes the image again from the recorded recipe (and the recorded
//! img2img source) without writing anything and compares the PNG's SHA-256 with the one
//! recorded and with the file on disk: the desktop's "regenerate and check".

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chrysalis_core::recipe::{EngineSpec, InitImage};
use chrysalis_core::{CancelToken, Project, ProjectError, Recipe};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::engine::{GenProgress, RgbImage};
use crate::engines;
use crate::error::ArtError;
use crate::png_meta;

/// The project folder holding gallery images.
pub const IMAGES_DIR: &str = "images";

/// One image of the gallery: a `generations` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub id: i64,
    pub recipe: Recipe,
    /// Lowercase hex SHA-256 of the recipe's canonical JSON.
    pub recipe_hash: String,
    /// The PNG, relative to the project root (`images/….png`, always `/`-separated).
    pub path: String,
    /// Lowercase hex SHA-256 of the PNG's bytes when it was made.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    /// The gallery image an img2img generation started from.
    pub parent_id: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

impl Generation {
    /// The PNG's absolute path inside the project at `root`.
    pub fn file(&self, root: &Path) -> PathBuf {
        root.join(&self.path)
    }
}

/// Start an img2img generation from a gallery image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Img2Img {
    pub parent_id: i64,
    /// 0 keeps the source, 1 ignores it (must be in (0, 1]).
    pub strength: f64,
}

/// A generation ready to render: the final recipe (with the img2img source's hash filled
/// in) and the decoded source.
#[derive(Debug, Clone)]
pub struct Prepared {
    recipe: Recipe,
    init: Option<RgbImage>,
    parent_id: Option<i64>,
}

impl Prepared {
    /// The recipe that will be rendered and recorded.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    pub fn parent_id(&self) -> Option<i64> {
        self.parent_id
    }
}

/// A rendered image, encoded with its recipe, not yet written anywhere.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub png: Vec<u8>,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

/// What [`regenerate_check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegenCheck {
    /// The regenerated PNG is byte-identical to the one recorded *and* to the file on disk.
    pub identical: bool,
    /// SHA-256 recorded when the image was made.
    pub recorded_sha256: String,
    /// SHA-256 of the PNG made again just now.
    pub regenerated_sha256: String,
    /// SHA-256 of the file on disk now; `None` when the file is missing.
    pub file_sha256: Option<String>,
}

/// Everything that can go wrong in the gallery.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// The engine failed, was cancelled, or an image could not be read or written.
    #[error(transparent)]
    Art(#[from] ArtError),

    #[error(transparent)]
    Project(#[from] ProjectError),

    #[error("the project database at {path} failed: {source}", path = path.display())]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("there is no image #{id} in this project's gallery (it may have been deleted); refresh the gallery")]
    NotFound { id: i64 },

    #[error("image #{id} ({path}) is missing from the project folder; regenerate it from its recipe or restore the file", path = path.display())]
    FileMissing { id: i64, path: PathBuf },

    #[error("image #{id} ({path}) was changed after it was made (its SHA-256 is {found}, the gallery recorded {recorded}); regenerate it from its recipe", path = path.display())]
    FileChanged { id: i64, path: PathBuf, found: String, recorded: String },

    #[error(
        "img2img needs a diffusion model: the procedural engine cannot start from an image. Choose a model folder, or clear the source image"
    )]
    Img2ImgNeedsDiffusion,

    #[error("img2img strength {strength} must be above 0 and at most 1")]
    Strength { strength: f64 },

    #[error(
        "this recipe starts from an image with SHA-256 {sha256}, which is not in this project's gallery; add that image first or clear the source image"
    )]
    InitImageMissing { sha256: String },

    #[error("gallery entry #{id} holds a recipe this Chrysalis cannot read: {message}")]
    BadRow { id: i64, message: String },

    #[error("{path} already exists; choose another file name or delete it first", path = path.display())]
    ExportExists { path: PathBuf },
}

impl GalleryError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Art(e) if e.is_cancelled())
    }
}

fn db_err(project: &Project) -> impl FnOnce(rusqlite::Error) -> GalleryError + '_ {
    move |source| GalleryError::Database { path: project.db_path(), source }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

const COLUMNS: &str = "id, recipe, recipe_hash, path, sha256, width, height, parent_id, created_at";

type Row = (i64, String, String, String, String, u32, u32, Option<i64>, i64);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn to_generation(row: Row) -> Result<Generation, GalleryError> {
    let (id, recipe, recipe_hash, path, sha256, width, height, parent_id, created_at) = row;
    let recipe = Recipe::from_json(&recipe).map_err(|e| GalleryError::BadRow { id, message: e.to_string() })?;
    Ok(Generation { id, recipe, recipe_hash, path, sha256, width, height, parent_id, created_at })
}

/// Every image of the gallery, newest first.
pub fn list(project: &Project) -> Result<Vec<Generation>, GalleryError> {
    let mut stmt = project
        .db()
        .prepare(&format!("SELECT {COLUMNS} FROM generations ORDER BY id DESC"))
        .map_err(db_err(project))?;
    let rows = stmt
        .query_map([], read_row)
        .map_err(db_err(project))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err(project))?;
    rows.into_iter().map(to_generation).collect()
}

/// Gallery image `id`.
pub fn get(project: &Project, id: i64) -> Result<Generation, GalleryError> {
    let row = project
        .db()
        .query_row(&format!("SELECT {COLUMNS} FROM generations WHERE id = ?1"), [id], read_row)
        .optional()
        .map_err(db_err(project))?
        .ok_or(GalleryError::NotFound { id })?;
    to_generation(row)
}

/// Gallery image whose file hashes to `sha256` (the oldest, if several do).
fn find_by_sha(project: &Project, sha256: &str) -> Result<Option<Generation>, GalleryError> {
    let row = project
        .db()
        .query_row(
            &format!("SELECT {COLUMNS} FROM generations WHERE sha256 = ?1 ORDER BY id LIMIT 1"),
            [sha256],
            read_row,
        )
        .optional()
        .map_err(db_err(project))?;
    row.map(to_generation).transpose()
}

/// The bytes of gallery image `generation`, refusing a missing or altered file.
pub fn read_png(project: &Project, generation: &Generation) -> Result<Vec<u8>, GalleryError> {
    let path = generation.file(project.root());
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(GalleryError::FileMissing { id: generation.id, path });
        }
        Err(e) => return Err(ArtError::io("cannot read", path, e).into()),
    };
    let found = sha256_hex(&bytes);
    if found != generation.sha256 {
        return Err(GalleryError::FileChanged { id: generation.id, path, found, recorded: generation.sha256.clone() });
    }
    Ok(bytes)
}

fn load_init(project: &Project, source: &Generation) -> Result<RgbImage, GalleryError> {
    let bytes = read_png(project, source)?;
    Ok(png_meta::decode_rgb(&bytes, &source.path)?)
}

/// Checks `recipe` and reads what rendering it needs from the project: the img2img source,
/// either named by `img2img` (whose hash and strength are then written into the recipe) or,
/// for a recipe that already names a source by hash ("use these settings" of an img2img
/// image), found in the gallery by that hash. img2img takes the source image's size.
pub fn prepare(project: &Project, mut recipe: Recipe, img2img: Option<Img2Img>) -> Result<Prepared, GalleryError> {
    recipe.validate().map_err(ArtError::from)?;
    let (init, parent_id) = match (&mut recipe.engine, img2img) {
        (EngineSpec::Procedural(_), Some(_)) => return Err(GalleryError::Img2ImgNeedsDiffusion),
        (EngineSpec::Diffusion(spec), Some(Img2Img { parent_id, strength })) => {
            if !(strength > 0.0 && strength <= 1.0) {
                return Err(GalleryError::Strength { strength });
            }
            let source = get(project, parent_id)?;
            let init = load_init(project, &source)?;
            spec.init_image = Some(InitImage { sha256: source.sha256.clone(), strength });
            // img2img keeps the source's size (the engine refuses any other).
            recipe.width = source.width;
            recipe.height = source.height;
            (Some(init), Some(parent_id))
        }
        (EngineSpec::Diffusion(spec), None) => match &spec.init_image {
            Some(InitImage { sha256, .. }) => {
                let source = find_by_sha(project, sha256)?
                    .ok_or_else(|| GalleryError::InitImageMissing { sha256: sha256.clone() })?;
                (Some(load_init(project, &source)?), Some(source.id))
            }
            None => (None, None),
        },
        (EngineSpec::Procedural(_), None) => (None, None),
    };
    Ok(Prepared { recipe, init, parent_id })
}

/// Runs the engine and encodes the PNG. Touches no project; `model_dir` is needed for
/// diffusion recipes only.
pub fn render(
    prepared: &Prepared,
    model_dir: Option<&Path>,
    on_progress: &mut dyn FnMut(&GenProgress),
    cancel: &CancelToken,
) -> Result<Rendered, GalleryError> {
    render_on(prepared, model_dir, &[], None, on_progress, cancel)
}

/// [`render`] for a recipe with LoRAs (`lora_files`: its LoRA files, in its order) on
/// `device` (`None`: the first device of the class the recipe names); see
/// [`engines::engine_on`].
pub fn render_on(
    prepared: &Prepared,
    model_dir: Option<&Path>,
    lora_files: &[PathBuf],
    device: Option<crate::diffusion::ComputeDevice>,
    on_progress: &mut dyn FnMut(&GenProgress),
    cancel: &CancelToken,
) -> Result<Rendered, GalleryError> {
    prepared.recipe.validate().map_err(ArtError::from)?;
    cancel.check().map_err(ArtError::from)?;
    let engine = engines::engine_on(&prepared.recipe, model_dir, lora_files, device)?;
    let out = engine.generate(&prepared.recipe, prepared.init.as_ref(), on_progress, cancel)?;
    let png = png_meta::encode_png(&out.image, &prepared.recipe)?;
    let sha256 = sha256_hex(&png);
    let (width, height) = out.image.dimensions();
    Ok(Rendered { png, sha256, width, height })
}

/// Writes a rendered image into the project and records it (or returns the existing entry
/// when the gallery already holds these bytes from this recipe).
pub fn record(project: &Project, prepared: &Prepared, rendered: &Rendered) -> Result<Generation, GalleryError> {
    let recipe_hash = prepared.recipe.hash().to_string();
    let path = format!("{IMAGES_DIR}/{}-{}.png", &recipe_hash[..16], &rendered.sha256[..8]);
    let file = project.root().join(&path);
    let dir = project.root().join(IMAGES_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| ArtError::io("cannot create", &dir, e))?;

    let existing = project
        .db()
        .query_row(&format!("SELECT {COLUMNS} FROM generations WHERE path = ?1"), [&path], read_row)
        .optional()
        .map_err(db_err(project))?;
    if let Some(row) = existing {
        let generation = to_generation(row)?;
        // Same recipe, same bytes: put the file back if it went missing or was altered.
        if read_png(project, &generation).is_err() {
            png_meta::write_atomic(&file, &rendered.png)?;
        }
        return Ok(generation);
    }

    png_meta::write_atomic(&file, &rendered.png)?;
    let created_at = now_unix();
    project
        .db()
        .execute(
            "INSERT INTO generations (recipe, recipe_hash, path, sha256, width, height, parent_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                prepared.recipe.canonical_json(),
                recipe_hash,
                path,
                rendered.sha256,
                rendered.width,
                rendered.height,
                prepared.parent_id,
                created_at
            ],
        )
        .map_err(db_err(project))?;
    let id = project.db().last_insert_rowid();
    project.journal(
        "image.generated",
        &serde_json::json!({ "id": id, "path": path, "sha256": rendered.sha256, "recipe_hash": recipe_hash }),
    )?;
    tracing::info!(id, path, "generated image recorded");
    Ok(Generation {
        id,
        recipe: prepared.recipe.clone(),
        recipe_hash,
        path,
        sha256: rendered.sha256.clone(),
        width: rendered.width,
        height: rendered.height,
        parent_id: prepared.parent_id,
        created_at,
    })
}

/// Generates `recipe` into the project: [`prepare`], [`render`], [`record`].
pub fn generate(
    project: &Project,
    recipe: Recipe,
    img2img: Option<Img2Img>,
    model_dir: Option<&Path>,
    on_progress: &mut dyn FnMut(&GenProgress),
    cancel: &CancelToken,
) -> Result<Generation, GalleryError> {
    let prepared = prepare(project, recipe, img2img)?;
    let rendered = render(&prepared, model_dir, on_progress, cancel)?;
    record(project, &prepared, &rendered)
}

/// Prepares gallery image `generation` to be made again from its recorded recipe (with its
/// recorded img2img source).
pub fn prepare_again(project: &Project, generation: &Generation) -> Result<Prepared, GalleryError> {
    let init = match &generation.recipe.engine {
        EngineSpec::Diffusion(spec) if spec.init_image.is_some() => {
            let sha = &spec.init_image.as_ref().expect("checked").sha256;
            let source = match generation.parent_id {
                Some(parent) => get(project, parent)?,
                None => {
                    find_by_sha(project, sha)?.ok_or_else(|| GalleryError::InitImageMissing { sha256: sha.clone() })?
                }
            };
            if &source.sha256 != sha {
                return Err(GalleryError::InitImageMissing { sha256: sha.clone() });
            }
            Some(load_init(project, &source)?)
        }
        _ => None,
    };
    Ok(Prepared { recipe: generation.recipe.clone(), init, parent_id: generation.parent_id })
}

/// Compares a regenerated image with what the gallery recorded and what is on disk.
pub fn compare(project: &Project, generation: &Generation, rendered: &Rendered) -> Result<RegenCheck, GalleryError> {
    let path = generation.file(project.root());
    let file_sha256 = match std::fs::read(&path) {
        Ok(bytes) => Some(sha256_hex(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ArtError::io("cannot read", path, e).into()),
    };
    let identical = rendered.sha256 == generation.sha256 && file_sha256.as_deref() == Some(generation.sha256.as_str());
    Ok(RegenCheck {
        identical,
        recorded_sha256: generation.sha256.clone(),
        regenerated_sha256: rendered.sha256.clone(),
        file_sha256,
    })
}

/// Makes gallery image `id` again from its recipe, writing nothing, and says whether the
/// bytes are identical to those recorded and on disk.
pub fn regenerate_check(
    project: &Project,
    id: i64,
    model_dir: Option<&Path>,
    on_progress: &mut dyn FnMut(&GenProgress),
    cancel: &CancelToken,
) -> Result<RegenCheck, GalleryError> {
    let generation = get(project, id)?;
    let prepared = prepare_again(project, &generation)?;
    let rendered = render(&prepared, model_dir, on_progress, cancel)?;
    compare(project, &generation, &rendered)
}

/// Copies gallery image `id` (checked against its recorded hash) to `dest`: a file path, or
/// an existing folder to put it in under its gallery name. Refuses to overwrite. Returns the
/// file written.
pub fn export_png(project: &Project, id: i64, dest: &Path) -> Result<PathBuf, GalleryError> {
    let generation = get(project, id)?;
    let bytes = read_png(project, &generation)?;
    let target = if dest.is_dir() {
        let name = Path::new(&generation.path).file_name().expect("gallery paths name a file");
        dest.join(name)
    } else {
        dest.to_path_buf()
    };
    if target.exists() {
        return Err(GalleryError::ExportExists { path: target });
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| ArtError::io("cannot create", parent, e))?;
    }
    png_meta::write_atomic(&target, &bytes)?;
    Ok(target)
}
