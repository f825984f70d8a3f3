#!/usr/bin/env bash
# A CUDA build of the diffusion engine (`--features cuda`) on a machine with no CUDA toolkit
# and no GPU, from NVIDIA's PyPI wheels alone. CI does not run this; the normal build stays
# CPU-only and never sees any of it.
#
#   scripts/setup-cuda.sh            # install, then print the env exports (eval "$(...)")
#   scripts/setup-cuda.sh --build    # install, then cargo build --release -p chrysalis-cli --features cuda
#
# The binary it builds starts only on a machine with the NVIDIA driver (libcuda.so.1, R580 or
# newer: see "CUDA 13" below) and with libcublas.so.13 (+ libcublasLt.so.13) and libcurand.so.10
# on the loader path (the export of LD_LIBRARY_PATH printed at the end). It cannot run here.
# nvrtc and cudart must be there to link (cudarc and candle-kernels ask for -lnvrtc, -lcudart),
# but rustc links with --as-needed and nothing calls them, so the binary does not need them.
#
# Environment:
#   CUDA_COMPUTE_CAP (80)   the GPU architecture the kernels are compiled for. candle-kernels
#                           emits PTX, which the driver JIT-compiles forward at load time, so
#                           compute_80 PTX runs on A100 (sm_80), H100/H200 (sm_90) and later.
#                           Do not use 90 for "H100": cudaforge turns 90 into 90a, whose PTX
#                           runs on sm_90 only.
#   CUDA_VENV               where the wheels go (default ~/.cache/chrysalis/cuda-venv)
#   CUDA_TARGET_DIR         cargo's target dir for this build (default ~/.cache/chrysalis/
#                           target-cuda): never the CPU build's, so the two never rebuild each
#                           other's crates or overwrite each other's `chrysalis`.
#   JOBS (2)                cargo -j for --build
#
# Why CUDA 13 and not the nvidia-*-cu12 wheels: every nvidia-cuda-nvcc-cu12 wheel (checked
# 12.1.105, 12.4.131, 12.6.85, 12.8.93, 12.9.86; the cu11 one too) ships only ptxas, libnvvm
# and libdevice: no `nvcc` driver, no cicc, no cudafe++, so nothing can compile a .cu file. The
# CUDA 13 wheels (nvidia-cuda-nvcc, nvidia-nvvm, nvidia-cuda-crt, ...) ship the whole compiler
# and all unpack into one toolkit-shaped folder, site-packages/nvidia/cu13/{bin,include,lib,nvvm}.
# 13.0 is the oldest CUDA 13 and so needs the oldest driver (R580); its PTX is ISA 9.0, which
# an older driver refuses to load (CUDA_ERROR_UNSUPPORTED_PTX_VERSION). cudarc 0.19.10 (the one
# candle 0.11.1 uses) knows 13.0 to 13.4; it panics on a newer nvcc, so the pins stay exact.
set -euo pipefail
CACHE="${CHRYSALIS_CACHE:-$HOME/.cache/chrysalis}"
# Set before lib.sh, which keeps a CARGO_TARGET_DIR that is already set.
export CARGO_TARGET_DIR="${CUDA_TARGET_DIR:-$CACHE/target-cuda}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=0
case "${1:-}" in
  --build) BUILD=1 ;;
  "") ;;
  *) die "usage: $0 [--build]" ;;
esac

