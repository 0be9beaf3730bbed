"""A small Dockerfile reader and a replayer of its build steps without a Docker engine.

Supports what deploy/docker/Dockerfile uses: ARG, FROM ... AS, WORKDIR, COPY [--from=stage],
RUN (shell form), ENV, LABEL, USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD. The replay gives
every stage its own folder; ARG values are remapped into it (like ``--build-arg``), so absolute
paths in RUN steps must go through an ARG (the Dockerfile says so).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Instruction:
    op: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, op: str) -> list[Instruction]:
        return [i for i in self.instructions if i.op == op]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def parse(path: Path) -> Dockerfile:
    """Instructions grouped by stage, line continuations joined, comments dropped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        logical.append((start, buf + stripped))
        buf = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for n, text in logical:
        op, _, rest = text.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(parts[0], name))
        elif not stages:
            if op != "ARG":
                raise ValueError(f"line {n}: {op} before the first FROM")
            key, _, value = rest.partition("=")
            global_args[key] = value
        else:
            stages[-1].instructions.append(Instruction(op, rest, n))
    return Dockerfile(global_args, stages)


def expand(text: str, env: dict[str, str]) -> str:
    """``${VAR}`` / ``$VAR`` substitution as Docker does it for non-RUN instructions."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def exec_form(args: str) -> list[str]:
    """JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or shell form wrapped in sh -c."""
    args = args.strip()
    if args.startswith("["):
        return list(json.loads(args))
    return ["/bin/sh", "-c", args]


def env_pairs(args: str) -> dict[str, str]:
    """``ENV``/``LABEL`` key=value pairs (quoted values allowed)."""
    out = {}
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"legacy 'ENV key value' form is not supported: {args!r}")
        out[key] = value
    return out


@dataclass
class Replayed:
    """What the replay produced for the final stage."""

    root: Path
    env: dict[str, str]
    user: str
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    args: dict[str, str]


def replay(df: Dockerfile, context: Path, work: Path, python: str) -> Replayed:
    """Run every stage's COPY/RUN steps in ``work/<stage>``; return the final stage's runtime."""
    bindir = work / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        link = bindir / name
        if not link.exists():
            link.symlink_to(python)
    result: Replayed | None = None
    for stage in df.stages:
        root = work / stage.name
        root.mkdir(parents=True, exist_ok=True)
        raw: dict[str, str] = {}  # ARG values as the Dockerfile has them (image paths)
        args: dict[str, str] = {}  # the same, remapped into this stage's folder
        env: dict[str, str] = {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(root)}
        workdir = root
        user, entrypoint, cmd, health = "0", [], [], []
        for ins in stage.instructions:
            if ins.op == "ARG":
                key, _, value = ins.args.partition("=")
                value = expand(value or df.global_args.get(key, ""), {**env, **raw})
                raw[key] = value
                args[key] = _under(root, value)
            elif ins.op == "WORKDIR":
                workdir = Path(_under(root, expand(ins.args, raw)))
                workdir.mkdir(parents=True, exist_ok=True)
            elif ins.op == "COPY":
                _copy(ins, expand(ins.args, raw), context, workdir, root, work)
            elif ins.op == "RUN":
                proc = subprocess.run(
                    ["/bin/sh", "-ec", ins.args],
                    cwd=workdir,
                    env={**env, **args},
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"RUN at line {ins.line} failed ({proc.returncode}):\n"
                        f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
                    )
            elif ins.op == "ENV":
                for k, v in env_pairs(ins.args).items():
                    env[k] = expand(v, {**env, **args})
            elif ins.op == "USER":
                user = expand(ins.args, raw)
            elif ins.op == "ENTRYPOINT":
                entrypoint, cmd = exec_form(ins.args), []
            elif ins.op == "CMD":
                cmd = exec_form(ins.args)
            elif ins.op == "HEALTHCHECK":
                _, _, rest = ins.args.partition(" CMD ")
                health = exec_form(rest) if rest else []
        result = Replayed(root, {**env}, user, entrypoint, cmd, health, args)
    assert result is not None, "no stage"
    return result


def _under(root: Path, value: str) -> str:
    """An absolute image path inside the stage's folder; anything else unchanged."""
    return str(root / value.lstrip("/")) if value.startswith("/") else value


def _copy(ins: Instruction, expanded: str, context: Path, workdir: Path, root: Path, work: Path) -> None:
    parts = shlex.split(expanded)
    source_stage = None
    while parts and parts[0].startswith("--"):
        flag = parts.pop(0)
        if flag.startswith("--from="):
            source_stage = flag.split("=", 1)[1]
    *sources, dest = parts
    dest_path = Path(_under(root, dest)) if dest.startswith("/") else workdir / dest
    for src in sources:
        src_path = context / src if source_stage is None else Path(_under(work / source_stage, src))
        if not src_path.exists():
            raise FileNotFoundError(f"COPY at line {ins.line}: {src} not found ({src_path})")
        if src_path.is_dir():
            shutil.copytree(
                src_path,
                dest_path,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
            )
        else:
            target = dest_path / src_path.name if dest.endswith("/") else dest_path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src_path, target)


def make_readable(path: Path) -> None:
    """World-readable (and traversable) tree, as files in an image layer are."""
    for dirpath, _dirs, filenames in os.walk(path):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            p = Path(dirpath) / f
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o444)
