//! Pinata's upload API (v3): `POST https://uploads.pinata.cloud/v3/files`, multipart, JWT
//! bearer auth.
//!
//! We always upload a **CAR** (`car=true`, public network): Pinata then stores exactly the
//! DAG we built, so the CID it reports is ours in every [`crate::Layout`] (`v0`, `v1`,
//! `v1-2025`) — a plain file upload would be chunked by Pinata's own settings, and a folder
//! upload needs the legacy endpoint. Pinata's CID must equal ours. A folder is one CAR (one
//! upload); [`Pinner::verify`] looks the CID up with `GET /v3/files/public?cid=…`.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrysalis_core::CancelToken;
use cid::Cid;
use serde::Deserialize;

use super::http::{Http, ProgressReader, send_reader};
use super::kubo::tempfile_in_temp;
use super::multipart::Multipart;
use super::{
    BackendKind, Ctx, DirUpload, FileUpload, FolderStrategy, Pinner, Receipt, RemoteError, RetryPolicy, Secret,
    Verification, credentials,
};
use crate::Layout;
use crate::importer::{BlockSink, Importer};

/// Pinata's upload host.
pub const DEFAULT_UPLOADS: &str = "https://uploads.pinata.cloud/v3";
/// Pinata's API host (file listings).
pub const DEFAULT_API: &str = "https://api.pinata.cloud/v3";

#[derive(Debug)]
pub struct Pinata {
    uploads: Http,
    api: Http,
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Debug, Deserialize)]
struct Uploaded {
    id: String,
    cid: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    is_duplicate: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct FileList {
    #[serde(default)]
    files: Vec<ListedFile>,
}

#[derive(Debug, Deserialize)]
struct ListedFile {
    cid: String,
}

impl Pinata {
    /// Pinata itself.
    pub fn new(jwt: Secret) -> Pinata {
        Pinata::with_endpoints(DEFAULT_UPLOADS, DEFAULT_API, jwt)
    }

    /// Another deployment (or a test server) serving both the upload and the API routes.
    pub fn with_endpoints(uploads: &str, api: &str, jwt: Secret) -> Pinata {
        let hint =
            format!("check the JWT in {} (or the OS keyring); it needs file write access", credentials::PINATA_JWT_ENV);
        Pinata {
            uploads: Http::new(BackendKind::Pinata, uploads, Some(jwt.clone()), hint.clone()),
            api: Http::new(BackendKind::Pinata, api, Some(jwt), hint),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Pinata {
        self.uploads.retry = retry;
        self.api.retry = retry;
        self
    }

    /// Uploads a CAR rooted at `root` and checks Pinata's CID.
    pub fn upload_car(&self, car: &Path, root: &Cid, name: &str, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let len = fs::metadata(car).map_err(RemoteError::io(car))?.len();
        let what = format!("upload of {name}");
        let up: Envelope<Uploaded> = self.uploads.retry.run(ctx.cancel, &what, |_| {
            let form = Multipart::new().text("network", "public").text("car", "true").text("name", name).file(
                "file",
                &format!("{root}.car"),
                "application/vnd.ipld.car",
                car.to_path_buf(),
                len,
            );
            let (ct, blen) = (form.content_type(), form.len());
            let mut body = ProgressReader { inner: form.into_reader(), on_bytes: ctx.on_bytes, cancel: ctx.cancel };
            let result = send_reader(self.uploads.post("/files"), &ct, blen, &mut body);
            ctx.cancel.check()?;
            let resp = self.uploads.check(&what, result)?;
            self.uploads.json(&what, resp)
        })?;
        Receipt::ipfs_checked(
            BackendKind::Pinata,
            root,
            &up.data.cid,
            Some(up.data.id.clone()),
            serde_json::json!({ "size": up.data.size, "is_duplicate": up.data.is_duplicate, "car_bytes": len }),
        )
    }

    /// Whether Pinata lists a public file with this CID.
    pub fn has(&self, cid: &Cid, cancel: &CancelToken) -> Result<bool, RemoteError> {
        let what = format!("GET /files/public?cid={cid}");
        let list: Envelope<FileList> = self.api.retry.run(cancel, &what, |_| {
            let resp = self.api.check(&what, self.api.get("/files/public").query("cid", cid.to_string()).call())?;
            self.api.json(&what, resp)
        })?;
        Ok(list.data.files.iter().any(|f| Cid::try_from(f.cid.as_str()).ok() == Some(*cid)))
    }
}

/// A sink writing every block into a CAR.
struct CarSink<'a, 'w> {
    car: &'a mut crate::car::CarWriter<'w>,
}

impl BlockSink for CarSink<'_, '_> {
    fn put(&mut self, cid: &Cid, block: &[u8]) -> Result<(), crate::StorageError> {
        self.car.write_block(cid, block).map_err(|source| crate::StorageError::Io { path: "<CAR>".into(), source })
    }
}

/// Writes a CAR of the whole DAG of `path` (file or folder) under `layout` to `out`, rooted at
/// `expected`; fails if the content no longer has that CID.
pub(crate) fn write_car_of(
    path: &Path,
    layout: Layout,
    expected: &Cid,
    out: &Path,
    cancel: &CancelToken,
) -> Result<(), RemoteError> {
    let mut file = BufWriter::with_capacity(1 << 20, fs::File::create(out).map_err(RemoteError::io(out))?);
    let mut car = crate::car::CarWriter::new(&mut file, &[*expected]).map_err(RemoteError::io(out))?;
    let added = Importer::new(layout).sink(&mut CarSink { car: &mut car }).cancel(cancel).add_path(path)?;
    car.finish();
    file.flush().map_err(RemoteError::io(out))?;
    if added.cid != *expected {
        return Err(RemoteError::Verification {
            backend: BackendKind::Local,
            message: format!(
                "`{}` changed since it was planned (its CID is now {}, not {expected}); publish again",
                path.display(),
                added.cid
            ),
        });
    }
    Ok(())
}

impl Pinner for Pinata {
    fn kind(&self) -> BackendKind {
        BackendKind::Pinata
    }

    fn endpoint(&self) -> String {
        self.uploads.base.clone()
    }

    fn folder_strategy(&self) -> FolderStrategy {
        FolderStrategy::Whole
    }

    fn put_file(&self, file: &FileUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let tmp = tempfile_in_temp("chrysalis-pinata", "car")?;
        write_car_of(&file.path, file.layout, &file.cid, tmp.path(), ctx.cancel)?;
        self.upload_car(tmp.path(), &file.cid, &file.name, ctx)
    }

    fn put_dir(&self, dir: &DirUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let tmp = tempfile_in_temp("chrysalis-pinata", "car")?;
        write_car_of(&dir.path, dir.layout, &dir.cid, tmp.path(), ctx.cancel)?;
        self.upload_car(tmp.path(), &dir.cid, &dir.name, ctx)
    }

    fn put_car(&self, car: &Path, root: &Cid, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let name = car.file_name().and_then(|n| n.to_str()).unwrap_or("upload.car").to_string();
        self.upload_car(car, root, &name, ctx)
    }

    fn verify(&self, expected: &Cid, _receipt: &Receipt, ctx: &Ctx<'_>) -> Result<Verification, RemoteError> {
        Ok(if self.has(expected, ctx.cancel)? {
            Verification::Verified
        } else {
            Verification::Failed(format!("Pinata does not list {expected} among the account's public files"))
        })
    }
}
