"""The operator's page in a real browser (Debian's headless chromium through chromedriver).

1. While the sim stack runs: clicks outside the map and an empty instruction are refused on
   the page; pick and place clicked where the block and bowl are move the block, and the
   accepted episode is on disk with those labels.
2. A page of another origin open in the same browser (a second local server) tries a fetch
   POST and form POSTs at the recorder's /api/step: each is answered 403 (or never sent),
   and the session does not change.
"""

from __future__ import annotations

import json
import math
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import numpy as np
import pytest

from cliport_bringup.graph import load_graph
from cliport_common.ros.spin import spin_until
from cliport_perception.heightmap_msg import HeightmapFrame
from cliport_perception.workspace import Workspace
from cliport_sim.dataset import Dataset
from cliport_teleop.browser import BrowserUnavailable, chromium
from cliport_teleop.config import RecorderConfig
from cliport_teleop.session import TeleopSession
from cliport_teleop.testing import Page, free_port, recorder_spec
from cliport_teleop.web import WebServer

pytestmark = pytest.mark.timeout(300)
MARGIN, SCALE = 20, 2  # the page's canvas layout (static/index.html)


def browser():
    try:
        return chromium()
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))


def test_clicking_pick_and_place_on_the_page_moves_the_block_and_records_it(
        node_runner, ros_node, tmp_path):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from cliport_msgs.msg import PickPlaceDecision

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    oracles: list = []
    ros_node.create_subscription(PickPlaceDecision, "/sim/oracle", oracles.append, latched)
    driver = browser()
    try:
        node_runner.start(load_graph("sim"))
        port = free_port()
        node_runner.start_node(recorder_spec(tmp_path, port))
        page = Page(port)
        assert spin_until(ros_node, lambda: oracles and (s := page.state()) and s["grid"], 150,
                          node_runner)
        driver.get(page.page_url)  # the URL the recorder logs, with its token

        def text(element_id: str) -> str:
            return driver.find_element(By.ID, element_id).text

        def messages() -> str:
            return text("messages")

        def until(predicate, timeout=60.0) -> bool:
            return spin_until(ros_node, predicate, timeout, node_runner)

        assert until(lambda: text("status") == "ready", 30), text("status")
        canvas = driver.find_element(By.ID, "map")
        width, height = canvas.size["width"], canvas.size["height"]

        def at_cell(u: int, v: int) -> tuple[int, int]:
            # selenium 4 offsets are from the element's centre
            return (round(MARGIN + (v + 0.5) * SCALE - width / 2),
                    round(MARGIN + (u + 0.5) * SCALE - height / 2))

        # A click in the margin around the map is refused on the page.
        ActionChains(driver).move_to_element_with_offset(
            canvas, round(5 - width / 2), round(5 - height / 2)).click().perform()
        assert until(lambda: "outside the map" in messages(), 10), messages()
        # Execute with no instruction is refused too, and nothing is sent.
        driver.find_element(By.ID, "execute").click()
        assert until(lambda: "type the instruction first" in messages(), 10)

        o = oracles[-1]
        driver.find_element(By.ID, "instruction").send_keys(o.instruction)
        ActionChains(driver).move_to_element_with_offset(canvas, *at_cell(o.pick_u, o.pick_v)) \
            .click().perform()
        x, y = at_cell(o.place_u, o.place_v)  # drag downwards: place yaw +90 deg
        ActionChains(driver).move_to_element_with_offset(canvas, x, y).click_and_hold() \
            .move_by_offset(0, 30).release().perform()
        assert text("pick") == f"({o.pick_u}, {o.pick_v}, 0°)"
        assert text("place") == f"({o.place_u}, {o.place_v}, 90°)"
        driver.find_element(By.ID, "execute").click()
        assert until(lambda: text("status").startswith("result: success"), 120), (
            text("status"), messages())
        driver.find_element(By.ID, "accept").click()
        assert until(lambda: "step 1 accepted" in messages(), 10)
        driver.find_element(By.ID, "end").click()
        assert until(lambda: "episode saved" in messages(), 20), messages()
        assert until(lambda: "episodes saved: 1" in text("counts"), 10)
    finally:
        driver.quit()

    data = Dataset(tmp_path / "data" / "teleop-pick-place-train")
    assert len(data) == 1
    ep = data.episode(0)
    assert ep.pick_pix.tolist() == [[o.pick_u, o.pick_v]]
    assert ep.place_pix.tolist() == [[o.place_u, o.place_v]]
    assert ep.place_rot[0] == round(-(math.pi / 2) / (2 * math.pi / 36)) % 36
    assert ep.reward[1] > 0  # the block went into the bowl: the task's reward
    assert ep.instruction[0] == o.instruction


