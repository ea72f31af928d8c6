"""An operator scripted from a simulator's oracle: it records episodes through the recorder's
real page (:class:`cliport_teleop.browser.TeleopPage`), clicking and dragging what the
oracle decided, as a person would.

It reads the sim node's topics (the UR5 sim node's and the twin's alike): ``sim/status``
(JSON: ``step``, ``done``, ``total_reward``, ``oracle_stamp_ns``), ``sim/oracle`` (the
decision for the scene, matched to the status by stamp) and the ``sim/reset`` service. Each
step: type the instruction, click the pick cell and drag along the oracle's pick yaw, click
the place cell and drag along its place yaw, Execute, then Accept on success (Discard
otherwise); when the episode is done and the map shows the scene after the last move, End
episode; then ``sim/reset`` for the next, whose first step waits for a map taken after it.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cliport_common.poses import yaw_of
from cliport_common.stamps import stamp_to_ns
from cliport_teleop.browser import TeleopPage

Wait = Callable[[Callable[[], object], float], bool]


def yaw_of_pose(pose_stamped) -> float:
    """Yaw about +z of a ``geometry_msgs/PoseStamped`` (a rotation about z only)."""
    q = pose_stamped.pose.orientation
    return yaw_of((q.x, q.y, q.z, q.w))


class SimWatcher:
    """``sim/status``, ``sim/oracle`` and ``sim/reset`` of a sim node (UR5 or twin)."""

    def __init__(self, node) -> None:
        from std_msgs.msg import String
        from std_srvs.srv import Trigger

        from cliport_common.ros.qos import latched
        from cliport_msgs.msg import PickPlaceDecision

        self.node = node
        self.status: list[dict] = []
        self.oracles: list = []
        node.create_subscription(String, "/sim/status",
                                 lambda m: self.status.append(json.loads(m.data)), latched(1))
        node.create_subscription(PickPlaceDecision, "/sim/oracle", self.oracles.append,
                                 latched(1))
        self._reset = node.create_client(Trigger, "/sim/reset")
        self._trigger = Trigger

    def current_oracle(self):
        """The decision the latest status names (matched by stamp), or None."""
        if not self.status or not self.oracles:
            return None
        want = self.status[-1].get("oracle_stamp_ns")
        for msg in reversed(self.oracles):
            if stamp_to_ns(msg.header.stamp) == want:
                return msg
        return None

    def reset(self, wait: Wait, timeout: float = 60.0) -> None:
        """A new episode: returns once its status has arrived."""
        if not wait(self._reset.service_is_ready, timeout):
            raise TimeoutError("no sim/reset service")
        n = len(self.status)
        future = self._reset.call_async(self._trigger.Request())
        if not wait(future.done, timeout) or not future.result().success:
            raise RuntimeError(f"sim/reset failed: {future.result()}")
        if not wait(lambda: len(self.status) > n and self.status[-1]["step"] == 0
                    and not self.status[-1]["done"], timeout):
            raise TimeoutError("no status of the new episode")


@dataclass
class StepRecord:
    instruction: str
    oracle: tuple[int, int, float, int, int, float]  # pick u, v, yaw, place u, v, yaw
    shown: tuple  # the page's (pick, place) labels as (u, v, yaw rad)
    success: bool
    status: str


@dataclass
class EpisodeRecord:
    steps: list[StepRecord] = field(default_factory=list)
    total_reward: float = 0.0
    saved: bool = False


def saved_count(page: TeleopPage) -> int:
    """The page's "episodes saved" count (those in the dataset directory)."""
    m = re.search(r"episodes saved: (\d+)", page.text("counts"))
    return int(m[1]) if m else -1


def _oracle_key(msg) -> int:
    return stamp_to_ns(msg.header.stamp)


def record_episodes(page: TeleopPage, sim: SimWatcher, n: int, wait: Wait,
                    log: Callable[[str], None] = print, step_timeout: float = 180.0
                    ) -> list[EpisodeRecord]:
    """Record ``n`` episodes through ``page``; the first on the sim's current scene."""
    records: list[EpisodeRecord] = []
    used: set[tuple[int, int]] = set()

    def until(predicate, timeout, what):
        page.until(predicate, timeout, what)

    def map_stamp() -> int:
        return int(page.driver.execute_script("return mapStamp") or 0)

    for i in range(n):
        after_ns = 0  # the map the steps are clicked on must show the scene after this
        if i:
            sim.reset(wait)
            after_ns = time.time_ns()
        rec = EpisodeRecord()
        records.append(rec)
        while True:
            until(lambda: sim.status and (o := sim.current_oracle()) is not None
                  and _oracle_key(o) not in used or (sim.status and sim.status[-1]["done"]),
                  60, "no new oracle decision")
            if sim.status[-1]["done"]:
                break
            o = sim.current_oracle()
            used.add(_oracle_key(o))
            until(lambda t=after_ns: page.status() == "ready" and map_stamp() > t, 60,
                  "the page is not ready with a fresh map")
            target = (o.pick_u, o.pick_v, yaw_of_pose(o.pick),
                      o.place_u, o.place_v, yaw_of_pose(o.place))
            page.type_instruction(o.instruction)
            page.click(o.pick_u, o.pick_v, target[2])
            page.click(o.place_u, o.place_v, target[5])
            shown = page.clicks()
            page.press("execute")
            until(lambda: page.status().startswith("result:"), step_timeout,
                  "no result from the executor")
            status = page.status()
            ok = status.startswith("result: success")
            after_ns = time.time_ns()
            rec.steps.append(StepRecord(o.instruction, target, shown, ok, status))
            log(f"episode {i + 1}/{n} step {len(rec.steps)}: {o.instruction!r} pick "
                f"({o.pick_u}, {o.pick_v}, {math.degrees(target[2]):.0f} deg) -> place "
                f"({o.place_u}, {o.place_v}, {math.degrees(target[5]):.0f} deg): {status}")
            n_accepted = sum(s.success for s in rec.steps)
            if ok:
                page.press("accept")
                until(lambda k=n_accepted: f"episode steps: {k}," in page.text("counts"), 20,
                      "the step was not accepted")
            else:
                page.press("discard")
                until(lambda: page.status() == "ready", 20, "the step was not discarded")
        rec.total_reward = float(sim.status[-1].get("total_reward", 0.0))
        if any(s.success for s in rec.steps):
            until(lambda t=after_ns: map_stamp() > t, 60, "no map after the last move")
            before = saved_count(page)
            page.press("end")
            until(lambda k=before + 1: saved_count(page) == k, 30, "the episode was not saved")
            rec.saved = True
        log(f"episode {i + 1}/{n}: total reward {rec.total_reward:.2f}, "
            f"{'saved' if rec.saved else 'nothing to save'}")
    return records


def graph_with(graph, overrides: dict[str, dict]):
    """``graph`` (a ``cliport_bringup.graph.GraphSpec``) with parameters appended per node
    name (later parameters win)."""
    import dataclasses

    unknown = set(overrides) - {n.name for n in graph.nodes}
    if unknown:
        raise KeyError(f"graph {graph.name!r} has no nodes {sorted(unknown)}")
    return dataclasses.replace(graph, nodes=[
        dataclasses.replace(n, parameters=[*n.parameters, overrides[n.name]])
        if n.name in overrides else n for n in graph.nodes])
