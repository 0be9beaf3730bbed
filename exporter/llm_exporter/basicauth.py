"""HTTP basic auth against bcrypt hashes (exporter-toolkit's ``basic_auth_users``).

- Every check that is not a cache hit runs exactly one bcrypt comparison of the same cost:
  an unknown user is compared against a dummy hash made at start with the users' cost, and
  a password over bcrypt's 72-byte limit is compared (truncated) against that dummy too and
  always refused. So the time of an answer tells nothing about which user names exist.
- Successful checks are cached (by a SHA-256 of user, password and hash), so a scrape every
  few seconds does not pay bcrypt each time; failures are never cached.
- At most ``max_concurrent`` bcrypt comparisons run at once; a request that cannot get a
  slot within ``max_wait`` seconds is answered 429 (``AuthBusy``). A password spray can then
  use at most that many cores, and scrapes by a user already verified (cache hits) never wait.
- Nothing about credentials is logged.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping

BCRYPT_MAX_BYTES = 72


class AuthBusy(Exception):
    """Too many password checks in flight: answer 429, do not wait."""


def _cost(hashed: bytes) -> int:
    try:
        return min(max(int(hashed.split(b"$")[2]), 4), 31)
    except (IndexError, ValueError):
        return 10


class BasicAuth:
    """Checks ``Authorization: Basic`` credentials against bcrypt hashes."""

    def __init__(
        self, users: Mapping[str, str], max_concurrent: int = 2, max_wait: float = 5.0, cache_size: int = 1000
    ) -> None:
        self._users = {u: h.encode() for u, h in users.items()}
        self._dummy = b""
        if self._users:  # bcrypt is imported only when basic auth is configured
            import bcrypt

            cost = max(_cost(h) for h in self._users.values())
            self._dummy = bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(cost))
        self._slots = threading.BoundedSemaphore(max(1, max_concurrent))
        self._max_wait = max_wait
        self._ok: OrderedDict[bytes, None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, user: str, password: str) -> bool:
        """True for valid credentials; raises ``AuthBusy`` when no bcrypt slot frees up in time."""
        import hashlib  # both only where basic auth is configured (not at every start)

        import bcrypt  # already loaded by __init__ when users are configured

        secret = password.encode("utf-8", "surrogateescape")
        hashed = self._users.get(user)
        usable = hashed is not None and len(secret) <= BCRYPT_MAX_BYTES
        target = hashed if usable and hashed is not None else self._dummy
        token = hashlib.sha256(user.encode("utf-8", "surrogateescape") + b"\0" + secret + b"\0" + target).digest()
        with self._lock:
            if token in self._ok:
                self._ok.move_to_end(token)
                return usable
        if not self._slots.acquire(timeout=self._max_wait):
            raise AuthBusy
        try:
            good = bcrypt.checkpw(secret[:BCRYPT_MAX_BYTES], target)
        except ValueError:  # a malformed stored hash
            good = False
        finally:
            self._slots.release()
        if good and usable:
            with self._lock:
                self._ok[token] = None
                while len(self._ok) > self._cache_size:
                    self._ok.popitem(last=False)
            return True
        return False
