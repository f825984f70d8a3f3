//! Builds the program's IDL exactly as `anchor idl build` does (Anchor's own `IdlBuilder`),
//! without the anchor CLI, and writes it to `idl/chrysalis.json` (or checks it is current).
//!
//! Run it through `scripts/idl.sh`, which builds this example and runs the binary directly.
//! Avoid `cargo run --example idl`: the variables `cargo run` sets for its child leak into the
//! inner cargo and invalidate a large part of the build cache.
//!
//! `IdlBuilder` runs `cargo test __anchor_private_print_idl --features idl-build --lib` on this
//! crate: the `idl-build` feature makes Anchor's macros generate `#[test]` functions that print
//! the IDL as JSON sections, which the builder merges, sorts and verifies.

use std::{path::PathBuf, process::ExitCode};

use anchor_lang::idl::{build::IdlBuilder, serde_json};

fn main() -> ExitCode {
    // anchor-lang-idl 0.1.4 treats a set RUSTUP_TOOLCHAIN (which rustup's proxies set for
    // every program cargo runs) as a request to run `rustup toolchain install <it>`, which
    // UPDATES that toolchain (e.g. `stable`) on the machine, and then calls cargo with a
    // literal `+{toolchain}` argument that always fails. Without the variable, the inner cargo
    // picks the toolchain the usual way (rust-toolchain.toml), the same one as this process.
    //
    // SAFETY: first statement of `main`, before any other thread exists.
    unsafe { std::env::remove_var("RUSTUP_TOOLCHAIN") };

    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut check = false;
    let mut out = crate_dir.join("idl").join("chrysalis.json");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                eprintln!("usage: idl [--check] [PATH]   (default PATH: {})", out.display());
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with('-') => {
                eprintln!("idl: unknown option {arg:?} (try --help)");
                return ExitCode::from(2);
            }
            _ => out = PathBuf::from(arg),
        }
    }

    let manifest = crate_dir.join("Cargo.toml").to_string_lossy().into_owned();
    let idl = match IdlBuilder::new()
        .program_path(crate_dir)
        .cargo_args(vec!["--manifest-path".into(), manifest, "--lib".into()])
        .build()
    {
        Ok(idl) => idl,
        Err(e) => {
            eprintln!("idl: building the IDL failed: {e:#}");
            eprintln!("idl: rerun with ANCHOR_LOG=1 to see the test output it parsed");
            return ExitCode::FAILURE;
        }
    };
    let json = match serde_json::to_string_pretty(&idl) {
        Ok(json) => json + "\n",
        Err(e) => {
            eprintln!("idl: serializing the IDL failed: {e}");
            return ExitCode::FAILURE;
        }
    };

    if check {
        return match std::fs::read_to_string(&out) {
            Ok(current) if current == json => {
                eprintln!("idl: {} is up to date", out.display());
                ExitCode::SUCCESS
            }
            Ok(_) => {
                eprintln!("idl: {} is stale: run scripts/idl.sh", out.display());
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("idl: cannot read {}: {e}", out.display());
                ExitCode::FAILURE
            }
        };
    }

    // Write next to the target, then rename: an interrupted run never leaves half a file.
    let tmp = out.with_extension("json.tmp");
    let written = out
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&tmp, &json))
        .and_then(|()| std::fs::rename(&tmp, &out));
    match written {
        Ok(()) => {
            eprintln!("idl: wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idl: cannot write {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
