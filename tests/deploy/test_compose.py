"""The compose stack, checked statically (no Docker engine here): it parses, everything it mounts
exists, Prometheus and Alertmanager accept their configs, Grafana's provisioning points at
dashboards that exist, every exporter config loads, every image is pinned."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import llm_exporter
import pytest
import yaml
from llm_exporter.config import load_config_text
from support import REPO, need_binary

COMPOSE_DIR = REPO / "deploy" / "compose"
FILES = ("compose.yaml", "compose.gpu.yaml")
_INTERP = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose variable interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        value = env.get(name)
        if op in (":-", "-") and (value is None or (op == ":-" and value == "")):
            return arg
        if op in (":?", "?") and not value:
            raise AssertionError(f"required variable {name}: {arg}")
        return value or ""

    return _INTERP.sub(sub, text)


def load(name: str = "compose.yaml", env: dict[str, str] | None = None) -> dict[str, Any]:
    return yaml.safe_load(interpolate((COMPOSE_DIR / name).read_text(encoding="utf-8"), env or {}))


def services() -> dict[str, dict[str, Any]]:
    return load()["services"]


def binds(service: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    """Bind mounts of a service as (host path, container path)."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            if v.get("type") == "bind":
                out.append(((COMPOSE_DIR / v["source"]).resolve(), PurePosixPath(v["target"])))
            continue
        src, dst, *_ = v.split(":")
        if src.startswith((".", "/")):
            out.append(((COMPOSE_DIR / src).resolve(), PurePosixPath(dst)))
    return out


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """Where a path inside a container comes from on the host (the longest bind mount prefix)."""
    p = PurePosixPath(container_path)
    best = max(
        (b for b in binds(service) if p == b[1] or b[1] in p.parents), key=lambda b: len(b[1].parts), default=None
    )
    assert best is not None, f"{container_path} is not bind-mounted"
    return best[0].joinpath(*p.relative_to(best[1]).parts)


def provisioning_files(service: dict[str, Any], kind: str) -> list[Path]:
    """Grafana provisioning YAML files of one kind as mounted (whole folders or single files)."""
    folder = PurePosixPath("/etc/grafana/provisioning") / kind
    out: list[Path] = []
    for host, container in binds(service):
        if container == folder:
            out += sorted(host.glob("*.y*ml"))
        elif folder in container.parents:
            assert container.suffix in (".yml", ".yaml"), f"Grafana ignores {container}"
            out.append(host)
    return out


def flag(service: dict[str, Any], name: str) -> str:
    for arg in service.get("command", []):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in the command of {service}")


def test_compose_files_parse_and_reference_defined_things() -> None:
    base = load()
    for name in FILES:
        doc = load(name)
        for svc_name in doc["services"]:
            assert svc_name in base["services"], f"{name} overrides unknown service {svc_name}"
    volumes = set(base.get("volumes") or {})
    for name, svc in base["services"].items():
        for v in svc.get("volumes", []):
            src = v["source"] if isinstance(v, dict) else v.split(":")[0]
            if not src.startswith((".", "/")):
                assert src in volumes, f"{name}: named volume {src} is not declared"
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else list(deps):
            assert dep in base["services"], f"{name} depends on unknown {dep}"
        mode = svc.get("network_mode", "")
        if mode.startswith("service:"):
            assert mode.split(":", 1)[1] in base["services"]


def test_every_bind_mount_exists() -> None:
    for name, svc in services().items():
        for host, container in binds(svc):
            assert host.exists(), f"{name}: {host} (mounted at {container}) does not exist"


def test_images_are_pinned() -> None:
    for name, svc in services().items():
        image = svc.get("image")
        assert image, f"{name} has no image"
        ref = image.rsplit("/", 1)[-1]
        assert ":" in ref or "@sha256:" in image, f"{name}: {image} is not pinned"
        tag = ref.split("@")[0].split(":", 1)[1] if ":" in ref else ""
        assert tag not in ("", "latest", "main", "master", "nightly"), f"{name}: {image} floats"


