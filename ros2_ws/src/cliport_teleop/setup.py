from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cliport_teleop"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["static/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="Teleop demo recording through a web page: click pick and place, record "
                "crash-safe episodes, export to LeRobot.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "teleop_recorder = cliport_teleop.nodes.recorder_node:main",
            "cliport-export-lerobot = cliport_teleop.export_lerobot:main",
        ],
    },
)
