fn main() {
    // With feature `torch`: put libtorch on the rpath (torch-sys reports where it is).
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    // Our own commands get ACL permissions (`allow-create-project`, ...) so the capability
    // file can grant exactly the ones the window uses.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&[
        "create_project",
        "open_project",
        "project_info",
        "check_project",
        "cancel_job",
        // Create and Gallery (src/art.rs)
        "engine_catalog",
        "model_info",
        "diffusion_devices",
        "generate",
        "list_generations",
        "get_generation",
        "generation_image",
        "stage_image",
        "regenerate_check",
        "export_png",
        "reveal_in_file_manager",
        // Storage tokens in the OS keyring (src/credentials.rs)
        "credential_status",
        "set_credential",
        "delete_credential",
        // The Collection screen (src/collection.rs)
        "collection_load",
        "collection_check",
        "collection_save",
        "collection_render",
        "collection_plan",
        "collection_preview",
        // Publish, Mint, Evolve, Royalties (src/pipeline.rs, src/chain.rs)
        "network_info",
        "wallet_info",
        "wallet_create",
        "wallet_airdrop",
        "open_explorer",
        "publish_status",
        "use_demo_collection",
        "creators_status",
        "confirm_creator",
        "publish_run",
        "shard_export",
        "shard_job",
        "shard_run",
        "shard_inspect",
        "shard_import",
        "mint_estimate",
        "mint_run",
        "mint_list",
        "evolve_timeline",
        "evolve_due",
        "evolve_trigger",
        "warp_clock",
        "royalties_show",
        "royalties_pay",
        "royalties_distribute",
        "verify_nft",
    ])))
    .expect("failed to run tauri-build");
}
