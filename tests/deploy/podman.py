"""Podman as the image tests use it: the suite's private configuration and the local base image.

scripts/build-base-image.sh writes the configuration (runc, cgroupfs, file events, explicit
rlimits, overlay storage) under the test cache and imports a debootstrap base image into that
storage once; everything here runs podman with those files, never the machine's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import CACHE, REPO, need_binary

BASE_SCRIPT = REPO / "scripts" / "build-base-image.sh"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class PodmanError(AssertionError):
    """A podman command failed; the message holds its output."""


@dataclass(frozen=True)
class Podman:
    """The podman binary with the suite's CONTAINERS_CONF / CONTAINERS_STORAGE_CONF."""

    exe: str
    env: dict[str, str]

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.exe, *args], env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if check and proc.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args)} -> {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
            )
        return proc

    def inspect(self, *args: str) -> dict[str, Any]:
        """``podman inspect`` of one object, as a dict."""
        (obj,) = json.loads(self("inspect", *args).stdout)
        return obj


def podman() -> tuple[Podman, str]:
    """The configured podman and the local base image reference (made on first use, ~1-5 min)."""
    exe = need_binary("podman")
    need_binary("runc")
    need_binary("slirp4netns")
    need_binary("debootstrap")
    env = {**os.environ, "LLM_EXPORTER_TEST_CACHE": str(CACHE)}
    proc = subprocess.run([str(BASE_SCRIPT)], env=env, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise PodmanError(f"{BASE_SCRIPT.name} failed:\n{proc.stderr[-4000:]}")
    base = proc.stdout.strip().splitlines()[-1]
    root = CACHE / "podman"
    env["CONTAINERS_CONF"] = str(root / "containers.conf")
    env["CONTAINERS_STORAGE_CONF"] = str(root / "storage.conf")
    return Podman(exe, env), base


def build(engine: Podman, base: str, tag: str, iidfile: Path) -> tuple[str, str]:
    """Build deploy/docker/Dockerfile on ``base``; returns (image id, build output).

    pip inside the build reaches the package index through the host network, with the host's CA
    bundle mounted read-only (a TLS-intercepting proxy signs with a CA only the host trusts).
    Docker image format: the OCI format would drop the HEALTHCHECK.
    """
    args = ["build", "--format", "docker", "--network", "host", "--iidfile", str(iidfile)]
    if HOST_CA_BUNDLE.is_file():
        args += ["--volume", f"{HOST_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro"]
    args += ["--build-arg", f"PYTHON_IMAGE={base}", "--file", str(DOCKERFILE), "--tag", tag, str(REPO)]
    out = engine(*args, timeout=900)
    return iidfile.read_text().strip(), out.stdout + out.stderr


def layer_changes(engine: Podman, image: str) -> list[tuple[set[str], set[str]]]:
    """Per layer, bottom first: (paths it adds, paths it whites out), streamed from ``podman save``."""
    proc = subprocess.Popen(
        [engine.exe, "save", "--format", "docker-archive", image],
        env=engine.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    by_name: dict[str, tuple[set[str], set[str]]] = {}
    manifest: list[dict[str, Any]] = []
    with tarfile.open(fileobj=proc.stdout, mode="r|") as outer:
        for member in outer:
            f = outer.extractfile(member) if member.isreg() else None
            if f is None:
                continue
            if member.name == "manifest.json":
                manifest = json.load(f)
            elif member.name.endswith(".tar"):
                added: set[str] = set()
                removed: set[str] = set()
                with tarfile.open(fileobj=f, mode="r|") as layer:
                    for entry in layer:
                        path = entry.name.removeprefix("./").strip("/")
                        head, _, leaf = path.rpartition("/")
                        if leaf.startswith(".wh."):  # ".wh..wh..opq" (opaque dir) hides all of head
                            removed.add(head if leaf == ".wh..wh..opq" else f"{head}/{leaf[4:]}".lstrip("/"))
                        elif path:
                            added.add(path)
                by_name[member.name] = (added, removed)
    if proc.wait(timeout=120) != 0:
        raise PodmanError(f"podman save {image} failed")
    (entry,) = manifest
    return [by_name[name] for name in entry["Layers"]]
