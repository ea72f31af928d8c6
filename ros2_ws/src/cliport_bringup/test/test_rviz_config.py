"""The shipped RViz layout shows topics our nodes really publish (with their default
configs), in the arm's base frame."""

from __future__ import annotations

from pathlib import Path

import yaml

from cliport_perception.perception_config import load_perception_config
from cliport_policy.node_config import load_node_config

RVIZ = Path(__file__).resolve().parent.parent / "rviz" / "cliport.rviz"


def test_every_topic_in_the_rviz_layout_is_published_by_our_nodes():
    layout = yaml.safe_load(RVIZ.read_text())
    manager = layout["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "base"
    topics = {d["Topic"]["Value"] for d in manager["Displays"] if "Topic" in d}
    perception, policy = load_perception_config(), load_node_config()
    heightmap = "/" + perception.heightmap_topic.strip("/")
    published = {f"{heightmap}/colormap_preview", f"{heightmap}/height_preview"}
    published |= {"/" + getattr(policy.topics, name).strip("/")
                  for name in ("pick_heatmap", "place_heatmap", "markers")}
    assert topics == published
