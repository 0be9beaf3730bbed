"""The container image: its Dockerfile's build steps replayed without a Docker engine.

The replay builds the wheels as the build stage does, installs them offline into a fresh venv
as the runtime stage does, then runs the image's ENTRYPOINT as the image's non-root USER on a
free port with a config file, scrapes /metrics and runs the HEALTHCHECK command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import llm_exporter
import pytest
import requests
from dockerfile import Replayed, make_readable, parse, replay
from support import REPO, free_port, need_binary, wait_port

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"


def test_dockerfile_shape() -> None:
    df = parse(DOCKERFILE)
    assert len(df.stages) >= 2, "multi-stage: a build stage and a runtime stage"
    assert "slim" in df.global_args["PYTHON_IMAGE"] and not df.global_args["PYTHON_IMAGE"].endswith(":latest")
    final = df.stages[-1]
    users = final.all("USER")
    assert users, "the runtime stage must set USER"
    uid, _, gid = users[-1].args.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric non-root uid (Kubernetes runAsNonRoot checks it)"
    assert gid.isdigit() and int(gid) != 0
    assert [i.args for i in final.all("EXPOSE")] == ["10556"]
    (health,) = final.all("HEALTHCHECK")
    assert "/-/healthy" in health.args
    (entry,) = final.all("ENTRYPOINT")
    assert entry.args == '["llm-exporter"]'
    labels: dict[str, str] = {}
    for ins in final.all("LABEL"):
        labels.update(dict(re.findall(r'(\S+?)="([^"]*)"', ins.args)))
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}" in labels, key
    version_arg = next(i.args for i in final.all("ARG") if i.args.startswith("VERSION="))
    assert version_arg == f"VERSION={llm_exporter.__version__}", "image version label follows the package"
    env = " ".join(i.args for i in final.all("ENV"))
    assert "NVIDIA_DRIVER_CAPABILITIES=utility" in env and "NVIDIA_VISIBLE_DEVICES=" in env
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    for ins in df.stages[0].all("COPY"):
        for src in ins.args.split()[:-1]:
            assert f"!{src}" in ignore, f"{src} is copied but excluded by Dockerfile.dockerignore"


def _python_for(uid: int, gid: int) -> str:
    """An interpreter that is the same Python for root (build) and for the image's user (run).

    The image builds and runs with one interpreter; environment markers (``python_full_version``)
    are resolved at build time, so the replay must not mix two versions.
    """
    candidates = [os.path.realpath(getattr(sys, "_base_executable", sys.executable)), "/usr/bin/python3"]
    probe = "import sys; print(sys.version)"
    for c in candidates:
        as_root = subprocess.run([c, "-c", probe], capture_output=True, text=True)
        as_user = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", c, "-c", probe],
            capture_output=True,
            text=True,
        )
        if as_root.returncode == 0 and as_user.returncode == 0 and as_root.stdout == as_user.stdout:
            return c
    pytest.fail(f"no Python interpreter runs the same for root and uid {uid}: {candidates}")
    raise AssertionError


@pytest.fixture(scope="module")
def image() -> Iterator[Replayed]:
    need_binary("setpriv")
    df = parse(DOCKERFILE)
    uid, _, gid = df.stages[-1].all("USER")[-1].args.partition(":")
    work = Path(tempfile.mkdtemp(prefix="llm-exporter-image-"))
    try:
        work.chmod(0o755)
        built = replay(df, REPO, work, _python_for(int(uid), int(gid)))
        make_readable(work)
        yield built
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _as_user(image: Replayed, argv: list[str]) -> list[str]:
    uid, _, gid = image.user.partition(":")
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *argv]


@pytest.mark.slow
def test_image_installs_a_wheel_not_the_source_tree(image: Replayed) -> None:
    venv = Path(image.args["VENV"])
    assert not Path(image.args["WHEELS"]).exists(), "the runtime stage removes its wheel folder"
    out = subprocess.run(
        _as_user(
            image,
            [
                str(venv / "bin" / "python"),
                "-c",
                "import llm_exporter, sys; print(llm_exporter.__file__); print(llm_exporter.__version__)",
            ],
        ),
        capture_output=True,
        text=True,
        env=image.env,
        cwd="/",
        check=True,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(venv), out
    assert out[1] == llm_exporter.__version__


@pytest.mark.slow
def test_entrypoint_runs_as_non_root_and_serves_metrics(image: Replayed) -> None:
    entry = shutil.which(image.entrypoint[0], path=image.env["PATH"])
    assert entry and Path(entry).is_relative_to(image.root), f"{image.entrypoint[0]} must come from the image venv"
    port, dead = free_port(), free_port()
    config = image.root / "etc" / "llm-exporter" / "config.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"gpu:\n  enabled: false\ninference:\n  - name: engine\n    url: http://127.0.0.1:{dead}\n    server: vllm\n",
        encoding="utf-8",
    )
    make_readable(config.parent)
    readonly = image.root / "readonly-cwd"
    readonly.mkdir(exist_ok=True)
    readonly.chmod(0o555)  # owned by root: the image user cannot write here (read-only root filesystem)
    argv = [entry, *image.cmd, f"--web.listen-address=127.0.0.1:{port}", f"--config.file={config}"]
    env = {**image.env, "HOME": "/nonexistent"}
    proc = subprocess.Popen(
        _as_user(image, argv), cwd=readonly, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        try:
            wait_port(port, timeout=60)
        except TimeoutError:
            proc.kill()
            pytest.fail(f"exporter did not listen: {proc.communicate()[0][-3000:]}")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == [image.user.partition(":")[0]] * 4
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        assert re.search(
            rf'^llm_exporter_build_info\{{[^}}]*version="{re.escape(llm_exporter.__version__)}"', body, re.M
        ), body[:2000]
        assert re.search(r'^llm_target_up\{target="engine"\} 0(\.0)?$', body, re.M), body[:2000]
        health = [a.replace("10556", str(port)) for a in image.healthcheck]
        assert subprocess.run(_as_user(image, health), env=env, cwd=readonly, timeout=30).returncode == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    health = [a.replace("10556", str(port)) for a in image.healthcheck]
    assert (
        subprocess.run(_as_user(image, health), env=env, cwd=readonly, capture_output=True, timeout=30).returncode != 0
    ), "the HEALTHCHECK must fail once the exporter is gone"