STEP = {"instruction": "put the red block in the blue bowl",
        "pick": {"u": 100, "v": 50}, "place": {"u": 200, "v": 120}}
# The attacker's page. It is even given the run's token, so that only the cross-site
# checks stand in the way. The fetches: a text/plain POST (a "simple" request,
# sent without asking), the same as no-cors, and a JSON POST with the token header (the
# browser asks first with an OPTIONS preflight). Then two forms, one urlencoded and one
# text/plain whose body reads as JSON; the test submits them.
ATTACK = """<!doctype html><html><body><script>
const target = "%(target)s", step = %(step)s, token = "%(token)s";
async function attempt(options) {
  try { const r = await fetch(target, Object.assign({method: "POST"}, options));
        return r.type === "opaque" ? "opaque" : r.status; }
  catch (e) { return "blocked: " + e; }
}
if (!location.hash) (async () => {  // #forms: only the forms, for the test to submit
  const results = {};
  results.text_plain = await attempt({headers: {"Content-Type": "text/plain"},
                                      body: JSON.stringify(step)});
  results.no_cors = await attempt({mode: "no-cors", headers: {"Content-Type": "text/plain"},
                                   body: JSON.stringify(step)});
  results.json_token = await attempt({headers: {"Content-Type": "application/json",
                                                "X-Cliport-Token": token},
                                      body: JSON.stringify(step)});
  window.results = results;
})();
</script>
<form id="urlencoded" method="POST" action="%(target)s">
  <input name="instruction" value="put the red block in the blue bowl"></form>
<form id="textplain" method="POST" action="%(target)s" enctype="text/plain">
  <input name='%(json_head)s' value='%(json_tail)s'></form>
</body></html>"""