VENV="${CUDA_VENV:-$CACHE/cuda-venv}"
# The versions of the cuda-toolkit 13.0.2 meta-package (its [nvcc,nvvm,crt,cudart,cccl,cublas,
# curand,nvrtc] extras), pinned one by one so nothing else comes along.
PINS=(
  nvidia-cuda-nvcc==13.0.88    # nvcc, ptxas, fatbinary, nvlink, cudafe++ (bin/)
  nvidia-nvvm==13.0.88         # cicc (nvvm/bin): nvcc's CUDA C++ -> PTX front end
  nvidia-cuda-crt==13.0.88     # include/crt: the headers nvcc itself injects
  nvidia-cuda-runtime==13.0.96 # cuda.h, cuda_runtime.h, cuda_fp16/bf16/fp8.h; libcudart
  nvidia-cuda-cccl==13.0.85    # thrust/cub (candle-kernels' sort.cu uses thrust)
  nvidia-cublas==13.1.0.3      # libcublas, libcublasLt (cudarc features cublas, cublaslt)
  nvidia-curand==10.4.0.35     # libcurand (cudarc feature curand)
  nvidia-cuda-nvrtc==13.0.88   # libnvrtc (cudarc feature nvrtc)
)
JOBS="${JOBS:-2}"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
[[ "$CUDA_COMPUTE_CAP" =~ ^[0-9]+[af]?$ ]] || die "CUDA_COMPUTE_CAP must look like 80 or 90a, got '$CUDA_COMPUTE_CAP'"

# --- 1. the wheels -------------------------------------------------------------------------
# Installed once per pin list (the stamp holds its hash); about 1.2 GB, outside the clone.
want="$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-16)"
if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$want" ]; then
  say "installing the CUDA 13.0 wheels into $VENV (about 1.2 GB)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
  echo "$want" > "$VENV/.pins"
fi
purelib="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
CUDA_HOME="$purelib/nvidia/cu13"
[ -x "$CUDA_HOME/bin/nvcc" ] && [ -x "$CUDA_HOME/nvvm/bin/cicc" ] || die "no nvcc/cicc under $CUDA_HOME"

# --- 2. a link folder: what the wheels lack for `cc -lcublas ... -lcuda` ---------------------
# The wheels carry only versioned sonames (libcublas.so.13, ...): the linker's -lcublas looks
# for libcublas.so, which a toolkit's -dev files would provide. These symlinks stand in for them.
#
# libcuda is the driver, in no wheel: candle-core turns on cudarc's `dynamic-linking`, so the
# binary links -lcuda (DT_NEEDED libcuda.so.1) and ld must see the driver API symbols. A full
# toolkit solves this with lib64/stubs/libcuda.so, which NVIDIA ships for building on machines
# without a driver; no PyPI wheel carries it (and NVIDIA's download site, where the redist
# tarball with the stub lives, is not reachable from here). So we make the same kind of stub:
# every function that the toolkit's own cuda.h declares, each returning
# CUDA_ERROR_STUB_LIBRARY (34), with the soname libcuda.so.1. It is only ever seen by the
# linker; at run time the loader finds the real driver's libcuda.so.1 by that soname. The
# stub folder must never be on LD_LIBRARY_PATH (the binary would then find the stub, and fail
# every call with error 34).
LINK="$VENV/link"
if [ "$(cat "$LINK/.pins" 2>/dev/null)" != "$want" ]; then
  say "making the link folder $LINK (dev symlinks + a libcuda stub)"
  rm -rf "$LINK"
  mkdir -p "$LINK/lib/stubs"
  for lib in cublas cublasLt curand nvrtc cudart; do
    so=""
    for f in "$CUDA_HOME/lib/lib$lib.so."[0-9]*; do [[ "$f" =~ \.so\.[0-9]+$ ]] && so="$f"; done
    [ -n "$so" ] || die "no lib$lib.so.N in $CUDA_HOME/lib"
    ln -s "$so" "$LINK/lib/lib$lib.so"
  done
  # The driver API's exported names after cuda.h's own renaming (cuMemAlloc -> cuMemAlloc_v2, ...).
  echo '#include <cuda.h>' | gcc -E -P -I"$CUDA_HOME/include" - | tr -s ' \n' ' ' |
    grep -oE 'CUresult (cu[A-Za-z0-9_]+) ?\(' | sed -E 's/CUresult (cu[A-Za-z0-9_]+) ?\(/\1/' |
    sort -u > "$LINK/libcuda-stub.txt"
  [ "$(wc -l < "$LINK/libcuda-stub.txt")" -gt 300 ] || die "found too few driver API functions in cuda.h"
  {
    echo '/* Link-time stand-in for the NVIDIA driver (libcuda.so.1): made by scripts/setup-cuda.sh. */'
    sed -E 's/.*/int &(void) { return 34; \/* CUDA_ERROR_STUB_LIBRARY *\/ }/' "$LINK/libcuda-stub.txt"
  } > "$LINK/libcuda-stub.c"
  gcc -shared -fPIC -O0 -Wl,-soname,libcuda.so.1 -o "$LINK/lib/stubs/libcuda.so" "$LINK/libcuda-stub.c"
  echo "$want" > "$LINK/.pins"
