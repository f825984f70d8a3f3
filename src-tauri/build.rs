fn main() {
    // Our own commands get ACL permissions (`allow-create-project`, ...) so the capability
    // file can grant exactly the ones the window uses.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "create_project",
            "open_project",
            "project_info",
            "check_project",
            "cancel_job",
        ]),
    ))
    .expect("failed to run tauri-build");
}
