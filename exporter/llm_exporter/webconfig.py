"""TLS, basic auth, headers and rate limit from a web config file in the exporter-toolkit format.

The same file that secures node_exporter secures llm-exporter; every key of the toolkit's
schema is accepted (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md)::

    tls_server_config:
      cert_file: server.crt          # or cert: <inline PEM>
      key_file: server.key           # or key: <inline PEM>
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: ca.crt         # or client_ca: <inline PEM>
      client_allowed_sans: [prometheus.monitoring.svc]
      min_version: TLS12
    http_server_config:
      headers: {X-Content-Type-Options: nosniff}
    basic_auth_users:
      alice: $2y$10$...              # bcrypt hash
    rate_limit: {interval: 100ms, burst: 20}

Applied: certificates (files or inline), client auth and CA, ``client_allowed_sans`` (a
client certificate must carry one of these SANs, else the connection is closed),
``min_version``/``max_version``, ``prefer_server_cipher_suites``, the five response headers,
basic auth and the rate limit. Accepted but ignored, with a warning at start, because
Python's TLS stack cannot apply them as Go does: ``cipher_suites`` (Go/IANA names; OpenSSL's
defaults are used), ``curve_preferences`` (OpenSSL's defaults), ``http2: true`` (the server
speaks HTTP/1.1).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .configtypes import ConfigError, Duration, non_negative

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
# The toolkit's allowed response headers, and the values it accepts for two of them.
_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
)
_HEADER_VALUES = {"X-Frame-Options": ("deny", "sameorigin"), "X-Content-Type-Options": ("nosniff",)}


@dataclass(frozen=True)
class TlsServerConfig:
    """``tls_server_config``: the server certificate, client certificate checks, TLS versions."""

    cert_file: str | None = field(default=None, metadata={"path": True})
    key_file: str | None = field(default=None, metadata={"path": True})
    cert: str | None = None
    key: str | None = None  # inline PEM (not "secret": key_file is a path here, not its *_file form)
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: str | None = field(default=None, metadata={"path": True})
    client_ca: str | None = None
    client_allowed_sans: list[str] = field(default_factory=list)
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion = "TLS13"
    cipher_suites: list[str] = field(default_factory=list)
    prefer_server_cipher_suites: bool = True
    curve_preferences: list[str] = field(default_factory=list)

    def validate(self) -> Iterator[tuple[str, str]]:
        if self.cert_file and self.cert:
            yield "cert", "give either cert or cert_file, not both"
        if self.key_file and self.key:
            yield "key", "give either key or key_file, not both"
        if not (self.cert_file or self.cert):
            yield "cert_file", "required key is missing (or give cert inline)"
        if not (self.key_file or self.key):
            yield "key_file", "required key is missing (or give key inline)"
        if self.client_ca_file and self.client_ca:
            yield "client_ca", "give either client_ca or client_ca_file, not both"
        has_ca = bool(self.client_ca_file or self.client_ca)
        if self.client_auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and not has_ca:
            yield "client_ca_file", f"required when client_auth_type is {self.client_auth_type}"
        if self.client_allowed_sans and self.client_auth_type not in (
            "RequireAnyClientCert",
            "RequireAndVerifyClientCert",
        ):
            yield "client_allowed_sans", "needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert"
        if _VERSIONS[self.min_version] > _VERSIONS[self.max_version]:
            yield "min_version", f"{self.min_version} is above max_version {self.max_version}"


@dataclass(frozen=True)
class HttpServerConfig:
    """``http_server_config``: extra response headers (HTTP/2 is not served)."""

    http2: bool | None = None  # the toolkit's default is true; warned about only when set to true
    headers: dict[str, str] = field(default_factory=dict)

    def validate(self) -> Iterator[tuple[str, str]]:
        for name, value in self.headers.items():
            if name not in _HEADERS:
                yield f"headers.{name}", f"not an allowed header (one of {', '.join(_HEADERS)})"
            elif any(c in value for c in "\r\n\0"):
                yield f"headers.{name}", "must not contain line breaks"
            elif name in _HEADER_VALUES and value.lower() not in _HEADER_VALUES[name]:
                yield f"headers.{name}", f"must be one of {', '.join(_HEADER_VALUES[name])}"


@dataclass(frozen=True)
class RateLimit:
    """A token bucket over all requests: one token per ``interval``, at most ``burst`` saved."""

    interval: Duration = field(default=0.0, metadata={"check": non_negative})
    burst: int = field(default=0, metadata={"check": non_negative})


@dataclass(frozen=True)
class WebConfig:
    """The whole web config file (exporter-toolkit format); the default is plain HTTP, no auth."""

    tls_server_config: TlsServerConfig | None = None
    http_server_config: HttpServerConfig = field(default_factory=HttpServerConfig)
    basic_auth_users: dict[str, str] = field(default_factory=dict)
    rate_limit: RateLimit = field(default_factory=RateLimit)


def load_web_config(path: str | Path) -> WebConfig:
    """Parse and check the file; certificates and keys are loaded here so errors show at start."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read web config file: {exc.strerror}"]) from None
    from . import configschema  # the YAML parser: only when there is a file to read

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


