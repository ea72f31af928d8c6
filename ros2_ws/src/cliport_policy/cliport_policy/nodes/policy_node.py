"""``policy_node``: the latest ``Heightmap`` + an instruction -> a pick-and-place decision.

A thin node over plain-Python cores: :mod:`cliport_policy.node_config` (config, refusal rules,
loading and deciding) and :mod:`cliport_policy.scheduler` (one job at a time on a worker
thread, the busy policy), plus :mod:`cliport_policy.ros.messages` and, in execute mode,
:mod:`cliport_policy.ros.pick_place_goals`.

* Only the newest heightmap is kept (best effort, depth 1), undecoded until a job needs it,
  so reception on the executor thread never waits for the policy.
* An instruction is cleaned, then refused unless a policy is loaded and the latest heightmap
  is in ``base_frame`` and fresh; a busy node queues the latest or refuses (``busy_policy``).
  Every refusal is logged and published on the status topic with its reason; the node keeps
  serving. One of no task the checkpoint was trained on is warned about once (``off_task``).
* The worker decides on the latest heightmap (checked again; poses outside its workspace are
  refused), sends the goal in execute mode, then publishes ``PickPlaceDecision``, heatmap
  overlays (rgb8), RViz markers and the ``decided`` status.
* A missing or unloadable checkpoint does not end the node: every instruction is refused with
  the reason (``load_failed``). A wrong parameter exits with code 2 and the message.

Status messages are single-line JSON objects (:func:`cliport_policy.node_config.status_text`),
reliable and transient-local (the last 50 reach a subscriber that joins late).
"""

from __future__ import annotations

import itertools
import sys
import threading
import time

from rclpy.exceptions import InvalidParameterTypeException, ParameterException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from cliport_common.config import ConfigError
from cliport_common.gc_pause import freeze_startup_objects
from cliport_common.ros.params import declare_config
from cliport_common.ros.qos import latched
from cliport_common.ros.spin import run_node
from cliport_msgs.msg import Heightmap, PickPlaceDecision
from cliport_policy.node_config import (
    OffTaskWarnings,
    PolicyNodeConfig,
    Refusal,
    check_latest_header,
    clean_instruction,
    decide,
    decode_heightmap,
    load_node_config,
    load_policy,
    status_text,
)
from cliport_policy.ros.messages import (
    decision_markers,
    decision_msg,
    heatmap_image,
    pick_place_goal,
)
from cliport_policy.ros.pick_place_goals import PickPlaceGoals
from cliport_policy.scheduler import Job, JobScheduler

# s a thread may hold the GIL while another waits (CPython: 5 ms): every job is handed to the
# worker, and the executor thread's work (heightmaps at 30 Hz, status, logs) must not hold it
GIL_SWITCH_INTERVAL = 0.0005
# Only the newest heightmap matters; best effort, so any publisher (reliable or not) connects.
HEIGHTMAP_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
STATUS_QOS = latched(50)  # for late subscribers (a UI started after a failed load)


