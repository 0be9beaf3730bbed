"""The ``--web.listen-address`` syntax, shared by the server and the health check (no heavy imports)."""

from __future__ import annotations


def parse_listen_address(address: str) -> tuple[str, int]:
    """``:10556`` -> ("", 10556); ``127.0.0.1:9`` and ``[::1]:9`` work too."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {address!r}: want HOST:PORT, e.g. :10556")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)
