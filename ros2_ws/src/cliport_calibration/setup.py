from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cliport_calibration"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="Hand-eye calibration (eye-to-hand and eye-in-hand) with a ChArUco board.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "cliport-handeye = cliport_calibration.cli:main",
            "handeye_sampler = cliport_calibration.nodes.handeye_sampler_node:main",
            "handeye_sim_rig = cliport_calibration.nodes.sim_rig_node:main",
        ],
    },
)
