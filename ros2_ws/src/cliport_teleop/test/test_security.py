"""The page's request checks without a server: which hosts, origins, tokens and content
types pass, when binding needs a token, and the per-client rate limit."""

from __future__ import annotations

import pytest

from cliport_common.config import ConfigError
from cliport_teleop.config import RecorderConfig
from cliport_teleop.security import (
    RateLimiter,
    Refusal,
    accepted_hosts,
    bind_problem,
    check_host,
    check_json_content_type,
    check_origin,
    check_token,
    is_loopback,
    session_token,
)

GOOD_TOKEN = "a-configured-token-0123456789"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.9", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host) and bind_problem(host, "") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "rig-pc.local"])
def test_binding_beyond_loopback_needs_a_token(host):
    assert "needs a token" in bind_problem(host, "")
    assert bind_problem(host, GOOD_TOKEN) is None
    with pytest.raises(ConfigError, match="needs a token"):
        RecorderConfig(host=host)
    assert RecorderConfig(host=host, token=GOOD_TOKEN).token == GOOD_TOKEN


@pytest.mark.parametrize("token, match", [("short", "at least 16"),
                                          ("sixteen chars but spaces", "without spaces"),
                                          ("ünicode-token-0123456789", "ASCII")])
def test_a_configured_token_must_be_long_and_plain(token, match):
    with pytest.raises(ConfigError, match=match):
        RecorderConfig(token=token)


def test_config_refuses_a_bad_rate_limit():
    with pytest.raises(ConfigError, match="rate_limit"):
        RecorderConfig(rate_limit=-1.0)
    with pytest.raises(ConfigError, match="rate_burst"):
        RecorderConfig(rate_burst=0)


def test_a_run_token_is_fresh_unless_configured():
    a, b = session_token(""), session_token("")
    assert a != b and len(a) >= 40
    assert session_token(GOOD_TOKEN) == GOOD_TOKEN


def test_hosts_served_when_bound_to_one_address():
    hosts = accepted_hosts("127.0.0.1", 8765)
    for ok in ("127.0.0.1:8765", "localhost:8765", "LocalHost:8765", "[::1]:8765"):
        check_host(ok, hosts)
    for bad in ("attacker.example:8765", "127.0.0.1:8766", "127.0.0.1", "127.0.0.1.nip.io:8765",
                "", None):
        with pytest.raises(Refusal) as r:
            check_host(bad, hosts)
        assert r.value.status == 403
    assert "192.168.1.20:80" in accepted_hosts("192.168.1.20", 80)
    assert "192.168.1.20" in accepted_hosts("192.168.1.20", 80)  # the default port may go
    assert "[fe80::1]:8765" in accepted_hosts("fe80::1", 8765)


def test_hosts_served_when_bound_to_every_address():
    hosts = accepted_hosts("0.0.0.0", 8765, ["Rig-PC.local", "10.0.0.5", " "])
    assert hosts == {"localhost:8765", "127.0.0.1:8765", "[::1]:8765", "rig-pc.local:8765",
                     "10.0.0.5:8765"}


def test_cross_site_headers():
    origins = frozenset({"http://127.0.0.1:8765", "http://localhost:8765"})
    for origin, site in ((None, None), ("http://127.0.0.1:8765", "same-origin"),
                         ("http://LOCALHOST:8765", None), (None, "none")):
        check_origin(origin, site, origins)
    for origin, site in (("http://evil.example", None), ("null", None),
                         ("http://127.0.0.1:8766", None), ("https://127.0.0.1:8765", None),
                         (None, "cross-site"), (None, "same-site"),
                         ("http://127.0.0.1:8765", "cross-site")):
        with pytest.raises(Refusal, match="cross-site") as r:
            check_origin(origin, site, origins)
        assert r.value.status == 403


def test_tokens():
    check_token(GOOD_TOKEN, GOOD_TOKEN, "header")
    for given, match in ((None, "no token"), ("", "no token"), ("x", "wrong token"),
                         (GOOD_TOKEN[:-1], "wrong token"), (GOOD_TOKEN + "x", "wrong token"),
                         ("ünïcode", "wrong token")):
        with pytest.raises(Refusal, match=match) as r:
            check_token(given, GOOD_TOKEN, "header")
        assert r.value.status == 403


def test_only_json_content():
    for ok in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
        check_json_content_type(ok)
    for bad in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x",
                "application/json-seq", "", None):
        with pytest.raises(Refusal) as r:
            check_json_content_type(bad)
        assert r.value.status == 415


def test_rate_limiter_is_a_token_bucket_per_client():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0], max_clients=2)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # another client has its own bucket
    now[0] += 0.5  # one request's worth refills
    assert limiter.allow("a") and not limiter.allow("a")
    now[0] += 100.0  # refills up to the burst, no further
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert [limiter.allow("b") for _ in range(4)] == [True, True, True, False]
    limiter.allow("a"), limiter.allow("c")  # a third client: b, the oldest, is forgotten
    assert [limiter.allow("b") for _ in range(4)] == [True, True, True, False]
    assert all(RateLimiter(rate=0.0, burst=1).allow("a") for _ in range(100))