def serve_attack_page(target: str, token: str) -> ThreadingHTTPServer:
    body = json.dumps(STEP)
    page = (ATTACK % {"target": target, "step": body, "token": token,
                      "json_head": body[:-1] + ', "x": "', "json_tail": '"}'}).encode()

    class Attacker(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd


def wait_for(predicate, timeout: float = 20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := predicate():
            return value
        time.sleep(0.1)
    return predicate()


def test_a_page_of_another_origin_cannot_step_the_recorder(tmp_path):
    from selenium.webdriver.common.by import By

    ws = Workspace()
    session = TeleopSession(RecorderConfig(dataset_dir=str(tmp_path), port=0))
    session.on_heightmap(HeightmapFrame(np.full((*ws.shape, 3), 90, np.uint8),
                                        np.zeros(ws.shape, np.float32), ws), 1)
    web = WebServer(session)
    driver = browser()
    attacker = serve_attack_page(f"{web.url}api/step", web.token)
    try:
        def body_text() -> str:
            return driver.find_element(By.TAG_NAME, "body").text

        # The operator's page works with its token: the map arrives through the API.
        driver.get(web.page_url)
        assert wait_for(lambda: driver.find_element(By.ID, "status").text == "ready"), \
            body_text()
        assert wait_for(lambda: driver.execute_script("return img.naturalWidth") == ws.shape[1])
        # Without the token the page is not served.
        driver.get(web.url)
        assert json.loads(body_text())["message"].startswith("no token")
        before = session.state()
        n_refused = len(web.refusals)

        # Another origin (localhost vs 127.0.0.1, another port) in the same browser.
        driver.get(f"http://localhost:{attacker.server_address[1]}/")
        results = wait_for(lambda: driver.execute_script("return window.results"))
        assert results["text_plain"].startswith("blocked"), results  # no CORS grant
        assert results["no_cors"] == "opaque", results
        assert results["json_token"].startswith("blocked"), results  # preflight refused
        for form in ("urlencoded", "textplain"):
            driver.get(f"http://localhost:{attacker.server_address[1]}/#forms")
            driver.execute_script(f"document.getElementById('{form}').submit()")
            assert wait_for(lambda: "cross-site" in body_text()), body_text()
            reply = json.loads(body_text())
            assert reply == {"ok": False, "message": "cross-site request from "
                                                     f"'http://localhost:"
                                                     f"{attacker.server_address[1]}': refused"}
        seen = [(r["method"], r["path"], r["status"]) for r in list(web.refusals)[n_refused:]]
        assert seen == [("POST", "/api/step", 403), ("POST", "/api/step", 403),
                        ("OPTIONS", "/api/step", 403), ("POST", "/api/step", 403),
                        ("POST", "/api/step", 403)], seen
        assert session.state() == before and session.take_goal() is None
    finally:
        driver.quit()
        attacker.shutdown()
        attacker.server_close()
        web.close()
        session.close()


def test_a_parallel_grippers_pick_yaw_is_dragged_and_drawn_as_its_two_fingers(tmp_path):
    from cliport_common.poses import yaw_of
    from cliport_teleop.browser import TeleopPage

    ws = Workspace()
    session = TeleopSession(RecorderConfig(dataset_dir=str(tmp_path), port=0,
                                           gripper="parallel", finger_opening=0.08))
    session.on_heightmap(HeightmapFrame(np.full((*ws.shape, 3), 90, np.uint8),
                                        np.zeros(ws.shape, np.float32), ws), 1)
    web = WebServer(session)
    driver = browser()
    try:
        page = TeleopPage(driver, web.page_url)
        page.until(lambda: page.status() == "ready", 20, "the page is not ready")
        assert "grasp yaw" in page.text("help")
        u, v = 150, 80
        page.click(u, v, math.radians(120))  # a drag at 120 deg: the grasp at -60 deg
        pick, place = page.clicks()
        assert pick == (u, v, math.radians(-60)) and place is None

        def rgb(x: float, y: float) -> list[int]:
            return driver.execute_script(
                f"return Array.from(ctx.getImageData({round(x)}, {round(y)}, 1, 1).data)")[:3]

        # the fingers sit across the yaw (yaw + 90 deg), finger_opening apart, in the pick's
        # green; nothing is drawn along the yaw itself
        x, y = MARGIN + (v + 0.5) * SCALE, MARGIN + (u + 0.5) * SCALE
        half = 0.08 / ws.pixel_size * SCALE / 2
        yaw = math.radians(-60)
        for sign in (1, -1):
            fx, fy = x - sign * half * math.sin(yaw), y + sign * half * math.cos(yaw)
            assert rgb(fx, fy) == [0, 255, 0], (sign, rgb(fx, fy))
            assert rgb(x + sign * half * math.cos(yaw), y + sign * half * math.sin(yaw)) == \
                [90, 90, 90]
        page.click(200, 100)  # the place without a drag keeps the pick's yaw
        assert page.clicks()[1] == (200, 100, math.radians(-60))
        page.type_instruction("put the red block in the blue bowl")
        page.press("execute")
        page.until(lambda: session.active is not None, 10, "no step was requested")
        step = session.take_goal()
        assert math.degrees(yaw_of(step.pose0[1])) == pytest.approx(-60, abs=1.0)
        assert math.degrees(yaw_of(step.pose1[1])) == pytest.approx(-60, abs=1.0)
    finally:
        driver.quit()
        web.close()
        session.close()
