#!/usr/bin/env bash
# On a machine with a real NVIDIA GPU and driver: check the gpu collector against it.
#
#   scripts/check-real-gpu.sh [OUTDIR]      (default OUTDIR: ./gpu-check)
#
# Runs, writing each step's output to OUTDIR:
#   1. nvidia-smi (the driver's own view, for comparison);
#   2. the real-GPU tests (`-m gpu`: values against nvidia-smi), then the rest of the gpu suite;
#   3. bench/bench_gpu.py --real: CPU per GPU per collection and memory growth on the driver;
#   4. `llm-exporter scrape-once` with the embedded default and with every opt-in family;
#   5. the exporter serving on loopback: /-/ready, then two scrapes of /metrics.
# Needs python3 with the runtime dependencies and pytest (the package itself is taken from
# exporter/ through PYTHONPATH, so nothing is installed). Exits non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-gpu-check}" && cd "${1:-gpu-check}" && pwd)
py=${PYTHON:-python3}
export PYTHONPATH="$PWD/exporter:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
failed=()
step() {  # step NAME COMMAND...: run, keep the output in OUTDIR/NAME.txt, remember a failure
    local name=$1
    shift
    echo "== $name: $*"
    "$@" >"$out/$name.txt" 2>&1
    local rc=$?
    tail -n 25 "$out/$name.txt"
    [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
}

step nvidia-smi nvidia-smi
nvidia-smi -q >"$out/nvidia-smi-q.txt" 2>&1
step pytest-real env LLM_EXPORTER_GPU_TESTS=1 "$py" -m pytest -p no:cacheprovider -q -m gpu tests/gpu
step pytest-gpu-suite "$py" -m pytest -p no:cacheprovider -q tests/gpu
step bench-real "$py" bench/bench_gpu.py --real --collections 2000

cat >"$out/all-opt-ins.yml" <<'EOF'
gpu:
  enabled: true
  processes: true
  pcie_throughput: true
  nvlink: true
  gpm: true
EOF
step scrape-once-default "$py" -m llm_exporter scrape-once
step scrape-once-all-opt-ins "$py" -m llm_exporter scrape-once --config.file "$out/all-opt-ins.yml"

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$py" -m llm_exporter --web.listen-address "127.0.0.1:$port" >"$out/serve-log.txt" 2>&1 &
pid=$!
serve_check() {
    "$py" - "$port" <<'EOF'
import sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/-/ready", timeout=2).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("never ready")
for i in range(2):
    t0 = time.perf_counter()
    body = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    ms = (time.perf_counter() - t0) * 1e3
    gpu = [line for line in body.splitlines() if line.startswith("llm_gpu_") and not line.startswith("#")]
    print(f"scrape {i + 1}: {len(body)} bytes, {len(gpu)} llm_gpu_ samples, {ms:.1f} ms")
print(body)
if not any(line.startswith("llm_gpu_up{") and line.endswith(" 1.0") for line in gpu):
    sys.exit("no llm_gpu_up 1 in /metrics")
EOF
}
step serve serve_check
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

if [ ${#failed[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all steps passed; output in $out"
