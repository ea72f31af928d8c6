"""The recorder's web page and JSON API (stdlib ``http.server``, one thread per request).

    GET  /                 the page (static/index.html)
    GET  /api/state        session state (map stamp, running step, result, messages)
    GET  /api/colormap.png the newest colormap, grid orientation (row u, column v)
    GET  /api/heightmap.png the newest heightmap, grey, 0 .. its maximum
    POST /api/step         {"instruction", "pick": {"u", "v", "theta"}, "place": {...}}
    POST /api/accept | /api/discard | /api/end
Every POST answers ``{"ok": bool, "message": str}``; refusals are 400 with the reason.
"""

from __future__ import annotations

import io
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import numpy as np

from cliport_teleop.session import StepError, TeleopSession

MAX_BODY = 64 * 1024


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


def make_handler(session: TeleopSession):
    page = resources.files("cliport_teleop").joinpath("static/index.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        server_version = "cliport-teleop/0.1"

        def log_message(self, fmt, *args) -> None:  # quiet: the node logs what matters
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                return self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            if path == "/api/state":
                return self._json(HTTPStatus.OK, session.state())
            if path in ("/api/colormap.png", "/api/heightmap.png"):
                frame = session.frame
                if frame is None:
                    return self._json(HTTPStatus.NOT_FOUND, {"ok": False,
                                                             "message": "no heightmap yet"})
                image = (frame.colormap if path == "/api/colormap.png"
                         else heightmap_image(frame.heightmap))
                return self._send(HTTPStatus.OK, _png(np.ascontiguousarray(image)),
                                  "image/png")
            return self._json(HTTPStatus.NOT_FOUND, {"ok": False, "message": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            actions = {"/api/accept": session.accept, "/api/discard": session.discard,
                       "/api/end": session.end_episode}
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    raise StepError("request too large")
                body = self.rfile.read(length) if length else b""
                if path == "/api/step":
                    try:
                        data = json.loads(body or b"{}")
                    except (ValueError, UnicodeDecodeError):
                        raise StepError("the request is not JSON") from None
                    if not isinstance(data, dict):
                        raise StepError("the request must be a JSON object")
                    message = session.request_step(data)
                elif path in actions:
                    message = actions[path]()
                else:
                    return self._json(HTTPStatus.NOT_FOUND, {"ok": False,
                                                             "message": "not found"})
            except StepError as exc:
                return self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "message": str(exc)})
            except Exception as exc:  # noqa: BLE001 - the page shows it; the server goes on
                return self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                                  {"ok": False, "message": f"{type(exc).__name__}: {exc}"})
            return self._json(HTTPStatus.OK, {"ok": True, "message": message})

    return Handler


class WebServer:
    """The page's HTTP server on a daemon thread; ``port`` 0 picks a free port."""

    def __init__(self, session: TeleopSession, host: str, port: int) -> None:
        self.httpd = ThreadingHTTPServer((host, port), make_handler(session))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="teleop-web",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
