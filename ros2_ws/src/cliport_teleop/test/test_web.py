"""The page's HTTP server against attacks, over real HTTP on an ephemeral port: each rule
(Host, cross-site headers, JSON only, the token, the rate limit, methods and bodies) refuses
with one line of JSON and a 4xx, the session does not change and nothing is sent to the arm,
and the operator's next request still works."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from cliport_perception.heightmap_msg import HeightmapFrame
from cliport_perception.workspace import Workspace
from cliport_teleop.config import RecorderConfig
from cliport_teleop.security import TOKEN_HEADER
from cliport_teleop.session import TeleopSession
from cliport_teleop.testing import http_call
from cliport_teleop.web import WebServer

WS = Workspace()
STEP = {"instruction": "put the red block in the blue bowl",
        "pick": {"u": 100, "v": 50, "theta": 0.3}, "place": {"u": 200, "v": 120}}
EVIL = "http://evil.example"


class Served:
    """A session with a map behind a real server, and the operator's own requests."""

    def __init__(self, tmp_path, **cfg) -> None:
        self.session = TeleopSession(RecorderConfig(dataset_dir=str(tmp_path), port=0, **cfg))
        h = np.zeros(WS.shape, np.float32)
        self.session.on_heightmap(HeightmapFrame(np.zeros((*WS.shape, 3), np.uint8), h, WS), 1)
        self.web = WebServer(self.session)
        self.port = self.web.port

    def headers(self, **over) -> dict:
        base = {"Host": f"127.0.0.1:{self.port}", TOKEN_HEADER: self.web.token,
                "Content-Type": "application/json"}
        return {**base, **{k.replace("_", "-"): v for k, v in over.items()}}

    def call(self, method: str, path: str, body=None, headers=None):
        raw = body if isinstance(body, bytes) else (b"" if body is None else
                                                    json.dumps(body).encode())
        status, head, data = http_call(self.port, method, path, raw,
                                       self.headers() if headers is None else headers)
        return status, head, data

    def refused(self, status: int, match: str, method: str, path: str, body=None,
                headers=None) -> dict:
        """The request is refused with ``status`` and one JSON line; nothing changed."""
        before = self.session.state()
        code, head, data = self.call(method, path, body, headers)
        assert code == status, (code, data)
        assert b"\n" not in data and head["Content-Type"] == "application/json"
        reply = json.loads(data)
        assert reply["ok"] is False and match in reply["message"], reply
        assert self.session.state() == before and self.session.take_goal() is None
        assert self.web.refusals[-1]["status"] == status
        return reply

    def step_works(self) -> None:
        code, _, data = self.call("POST", "/api/step", STEP)
        assert code == 200 and json.loads(data)["message"].startswith("executing"), data
        self.session.take_goal()
        self.session.on_goal_failed("test")  # back to ready

    def close(self) -> None:
        self.web.close()
        self.session.close()


