"""``cliport-sim-loop``: whole episodes through the running sim stack.

Who decides each step (``--policy``):

* ``oracle`` (default, graph ``sim``): the sim node's oracle decision for the current scene
  (``sim/oracle``, the one whose stamp ``sim/status`` names) is sent by this tool as a
  ``PickPlace`` goal to the executor.
* ``cliport`` (graph ``sim_policy``: the policy node in execute mode): the step goes the
  way a user's instruction goes. This tool waits for a heightmap of the scene as it is now
  (stamped after the last step ended), publishes the episode's instruction on
  ``/instruction``, and follows the policy node's ``policy/status`` until its goal ends.

An episode ends when ``sim/status`` says done (success or the task's step limit), or when a
step cannot be made (no decision, the policy refused, the executor is missing);
``sim/reset`` starts the next. A failed grasp ends an oracle episode (the oracle does not
fail) but not a policy episode: like the paper's evaluation, the policy may try again
until the step limit. ``--out DIR`` writes per episode a video of the arm doing the task
(MP4 and GIF from a perspective camera, the instruction and each step's result drawn on;
rendered after the episodes from the states the sim node recorded, ``sim/recording``), a
top-down GIF (the fused colormap before each step, the pick ringed in cyan and the place in
magenta, then the final scene), per step a panel of that map beside the policy's pick and
place heatmaps (and the heatmap PNGs), ``summary.json`` and ``index.html``, a report of
every episode. Prints one line per step and a success summary; exits 1 when an episode
failed.

    cliport-run sim --domain-id 42 &     # or: ros2 launch cliport_bringup sim.launch.py
    cliport-sim-loop --domain-id 42 --episodes 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cliport_common.stamps import stamp_to_ns

SUCCESS_REWARD = 0.99  # the tasks' rewards sum to 1 for a finished episode
POLICY_END_EVENTS = ("goal_succeeded", "goal_failed", "goal_timeout", "goal_rejected",
                     "refused", "server_unavailable")
SETTLE_S = 1.0  # s after discovery before the first request
FRESH_HEIGHTMAP_WAIT = 20.0  # s: cameras every 0.5 s in the sim graph, plus fusion


@dataclass
class StepRecord:
    step: int
    ok: bool
    reward: float
    message: str
    pick: list[int] | None = None  # (u, v) cells of the decision
    place: list[int] | None = None
    pick_score: float | None = None
    place_score: float | None = None
    inference_time: float | None = None
    seconds: float = 0.0


@dataclass
class EpisodeRecord:
    index: int
    seed: int
    task: str
    instruction: str
    success: bool = False
    total_reward: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    gif: str | None = None  # the video's GIF
    video: str | None = None  # MP4
    topdown_gif: str | None = None
    topdown: list[str] = field(default_factory=list)  # per step: map | pick | place
    states: str | None = None  # the recorded states (cliport_sim.recording)


class Loop:
    def __init__(self, node, step_timeout: float, policy: str = "oracle",
                 out: Path | None = None) -> None:
        from rclpy.action import ActionClient
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        from std_srvs.srv import Trigger

        from cliport_common.ros.qos import latched
        from cliport_msgs.action import PickPlace
        from cliport_msgs.msg import Heightmap, PickPlaceDecision

        self.node = node
        self.step_timeout = step_timeout
        self.policy = policy
        self.out = out
        self.PickPlace = PickPlace
        self.Trigger = Trigger
        self.String = String
        self.oracles: list = []
        self.status: dict | None = None
        self.heightmap = None  # the newest Heightmap message
        self.policy_events: list[dict] = []
        self.heatmaps: dict[str, object] = {}
        node.create_subscription(PickPlaceDecision, "/sim/oracle", self.oracles.append,
                                 latched(1))
        node.create_subscription(String, "/sim/status",
                                 lambda m: setattr(self, "status", json.loads(m.data)),
                                 latched(1))
        if policy != "oracle" or out is not None:
            node.create_subscription(Heightmap, "/heightmap",
                                     lambda m: setattr(self, "heightmap", m), 2)
        self.client = ActionClient(node, PickPlace, "/pick_place")
        self.reset_client = node.create_client(Trigger, "/sim/reset")
        self.recording_client = node.create_client(Trigger, "/sim/recording")
        if policy != "oracle":
            node.create_subscription(String, "/policy/status", self._on_policy_status,
                                     latched(50))
            self.instruction_pub = node.create_publisher(String, "/instruction", 10)
            for name in ("pick", "place"):
                node.create_subscription(
                    Image, f"/policy/{name}_heatmap",
                    lambda m, n=name: self.heatmaps.__setitem__(n, m), 2)

    # ------------------------------------------------------------------ plumbing
    def _on_policy_status(self, msg) -> None:
        with contextlib.suppress(ValueError):  # not ours to judge: keep listening
            self.policy_events.append(json.loads(msg.data))

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def spin_until(self, predicate, timeout: float) -> bool:
        from cliport_common.ros.spin import spin_until

        return spin_until(self.node, predicate, timeout)

    def wait_ready(self, timeout: float) -> bool:
        def ready() -> bool:
            if not (self.status is not None and self.reset_client.service_is_ready()):
                return False
            if self.policy == "oracle":
                return self.client.server_is_ready()
            return (self.client.server_is_ready()
                    and any(e.get("event") == "ready" for e in self.policy_events)
                    and self.instruction_pub.get_subscription_count() > 0)

        self.spin_until(lambda: ready() or self.policy_problem() is not None, timeout)
        if not ready():
            return False
        # "Ready" is the client's view of the match; give the servers a moment to match this
        # node's response readers too, or the first goal's or reset's answer can be lost.
        self.spin_until(lambda: False, SETTLE_S)
        return True

    def policy_problem(self) -> str | None:
        """Why the policy node cannot act (it failed to load its checkpoint), or None."""
        for e in reversed(self.policy_events):
            if e.get("event") == "ready":
                return None
            if e.get("event") == "load_failed":
                return e.get("reason", "load_failed")
        return None

    def fresh_heightmap(self, after_ns: int, timeout: float = FRESH_HEIGHTMAP_WAIT):
        """A heightmap stamped after ``after_ns``: the scene as it is now, not before a step."""
        ok = self.spin_until(lambda: self.heightmap is not None
                             and stamp_to_ns(self.heightmap.header.stamp) > after_ns, timeout)
        return self.heightmap if ok else None

    def current_oracle(self):
        """The oracle decision the latest status names (its stamp), or None yet.

        Matched by stamp, not by arrival: a decision announced for the scene before a goal
        may arrive after the goal was sent, and must not be taken for the next scene."""
        want = self.status.get("oracle_stamp_ns") if self.status else None
        if want is None:
            return None
        for decision in reversed(self.oracles):
            if stamp_to_ns(decision.header.stamp) == want:
                return decision
        return None

    # ------------------------------------------------------------------ steps
    def oracle_step(self) -> StepRecord | None:
        if not self.spin_until(lambda: self.current_oracle() is not None
                               or self.status["done"], self.step_timeout):
            return StepRecord(self.status["step"], False, 0.0,
                              "no oracle decision: the oracle found nothing to do")
        if self.status["done"]:
            return None
        oracle = self.current_oracle()
        self.oracles.clear()
        goal = self.PickPlace.Goal(instruction=oracle.instruction, pick=oracle.pick,
                                   place=oracle.place)
        rec = StepRecord(self.status["step"] + 1, False, 0.0, "",
                         pick=[oracle.pick_u, oracle.pick_v],
                         place=[oracle.place_u, oracle.place_v])
        sent = self.client.send_goal_async(goal)
        if not self.spin_until(sent.done, 30) or not sent.result().accepted:
            rec.message = "goal not accepted"
            return rec
        result = sent.result().get_result_async()
        if not self.spin_until(result.done, self.step_timeout):
            rec.message = f"no result within {self.step_timeout:.0f} s"
            return rec
        r = result.result().result
        rec.ok, rec.message = bool(r.success), r.message
        rec.reward = float(r.reward) if r.has_reward else 0.0
        return rec

    def policy_step(self, instruction: str) -> StepRecord:
        rec = StepRecord(self.status["step"] + 1, False, 0.0, "")
        seen = {e.get("job", 0) for e in self.policy_events}
        self.heatmaps.clear()
        self.instruction_pub.publish(self.String(data=instruction))

        def ours() -> list[dict]:
            return [e for e in self.policy_events if e.get("job", 0) not in seen
                    and e.get("job", 0) > 0]

        def ended() -> bool:
            return any(e.get("event") in POLICY_END_EVENTS for e in ours())

        if not self.spin_until(ended, self.step_timeout + 30):
            rec.message = f"the policy node did not finish within {self.step_timeout:.0f} s"
            return rec
        for e in ours():
            if e["event"] == "decided":
                rec.pick, rec.place = e["pick"][:2], e["place"][:2]
                rec.pick_score, rec.place_score = e.get("pick_score"), e.get("place_score")
                rec.inference_time = e.get("inference_time")
        end = next(e for e in ours() if e["event"] in POLICY_END_EVENTS)
        rec.ok = end["event"] == "goal_succeeded"
        rec.reward = float(end.get("reward", 0.0))
        rec.message = "" if rec.ok else f"{end['event']}: " + str(
            end.get("message") or end.get("reason") or end.get("error_code", ""))
        return rec

    # ------------------------------------------------------------------ episodes
    def episode(self, index: int) -> EpisodeRecord:
        s = self.status
        ep = EpisodeRecord(index, int(s["seed"]), s["task"], s["lang_goal"])
        print(f"episode {index}: seed {ep.seed}, {ep.task}: \"{ep.instruction}\"", flush=True)
        frames: list = []
        since = self.now_ns()
        attempts = 0
        while not self.status["done"] and attempts < max(1, int(self.status["max_steps"])):
            attempts += 1
            scene_before = self.status["scene"]
            t0 = time.monotonic()
            view = None
            if self.policy != "oracle" or self.out is not None:
                view = self.fresh_heightmap(since)
                if view is None and self.policy != "oracle":
                    ep.steps.append(StepRecord(self.status["step"] + 1, False, 0.0,
                                               "no fresh heightmap (is perception running?)"))
                    print(f"  {ep.steps[-1].message}", flush=True)
                    break
            if self.policy == "oracle":
                rec = self.oracle_step()
                if rec is None:
                    break
            else:
                rec = self.policy_step(self.status["lang_goal"])
            rec.seconds = time.monotonic() - t0
            since = self.now_ns()
            self.spin_until(lambda s=scene_before: self.status["scene"] != s,
                            5.0 if rec.ok or rec.pick is not None else 0.5)
            self._record_step(ep, rec, view, frames)
            print(f"  step {rec.step}: reward {rec.reward:+.3f} "
                  f"(total {self.status['total_reward']:.3f})"
                  + (f" pick {tuple(rec.pick)} place {tuple(rec.place)}" if rec.pick else "")
                  + ("" if rec.ok else f" FAILED: {rec.message}"), flush=True)
            if not rec.ok and (self.policy == "oracle" or rec.pick is None
                               or self.status["scene"] == scene_before):
                break  # nothing moved: trying again would repeat the same thing
        ep.total_reward = float(self.status["total_reward"])
        ep.success = ep.total_reward >= SUCCESS_REWARD
        if self.out is not None:
            final = self.fresh_heightmap(since, 10.0)
            self._write_gif(ep, frames, final)
            self._save_states(ep)
        print(f"  {'success' if ep.success else 'failure'}: total reward {ep.total_reward:.3f} "
              f"in {self.status['step']} steps", flush=True)
        return ep

    def _record_step(self, ep: EpisodeRecord, rec: StepRecord, view, frames: list) -> None:
        ep.steps.append(rec)
        if self.out is None:
            return
        from cliport_perception.heightmap_msg import from_msg
        from cliport_perception.image_conversion import image_to_array
        from cliport_policy.episode_report import step_panel
        from cliport_policy.heatmaps import mark_action, save_png

        marked = None
        if view is not None:
            marked = mark_action(from_msg(view).colormap, rec.pick, rec.place)
            frames.append(marked)
        heat = {}
        for name, msg in self.heatmaps.items():
            heat[name] = image_to_array(msg)
            save_png(self.out / f"episode-{ep.index:02d}-step{rec.step}-{name}.png", heat[name])
        if marked is not None:
            panel = self.out / f"episode-{ep.index:02d}-step{rec.step}-topdown.png"
            save_png(panel, step_panel([marked, heat.get("pick"), heat.get("place")]))
            ep.topdown.append(panel.name)

    def _write_gif(self, ep: EpisodeRecord, frames: list, final) -> None:
        from cliport_perception.heightmap_msg import from_msg
        from cliport_policy.heatmaps import mark_action, save_gif

        if final is not None:
            frames = [*frames, mark_action(from_msg(final).colormap, None, None)]
        if frames:
            path = self.out / f"episode-{ep.index:02d}-seed{ep.seed}-topdown.gif"
            ep.topdown_gif = str(save_gif(path, frames))

    def _save_states(self, ep: EpisodeRecord) -> None:
        """The sim node's recording of this episode, to render its video afterwards."""
        if not self.recording_client.wait_for_service(timeout_sec=2.0):
            print("  (no sim/recording service: no video for this episode)", flush=True)
            return
        future = self.recording_client.call_async(self.Trigger.Request())
        if not self.spin_until(future.done, 30) or not future.result().success:
            print("  (the sim node sent no recording: no video for this episode)", flush=True)
            return
        import base64

        path = self.out / f"episode-{ep.index:02d}-seed{ep.seed}.states.npz"
        path.write_bytes(base64.b64decode(future.result().message))  # Recording.to_text()
        ep.states = str(path)

    def reset(self) -> bool:
        self.oracles.clear()
        future = self.reset_client.call_async(self.Trigger.Request())
        old = self.status
        ok = self.spin_until(future.done, 60) and future.result().success
        self.spin_until(lambda: self.status["scene"] != old["scene"], 5.0)
        return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cliport-sim-loop", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=1)
    ap.add_argument("--policy", choices=("oracle", "cliport"), default="oracle",
                    help="oracle: the sim's scripted expert; cliport: the policy node "
                         "(graph sim_policy)")
    ap.add_argument("--out", type=Path, help="write episode GIFs, heatmap PNGs, summary.json")
    ap.add_argument("--step-timeout", type=float, default=120.0)
    ap.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the stack")
    ap.add_argument("--domain-id", type=int,
                    help="the ROS_DOMAIN_ID cliport-run printed (default: $ROS_DOMAIN_ID)")
    args = ap.parse_args(argv)
    from cliport_bringup.ros_env import undecodable_argument

    problem = undecodable_argument(sys.argv[1:] if argv is None else argv)
    if problem:  # rclpy.init() would end in a UnicodeEncodeError traceback
        print(f"cliport-sim-loop: error: {problem}", file=sys.stderr)
        return 2
    return run(args.episodes, args.policy, args.out, args.step_timeout, args.wait,
               args.domain_id)


