"""Blocking action and service calls from a goal's execute thread, with timeouts and cancel.

The server's node is spun by its thread-pool executor, so a backend running on the
execute thread must not spin; it waits on the futures instead (``threading.Event``), which
the executor's spin thread completes. Every wait has a timeout; :meth:`ActionCall.cancel`
(from any thread) cancels the goal in flight and wakes the waiter. Failures raise
:class:`~cliport_executor.arm_interface.MotionError` with ``ERROR_HARDWARE`` (no server,
goal rejected) or ``ERROR_TIMEOUT``.
"""

from __future__ import annotations

import importlib
import threading
import time
import types

from cliport_common.ros.action_client import ThreadSafeActionClient
from cliport_executor.arm_interface import MotionError
from cliport_executor.backend import BackendUnavailable
from cliport_executor.request import ErrorCode

SERVER_WAIT = 2.0  # s to wait for an action server / service to appear before giving up
INTERRUPT_POLL = 0.05  # s between checks of the cancel flag while waiting


def interface_module(name: str, hint: str) -> types.ModuleType:
    """The ROS interface module ``name`` (``franka_msgs.action``), or BackendUnavailable naming
    it and what provides it: a backend whose driver interfaces are missing cannot connect."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BackendUnavailable(f"{name} is not installed ({hint}): {exc}") from exc


def wait_future(future, timeout: float, interrupt: threading.Event | None = None) -> bool:
    """Block until ``future`` is done, ``timeout`` s pass or ``interrupt`` is set."""
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    end = time.monotonic() + timeout
    while not future.done():
        remaining = end - time.monotonic()
        if remaining <= 0 or (interrupt is not None and interrupt.is_set()):
            break
        done.wait(min(remaining, INTERRUPT_POLL))
    return future.done()


class ActionCall:
    """One action client used for blocking calls, one goal at a time."""

    def __init__(self, node, action_type, name: str, callback_group=None) -> None:
        self.name = name
        # sent from the execute thread while the spin thread matches the answers: the plain
        # ActionClient could drop an answer that came before it recorded the request
        self._client = ThreadSafeActionClient(node, action_type, name,
                                              callback_group=callback_group)
        self._lock = threading.Lock()
        self._handle = None
        self._interrupt = threading.Event()
        self._canceled = False

    def __call__(self, goal, timeout: float):
        """Send ``goal`` and return its result message (the wrapped ``result``)."""
        if not self._client.wait_for_server(timeout_sec=min(timeout, SERVER_WAIT)):
            raise MotionError(ErrorCode.HARDWARE, f"no action server {self.name!r}")
        with self._lock:
            self._canceled = False
            self._interrupt = threading.Event()
            interrupt = self._interrupt
        sent = self._client.send_goal_async(goal)
        if not wait_future(sent, timeout, interrupt) or self._canceled:
            self._cancel_future(sent)
            raise self._failure(timeout, "accept the goal")
        handle = sent.result()
        if not handle.accepted:
            raise MotionError(ErrorCode.HARDWARE, f"{self.name} rejected the goal")
        with self._lock:
            self._handle = handle
        try:
            result = handle.get_result_async()
            if not wait_future(result, timeout, interrupt) or self._canceled:
                handle.cancel_goal_async()
                raise self._failure(timeout, "finish")
            return result.result().result
        finally:
            with self._lock:
                self._handle = None

    def cancel(self) -> None:
        """Cancel the goal in flight (if any) and wake the caller."""
        with self._lock:
            self._canceled = True
            handle = self._handle
            self._interrupt.set()
        if handle is not None:
            handle.cancel_goal_async()

    def _failure(self, timeout: float, what: str) -> MotionError:
        if self._canceled:
            return MotionError(ErrorCode.CANCELED, f"{self.name}: canceled")
        return MotionError(ErrorCode.TIMEOUT, f"{self.name} did not {what} within {timeout:g} s")

    @staticmethod
    def _cancel_future(sent) -> None:
        """A goal accepted after we gave up is canceled as soon as the answer arrives."""
        def cancel_late(f) -> None:
            handle = f.result()
            if handle is not None and handle.accepted:
                handle.cancel_goal_async()
        sent.add_done_callback(cancel_late)

    def destroy(self) -> None:
        self._client.destroy()


def call_service(client, request, timeout: float, name: str):
    """Call a service and wait for the response (raises MotionError on failure)."""
    if not client.wait_for_service(timeout_sec=min(timeout, SERVER_WAIT)):
        raise MotionError(ErrorCode.HARDWARE, f"no service {name!r}")
    future = client.call_async(request)
    if not wait_future(future, timeout):
        raise MotionError(ErrorCode.TIMEOUT, f"{name} did not answer within {timeout:g} s")
    return future.result()
