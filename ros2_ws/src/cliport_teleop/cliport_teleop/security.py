"""The teleop page's request checks, without a server: which Host, Origin and token a request
must carry, which content type a POST must have, and how many requests a client may send.

The page moves an arm, and any web page the operator opens could otherwise post to it
(cross-site requests, DNS rebinding). Each check raises :class:`Refusal` with the HTTP status
and a one-line reason; ``web.py`` answers it as ``{"ok": false, "message": ...}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
TOKEN_HEADER = "X-Cliport-Token"
TOKEN_QUERY = "token"  # the page's own URL carries the token as ?token=...
MIN_TOKEN_LENGTH = 16
SAFE_FETCH_SITES = ("same-origin", "none")  # "none": the operator typed or pasted the URL


class Refusal(Exception):
    """A request the server refuses before it reaches the session."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = message


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (names other than
    ``localhost`` are not resolved: they count as reachable from outside)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host.strip().strip("[]") in WILDCARD_HOSTS


def url_host(host: str) -> str:
    """``host`` as it appears in a URL or Host header (IPv6 in brackets, lower case)."""
    name = host.strip().strip("[]").lower()
    return f"[{name}]" if ":" in name else name


def check_token_value(token: str) -> None:
    """A configured token must be long enough and fit a header and a URL unchanged."""
    if not token:
        return
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"token must be at least {MIN_TOKEN_LENGTH} characters")
    if not all(33 <= ord(c) < 127 for c in token):
        raise ValueError("token must be printable ASCII without spaces")


def bind_problem(host: str, token: str) -> str | None:
    """Why the server must not start on ``host`` with ``token`` (None when it may)."""
    if not is_loopback(host) and not token:
        return (f"binding the teleop page to {host or '0.0.0.0'} (reachable from other "
                f"machines) needs a token: set the recorder's token (at least "
                f"{MIN_TOKEN_LENGTH} characters), or bind 127.0.0.1")
    return None


def session_token(configured: str) -> str:
    """The token of this run: the configured one, else a fresh random one."""
    return configured or secrets.token_urlsafe(32)


def accepted_hosts(bind_host: str, port: int, allowed_hosts: Iterable[str] = ()) -> frozenset:
    """Host header values served: loopback names, the bound address (unless a wildcard) and
    ``allowed_hosts``, each with ``port`` (and without it on port 80)."""
    names = {*LOOPBACK_NAMES, *(url_host(h) for h in allowed_hosts if h.strip())}
    if not is_wildcard(bind_host):
        names.add(url_host(bind_host))
    hosts = {f"{n}:{port}" for n in names}
    if port == 80:
        hosts |= names
    return frozenset(hosts)


def check_host(host: str | None, accepted: frozenset) -> None:
    """DNS rebinding: a page of another name that resolves to us still sends its own name."""
    if not host:
        raise Refusal(HTTPStatus.FORBIDDEN, "no Host header: refused")
    if host.strip().lower() not in accepted:
        raise Refusal(HTTPStatus.FORBIDDEN,
                      f"Host {host.strip()[:100]!r} is not this recorder's address: refused")


def check_origin(origin: str | None, fetch_site: str | None, origins: frozenset) -> None:
    """Cross-site requests: a browser names the page that sent them (``Origin``, and
    ``Sec-Fetch-Site`` in current browsers); programs without a browser send neither."""
    if origin is not None and origin.strip().lower() not in origins:
        raise Refusal(HTTPStatus.FORBIDDEN,
                      f"cross-site request from {origin.strip()[:100]!r}: refused")
    if fetch_site is not None and fetch_site.strip().lower() not in SAFE_FETCH_SITES:
        raise Refusal(HTTPStatus.FORBIDDEN,
                      f"cross-site request (Sec-Fetch-Site: {fetch_site.strip()[:40]}): refused")


def check_token(given: str | None, token: str, where: str) -> None:
    """Constant-time compare of the request's token with this run's."""
    if not given:
        raise Refusal(HTTPStatus.FORBIDDEN, f"no token ({where}): open the URL the recorder "
                                            f"logged, with its ?token=")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
        raise Refusal(HTTPStatus.FORBIDDEN, f"wrong token ({where}): refused")


def check_json_content_type(content_type: str | None) -> None:
    """Only ``application/json``: browsers send text/plain and form bodies cross-site
    without asking first, JSON only after a CORS preflight this server never grants."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                      f"a POST must be application/json, not {media or 'without a type'!r}")


class RateLimiter:
    """A token bucket per client address: ``rate`` requests a second sustained, ``burst``
    at once; ``rate`` 0 turns it off. The oldest clients are forgotten beyond
    ``max_clients``, so a scan of addresses cannot grow it without bound."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 1024) -> None:
        self.rate, self.burst, self.clock = float(rate), max(int(burst), 1), clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.rate <= 0:
            return True
        now = self.clock()
        with self._lock:
            level, last = self._buckets.pop(client, (float(self.burst), now))
            level = min(float(self.burst), level + (now - last) * self.rate)
            allowed = level >= 1.0
            self._buckets[client] = (level - 1.0 if allowed else level, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return allowed


@dataclass(frozen=True)
class RequestPolicy:
    """Everything a request must satisfy before its body is read, in the order checked:
    Host, cross-site headers, token (the page by ``?token=``, the API by header), rate."""

    hosts: frozenset
    token: str
    limiter: RateLimiter

    @property
    def origins(self) -> frozenset:
        return frozenset(f"http://{h}" for h in self.hosts)

    def check(self, query_token: str | None, header: Callable[[str], str | None], client: str,
              is_page: bool) -> None:
        check_host(header("Host"), self.hosts)
        check_origin(header("Origin"), header("Sec-Fetch-Site"), self.origins)
        if is_page:
            check_token(query_token, self.token, "the page's ?token=")
        else:
            check_token(header(TOKEN_HEADER), self.token, f"the {TOKEN_HEADER} header")
        if not self.limiter.allow(client):
            raise Refusal(HTTPStatus.TOO_MANY_REQUESTS,
                          f"too many requests: at most {self.limiter.rate:g} a second")
