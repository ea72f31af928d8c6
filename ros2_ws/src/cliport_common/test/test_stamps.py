"""Stamp <-> nanoseconds: exact round trips, including the edges of a second."""

from __future__ import annotations

from builtin_interfaces.msg import Time

from cliport_common.stamps import ns_to_stamp, stamp_to_ns


def test_round_trip_is_exact():
    for ns in (0, 1, 999_999_999, 1_000_000_000, 1_712_345_678_901_234_567 // 1000):
        stamp = ns_to_stamp(ns)
        assert isinstance(stamp, Time)
        assert 0 <= stamp.nanosec < 1_000_000_000
        assert stamp_to_ns(stamp) == ns


def test_reads_a_message_stamp():
    assert stamp_to_ns(Time(sec=3, nanosec=250)) == 3_000_000_250