fi

# --- 3. the environment the build scripts read -----------------------------------------------
# - PATH: cudarc's build script runs `nvcc --version` (feature cuda-version-from-build-system)
#   to pick its bindings (cuda-13000); cudaforge (candle-kernels' builder) finds nvcc the same way.
#   nvcc finds cicc, the crt headers and include/ itself through bin/nvcc.profile (TOP = bin/..).
# - CUDA_HOME + CUDA_ROOT: cudarc adds <root>/lib, <root>/lib/stubs, ... of every one of
#   CUDA_HOME, CUDA_PATH, CUDA_ROOT, CUDA_TOOLKIT_ROOT_DIR, CUDNN_LIB that is set (and only of
#   those, instead of /usr/local/cuda and friends) as link search paths; candle-kernels' -lcudart
#   relies on the same paths. CUDA_HOME = the wheels' toolkit, CUDA_ROOT = the link folder.
#   The others are cleared so a system toolkit cannot slip in a second CUDA version.
# - CUDA_COMPUTE_CAP: without it cudaforge asks nvidia-smi, which this machine lacks.
# - LD_LIBRARY_PATH is for running the binary, not building it: the real sonames, no stubs.
ENV_LINES=(
  "export PATH=\"$CUDA_HOME/bin:\$PATH\""
  "export CUDA_HOME=\"$CUDA_HOME\""
  "export CUDA_ROOT=\"$LINK\""
  "unset CUDA_PATH CUDA_TOOLKIT_ROOT_DIR CUDNN_LIB CUDARC_CUDA_VERSION"
  "export CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP"
  "export CARGO_TARGET_DIR=\"$CARGO_TARGET_DIR\""
)
RUN_LINE="export LD_LIBRARY_PATH=\"$CUDA_HOME/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""

if [ "$BUILD" = 0 ]; then
  printf '%s\n' "${ENV_LINES[@]}"
  echo "# to run the CUDA binary (on a machine with the NVIDIA driver):"
  echo "# $RUN_LINE"
  exit 0
fi

for line in "${ENV_LINES[@]}"; do eval "$line"; done
say "nvcc: $(nvcc --version | grep -o 'release [0-9.]*'), CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP, target dir $CARGO_TARGET_DIR"
say "building chrysalis with --features cuda (release; a cold build takes a long while)"
start=$SECONDS
(cd "$ROOT" && cargo build --release --locked -j "$JOBS" -p chrysalis-cli --features cuda)
bin="$CARGO_TARGET_DIR/release/chrysalis"
[ -x "$bin" ] || die "no binary at $bin"
say "built $bin in $((SECONDS - start)) s; the CUDA libraries it needs at run time:"
# libcuda.so.1 shows 'not found' here (no driver): that is expected, and why it cannot run here.
LD_LIBRARY_PATH="$CUDA_HOME/lib" ldd "$bin" | grep -E 'cuda|cublas|curand|nvrtc' >&2 || true
say "to run it on a machine with the NVIDIA driver (R580+), with these libraries beside it:"
echo "$RUN_LINE" >&2
