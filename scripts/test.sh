#!/usr/bin/env bash
# Install everything the test suite needs on a Debian/Ubuntu machine and run the whole suite.
# Real servers only: Prometheus, Alertmanager, Redis, RabbitMQ, NATS, a llama.cpp server
# built from source, vLLM (CPU build), Triton (PyTriton) and the LiteLLM proxy, all cached outside the repo. REQUIRE_REAL_SERVERS=1 turns a missing
# binary into a failure instead of a skip. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# systemd (systemd-analyze) and util-linux check the deploy bundle; podman (with runc, slirp4netns
# for loopback port forwarding, debootstrap for the local base image) builds and runs the image.
# python3.11 + python3.11-venv: PyTriton's Python backend stub links Debian's libpython3.11.
# chromium: the status page is checked in a real headless browser (tests/core/test_status_page.py).
DEB_PACKAGES=(prometheus prometheus-alertmanager redis-server rabbitmq-server nats-server gcc g++ make cmake
              systemd util-linux podman runc slirp4netns debootstrap python3.11 python3.11-venv
              chromium)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # The packages' own system services are not needed: tests start private instances.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "==> python environment (.venv)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

echo "==> llama.cpp server (built once, cached outside the repo)"
LLAMA_SERVER_BIN=$(PATH="$PWD/.venv/bin:$PATH" scripts/build-llama-server.sh | tail -n 1)
export LLAMA_SERVER_BIN
[ -x "$LLAMA_SERVER_BIN" ] || { echo "llama-server build failed (got '$LLAMA_SERVER_BIN')" >&2; exit 1; }

echo "==> vLLM (CPU build) and Triton (PyTriton) environments (built once, cached outside the repo)"
VLLM_PYTHON=$(scripts/build-engine-env.sh vllm | tail -n 1)
TRITON_PYTHON=$(scripts/build-engine-env.sh triton | tail -n 1)
export VLLM_PYTHON TRITON_PYTHON
[ -x "$VLLM_PYTHON" ] || { echo "vLLM environment build failed (got '$VLLM_PYTHON')" >&2; exit 1; }
[ -x "$TRITON_PYTHON" ] || { echo "Triton environment build failed (got '$TRITON_PYTHON')" >&2; exit 1; }

echo "==> LiteLLM proxy environment (litellm[proxy], built once, cached outside the repo)"
LITELLM_PYTHON=$(scripts/build-engine-env.sh litellm | tail -n 1)
export LITELLM_PYTHON
[ -x "$LITELLM_PYTHON" ] || { echo "LiteLLM environment build failed (got '$LITELLM_PYTHON')" >&2; exit 1; }

echo "==> container base image (debootstrap, built once, cached outside the repo)"
scripts/build-base-image.sh >/dev/null

echo "==> lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy   # strict on exporter/llm_exporter ([tool.mypy] in pyproject.toml)

echo "==> tests"
export REQUIRE_REAL_SERVERS=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
