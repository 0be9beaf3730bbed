"""The one place that hides credentials from logs, error messages, pages and labels.

``redact_url`` masks the password of a URL's userinfo and the value of credential query
parameters (``password``, ``api_key``, ``bearer_token``, ``token`` and close spellings),
the way Go's ``url.URL.Redacted`` does: ``http://user:xxxxx@host/?token=xxxxx``.
``redact`` does the same for every URL found in free text (a log line, an exception
message) and masks the configured secret values registered with ``set_secrets`` (bearer
tokens, API keys, broker passwords), wherever they appear.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

MASK = "xxxxx"

_PARAMS = r"password|passwd|pass|pwd|api_key|apikey|api-key|bearer_token|token|access_token|auth_token|secret"
_QUERY = re.compile(rf"(?i)(?<![A-Za-z0-9_-])((?:{_PARAMS})=)[^&#\s'\"<>;,)]*")
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]*")
_PORT_PATH = re.compile(r"\d*(?:[/?#].*)?", re.S)
_MIN_SECRET = 4  # shorter configured secrets are not worth masking everywhere

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def set_secrets(values: Iterable[str | None]) -> None:
    """Register the secret values of the loaded config(s); they are masked in every output."""
    global _secrets
    found = {v for v in values if v and len(v) >= _MIN_SECRET}
    with _lock:
        _secrets = tuple(sorted(found, key=len, reverse=True))


def add_secrets(values: Iterable[str | None]) -> None:
    """Register more secret values, keeping those already known (reloads, web config)."""
    set_secrets([*_secrets, *values])


def redact_url(url: str) -> str:
    """The URL with its userinfo password and credential query values masked."""
    scheme, sep, rest = url.partition("://")
    if sep:
        at = rest.rfind("@")
        if at >= 0:
            userinfo = rest[:at]
            user, colon, password = userinfo.partition(":")
            # ``host:80/a@b`` is a port and a path, not a password.
            if colon and not ("/" in password and _PORT_PATH.fullmatch(password) and "/" not in user):
                rest = f"{user}:{MASK}@{rest[at + 1 :]}"
        url = f"{scheme}://{rest}"
    return _QUERY.sub(rf"\g<1>{MASK}", url)


def redact(text: str) -> str:
    """Free text with every URL redacted and every registered secret value masked."""
    if not text:
        return text
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    if "=" in text:
        text = _QUERY.sub(rf"\g<1>{MASK}", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
