"""``policy_node``: latest ``Heightmap`` + an instruction -> a pick-and-place decision.

Thin node over the plain-Python core (:mod:`cliport_policy.node_config` for the config and
the refusal rules, :mod:`cliport_policy.ros.messages` for the messages):

* **Heightmaps**: only the newest message is kept (best-effort subscription of depth 1, one
  reference); nothing is decoded until an instruction needs it, and reception runs on the
  executor thread, so it never waits for the policy.
* **Instructions** (``std_msgs/String``) are checked on arrival: stripped; empty, over-long,
  letterless or non-printable ones are refused; so is any instruction while the policy is
  not loaded, no heightmap has arrived, or the latest is in another frame or stale. Every
  refusal is logged and published on the status topic with its reason; the node keeps
  serving. An instruction that fits the template of no task the checkpoint was trained on
  (``extra.train_tasks``) is acted on but warned about once (``off_task``).
* **Acting** runs on one worker thread, so the single-threaded executor keeps receiving
  while the policy thinks (~0.5-1 s tiny model on a CPU, seconds at paper size). The worker
  takes the *latest* heightmap when it starts (re-checked: frame, age, decoding, grid shape,
  some finite height, none outside its z bounds, a non-empty valid mask), acts, and refuses
  a decision whose poses fall outside the heightmap's workspace. It then publishes
  ``PickPlaceDecision``, the pick and place heatmap overlays (rgb8) and RViz markers -- in
  execute mode just *after* it has sent the goal when the server is there, so the arm waits
  for no visualisation (the status order stays ``decided`` then ``goal_accepted``). If
  announcing fails once the goal is out, that is reported (``announce_failed``) and the
  goal goes on. ``main`` sets a 0.5 ms GIL switch interval (CPython's default is 5 ms):
  every job changes threads, and the executor thread's work (heightmaps at 30 Hz, status,
  logs) must not hold the worker.
* **Busy** (loading, acting, or -- in execute mode -- a goal in flight): with
  ``busy_policy: queue_latest`` one instruction waits (``queued``), and a newer one replaces
  it (the older is ``superseded``); with ``reject`` it is refused.
* **execute mode**: the decision becomes a ``PickPlace`` goal (poses in ``base_frame``,
  primitive pick_place, ``speed_scaling``), sent by the worker itself through
  :class:`~cliport_common.ros.action_client.ThreadSafeActionClient` (no hand-over to the
  executor thread on the latency-critical path; the goal's callbacks run there). Accept,
  reject and result are published on the status topic; a missing server (after
  ``server_wait``) is reported and the node moves on; a goal running past ``goal_timeout`` is
  canceled. The next instruction is acted on only after the goal ends, on a fresh heightmap.
* **Checkpoint**: loaded by the worker at start-up. A missing, empty or unloadable checkpoint
  does not end the node: it logs the error once and refuses every instruction with that
  reason (``load_failed`` on status), so a running graph shows why it does nothing. A wrong
  parameter (unknown mode, bad type) is a configuration error: the node exits with code 2
  and the message.

Status messages are single-line JSON objects (``event``, ``job``, ``instruction``, then the
event's fields; see :func:`cliport_policy.node_config.status_text`), published reliable and
transient-local (the last 50 reach a subscriber that joins late and asks for them).
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
from dataclasses import dataclass, field

import rclpy
from action_msgs.msg import GoalStatus
from rclpy.exceptions import InvalidParameterTypeException, ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from cliport_common.config import ConfigError
from cliport_common.gc_pause import freeze_startup_objects
from cliport_common.ros.action_client import ThreadSafeActionClient
from cliport_common.ros.params import declare_config
from cliport_common.ros.qos import latched
from cliport_common.stamps import stamp_to_ns
from cliport_msgs.action import PickPlace
from cliport_msgs.msg import Heightmap, PickPlaceDecision
from cliport_policy.node_config import (
    PolicyNodeConfig,
    Refusal,
    check_heightmap_header,
    check_poses,
    checkpoint_file,
    checkpoint_problem,
    clean_instruction,
    decode_heightmap,
    load_node_config,
    preview,
    status_text,
)
from cliport_policy.poses import decision_poses
from cliport_policy.ros.messages import (
    decision_markers,
    decision_msg,
    heatmap_image,
    pick_place_goal,
)

SERVER_POLL = 0.05  # s between checks for the action server
ANNOUNCE_WAIT = 5.0  # s the goal's statuses wait at most for the decision's announcement
# s a Python thread may hold the GIL while another waits (CPython's default: 5 ms). The
# executor thread hands each job to the worker, and its status and log work ran while the
# worker waited to send a goal: each handover waited up to a whole interval.
GIL_SWITCH_INTERVAL = 0.0005
# Only the newest heightmap matters: depth 1, and best effort so that any publisher (reliable
# like perception's, or best effort) connects.
HEIGHTMAP_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
# Status keeps its last events for late subscribers (a UI started after a failed load).
STATUS_QOS = latched(50)
ERROR_NAMES = {getattr(PickPlace.Result, n): n[len("ERROR_"):] for n in dir(PickPlace.Result)
               if n.startswith("ERROR_")}
STATUS_NAMES = {getattr(GoalStatus, n): n[len("STATUS_"):] for n in dir(GoalStatus)
                if n.startswith("STATUS_")}


@dataclass(eq=False)
class Job:
    """One accepted instruction."""

    id: int
    instruction: str
    # set once its decision is announced: the goal's own statuses wait for it, so status
    # readers always see "decided" before "goal_accepted" even though the goal goes first
    announced: threading.Event = field(default_factory=threading.Event, compare=False,
                                       repr=False)
    # the sent goal's response future (execute mode), once the worker has sent it
    goal_future: object = field(default=None, compare=False, repr=False)


class PolicyNode(Node):
    def __init__(self, *, context=None, parameter_overrides=None,
                 defaults: PolicyNodeConfig | None = None, agent=None,
                 freeze_gc: bool = False) -> None:
        """``agent``: use this agent instead of loading ``checkpoint`` (tests, embedding).
        ``freeze_gc``: once the model is loaded, freeze the process's objects out of the
        garbage collector (:mod:`cliport_common.gc_pause`; ``main()`` does, for the
        node's own process)."""
        super().__init__("policy", context=context, parameter_overrides=parameter_overrides)
        self.config = cfg = declare_config(self, defaults or load_node_config())
        self._given_agent = agent
        self._freeze_gc = freeze_gc
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

        # Worker state, all under self._cv.
        self._cv = threading.Condition()
        self._state = "loading"  # loading | ready | failed
        self._train_tasks: list[str] = []  # what the checkpoint was trained on
        self._off_task_seen: set[str] = set()  # instructions checked against them
        self._load_error = ""
        self._agent = None
        self._starting: Job | None = None  # accepted while idle: runs next, never superseded
        self._pending: Job | None = None  # queued behind a busy worker (queue_latest)
        self._acting: Job | None = None
        self._executing: Job | None = None
        self._goal_handle = None
        self._goal_timer = None
        self._stopping = False

        self._client = None
        if cfg.mode == "execute":
            self._client = ThreadSafeActionClient(self, PickPlace, cfg.action_name)

        self.create_subscription(Heightmap, t.heightmap, self._on_heightmap, HEIGHTMAP_QOS)
        self.create_subscription(String, t.instruction, self._on_instruction, 10)
        self._worker = threading.Thread(target=self._work, name="policy-worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"policy node up: mode={cfg.mode}, busy_policy={cfg.busy_policy}, "
            f"{t.heightmap} + {t.instruction} -> {t.decision}, status on {t.status}"
            + (f", goals to '{cfg.action_name}'" if cfg.mode == "execute" else ""))

    # ------------------------------------------------------------------ status + logs
    # One log severity per call site (rclpy refuses a call site that changes severity).
    def _info(self, event: str, job: Job | None = None, instruction: str | None = None,
              **fields) -> None:
        text = self._publish_status(event, job, instruction, fields)
        self.get_logger().info(text)

    def _warn(self, event: str, job: Job | None = None, instruction: str | None = None,
              **fields) -> None:
        text = self._publish_status(event, job, instruction, fields)
        self.get_logger().warning(text)

    def _error(self, event: str, job: Job | None = None, instruction: str | None = None,
               **fields) -> None:
        text = self._publish_status(event, job, instruction, fields)
        self.get_logger().error(text)

    def _publish_status(self, event, job, instruction, fields) -> str:
        if isinstance(job, Job) and instruction is None:
            instruction = job.instruction
        ident = job.id if isinstance(job, Job) else job
        text = status_text(event, ident, instruction, **fields)
        try:
            self._status_pub.publish(String(data=text))
        except Exception as exc:  # noqa: BLE001 - e.g. during shutdown; the log still has it
            self.get_logger().debug(f"status not published: {exc!r}")
        return text

    # ------------------------------------------------------------------ subscriptions
    def _on_heightmap(self, msg: Heightmap) -> None:
        with self._hm_lock:
            self._latest = msg
            self.heightmaps_received += 1

    def _latest_header(self) -> tuple[str | None, int | None]:
        with self._hm_lock:
            msg = self._latest
        if msg is None:
            return None, None
        return msg.header.frame_id, stamp_to_ns(msg.header.stamp)

    def _on_instruction(self, msg: String) -> None:
        ident = next(self._ids)
        try:
            text = clean_instruction(msg.data, self.config.max_instruction_length)
        except Refusal as exc:
            self._warn("refused", ident, msg.data, reason=str(exc))
            return
        try:
            with self._cv:
                state, load_error = self._state, self._load_error
            if state == "failed":
                raise Refusal(f"no policy loaded: {load_error}")
            frame_id, stamp_ns = self._latest_header()
            check_heightmap_header(frame_id, stamp_ns, self.get_clock().now().nanoseconds,
                                   self.config)
        except Refusal as exc:
            self._warn("refused", ident, text, reason=str(exc))
            return
        job = Job(ident, text)
        superseded = None
        with self._cv:
            busy = self._busy_reason()
            if busy is None:
                self._starting = job
            elif self.config.busy_policy == "queue_latest":
                superseded, self._pending = self._pending, job
            self._cv.notify_all()
        if busy is None:
            self._info("accepted", job)
        elif self.config.busy_policy == "reject":
            self._warn("refused", job, reason=f"busy: {busy} (busy_policy: reject)")
        else:
            if superseded is not None:
                self._warn("superseded", superseded, reason=f"a newer instruction (job "
                           f"{job.id}) replaced it while it waited")
            self._info("queued", job, reason=f"waiting: {busy}")

    def _busy_reason(self) -> str | None:
        """Why a new instruction cannot start now (call with self._cv held)."""
        if self._state == "loading":
            return "the policy is still loading its checkpoint"
        if self._acting is not None:
            return f"deciding job {self._acting.id} ({preview(self._acting.instruction, 40)!r})"
        if self._executing is not None:
            return (f"the arm is executing job {self._executing.id} "
                    f"({preview(self._executing.instruction, 40)!r})")
        if self._starting is not None:
            return f"job {self._starting.id} is about to start"
        return None

    # ------------------------------------------------------------------ worker thread
    def _work(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # noqa: BLE001 - a dead worker must not look like a busy one
            reason = f"the policy worker stopped: {type(exc).__name__}: {exc}"
            with self._cv:
                self._state, self._load_error = "failed", reason
                waiting = [j for j in (self._starting, self._pending) if j is not None]
                self._starting = self._pending = None
            self._error("load_failed", 0, reason=reason)
            for job in waiting:
                self._warn("refused", job, reason=f"no policy loaded: {reason}")

    def _serve(self) -> None:
        if not self._load():
            return
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._stopping or (
                    (self._starting or self._pending) is not None
                    and self._executing is None))
                if self._stopping:
                    return
                if self._starting is not None:
                    job, self._starting = self._starting, None
                else:
                    job, self._pending = self._pending, None
                self._acting = job
            try:
                self._act(job)
            except Refusal as exc:
                self._warn("refused", job, reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - the node keeps serving
                self._error("refused", job, reason=f"the policy failed: "
                            f"{type(exc).__name__}: {exc}")
            finally:
                with self._cv:
                    self._acting = None
                    self._cv.notify_all()

    def _load(self) -> bool:
        cfg = self.config
        started = time.monotonic()
        agent = self._given_agent
        if agent is not None:  # an agent handed in says itself what it was trained on
            self._train_tasks = list(getattr(agent, "train_tasks", None) or [])
        problem = None if agent is not None else checkpoint_problem(cfg)
        if problem is None and agent is None:
            try:
                import torch

                from cliport_policy.checkpoint import CheckpointError, load_agent
                from cliport_policy.off_task import checkpoint_train_tasks

                if cfg.threads > 0:
                    torch.set_num_threads(cfg.threads)
                try:
                    agent = load_agent(checkpoint_file(cfg), device=cfg.device,
                                       clip_pretrained=cfg.clip_pretrained or None)
                    self._train_tasks = checkpoint_train_tasks(checkpoint_file(cfg))
                except CheckpointError as exc:
                    problem = str(exc)
            except Exception as exc:  # noqa: BLE001 - e.g. an unavailable device
                problem = (f"cannot load checkpoint {cfg.checkpoint!r} on {cfg.device!r}: "
                           f"{type(exc).__name__}: {exc}")
        with self._cv:
            if problem is None:
                self._agent, self._state = agent, "ready"
                waiting = []
            else:
                self._load_error, self._state = problem, "failed"
                waiting = [j for j in (self._starting, self._pending) if j is not None]
                self._starting = self._pending = None
            self._cv.notify_all()
        if problem is not None:
            self._error("load_failed", 0, reason=problem)
            for job in waiting:
                self._warn("refused", job, reason=f"no policy loaded: {problem}")
            return False
        if self._train_tasks:  # the task templates, compiled before the first instruction
            from cliport_policy.off_task import instruction_warning

            instruction_warning("", self._train_tasks)
        if self._freeze_gc:  # torch + the model: ~400k objects, ~0.3 s per full collection
            freeze_startup_objects()
        self._info("ready", 0, checkpoint=cfg.checkpoint if self._given_agent is None
                   else "(agent given)", agent=agent.config.agent,
                   device=cfg.device, load_time=round(time.monotonic() - started, 3))
        return True

    def _warn_off_task(self, job: Job) -> None:
        """Once per instruction: it is of no task the checkpoint was trained on."""
        if not self._train_tasks or job.instruction in self._off_task_seen:
            return
        from cliport_policy.off_task import instruction_warning

        if len(self._off_task_seen) > 1000:  # bounded: instructions are free text
            self._off_task_seen.clear()
        self._off_task_seen.add(job.instruction)
        warning = instruction_warning(job.instruction, self._train_tasks)
        if warning is not None:
            self._warn("off_task", job, reason=warning)

    def _act(self, job: Job) -> None:
        cfg = self.config
        self._warn_off_task(job)
        with self._hm_lock:
            msg = self._latest  # the newest heightmap when acting starts, not when queued
        frame = decode_heightmap(msg, self.get_clock().now().nanoseconds, cfg)

        agent = self._agent
        started = time.perf_counter()
        decision = agent.act(frame.colormap, frame.heightmap, job.instruction)
        inference_time = time.perf_counter() - started
        pick, place = decision_poses(frame.workspace, frame.heightmap, decision.pick,
                                     decision.place, agent.config.pick_rotations,
                                     agent.config.place_rotations)
        try:
            check_poses(frame.workspace, pick, place)
        except Refusal as exc:
            raise Refusal(f"{exc} (pick cell {list(decision.pick[:2])}, place cell "
                          f"{list(decision.place[:2])})") from exc

        hm_stamp = msg.header.stamp
        goal = None
        if cfg.mode == "execute":
            goal = pick_place_goal(job.instruction, pick, place, cfg.base_frame, hm_stamp,
                                   cfg.speed_scaling)
        out = decision_msg(decision, pick, place, instruction=job.instruction,
                           policy=agent.config.agent,
                           n_rotations=agent.config.place_rotations, frame_id=cfg.base_frame,
                           stamp=self.get_clock().now().to_msg(), heightmap_stamp=hm_stamp,
                           inference_time=inference_time)
        handed, send_error = False, None
        try:
            if goal is not None and self._client.server_is_ready():
                send_error = self._send_goal(job, goal)  # the latency-critical output first
                goal, handed = None, True
            self._announce(job, frame, decision, pick, place, out, inference_time)
        except Exception as exc:  # noqa: BLE001 - the goal is out: report, do not refuse
            if not handed:
                raise
            self._error("announce_failed", job, reason=f"publishing the decision failed: "
                        f"{type(exc).__name__}: {exc}")
        finally:
            job.announced.set()
        if send_error is not None:
            self._goal_failed_to_send(job, send_error)
        if goal is not None:
            self._start_goal(job, goal)  # no server yet: wait for it (announced meanwhile)

    def _announce(self, job: Job, frame, decision, pick, place, out,
                  inference_time: float) -> None:
        """Publish the decision, its heatmap overlays and markers, and the ``decided`` status."""
        self._decision_pub.publish(out)
        if self._pick_pub is not None:
            self._pick_pub.publish(heatmap_image(frame.colormap, decision.pick_heatmap,
                                                 decision.pick[:2], out.header))
            self._place_pub.publish(heatmap_image(frame.colormap, decision.place_heatmap,
                                                  decision.place[:2], out.header))
        if self._marker_pub is not None:
            self._marker_pub.publish(decision_markers(pick, place, job.instruction, out.header))
        self._info("decided", job, pick=list(decision.pick), place=list(decision.place),
                   pick_xyz=[round(v, 4) for v in pick[0]],
                   place_xyz=[round(v, 4) for v in place[0]],
                   pick_score=round(decision.pick_score, 6),
                   place_score=round(decision.place_score, 6),
                   inference_time=round(inference_time, 3))

    # ------------------------------------------------------------------ execute mode
    def _start_goal(self, job: Job, goal) -> None:
        """On the worker, after announcing: wait for the server, then send the goal."""
        deadline = time.monotonic() + self.config.server_wait
        while not self._client.server_is_ready():
            if time.monotonic() >= deadline or self._stopping:
                self._warn("server_unavailable", job, reason=(
                    f"no PickPlace action server '{self.config.action_name}' after "
                    f"{self.config.server_wait:g} s; the decision was published, not executed"))
                return
            time.sleep(SERVER_POLL)
        error = self._send_goal(job, goal)
        if error is not None:
            self._goal_failed_to_send(job, error)

    def _send_goal(self, job: Job, goal) -> Exception | None:
        """On the worker: send the goal (the job is executing from now on); returns the
        error if it could not be sent, for the caller to report once it has announced."""
        with self._cv:
            self._executing = job
        try:  # the response callback runs on the executor thread
            job.goal_future = self._client.send_goal_async(
                goal, done_callback=lambda f: self._on_goal_response(job, f))
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            return exc
        return None

    def _goal_failed_to_send(self, job: Job, error: Exception) -> None:
        self._error("goal_failed", job, reason=f"sending the goal failed: {error!r}")
        self._end_goal(job)

    def _on_goal_response(self, job: Job, future) -> None:
        job.announced.wait(ANNOUNCE_WAIT)  # "decided" first (published on the worker)
        try:
            handle = future.result()
        except Exception as exc:  # noqa: BLE001
            self._error("goal_failed", job, reason=f"no answer to the goal: {exc!r}")
            self._end_goal(job)
            return
        if handle is None or not handle.accepted:
            self._warn("goal_rejected", job, reason="the executor rejected the goal (malformed "
                       "or busy; its log has the reason)")
            self._end_goal(job)
            return
        with self._cv:
            if self._executing is not job:  # shut down meanwhile
                handle.cancel_goal_async()
                return
            self._goal_handle = handle
            self._goal_timer = self.create_timer(self.config.goal_timeout,
                                                 lambda: self._on_goal_timeout(job))
        self._info("goal_accepted", job)
        handle.get_result_async().add_done_callback(lambda f: self._on_result(job, f))

    def _on_result(self, job: Job, future) -> None:
        with self._cv:
            current = self._executing is job
        if not current:
            return  # timed out (and canceled) before
        try:
            wrapped = future.result()
            status, result = wrapped.status, wrapped.result
        except Exception as exc:  # noqa: BLE001
            self._error("goal_failed", job, reason=f"no result: {exc!r}")
            self._end_goal(job)
            return
        fields = {"status": STATUS_NAMES.get(status, str(status)),
                  "error_code": ERROR_NAMES.get(result.error_code, str(result.error_code)),
                  "message": result.message}
        if result.has_reward:
            fields["reward"] = round(float(result.reward), 6)
        if status == GoalStatus.STATUS_SUCCEEDED and result.success:
            self._info("goal_succeeded", job, **fields)
        else:
            self._warn("goal_failed", job, **fields)
        self._end_goal(job)

    def _on_goal_timeout(self, job: Job) -> None:
        with self._cv:
            if self._executing is not job:
                return
            handle = self._goal_handle
        if handle is not None:
            handle.cancel_goal_async()
        self._warn("goal_timeout", job, reason=f"the goal ran longer than goal_timeout "
                   f"{self.config.goal_timeout:g} s; cancel requested")
        self._end_goal(job)

    def _end_goal(self, job: Job) -> None:
        with self._cv:
            if self._executing is job:
                self._executing = None
                self._goal_handle = None
            timer, self._goal_timer = self._goal_timer, None
            self._cv.notify_all()
        if timer is not None:
            timer.cancel()
            self.destroy_timer(timer)

    # ------------------------------------------------------------------ shutdown
    def destroy_node(self) -> None:
        with self._cv:
            self._stopping = True
            handle = self._goal_handle
            self._cv.notify_all()
        if handle is not None:
            with contextlib.suppress(Exception):  # best effort during shutdown
                handle.cancel_goal_async()  # do not leave the arm running for nobody
        self._worker.join(timeout=5.0)
        if self._client is not None:  # rclpy's destroy_node leaves action clients alone
            self._client.destroy()
        super().destroy_node()


def main(args=None) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    rclpy.init(args=args)
    node = None
    executor = None
    try:
        node = PolicyNode(freeze_gc=True)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (ConfigError, InvalidParameterTypeException, ParameterException) as exc:
        print(f"policy_node: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
