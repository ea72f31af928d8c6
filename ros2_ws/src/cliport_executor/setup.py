from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cliport_executor"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/ros", glob("config/ros/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="One PickPlace action server for every arm backend.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "pick_place_server = cliport_executor.nodes.pick_place_server:main",
        ],
    },
)