def test_exporter_services_use_the_built_image_and_valid_configs() -> None:
    exporters = {n: s for n, s in services().items() if s["image"].split(":")[0].endswith("llm-exporter")}
    assert {"exporter", "exporter-llamacpp", "queue-collector"} <= set(exporters)
    for name, svc in exporters.items():
        assert svc["image"].endswith(f":{llm_exporter.__version__}"), name
        build = svc["build"]
        assert (COMPOSE_DIR / build["context"]).resolve() == REPO and (REPO / build["dockerfile"]).is_file(), name
        assert svc.get("read_only") is True, f"{name}: the exporter needs no writable root filesystem"
        path = host_path(svc, flag(svc, "--config.file"))
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        cfg = load_config_text(path.read_text(encoding="utf-8"), env=env)
        if name == "queue-collector":
            assert cfg.queues and not cfg.inference and cfg.gpu.enabled is False
        else:
            assert not cfg.queues, f"{name}: queues belong to the single queue collector"
    assert exporters["exporter-llamacpp"]["network_mode"] == "service:llamacpp", "the sidecar pattern"


def test_profiles() -> None:
    svcs = services()
    core = {n for n, s in svcs.items() if not s.get("profiles")}
    assert {"exporter", "prometheus", "alertmanager", "grafana"} <= core
    assert svcs["llamacpp"]["profiles"] == ["llamacpp"] and svcs["exporter-llamacpp"]["profiles"] == ["llamacpp"]
    assert svcs["redis"]["profiles"] == ["redis"] and svcs["queue-collector"]["profiles"] == ["redis"]
    gpu = load("compose.gpu.yaml")["services"]["exporter"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["utility"]


def _prometheus_config(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """prometheus.yml with container paths mapped to the host files compose mounts there."""
    prom = services()["prometheus"]
    src = host_path(prom, flag(prom, "--config.file"))
    cfg = yaml.safe_load(src.read_text(encoding="utf-8"))
    mapped = []
    for pattern in cfg.get("rule_files", []):
        host = host_path(prom, pattern)
        mapped.append(str(host))
    cfg["rule_files"] = mapped
    out = tmp_path / "prometheus.yml"
    out.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return out, cfg


def test_prometheus_config_passes_promtool_with_the_mounted_rules(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    path, cfg = _prometheus_config(tmp_path)
    matched = [f for pattern in cfg["rule_files"] for f in Path("/").glob(pattern.lstrip("/"))]
    assert matched, f"rule_files {cfg['rule_files']} match no rule file"
    assert not [f for f in matched if "test" in f.name], "promtool test files must not be loaded as rules"
    proc = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for f in matched:
        assert f"{f}" in proc.stdout + proc.stderr or f.name in proc.stdout + proc.stderr, f"{f} was not checked"


def test_prometheus_scrapes_services_of_the_stack() -> None:
    prom = services()["prometheus"]
    cfg = yaml.safe_load(host_path(prom, flag(prom, "--config.file")).read_text(encoding="utf-8"))
    svcs = services()
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    for job in ("llm-exporter", "llm-exporter-llamacpp", "llm-exporter-queues"):
        assert re.fullmatch(r".*llm-exporter.*", job), "the alerts select job=~'.*llm-exporter.*'"
    assert jobs["llm-exporter"]["static_configs"][0]["targets"] == ["exporter:10556"]
    for job, svc in (("llm-exporter-llamacpp", "llamacpp"), ("llm-exporter-queues", "queue-collector")):
        (sd,) = jobs[job]["dns_sd_configs"]
        assert sd["names"] == [svc] and sd["port"] == 10556 and svc in svcs
    (am,) = cfg["alerting"]["alertmanagers"]
    host, port = am["static_configs"][0]["targets"][0].split(":")
    assert host in svcs and f"{port}:{port}" in svcs[host]["ports"]
    assert "--web.enable-lifecycle" in prom["command"]
    assert "cluster" in cfg["global"]["external_labels"]


def test_alertmanager_config_passes_amtool() -> None:
    amtool = need_binary("amtool")
    am = services()["alertmanager"]
    path = host_path(am, flag(am, "--config.file"))
    assert path.is_file(), path
    proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, cwd=path.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_grafana_provisioning_points_at_existing_dashboards() -> None:
    graf = services()["grafana"]
    datasources = [
        d for f in provisioning_files(graf, "datasources") for d in yaml.safe_load(f.read_text())["datasources"]
    ]
    urls = {d["type"]: d["url"] for d in datasources}
    svcs = services()
    for kind in ("prometheus", "alertmanager"):
        host = re.match(r"https?://([^:/]+)", urls[kind]).group(1)
        assert host in svcs, f"{kind} datasource points at {host}, not a service"
    default = [d for d in datasources if d.get("isDefault")]
    assert len(default) == 1 and default[0]["type"] == "prometheus"
    bundle = yaml.safe_load((REPO / "monitoring" / "bundle.yml").read_text())
    assert default[0]["uid"] == bundle["dashboards"]["datasource_uid"], "the dashboards' default datasource"
    prom = services()["prometheus"]
    prom_cfg = yaml.safe_load(host_path(prom, flag(prom, "--config.file")).read_text())
    assert default[0]["jsonData"]["timeInterval"] == prom_cfg["global"]["scrape_interval"], "$__rate_interval"
    for d in datasources:
        assert "$" not in str(d), "Grafana expands only $VAR/${VAR} (os.ExpandEnv), no defaults: keep URLs literal"
    files = provisioning_files(graf, "dashboards")
    for f in files:
        assert set(yaml.safe_load(f.read_text())) <= {"apiVersion", "providers"}, f"{f} is not a dashboard provider"
    providers = [p for f in files for p in yaml.safe_load(f.read_text()).get("providers", [])]
    assert providers, "no dashboard provider mounted"
    found = 0
    for p in providers:
        folder = host_path(graf, p["options"]["path"])
        dashboards = [f for f in folder.rglob("*.json") if "panels" in json.loads(f.read_text())]
        assert dashboards, f"provider {p['name']} points at {folder}, which holds no dashboard"
        found += len(dashboards)
    assert found >= 1
    home = graf["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert host_path(graf, home).is_file(), f"home dashboard {home} does not exist"


@pytest.mark.parametrize("service", ["prometheus", "alertmanager", "grafana"])
def test_core_services_have_healthchecks(service: str) -> None:
    hc = services()[service]["healthcheck"]["test"]
    assert hc[0] == "CMD" and any("health" in a for a in hc)


# Service keys of the Compose specification (compose-spec/schema/compose-spec.json) this project may use.
SERVICE_KEYS = {
    "build",
    "cap_add",
    "cap_drop",
    "command",
    "container_name",
    "depends_on",
    "deploy",
    "devices",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extra_hosts",
    "group_add",
    "healthcheck",
    "image",
    "init",
    "labels",
    "logging",
    "network_mode",
    "networks",
    "pid",
    "platform",
    "ports",
    "privileged",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "secrets",
    "security_opt",
    "shm_size",
    "stop_grace_period",
    "tmpfs",
    "user",
    "volumes",
    "working_dir",
}
TOP_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}


@pytest.mark.parametrize("name", FILES)
def test_only_compose_spec_keys(name: str) -> None:
    doc = load(name)
    assert set(k for k in doc if not k.startswith("x-")) <= TOP_KEYS
    for svc_name, svc in doc["services"].items():
        unknown = set(svc) - SERVICE_KEYS
        assert not unknown, f"{name}: service {svc_name} has keys outside the Compose spec: {unknown}"
        assert svc.get("restart", "unless-stopped") in ("no", "always", "on-failure", "unless-stopped")
        if "network_mode" in svc:
            assert "ports" not in svc, f"{svc_name}: ports belong to the service whose network it shares"
