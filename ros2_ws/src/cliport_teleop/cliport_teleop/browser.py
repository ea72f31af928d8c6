"""The recorder's page driven in headless Chromium (selenium + chromedriver), as an operator
clicks it: for tests and for recording scripted episodes through the real page.

Clicks land on the page's own canvas coordinates (its ``SCALE`` and ``MARGIN``, read from the
page), so a cell and a yaw given here are exactly what the page turns into a step request.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from collections.abc import Callable

DRAG_PX = 40  # length of a drag on the canvas: the yaw is set to within atan(0.5 / 40) = 0.7 deg
ANGLE = re.compile(r"\((-?\d+), (-?\d+), (-?\d+)°\)")


class BrowserUnavailable(RuntimeError):
    """No chromium / chromedriver / selenium here."""


def chromium(width: int = 1200, height: int = 900, extra_args: tuple[str, ...] = ()):
    """A headless Chromium WebDriver (Debian's ``chromium`` and ``chromium-driver``);
    ``extra_args`` are more command-line switches (e.g. an autoplay policy)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise BrowserUnavailable("selenium is not installed (requirements/base.txt)") from None
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        raise BrowserUnavailable("chromium / chromedriver are not installed (apt-get install "
                                 "chromium chromium-driver; make setup does it as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", *extra_args):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def parse_click(text: str) -> tuple[int, int, float] | None:
    """The page's ``(u, v, deg°)`` label as (u, v, yaw in radians), or None for ``-``."""
    m = ANGLE.fullmatch(text.strip())
    return None if m is None else (int(m[1]), int(m[2]), math.radians(int(m[3])))


class TeleopPage:
    """One open recorder page. ``wait`` polls a predicate (a caller may spin ROS in it)."""

    def __init__(self, driver, page_url: str,
                 wait: Callable[[Callable[[], object], float], bool] | None = None) -> None:
        self.driver = driver
        self.wait = wait or _poll
        driver.get(page_url)

    def text(self, element_id: str) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.ID, element_id).text

    def status(self) -> str:
        return self.text("status")

    def messages(self) -> str:
        return self.text("messages")

    def layout(self) -> tuple[int, int]:
        """The page's (SCALE, MARGIN): canvas pixels per cell and the margin around the map."""
        scale, margin = self.driver.execute_script("return [SCALE, MARGIN]")
        return int(scale), int(margin)

    def _offset(self, canvas, u: int, v: int) -> tuple[int, int]:
        """Selenium's offset (from the element's centre) of cell (u, v)'s centre."""
        scale, margin = self.layout()
        return (round(margin + (v + 0.5) * scale - canvas.size["width"] / 2),
                round(margin + (u + 0.5) * scale - canvas.size["height"] / 2))

    def click(self, u: int, v: int, yaw: float | None = None) -> None:
        """Click cell (u, v); with ``yaw``, drag from it along that yaw (map x along the
        columns, y down the rows: the base frame's yaw)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        canvas = self.driver.find_element(By.ID, "map")
        chain = ActionChains(self.driver).move_to_element_with_offset(
            canvas, *self._offset(canvas, u, v))
        if yaw is None:
            chain.click()
        else:
            chain.click_and_hold().move_by_offset(
                round(DRAG_PX * math.cos(yaw)), round(DRAG_PX * math.sin(yaw))).release()
        chain.perform()

    def press(self, button_id: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.ID, button_id).click()

    def type_instruction(self, instruction: str) -> None:
        from selenium.webdriver.common.by import By

        box = self.driver.find_element(By.ID, "instruction")
        box.clear()
        box.send_keys(instruction)

    def clicks(self) -> tuple[tuple[int, int, float] | None, tuple[int, int, float] | None]:
        """The pick and place the page shows (u, v, yaw rad)."""
        return parse_click(self.text("pick")), parse_click(self.text("place"))

    def until(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        if not self.wait(predicate, timeout):
            raise TimeoutError(f"{what} within {timeout:.0f} s (status: {self.status()!r}; "
                               f"messages: {self.messages()[:300]!r})")


def _poll(predicate: Callable[[], object], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())