def raw_exchange(port: int, request: bytes) -> bytes:
    """Bytes in, everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path)
    yield s
    s.close()


def test_the_issues_cross_origin_text_plain_post_is_refused(served):
    """A browser sends this from any page without asking (no preflight)."""
    for token in (None, served.web.token):  # the Origin alone refuses it
        served.refused(403, "cross-site request from 'http://evil.example'", "POST",
                       "/api/step", STEP, served.headers(Content_Type="text/plain",
                                                         Origin=EVIL, X_Cliport_Token=token))
    served.step_works()


@pytest.mark.parametrize("host", ["attacker.example:{port}", "attacker.example",
                                  "127.0.0.1:{other}", "127.0.0.1", "0.0.0.0:{port}", None])
def test_a_rebinding_host_is_refused(served, host):
    host = host and host.format(port=served.port, other=served.port + 1)
    for method, path, body in (("GET", "/api/state", None), ("POST", "/api/step", STEP),
                               ("GET", f"/?token={served.web.token}", None)):
        served.refused(403, "Host" if host else "no Host header", method, path, body,
                       served.headers(Host=host))
    served.step_works()


@pytest.mark.parametrize("host", ["localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_names_are_served(served, host):
    headers = served.headers(Host=host.format(port=served.port))
    assert served.call("GET", "/api/state", headers=headers)[0] == 200


@pytest.mark.parametrize("origin, site", [(EVIL, None), ("null", None),
                                          ("http://127.0.0.1:{other}", None),
                                          ("https://127.0.0.1:{port}", None),
                                          (None, "cross-site"), (None, "same-site"),
                                          ("http://127.0.0.1:{port}", "cross-site")])
def test_cross_site_requests_are_refused(served, origin, site):
    origin = origin and origin.format(port=served.port, other=served.port + 1)
    headers = served.headers(Origin=origin, Sec_Fetch_Site=site)
    served.refused(403, "cross-site", "POST", "/api/step", STEP, headers)
    served.refused(403, "cross-site", "GET", "/api/state", None, headers)
    served.refused(403, "cross-site", "POST", "/api/accept", {}, headers)


def test_the_pages_own_requests_pass(served):
    own = served.headers(Origin=f"http://127.0.0.1:{served.port}", Sec_Fetch_Site="same-origin")
    assert served.call("GET", "/api/state", headers=own)[0] == 200
    code, _, data = served.call("POST", "/api/step", STEP, own)
    assert code == 200 and json.loads(data)["ok"]


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", None])
def test_only_json_posts_are_read(served, ctype):
    served.refused(415, "application/json", "POST", "/api/step", STEP,
                   served.headers(Content_Type=ctype))
    code, _, _ = served.call("POST", "/api/step", STEP,
                             served.headers(Content_Type="application/json; charset=utf-8"))
    assert code == 200


def test_no_or_a_wrong_token_is_refused(served):
    token = served.web.token
    for given, match in ((None, "no token"), ("", "no token"), ("wrong", "wrong token"),
                         (token[:-1], "wrong token"), (token + "x", "wrong token"),
                         ("ünïcode".encode("latin-1"), "wrong token")):
        headers = served.headers(X_Cliport_Token=given)
        served.refused(403, match, "POST", "/api/step", STEP, headers)
        served.refused(403, match, "GET", "/api/state", None, headers)
        served.refused(403, match, "GET", "/api/colormap.png", None, headers)
    # the API reads the header only; the page only ?token=
    served.refused(403, "no token", "GET", f"/api/state?token={token}", None,
                   served.headers(X_Cliport_Token=None))
    served.refused(403, "no token", "GET", "/", None)
    served.refused(403, "wrong token", "GET", "/?token=guess", None)
    code, head, page = served.call("GET", f"/?token={token}",
                                   headers=served.headers(X_Cliport_Token=None))
    assert code == 200 and b"<canvas" in page
    assert "frame-ancestors 'none'" in head["Content-Security-Policy"]
    assert head["Referrer-Policy"] == "no-referrer"
    served.step_works()


def test_the_rate_limit_answers_429(tmp_path):
    s = Served(tmp_path, rate_limit=0.001, rate_burst=3)
    try:
        assert [s.call("GET", "/api/state")[0] for _ in range(3)] == [200] * 3
        s.refused(429, "too many requests", "POST", "/api/step", STEP)
        s.refused(429, "too many requests", "GET", "/api/state")
    finally:
        s.close()


def test_other_methods_and_malformed_requests(served):
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        served.refused(405, "GET and POST only", method, "/api/step", STEP)
    # a CORS preflight from another site: refused, and no Access-Control-Allow-* granted
    code, head, _ = served.call("OPTIONS", "/api/step", headers=served.headers(
        Origin=EVIL, Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="content-type,x-cliport-token"))
    assert code == 403 and not any(h.lower().startswith("access-control") for h in head)
    served.refused(404, "not found", "POST", "/api/nothing", {})
    served.refused(404, "not found", "GET", "/api/nothing")
    served.refused(400, "Content-Length", "POST", "/api/step", STEP,
                   {**served.headers(), "Content-Length": "1_0"})
    served.refused(413, "too large", "POST", "/api/step", b" " * (64 * 1024 + 1))
    served.refused(411, "Content-Length", "POST", "/api/step", STEP,
                   served.headers(Transfer_Encoding="chunked"))
    served.refused(400, "takes no fields", "POST", "/api/end", {"force": True})
    served.refused(400, "malformed: u must be an integer", "POST", "/api/step",
                   {**STEP, "pick": {"u": True, "v": 50}})
    reply = raw_exchange(served.port, b"GARBAGE\r\n\r\n")
    assert b'{"ok": false, "message": "Bad request' in reply
    served.step_works()


def test_duplicate_headers_are_refused(served):
    for name in ("Host", "X-Cliport-Token", "Origin"):
        head = served.headers(Origin=f"http://127.0.0.1:{served.port}")
        lines = [f"{k}: {v}" for k, v in head.items()] + [f"{name}: {head[name]}"]
        reply = raw_exchange(served.port, ("GET /api/state HTTP/1.1\r\n" + "\r\n".join(lines)
                                           + "\r\n\r\n").encode())
        assert reply.startswith(b"HTTP/1.0 400") and f"more than one {name}".encode() in reply


def test_bound_to_every_address_it_answers_the_allowed_names(tmp_path):
    s = Served(tmp_path, host="0.0.0.0", token="a-configured-token-0123456789",
               allowed_hosts=("rig-pc.example",))
    try:
        assert s.web.exposed and s.web.url == f"http://rig-pc.example:{s.port}/"
        for host in (f"rig-pc.example:{s.port}", f"localhost:{s.port}"):
            assert s.call("GET", "/api/state", headers=s.headers(Host=host))[0] == 200
        for host in (f"0.0.0.0:{s.port}", f"attacker.example:{s.port}"):
            s.refused(403, "Host", "GET", "/api/state", None, s.headers(Host=host))
        s.refused(403, "wrong token", "GET", "/api/state", None,
                  s.headers(X_Cliport_Token="a-configured-token-0123456788"))
    finally:
        s.close()
