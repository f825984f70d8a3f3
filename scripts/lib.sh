# Shared helpers for the scripts in this folder. Source it; do not run it.

# Cargo's build cache lives outside the clone, at a fixed path, so repeated runs (and CI on
# the same machine) are warm. Honour a CARGO_TARGET_DIR the caller already set.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chrysalis/target}"
# agave-precompiles would otherwise build a vendored OpenSSL from source.
export OPENSSL_NO_VENDOR=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

say() { printf '\033[1;35m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages named as arguments that are not installed yet; skips
# `apt-get update` entirely when everything is present, so warm runs cost nothing.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# `npm ci` in a folder, skipped when node_modules already matches package-lock.json.
npm_ci() {
  local dir="$1"
  local stamp="$dir/node_modules/.chrysalis-lock-sha256"
  local want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "npm ci in ${dir#"$ROOT"/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

# Like npm_ci, but installs once per package-lock.json into a cache folder outside the
# clone and links DIR/node_modules to it: for packages that compile native code (arlocal
# builds sqlite3 from source, minutes on 2 cores), so fresh clones on one machine reuse it.
npm_ci_cached() {
  local dir="$1"
  local want cache
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-16)"
  cache="${CHRYSALIS_CACHE:-$HOME/.cache/chrysalis}/npm/$(basename "$dir")-$want"
  if [ ! -f "$cache/.complete" ]; then
    say "npm ci for ${dir#"$ROOT"/} (cached in $cache)"
    rm -rf "$cache" && mkdir -p "$cache"
    cp "$dir/package.json" "$dir/package-lock.json" "$cache/"
    (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$cache/.complete"
  fi
  if [ "$(readlink "$dir/node_modules" 2>/dev/null)" != "$cache/node_modules" ]; then
    rm -rf "$dir/node_modules"
    ln -s "$cache/node_modules" "$dir/node_modules"
  fi
}

# The pinned Hugging Face diffusers venv (PyTorch, CPU use) that the diffusers reference
# scripts run in: scripts/make-diffusers-fixtures.sh (the fixtures were made with these
# versions) and scripts/bench-diffusers.sh. It lives outside the clone (several GB: PyPI's
# torch wheel pulls CUDA libraries even for CPU use) and is created on first use. Override
# its place with DIFFUSERS_VENV. peft is what diffusers' load_lora_weights needs.
DIFFUSERS_PINS=(torch==2.15.0 diffusers==0.42.1 transformers==5.25.0 safetensors==0.8.0 accelerate==1.16.0 numpy==2.4.6 peft==0.21.2)

# The libtorch backend links the libtorch inside PyPI's torch wheel (torch-sys' LIBTORCH
# pointed at the installed package: no Python import, so none of torch's Python
# dependencies). tch 0.26 is written against exactly libtorch 2.13: its C++ shim does not
# compile against 2.15's headers. PyPI's Linux wheel is the CUDA build, and its
# libtorch_cpu.so links the CUDA runtime and CUPTI (the profiler), so those two come along
# (cuda-toolkit's cudart and cupti extras, at torch's own pin); the rest of CUDA does not.
TORCH_PIN="torch==2.13.0"
TORCH_CUDA_PIN="cuda-toolkit[cudart,cupti]==13.0.3"

# Sets TORCH_PY, TORCH_VENV and LIBTORCH (the torch package folder, with include/ and lib/),
# creating the venv if needed (about 1.3 GB).
torch_venv() {
  local venv="${TORCH_VENV:-$HOME/.cache/chrysalis/torch-venv}" have missing
  if [ ! -x "$venv/bin/python" ]; then
    say "creating the libtorch venv in $venv (PyPI's $TORCH_PIN wheel: about 1.3 GB)"
    python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
    "$venv/bin/pip" install --quiet --no-deps "$TORCH_PIN"
    "$venv/bin/pip" install --quiet "$TORCH_CUDA_PIN"
  fi
  have="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('torch'))" 2>/dev/null || echo missing)"
  [ "${have%%+*}" = "${TORCH_PIN##*==}" ] || die "$venv has torch $have, the libtorch backend needs ${TORCH_PIN##*==} (remove the venv to recreate it)"
  LIBTORCH="$(ls -d "$venv"/lib/python3*/site-packages/torch | head -1)"
  [ -f "$LIBTORCH/lib/libtorch_cpu.so" ] || die "no libtorch_cpu.so under $LIBTORCH/lib"
  missing="$(ldd "$LIBTORCH/lib/libtorch_cpu.so" | grep 'not found' || true)"
  [ -z "$missing" ] || die "libtorch in $venv cannot load: $missing (pip install '$TORCH_CUDA_PIN' into it)"
  TORCH_VENV="$venv"
  TORCH_PY="$venv/bin/python"
}

# Sets DIFFUSERS_PY to the venv's python, creating the venv if needed; warns about any
# installed version that differs from its pin.
diffusers_venv() {
  local venv="${DIFFUSERS_VENV:-$HOME/.cache/chrysalis/diffusers-venv}" pin name have
  if [ ! -x "$venv/bin/python" ]; then
    say "creating the diffusers venv in $venv (downloads several GB)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet "${DIFFUSERS_PINS[@]}"
  fi
  for pin in "${DIFFUSERS_PINS[@]}"; do
    name="${pin%%==*}"
    have="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || echo missing)"
    # torch reports a local suffix (2.15.0+cu132): compare the public version only.
    [ "${have%%+*}" = "${pin##*==}" ] || say "warning: $venv has $name $have, the pin is ${pin##*==}"
  done
  DIFFUSERS_PY="$venv/bin/python"
}
