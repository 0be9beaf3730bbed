"""Fixtures of the gpu suite: the fake NVML library, loaded in this process, and a scenario file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpu import fakenvml


@pytest.fixture(scope="session")
def fake_lib_dir() -> Path:
    """The default fake, compiled and preloaded by SONAME so the real pynvml binds to it."""
    lib_dir = fakenvml.build("default")
    fakenvml.preload(lib_dir)
    return lib_dir


@pytest.fixture
def scenario(fake_lib_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A scenario file the fake reads (FAKE_NVML_CONFIG), starting as 8 healthy H100s."""
    path = tmp_path / "scenario.conf"
    fakenvml.write_scenario(path, fakenvml.healthy())
    old = os.environ.get(fakenvml.ENV)
    os.environ[fakenvml.ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(fakenvml.ENV, None)
    else:
        os.environ[fakenvml.ENV] = old
