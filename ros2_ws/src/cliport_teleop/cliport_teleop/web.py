"""The recorder's web page and JSON API (stdlib ``http.server``, one thread per request).

    GET  /?token=...        the page (static/index.html), only with this run's token
    GET  /api/state         session state (map stamp, running step, result, messages)
    GET  /api/colormap.png  the newest colormap, grid orientation (row u, column v)
    GET  /api/heightmap.png the newest heightmap, grey, 0 .. its maximum
    POST /api/step          {"instruction", "pick": {"u", "v", "theta"}, "place": {...}}
    POST /api/accept | /api/discard | /api/end   (body empty or {})

The page moves an arm, so before anything else a request must name this server in ``Host``,
come from its own page (``Origin``, ``Sec-Fetch-Site``) and carry the run's token: the
page's URL as ``?token=``, every API call in the ``X-Cliport-Token`` header (see
``security.py``). POSTs must be ``application/json``. Every POST answers ``{"ok": bool,
"message": str}``; every refusal is that one line with ``ok`` false and a 4xx status, and
changes nothing.
"""

from __future__ import annotations

import io
import json
import math
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import numpy as np

from cliport_teleop.security import (
    TOKEN_HEADER,
    TOKEN_QUERY,
    RateLimiter,
    Refusal,
    RequestPolicy,
    accepted_hosts,
    check_json_content_type,
    is_loopback,
    is_wildcard,
    session_token,
    url_host,
)
from cliport_teleop.session import StepError, TeleopSession

MAX_BODY = 64 * 1024
MAX_MESSAGE = 300  # characters of a refusal's message (it may quote the request)
PAGE_PATHS = ("/", "/index.html")
STEP_FIELDS = ("instruction", "pick", "place")
CLICK_FIELDS = ("u", "v", "theta")
MAX_ANGLE = 2 * math.pi  # the page sends atan2 angles, within ±pi
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's URL holds the token
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
                               "style-src 'unsafe-inline'; img-src blob:; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}

Refused = Callable[[dict[str, Any]], None]


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def heightmap_image(heightmap: np.ndarray) -> np.ndarray:
    h = np.nan_to_num(np.asarray(heightmap, np.float32), nan=0.0)
    top = float(h.max()) if h.size else 0.0
    return (np.clip(h / top, 0, 1) * 255).astype(np.uint8) if top > 0 else np.zeros(
        h.shape, np.uint8)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def parse_body(body: bytes) -> dict[str, Any]:
    """A POST body as a JSON object (empty = {}); NaN, Infinity and overflowing numbers are
    refused here, before anything can turn them into a pose."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant,
                          parse_float=_finite)
    except UnicodeDecodeError:
        raise StepError("the request is not UTF-8 JSON") from None
    except RecursionError:
        raise StepError("the request is not JSON the recorder reads: nested too deep") from None
    except ValueError as exc:
        raise StepError(f"the request is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StepError("the request must be a JSON object")
    return data


def _unknown(data: dict, known: tuple[str, ...], what: str) -> None:
    extra = sorted(str(k)[:40] for k in data if k not in known)
    if extra:
        raise StepError(f"{what} has unknown fields {extra[:5]} (known: {list(known)})")


def _integer(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_step_body(data: dict[str, Any]) -> None:
    """The types of a step request; what they mean (map, grid, instruction text) is the
    session's to check."""
    _unknown(data, STEP_FIELDS, "the step request")
    if "instruction" in data and not isinstance(data["instruction"], str):
        raise StepError("the instruction must be a string")
    for what in ("pick", "place"):
        click = data.get(what)
        if not isinstance(click, dict):
            continue  # the session: "click the <what> point on the map"
        _unknown(click, CLICK_FIELDS, f"the {what} click")
        for key in ("u", "v"):
            if key in click and not _integer(click[key]):
                raise StepError(f"the {what} click is malformed: {key} must be an integer")
        theta = click.get("theta", 0.0)
        if not (_integer(theta) or isinstance(theta, float)) or abs(theta) > MAX_ANGLE:
            raise StepError(f"the {what} angle must be a number of radians within ±2π")