def ignored_settings(cfg: WebConfig) -> list[str]:
    """Settings of the toolkit schema that Python's stack cannot apply (warned about at start)."""
    out = []
    tls = cfg.tls_server_config
    if tls is not None and tls.cipher_suites:
        out.append("tls_server_config.cipher_suites (OpenSSL's default cipher suites are used)")
    if tls is not None and tls.curve_preferences:
        out.append("tls_server_config.curve_preferences (OpenSSL's default curves are used)")
    if cfg.http_server_config.http2 is True:
        out.append("http_server_config.http2 (the server speaks HTTP/1.1 only)")
    return out


def ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """A server-side SSL context; raises ConfigError naming the bad file."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[tls.min_version]
    ctx.maximum_version = _VERSIONS[tls.max_version]
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        if tls.cert or tls.key:
            _load_inline_chain(ctx, tls)
        else:
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            [
                "tls_server_config.cert_file/key_file: cannot load certificate or key: "
                + str(exc.strerror or getattr(exc, "reason", None) or type(exc).__name__)
            ]
        ) from None
    if tls.client_ca_file or tls.client_ca:
        try:
            if tls.client_ca:
                ctx.load_verify_locations(cadata=tls.client_ca)
            else:
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
    if tls.client_auth_type in ("RequestClientCert", "RequireAnyClientCert") and not (
        tls.client_ca_file or tls.client_ca
    ):
        # Python cannot request a certificate without verifying it against some CA.
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def _load_inline_chain(ctx: ssl.SSLContext, tls: TlsServerConfig) -> None:
    """``cert``/``key`` given inline: OpenSSL loads them from private files removed at once."""
    with tempfile.TemporaryDirectory(prefix="llm-exporter-tls-") as tmp:
        cert = Path(tmp) / "cert.pem"
        key = Path(tmp) / "key.pem"
        for path, inline, fallback in ((cert, tls.cert, tls.cert_file), (key, tls.key, tls.key_file)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(inline if inline else Path(str(fallback)).read_text(encoding="utf-8"))
        ctx.load_cert_chain(str(cert), str(key))


def allowed_san(peer: dict[str, Any] | None, allowed: list[str]) -> bool:
    """True when the verified peer certificate carries one of ``allowed`` as a SAN (DNS, IP, e-mail, URI)."""
    if not allowed:
        return True
    if not peer:
        return False
    names = set()
    for kind, value in peer.get("subjectAltName", ()):
        if kind == "IP Address":
            try:
                value = str(ipaddress.ip_address(value.strip()))
            except ValueError:
                pass
        names.add(value)
    wanted = set()
    for name in allowed:
        try:
            wanted.add(str(ipaddress.ip_address(name)))
        except ValueError:
            wanted.add(name)
    return bool(names & wanted)
