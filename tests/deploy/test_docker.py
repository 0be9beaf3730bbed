"""What a real build of deploy/docker/Dockerfile cannot show (tests/deploy/test_image.py builds it).

The tests build on a local base image, so the default base (pinned by digest) is checked here;
so are the build context filter and the hash-locked dependencies against pyproject.toml, and
that every place naming the image uses the reference the build is tagged with.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import llm_exporter
import yaml
from packaging.requirements import Requirement
from support import REPO

DOCKER = REPO / "deploy" / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
IMAGE_REF = f"ghcr.io/llm-exporter/llm-exporter:{llm_exporter.__version__}"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)(?: *;([^\\]*))?", re.M)


def _instructions() -> list[tuple[str, str]]:
    """(op, args) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(ln for ln in DOCKERFILE.read_text().splitlines() if not ln.startswith("#")))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in text.splitlines() if ln.strip()]


def _lock(name: str) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (version, marker, hashes) of a `uv pip compile --generate-hashes` lock file."""
    text = (DOCKER / name).read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    pins = {}
    for block in blocks:
        m = PIN.match(block)
        if m:
            pins[m[1].lower().replace("_", "-")] = (
                m[2],
                (m[3] or "").strip(),
                re.findall(r"sha256:([0-9a-f]{64})", block),
            )
    return pins


def test_default_base_is_slim_and_pinned_by_digest() -> None:
    args = dict(a.partition("=")[::2] for op, a in _instructions() if op == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"[a-z0-9./-]+:[0-9.]+-slim-[a-z]+@sha256:[0-9a-f]{64}", base), base
    froms = [a for op, a in _instructions() if op == "FROM"]
    assert froms and all(f.startswith("${PYTHON_IMAGE} AS ") for f in froms), "every stage on the same base arg"
    assert not DOCKERFILE.read_text().startswith("# syntax="), "a syntax directive makes BuildKit reach a registry"


def test_dockerignore_admits_exactly_what_is_copied() -> None:
    assert not (DOCKER / "Dockerfile.dockerignore").exists(), "the legacy builder ignores per-Dockerfile files"
    rules = [r for r in (REPO / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    assert rules[0] == "*", "deny everything, then admit what the Dockerfile copies"
    admitted = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = set()
    for op, args in _instructions():
        if op == "COPY" and not args.startswith("--from"):
            copied |= {src.rstrip("/") for src in args.split()[:-1]}
    assert copied == admitted, f"copied {sorted(copied)} but admitted {sorted(admitted)}"
    for leftover in ("**/__pycache__", "exporter/*.egg-info", "exporter/build"):
        assert leftover in rules, f"{leftover} would be sent into the build context"


def test_dependencies_are_locked_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    for lock, wanted in (
        ("requirements.lock", project["project"]["dependencies"]),
        ("build-requirements.lock", project["build-system"]["requires"]),
    ):
        pins = _lock(lock)
        assert pins, lock
        for spec in map(Requirement, wanted):
            name = spec.name.lower().replace("_", "-")
            assert name in pins, f"{lock}: {name} is not locked"
            assert spec.specifier.contains(pins[name][0]), f"{lock}: {name}=={pins[name][0]} violates {spec}"
        for name, (_, _, hashes) in pins.items():
            assert hashes, f"{lock}: {name} has no sha256 hash"
    # Markers are evaluated where the image is built: Debian's 3.11.2 needs async-timeout for redis.
    assert "python_full_version" in _lock("requirements.lock").get("async-timeout", ("", "", []))[1]
    runs = " ".join(a for op, a in _instructions() if op == "RUN")
    for lock in ("requirements.lock", "build-requirements.lock"):
        assert re.search(rf"--require-hashes --only-binary=:all: -r /locks/{lock}", runs), lock
    assert "--no-build-isolation" in runs, "the exporter is built with the locked build tools only"


def _k8s_images(path: Path) -> list[str]:
    found = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        spec = ((doc or {}).get("spec") or {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            if "llm-exporter" in c["image"]:
                found.append(c["image"])
    return found


def test_every_reference_uses_the_image_the_build_produces() -> None:
    """Compose tags its build with `image:`; the manifests, the chart and the docs name that same tag."""
    compose = yaml.safe_load((REPO / "deploy" / "compose" / "compose.yaml").read_text())
    built = {n: s["image"] for n, s in compose["services"].items() if "build" in s}
    assert built and set(built.values()) == {IMAGE_REF}, built
    manifests = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
    refs = {str(p.relative_to(REPO)): _k8s_images(p) for p in manifests}
    assert any(refs.values()), "no Kubernetes manifest runs the exporter image"
    for path, images in refs.items():
        assert set(images) <= {IMAGE_REF}, f"{path}: {images}"
    chart = REPO / "deploy" / "helm" / "llm-exporter"
    values = yaml.safe_load((chart / "values.yaml").read_text())["image"]
    tag = values["tag"] or yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"]
    assert f"{values['repository']}:{tag}" == IMAGE_REF, "the Helm chart's default image"
    for doc in (DOCKERFILE, REPO / "README.md", REPO / "deploy" / "README.md"):
        mentioned = set(re.findall(r"ghcr\.io/llm-exporter/llm-exporter:[\w.-]+", doc.read_text()))
        assert mentioned <= {IMAGE_REF}, f"{doc.relative_to(REPO)}: {mentioned}"