def make_handler(session: TeleopSession, policy: RequestPolicy, refused: Refused):
    page = resources.files("cliport_teleop").joinpath("static/index.html").read_bytes()
    actions = {"/api/accept": session.accept, "/api/discard": session.discard,
               "/api/end": session.end_episode}

    class Handler(BaseHTTPRequestHandler):
        server_version = "cliport-teleop/0.2"
        timeout = 10.0  # s a client may take to send its request

        def log_message(self, fmt, *args) -> None:  # quiet: refusals go to `refused`
            pass

        def _send(self, status: int, body: bytes, ctype: str, **extra: str) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": ctype, "Content-Length": str(len(body)),
                                **HEADERS, **extra}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data, **extra: str) -> None:
            self._send(status, json.dumps(data).encode(), "application/json", **extra)

        def _refuse(self, status: int, message: str, **extra: str) -> None:
            message = " ".join(str(message).split())[:MAX_MESSAGE]
            refused({"method": str(self.command), "path": self._path(), "status": int(status),
                     "message": message, "client": self.client_address[0]})
            self._json(status, {"ok": False, "message": message}, **extra)

        def send_error(self, code, message=None, explain=None) -> None:
            """http.server's own refusals (malformed request line, unknown method): JSON."""
            self.close_connection = True
            self._refuse(code, message or HTTPStatus(code).phrase)

        def _path(self) -> str:
            return urlsplit(getattr(self, "path", "") or "").path[:200]

        def _admit(self) -> bool:
            """The policy's checks; False once refused."""
            query = parse_qs(urlsplit(self.path).query).get(TOKEN_QUERY)
            try:
                for name in ("Host", "Origin", "Sec-Fetch-Site", TOKEN_HEADER):
                    if len(self.headers.get_all(name) or ()) > 1:
                        raise Refusal(HTTPStatus.BAD_REQUEST, f"more than one {name} header")
                policy.check(query[0] if query else None, self.headers.get,
                             self.client_address[0],
                             is_page=self.command in ("GET", "HEAD")
                             and self._path() in PAGE_PATHS)
            except Refusal as r:
                self._refuse(r.status, r.message)
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if not self._admit():
                return
            path = self._path()
            if path in PAGE_PATHS:
                return self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            if path == "/api/state":
                return self._json(HTTPStatus.OK, session.state())
            if path in ("/api/colormap.png", "/api/heightmap.png"):
                frame = session.frame
                if frame is None:
                    return self._refuse(HTTPStatus.NOT_FOUND, "no heightmap yet")
                image = (frame.colormap if path == "/api/colormap.png"
                         else heightmap_image(frame.heightmap))
                return self._send(HTTPStatus.OK, _png(np.ascontiguousarray(image)),
                                  "image/png")
            return self._refuse(HTTPStatus.NOT_FOUND, "not found")

        do_HEAD = do_GET

        def _other(self) -> None:
            if self._admit():
                self._refuse(HTTPStatus.METHOD_NOT_ALLOWED,
                             f"{self.command} is not served (GET and POST only)",
                             Allow="GET, HEAD, POST")

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding"):
                raise Refusal(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            raw = (self.headers.get("Content-Length") or "0").strip()
            if not re.fullmatch(r"[0-9]{1,12}", raw):
                raise Refusal(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
            length = int(raw)
            if length > MAX_BODY:
                raise Refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"request too large (at most {MAX_BODY} bytes)")
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise Refusal(HTTPStatus.BAD_REQUEST, "the body is shorter than its length")
            return body

        def do_POST(self) -> None:  # noqa: N802
            if not self._admit():
                return
            path = self._path()
            try:
                if path != "/api/step" and path not in actions:
                    raise Refusal(HTTPStatus.NOT_FOUND, "not found")
                check_json_content_type(self.headers.get("Content-Type"))
                data = parse_body(self._body())
                if path == "/api/step":
                    check_step_body(data)
                    message = session.request_step(data)
                else:
                    if data:
                        raise StepError(f"{path} takes no fields (send {{}} or nothing)")
                    message = actions[path]()
            except Refusal as r:
                self.close_connection = True
                return self._refuse(r.status, r.message)
            except StepError as exc:
                return self._refuse(HTTPStatus.BAD_REQUEST, str(exc))
            except OSError:  # the client went away mid-body
                self.close_connection = True
                return None
            except Exception as exc:  # noqa: BLE001 - the page shows it; the server goes on
                return self._refuse(HTTPStatus.INTERNAL_SERVER_ERROR,
                                    f"{type(exc).__name__}: {exc}")
            return self._json(HTTPStatus.OK, {"ok": True, "message": message})

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class WebServer:
    """The page's HTTP server on a daemon thread, on the session config's host and port (0
    picks a free port). ``page_url`` is the page with this run's token; the last refusals
    are in ``refusals``, and each one also goes to ``on_refusal``."""

    def __init__(self, session: TeleopSession,
                 on_refusal: Refused | None = None) -> None:
        cfg = session.cfg
        self.token = session_token(cfg.token)
        self.exposed = not is_loopback(cfg.host)
        self.refusals: deque[dict[str, Any]] = deque(maxlen=200)
        cls = _Server6 if ":" in cfg.host else _Server
        self.httpd = cls((cfg.host.strip("[]"), cfg.port), BaseHTTPRequestHandler)
        self.port = self.httpd.server_address[1]
        policy = RequestPolicy(accepted_hosts(cfg.host, self.port, cfg.allowed_hosts),
                               self.token, RateLimiter(cfg.rate_limit, cfg.rate_burst))
        self.allowed_hosts = policy.hosts

        def refused(record: dict[str, Any]) -> None:
            self.refusals.append(record)
            if on_refusal is not None:
                on_refusal(record)

        self.httpd.RequestHandlerClass = make_handler(session, policy, refused)
        shown = cfg.host if not is_wildcard(cfg.host) else (
            cfg.allowed_hosts[0] if cfg.allowed_hosts else "127.0.0.1")
        self.url = f"http://{url_host(shown)}:{self.port}/"
        self.page_url = f"{self.url}?{TOKEN_QUERY}={quote(self.token, safe='')}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        name="teleop-web", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
