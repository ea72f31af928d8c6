"""Hypothesis fuzz of the page's API bodies over real HTTP to an in-process server (the
operator's headers, a valid token, the rate limit off): junk bytes, junk JSON, nested
garbage, and step requests broken one field at a time (missing fields, wrong types, huge
numbers, NaN / Infinity, non-printable or overlong unicode, unknown fields). Every bad body
gets a 4xx and one line of JSON, the session is unchanged and nothing goes to the arm, and
the next valid step (with a random printable unicode instruction) is executed."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliport_perception.heightmap_msg import HeightmapFrame
from cliport_perception.workspace import Workspace
from cliport_teleop.config import RecorderConfig
from cliport_teleop.security import TOKEN_HEADER
from cliport_teleop.session import TeleopSession
from cliport_teleop.testing import http_call
from cliport_teleop.web import WebServer

WS = Workspace()
STEP = {"instruction": "put the red block in the blue bowl",
        "pick": {"u": 100, "v": 50, "theta": 0.3}, "place": {"u": 200, "v": 120, "theta": -1.0}}
PATHS = ("/api/step", "/api/accept", "/api/discard", "/api/end")
RAW = "@@RAW@@"  # stands for a raw JSON token json.dumps cannot write (NaN, 1e999, ...)
CASES: Counter = Counter()  # examples per kind, printed by the last test

FUZZ = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cfg = RecorderConfig(dataset_dir=str(tmp_path_factory.mktemp("fuzz")), port=0,
                         rate_limit=0.0)
    session = TeleopSession(cfg)
    session.on_heightmap(HeightmapFrame(np.zeros((*WS.shape, 3), np.uint8),
                                        np.zeros(WS.shape, np.float32), WS), 1)
    web = WebServer(session)
    yield session, web
    web.close()
    session.close()


def post(web, path: str, body: bytes) -> tuple[int, bytes]:
    status, _, data = http_call(web.port, "POST", path, body, {
        "Host": f"127.0.0.1:{web.port}", "Content-Type": "application/json",
        TOKEN_HEADER: web.token, "Origin": f"http://127.0.0.1:{web.port}"})
    return status, data


def refused_then_served(served, path: str, body: bytes, instruction: str) -> None:
    session, web = served
    before = session.state()
    status, data = post(web, path, body)
    assert 400 <= status < 500, (status, data, body[:200])
    assert b"\n" not in data
    reply = json.loads(data)
    assert reply["ok"] is False and isinstance(reply["message"], str) and reply["message"]
    assert "\n" not in reply["message"]
    assert session.state() == before and session.take_goal() is None
    # the server goes on: the operator's next step is executed
    status, data = post(web, "/api/step", json.dumps({**STEP, "instruction": instruction})
                        .encode())
    assert status == 200 and json.loads(data)["message"].startswith("executing"), data
    assert session.take_goal() is not None
    session.on_goal_failed("fuzz: reset")


json_leaf = (st.none() | st.booleans() | st.integers() | st.text(max_size=20)
             | st.floats(allow_nan=False, allow_infinity=False))
junk_json = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                         max_leaves=25)
instructions = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]),
                       min_size=1, max_size=60).filter(
    lambda t: t.strip() and " ".join(t.split()).isprintable())
raw_numbers = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999",
                               "1" * 5000, "1e308", "-0.0e-400", "123456789012345678901234567890"])
# non-printable characters that whitespace collapsing does not remove (a lone surrogate
# alone: two could pair into a printable character)
unprintable = (st.text(st.characters(categories=["Cc", "Cf", "Co"]), min_size=1, max_size=5)
               .filter(lambda t: not t.isspace()) | st.sampled_from(["\ud800", "\udfff"]))
bad_text = st.one_of(
    unprintable.flatmap(lambda bad: st.text(max_size=20).map(lambda t: t + bad + t)),
    st.text(st.characters(categories=["Zs"]), max_size=10).map(lambda t: t + " \t\n"),
    st.integers(513, 2000).map(lambda n: "x" * n))
deep = st.integers(1, 30000).flatmap(lambda n: st.sampled_from(["[" * n + "]" * n,
                                                                '{"a":' * n + "1" + "}" * n]))


def is_wrong(key: str, x) -> bool:
    """Whether ``x`` in field ``key`` makes a step request bad (conservatively)."""
    if key == "instruction":
        return not isinstance(x, str)
    if key in ("pick", "place"):
        return not isinstance(x, dict)
    if key == "theta":
        return isinstance(x, bool) or not isinstance(x, (int, float)) or abs(x) > 6.3
    return isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < min(WS.shape)


@st.composite
def broken_steps(draw) -> tuple[str, bytes]:
    """A valid step with one thing broken, and what was broken."""
    step = json.loads(json.dumps(STEP))
    raw = None
    kind = draw(st.sampled_from(["missing", "wrong type", "raw number", "huge", "bad text",
                                 "unknown field", "deep"]))
    where = draw(st.sampled_from(["instruction", "pick", "place", "pick.u", "pick.v",
                                  "pick.theta", "place.u", "place.v", "place.theta"]))
    parent, _, key = where.rpartition(".")
    holder = step[parent] if parent else step
    if kind == "missing":
        key = "u" if key == "theta" else key  # theta may go: it defaults to 0
        del holder[key]
    elif kind == "wrong type":
        holder[key] = draw(junk_json.filter(lambda x: is_wrong(key, x)))
    elif kind == "raw number":  # each one is refused wherever it goes, except -0.0 as theta
        holder[key] = RAW
        raw = draw(raw_numbers.filter(lambda r: key != "theta" or r != "-0.0e-400"))
    elif kind == "huge":
        if key in ("u", "v"):
            holder[key] = draw(st.integers(min_value=10 ** 3) | st.integers(max_value=-1))
        else:
            step[draw(st.sampled_from(["pick", "place"]))]["theta"] = draw(
                st.floats(min_value=6.3, max_value=1e308) | st.floats(max_value=-6.3,
                                                                     min_value=-1e308))
    elif kind == "bad text":
        step["instruction"] = draw(bad_text)
    elif kind == "unknown field":
        target = step if key == "instruction" else step[parent or key]
        target[draw(st.text(max_size=10).filter(
            lambda k: k not in ("instruction", "pick", "place", "u", "v", "theta")))] = draw(
            junk_json)
    else:
        return kind, draw(deep).encode()
    text = json.dumps(step)
    return kind, (text.replace(f'"{RAW}"', raw) if raw else text).encode()


@FUZZ
@given(path=st.sampled_from(PATHS),
       body=st.binary(max_size=300) | junk_json.map(lambda j: json.dumps(j).encode())
       | deep.map(str.encode),
       instruction=instructions)
def test_junk_bodies_on_every_endpoint(served, path, body, instruction):
    CASES[f"junk {path}"] += 1
    refused_then_served(served, path, body, instruction)


@settings(FUZZ, max_examples=300)
@given(case=broken_steps(), instruction=instructions)
def test_broken_step_requests(served, case, instruction):
    kind, body = case
    CASES[f"step: {kind}"] += 1
    refused_then_served(served, "/api/step", body, instruction)


def test_report_the_cases():
    print("\nteleop API fuzz cases:", dict(sorted(CASES.items())), "total", sum(CASES.values()))
