/// With feature `torch`, torch-sys reports where libtorch is (`DEP_TCH_LIBTORCH_LIB`, from its
/// `links = "tch"` metadata, seen only by direct dependents): record it as the binaries'
/// rpath so they run without LD_LIBRARY_PATH.
fn libtorch_rpath() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}

fn main() {
    libtorch_rpath();
}
