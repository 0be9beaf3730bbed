"""TLS and basic auth from a web config file in the Prometheus exporter-toolkit format.

The same file that secures node_exporter secures llm-exporter::

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: ca.crt
      min_version: TLS12
    basic_auth_users:
      alice: $2y$10$...   # bcrypt hash

Passwords are checked with bcrypt; successful checks are cached by a hash of the
credentials, so a scrape every few seconds does not pay bcrypt's cost each time.
Nothing about credentials is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import bcrypt

from . import configschema
from .configschema import ConfigError

ClientAuth = Literal[
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


@dataclass(frozen=True)
class TlsServerConfig:
    cert_file: str = field(metadata={"path": True})
    key_file: str = field(metadata={"path": True})
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: str | None = field(default=None, metadata={"path": True})
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion = "TLS13"

    def validate(self) -> Iterator[tuple[str, str]]:
        if self.client_auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and not (
            self.client_ca_file
        ):
            yield "client_ca_file", f"required when client_auth_type is {self.client_auth_type}"


@dataclass(frozen=True)
class HttpServerConfig:
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebConfig:
    tls_server_config: TlsServerConfig | None = None
    http_server_config: HttpServerConfig = field(default_factory=HttpServerConfig)
    basic_auth_users: dict[str, str] = field(default_factory=dict)


def load_web_config(path: str | Path) -> WebConfig:
    """Parse and check the file; certificates and keys are loaded here so errors show at start."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read web config file: {exc.strerror}"]) from None
    cfg = configschema.load(text, WebConfig, base_dir=p.resolve().parent)
    errors = []
    for user, hashed in cfg.basic_auth_users.items():
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            errors.append(f"basic_auth_users.{user}: not a bcrypt hash")
    if errors:
        raise ConfigError(errors)
    if cfg.tls_server_config is not None:
        ssl_context(cfg.tls_server_config)
    return cfg


def ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """A server-side SSL context; raises ConfigError naming the bad file."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[tls.min_version]
    ctx.maximum_version = _VERSIONS[tls.max_version]
    try:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError([f"tls_server_config.cert_file/key_file: cannot load certificate or key: {exc}"]) from None
    if tls.client_ca_file:
        try:
            ctx.load_verify_locations(tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError([f"tls_server_config.client_ca_file: cannot load: {exc}"]) from None
    ctx.verify_mode = {
        "NoClientCert": ssl.CERT_NONE,
        "RequestClientCert": ssl.CERT_OPTIONAL,
        "RequireAnyClientCert": ssl.CERT_REQUIRED,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }[tls.client_auth_type]
    if tls.client_auth_type in ("RequestClientCert", "RequireAnyClientCert") and not tls.client_ca_file:
        # Python cannot request a certificate without verifying it against some CA.
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


class BasicAuth:
    """Checks ``Authorization: Basic`` credentials against bcrypt hashes."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = {u: h.encode() for u, h in users.items()}
        self._ok: set[bytes] = set()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, user: str, password: str) -> bool:
        hashed = self._users.get(user)
        if hashed is None:
            # Spend the same time as a real check so user names cannot be probed.
            bcrypt.checkpw(b"x", b"$2b$10$abcdefghijklmnopqrstuu5dTB2hYb9qOYW0FgX5n8bZNgS1P5pCS")
            return False
        token = hashlib.sha256(user.encode() + b"\0" + password.encode() + b"\0" + hashed).digest()
        with self._lock:
            if any(hmac.compare_digest(token, t) for t in self._ok):
                return True
        try:
            good = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            good = False
        if good:
            with self._lock:
                if len(self._ok) > 1000:
                    self._ok.clear()
                self._ok.add(token)
        return good