class PolicyNode(Node):
    """Heightmaps and instructions in; decisions, status and (execute mode) goals out."""

    def __init__(self, *, context=None, parameter_overrides=None,
                 defaults: PolicyNodeConfig | None = None, agent=None,
                 freeze_gc: bool = False) -> None:
        """``agent``: use this agent instead of loading ``checkpoint`` (tests, embedding).
        ``freeze_gc``: once the model is loaded, freeze the process's objects out of the
        garbage collector (:mod:`cliport_common.gc_pause`; ``main()`` does)."""
        super().__init__("policy", context=context, parameter_overrides=parameter_overrides)
        self.config = cfg = declare_config(self, defaults or load_node_config())
        self._given_agent, self._freeze_gc = agent, freeze_gc
        self._agent = None
        self._off_task = OffTaskWarnings([])
        t = cfg.topics
        self._status_pub = self.create_publisher(String, t.status, STATUS_QOS)
        self._decision_pub = self.create_publisher(PickPlaceDecision, t.decision, 10)
        self._pick_pub = self._place_pub = self._marker_pub = None
        if cfg.publish_heatmaps:
            self._pick_pub = self.create_publisher(Image, t.pick_heatmap, 2)
            self._place_pub = self.create_publisher(Image, t.place_heatmap, 2)
        if cfg.publish_markers:
            self._marker_pub = self.create_publisher(MarkerArray, t.markers, 2)
        self._hm_lock = threading.Lock()
        self._latest: Heightmap | None = None
        self.heightmaps_received = 0
        self._ids = itertools.count(1)
        self.jobs = JobScheduler(self._load, self._decide, self._report, cfg.busy_policy)
        self._goals = (PickPlaceGoals(self, cfg, self.jobs, self._report)
                       if cfg.mode == "execute" else None)
        self.create_subscription(Heightmap, t.heightmap, self._on_heightmap, HEIGHTMAP_QOS)
        self.create_subscription(String, t.instruction, self._on_instruction, 10)
        self.jobs.start()
        self.get_logger().info(
            f"policy node up: mode={cfg.mode}, busy_policy={cfg.busy_policy}, "
            f"{t.heightmap} + {t.instruction} -> {t.decision}, status on {t.status}"
            + (f", goals to '{cfg.action_name}'" if cfg.mode == "execute" else ""))

    def _report(self, level: str, event: str, job: Job | int | None,
                instruction: str | None = None, **fields) -> None:
        """Publish one status event and log it at ``level`` (info, warning or error)."""
        if isinstance(job, Job):
            job, instruction = job.id, job.instruction if instruction is None else instruction
        text = status_text(event, job or 0, instruction, **fields)
        try:
            self._status_pub.publish(String(data=text))
        except Exception as exc:  # noqa: BLE001 - e.g. during shutdown; the log still has it
            self.get_logger().debug(f"status not published: {exc!r}")
        logger = self.get_logger()  # one severity per call site (rclpy refuses a change)
        if level == "error":
            logger.error(text)
        elif level == "warning":
            logger.warning(text)
        else:
            logger.info(text)

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _latest_heightmap(self) -> Heightmap | None:
        with self._hm_lock:
            return self._latest

    def _on_heightmap(self, msg: Heightmap) -> None:
        with self._hm_lock:
            self._latest = msg
            self.heightmaps_received += 1

    def _on_instruction(self, msg: String) -> None:
        ident = next(self._ids)
        try:
            text = clean_instruction(msg.data, self.config.max_instruction_length)
        except Refusal as exc:
            self._report("warning", "refused", ident, msg.data, reason=str(exc))
            return
        self.jobs.submit(Job(ident, text), check=lambda: check_latest_header(
            self._latest_heightmap(), self._now_ns(), self.config))

    # ------------------------------------------------------------------ worker thread
    def _load(self) -> dict:
        """The agent (given, or the checkpoint's); returns the ``ready`` status's fields."""
        cfg, started = self.config, time.monotonic()
        if self._given_agent is None:
            agent, train_tasks = load_policy(cfg)
        else:  # an agent handed in says itself what it was trained on
            agent = self._given_agent
            train_tasks = list(getattr(agent, "train_tasks", None) or [])
        self._agent, self._off_task = agent, OffTaskWarnings(train_tasks)
        if self._freeze_gc:  # torch + the model: ~400k objects, ~0.3 s per full collection
            freeze_startup_objects()
        return {"checkpoint": cfg.checkpoint if self._given_agent is None else "(agent given)",
                "agent": agent.config.agent, "device": cfg.device,
                "load_time": round(time.monotonic() - started, 3)}

    def _decide(self, job: Job) -> None:
        cfg, agent = self.config, self._agent
        warning = self._off_task.first_warning(job.instruction)
        if warning is not None:
            self._report("warning", "off_task", job, reason=warning)
        msg = self._latest_heightmap()  # the newest when deciding starts, not when queued
        frame = decode_heightmap(msg, self._now_ns(), cfg)
        d = decide(agent, frame, job.instruction)
        stamp = msg.header.stamp
        goal = None if self._goals is None else pick_place_goal(
            job.instruction, d.pick, d.place, cfg.base_frame, stamp, cfg.speed_scaling)
        out = decision_msg(d.output, d.pick, d.place, instruction=job.instruction,
                           policy=agent.config.agent, n_rotations=agent.config.place_rotations,
                           frame_id=cfg.base_frame, stamp=self.get_clock().now().to_msg(),
                           heightmap_stamp=stamp, inference_time=d.inference_time)
        sent = None
        if goal is not None and self._goals.server_is_ready():
            sent, goal = self._goals.send(job, goal), None  # the latency-critical output first
        try:
            self._announce(job, frame, d, out)
        except Exception as exc:  # noqa: BLE001 - the goal is out: report, do not refuse
            if sent is None:
                raise
            self._report("error", "announce_failed", job, reason=f"publishing the decision "
                         f"failed: {type(exc).__name__}: {exc}")
        if sent is not None:
            self._goals.follow(job, sent)
        elif goal is not None:
            self._goals.send_when_ready(job, goal)  # no server yet: wait for it

    def _announce(self, job: Job, frame, d, out: PickPlaceDecision) -> None:
        """Publish the decision, its heatmap overlays and markers, and the ``decided`` status."""
        self._decision_pub.publish(out)
        if self._pick_pub is not None:
            for pub, heat, cell in ((self._pick_pub, d.output.pick_heatmap, d.output.pick),
                                    (self._place_pub, d.output.place_heatmap, d.output.place)):
                pub.publish(heatmap_image(frame.colormap, heat, cell[:2], out.header))
        if self._marker_pub is not None:
            self._marker_pub.publish(decision_markers(d.pick, d.place, job.instruction,
                                                      out.header))
        self._report("info", "decided", job, pick=list(d.output.pick),
                     place=list(d.output.place), pick_xyz=[round(v, 4) for v in d.pick[0]],
                     place_xyz=[round(v, 4) for v in d.place[0]],
                     pick_score=round(d.output.pick_score, 6),
                     place_score=round(d.output.place_score, 6),
                     inference_time=round(d.inference_time, 3))

    def destroy_node(self) -> None:
        if self._goals is not None:
            self._goals.cancel()
        self.jobs.stop()
        if self._goals is not None:
            self._goals.destroy()
        super().destroy_node()


def main(args=None) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    return run_node(lambda: PolicyNode(freeze_gc=True), args,
                    errors=(ConfigError, InvalidParameterTypeException, ParameterException),
                    error_prefix="policy_node: invalid configuration")


if __name__ == "__main__":
    raise SystemExit(main())
