"""Helpers for tests that drive the recorder as a real process over its HTTP API."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import urllib.error
import urllib.request
from urllib.parse import quote

from cliport_bringup.graph import NodeSpec
from cliport_teleop.security import TOKEN_HEADER

TEST_TOKEN = f"test-{secrets.token_urlsafe(24)}"  # the recorders these helpers start use it


def http_call(port: int, method: str, path: str, body: bytes = b"",
              headers: dict[str, str | bytes | None] | None = None
              ) -> tuple[int, dict[str, str], bytes]:
    """One request to 127.0.0.1:``port`` with exactly ``headers`` (``Host`` included; a None
    value leaves the header out): status, response headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            if value is not None:
                conn.putheader(name, value)
        if body or method == "POST":
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recorder_spec(tmp_path, port: int, **params) -> NodeSpec:
    return NodeSpec(name="teleop_recorder", package="cliport_teleop",
                    executable="teleop_recorder",
                    parameters=[{"dataset_dir": str(tmp_path / "data"), "port": port,
                                 "calibration_id": "sim_reference", "token": TEST_TOKEN,
                                 **params}])


class Page:
    """The page's HTTP calls, with the token the page would send; ``page_url`` is the URL
    the recorder logs (a browser opens that)."""

    def __init__(self, port: int, token: str = TEST_TOKEN) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.token = token
        self.page_url = f"{self.url}?token={quote(token, safe='')}"

    def state(self) -> dict | None:
        req = urllib.request.Request(self.url + "api/state", headers={TOKEN_HEADER: self.token})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, ConnectionError, OSError):
            return None

    def post(self, path: str, body=None) -> dict:
        req = urllib.request.Request(self.url + path, method="POST",
                                     data=json.dumps(body).encode() if body else b"",
                                     headers={"Content-Type": "application/json",
                                              TOKEN_HEADER: self.token})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())
