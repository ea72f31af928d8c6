"""The operator's page in a real browser (Debian's headless chromium through chromedriver)
while the sim stack runs: clicks outside the map and an empty instruction are refused on
the page; pick and place clicked where the block and bowl are move the block, and the
accepted episode is on disk with those labels."""

from __future__ import annotations

import math
import shutil

import pytest

from cliport_bringup.graph import load_graph
from cliport_bringup.ros.spin import spin_until
from cliport_sim.dataset import Dataset
from cliport_teleop.testing import Page, free_port, recorder_spec

pytestmark = pytest.mark.timeout(300)
MARGIN, SCALE = 20, 2  # the page's canvas layout (static/index.html)


def browser():
    pytest.importorskip("selenium")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium / chromedriver are not installed (apt-get install chromium "
                    "chromium-driver; make setup does it when run as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver_path), options=options)


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
        driver.get(page.url)

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
