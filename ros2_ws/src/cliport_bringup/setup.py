from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cliport_bringup"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.*")),
        (f"share/{PACKAGE}/config/graphs", glob("config/graphs/*.yaml")),
        (f"share/{PACKAGE}/config/moveit", glob("config/moveit/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="Node graphs, launch files, a runner for machines without ros2 launch, CLIs.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "cliport-run = cliport_bringup.runner:main",
            "cliport-topic = cliport_bringup.nodes.topic_cli:main",
            "cliport-goal = cliport_bringup.nodes.goal_cli:main",
            "cliport-sim-loop = cliport_bringup.nodes.sim_loop:main",
            "cliport-demo = cliport_bringup.nodes.demo:main",
        ],
    },
)