def render_videos(records: list[EpisodeRecord]) -> None:
    """Each episode's MP4 + GIF from its recorded states (after the loop: never during it)."""
    from cliport_sim.recording import Recording
    from cliport_sim.video import save_video

    for ep in records:
        if ep.states is None:
            continue
        try:
            rec = Recording.from_bytes(Path(ep.states).read_bytes())
            stem = Path(ep.states).with_name(f"episode-{ep.index:02d}-seed{ep.seed}")
            mp4, gif = save_video(rec, stem, success=ep.success)
        except (OSError, ValueError, RuntimeError) as exc:
            print(f"cliport-sim-loop: no video for episode {ep.index}: {exc}", file=sys.stderr)
            continue
        ep.video, ep.gif = str(mp4), str(gif)


def write_outputs(out: Path, policy: str, records: list[EpisodeRecord]) -> Path:
    """Videos, summary.json and index.html (the report of every episode)."""
    from cliport_policy.episode_report import ReportEpisode, write_report

    render_videos(records)
    successes = sum(r.success for r in records)
    (out / "summary.json").write_text(json.dumps(
        {"policy": policy, "episodes": [asdict(r) for r in records],
         "successes": successes}, indent=2))
    entries = [ReportEpisode(
        r.index, r.seed, r.task, r.instruction, r.success, r.total_reward,
        video=Path(r.video).name if r.video else None,
        gif=Path(r.gif).name if r.gif else None, topdown=list(r.topdown),
        steps=[f"step {s.step}: reward {s.reward:+.3f}"
               + (f", pick {tuple(s.pick)} place {tuple(s.place)}" if s.pick else "")
               + ("" if s.ok else f", FAILED: {s.message}") for s in r.steps])
        for r in records]
    return write_report(out, entries, title=f"cliport-sim-loop: {policy} episodes")


