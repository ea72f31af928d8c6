"""Helpers for tests that drive the recorder as a real process over its HTTP API."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

from cliport_bringup.graph import NodeSpec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recorder_spec(tmp_path, port: int, **params) -> NodeSpec:
    return NodeSpec(name="teleop_recorder", package="cliport_teleop",
                    executable="teleop_recorder",
                    parameters=[{"dataset_dir": str(tmp_path / "data"), "port": port,
                                 "calibration_id": "sim_reference", **params}])


class Page:
    """The page's HTTP calls."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/"

    def state(self) -> dict | None:
        try:
            with urllib.request.urlopen(self.url + "api/state", timeout=5) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, ConnectionError, OSError):
            return None

    def post(self, path: str, body=None) -> dict:
        req = urllib.request.Request(self.url + path, method="POST",
                                     data=json.dumps(body).encode() if body else b"")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())
