from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cliport_perception"

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
    description="RGB-D to orthographic heightmap fusion, image conversion, workspace geometry.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "perception = cliport_perception.nodes.perception_node:main",
        ],
    },
)
