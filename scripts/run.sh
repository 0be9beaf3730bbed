#!/usr/bin/env bash
# Install llm-exporter into ./.venv and run it on its embedded default config
# (GPUs if NVML loads, inference servers discovered on their default local ports).
# Extra arguments go to llm-exporter, e.g. ./scripts/run.sh --config.file my.yml
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet .
exec .venv/bin/llm-exporter "$@"