def run(episodes: int, policy: str = "oracle", out: Path | None = None,
        step_timeout: float = 120.0, wait: float = 120.0, domain_id: int | None = None) -> int:
    import rclpy

    from cliport_bringup.ros_env import apply_local_ros_env

    apply_local_ros_env(domain_id=domain_id)
    rclpy.init()
    node = rclpy.create_node("cliport_sim_loop")
    loop = None
    try:
        loop = Loop(node, step_timeout, policy, out)
        if not loop.wait_ready(wait):
            graph = "sim" if policy == "oracle" else "sim_policy"
            why = loop.policy_problem() if policy != "oracle" else None
            print("cliport-sim-loop: error: " + (
                f"the policy node cannot act: {why}" if why else
                f"the {graph} stack is not up (start `cliport-run {graph}` and pass the "
                f"ROS_DOMAIN_ID it prints with --domain-id)"), file=sys.stderr)
            return 2
        records = []
        for i in range(episodes):
            if i > 0 and not loop.reset():
                print("cliport-sim-loop: error: sim/reset failed", file=sys.stderr)
                return 2
            records.append(loop.episode(i))
        successes = sum(r.success for r in records)
        print(f"success {successes}/{episodes} ({100.0 * successes / episodes:.0f} %)")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            report = write_outputs(out, policy, records)
            print(f"wrote {out}; report: {report}")
        return 0 if successes == episodes else 1
    finally:
        if loop is not None:  # rclpy's destroy_node leaves action clients alone
            loop.client.destroy()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
