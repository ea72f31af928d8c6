"""``cliport-sim-loop``: whole episodes through the running sim stack, with the oracle.

Each step waits for the sim node's oracle decision for the current scene (``sim/oracle``,
the one whose stamp ``sim/status`` names),
sends it as a ``PickPlace`` goal to the executor, and books the result; an episode ends
when ``sim/status`` says done (or a step fails or times out), and ``sim/reset`` starts the
next. Prints one line per step and a success summary; exits 1 when an episode failed.

    cliport-run sim --domain-id 42 &     # or: ros2 launch cliport_bringup sim.launch.py
    cliport-sim-loop --domain-id 42 --episodes 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time

SUCCESS_REWARD = 0.99  # the tasks' rewards sum to 1 for a finished episode


class Loop:
    def __init__(self, node, step_timeout: float) -> None:
        from rclpy.action import ActionClient
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import String
        from std_srvs.srv import Trigger

        from cliport_msgs.action import PickPlace
        from cliport_msgs.msg import PickPlaceDecision

        self.node = node
        self.step_timeout = step_timeout
        self.PickPlace = PickPlace
        self.Trigger = Trigger
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.oracles: list = []
        self.status: dict | None = None
        node.create_subscription(PickPlaceDecision, "/sim/oracle", self.oracles.append, latched)
        node.create_subscription(String, "/sim/status",
                                 lambda m: setattr(self, "status", json.loads(m.data)), latched)
        self.client = ActionClient(node, PickPlace, "/pick_place")
        self.reset_client = node.create_client(Trigger, "/sim/reset")

    def spin_until(self, predicate, timeout: float) -> bool:
        import rclpy

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return predicate()

    def wait_ready(self, timeout: float) -> bool:
        return self.spin_until(lambda: self.client.server_is_ready() and self.status is not None
                               and self.reset_client.service_is_ready(), timeout)

    def step(self, oracle) -> tuple[bool, float, str]:
        goal = self.PickPlace.Goal(instruction=oracle.instruction, pick=oracle.pick,
                                   place=oracle.place)
        sent = self.client.send_goal_async(goal)
        if not self.spin_until(sent.done, 30) or not sent.result().accepted:
            return False, 0.0, "goal not accepted"
        result = sent.result().get_result_async()
        if not self.spin_until(result.done, self.step_timeout):
            return False, 0.0, f"no result within {self.step_timeout:.0f} s"
        r = result.result().result
        return r.success, float(r.reward) if r.has_reward else 0.0, r.message

    def current_oracle(self):
        """The oracle decision the latest status names (its stamp), or None yet.

        Matched by stamp, not by arrival: a decision announced for the scene before a goal
        may arrive after the goal was sent, and must not be taken for the next scene."""
        want = self.status.get("oracle_stamp_ns") if self.status else None
        if want is None:
            return None
        for decision in reversed(self.oracles):
            stamp = decision.header.stamp
            if stamp.sec * 1_000_000_000 + stamp.nanosec == want:
                return decision
        return None

    def episode(self, index: int) -> bool:
        status = self.status
        print(f"episode {index}: seed {status['seed']}, {status['task']}: "
              f"\"{status['lang_goal']}\"", flush=True)
        while not self.status["done"]:
            if not self.spin_until(lambda: self.current_oracle() is not None
                                   or self.status["done"], self.step_timeout):
                print("  no oracle decision: the oracle found nothing to do", flush=True)
                break
            if self.status["done"]:
                break
            oracle = self.current_oracle()
            self.oracles.clear()
            scene_before = self.status["scene"]
            ok, reward, message = self.step(oracle)
            self.spin_until(lambda s=scene_before: self.status["scene"] != s, 5.0)
            print(f"  step {self.status['step']}: reward {reward:+.3f} "
                  f"(total {self.status['total_reward']:.3f})"
                  f"{'' if ok else ' FAILED: ' + message}", flush=True)
            if not ok:
                break
        total = self.status["total_reward"]
        success = total >= SUCCESS_REWARD
        print(f"  {'success' if success else 'failure'}: total reward {total:.3f} in "
              f"{self.status['step']} steps", flush=True)
        return success

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
    ap.add_argument("--step-timeout", type=float, default=120.0)
    ap.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the stack")
    ap.add_argument("--domain-id", type=int,
                    help="the ROS_DOMAIN_ID cliport-run printed (default: $ROS_DOMAIN_ID)")
    args = ap.parse_args(argv)
    import rclpy

    from cliport_bringup.ros_env import apply_local_ros_env

    apply_local_ros_env(domain_id=args.domain_id)
    rclpy.init()
    node = rclpy.create_node("cliport_sim_loop")
    try:
        loop = Loop(node, args.step_timeout)
        if not loop.wait_ready(args.wait):
            print("cliport-sim-loop: error: the sim stack is not up (start `cliport-run sim` "
                  "and pass the ROS_DOMAIN_ID it prints with --domain-id)", file=sys.stderr)
            return 2
        successes = 0
        for i in range(args.episodes):
            if i > 0 and not loop.reset():
                print("cliport-sim-loop: error: sim/reset failed", file=sys.stderr)
                return 2
            successes += loop.episode(i)
        print(f"success {successes}/{args.episodes} ({100.0 * successes / args.episodes:.0f} %)")
        return 0 if successes == args.episodes else 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
