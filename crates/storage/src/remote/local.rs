//! The project's embedded [`LocalStore`] behind the same [`Pinner`] trait, so
//! `chrysalis pin --to local` records and resumes like every other backend.

use std::path::Path;

use cid::Cid;

use super::{BackendKind, Ctx, DirUpload, FileUpload, FolderStrategy, Pinner, Receipt, RemoteError, Verification};
use crate::LocalStore;

#[derive(Debug)]
pub struct Local {
    store: LocalStore,
}

impl Local {
    pub fn new(store: LocalStore) -> Local {
        Local { store }
    }

    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    fn receipt(&self, expected: &Cid, found: &Cid, blocks: u64) -> Result<Receipt, RemoteError> {
        Receipt::ipfs_checked(
            BackendKind::Local,
            expected,
            &found.to_string(),
            None,
            serde_json::json!({ "store": self.store.root().display().to_string(), "new_blocks": blocks }),
        )
    }
}

impl Pinner for Local {
    fn kind(&self) -> BackendKind {
        BackendKind::Local
    }

    fn endpoint(&self) -> String {
        "local".to_string()
    }

    fn folder_strategy(&self) -> FolderStrategy {
        FolderStrategy::Whole
    }

    fn put_file(&self, file: &FileUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let mut sink = self.store.sink();
        let added = crate::Importer::new(file.layout).sink(&mut sink).cancel(ctx.cancel).add_file(&file.path)?;
        let written = sink.written;
        // Durable before the project records it as stored.
        self.store.flush()?;
        (ctx.on_bytes)(added.size);
        self.receipt(&file.cid, &added.cid, written)
    }

    fn put_dir(&self, dir: &DirUpload, ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let mut sink = self.store.sink();
        let added = crate::Importer::new(dir.layout).sink(&mut sink).cancel(ctx.cancel).add_dir(&dir.path)?;
        let written = sink.written;
        self.store.flush()?;
        (ctx.on_bytes)(added.size);
        self.receipt(&dir.cid, &added.cid, written)
    }

    fn put_car(&self, car: &Path, root: &Cid, _ctx: &Ctx<'_>) -> Result<Receipt, RemoteError> {
        let imported = self.store.import_car(car)?;
        self.store.flush()?;
        let found = imported
            .roots
            .iter()
            .find(|r| *r == root)
            .copied()
            .unwrap_or(imported.roots.first().copied().unwrap_or(*root));
        self.receipt(root, &found, imported.new_blocks)
    }

    fn verify(&self, expected: &Cid, _receipt: &Receipt, ctx: &Ctx<'_>) -> Result<Verification, RemoteError> {
        // Every block is re-hashed as it is read: a complete, intact DAG or an error.
        let mut n = 0u64;
        let walked = self.store.walk(expected, &mut |_, _| {
            n += 1;
            if n.is_multiple_of(256) {
                ctx.cancel.check()?;
            }
            Ok(())
        });
        Ok(match walked {
            Ok(()) => Verification::Verified,
            Err(crate::StorageError::Cancelled(c)) => return Err(c.into()),
            Err(e) => Verification::Failed(e.to_string()),
        })
    }
}
