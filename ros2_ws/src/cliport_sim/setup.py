from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cliport_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    # The generated task assets and the UR5 travel with the Python package.
    package_data={PACKAGE: ["assets/**/*.urdf", "assets/**/*.obj", "assets/**/*.mtl",
                            "assets/**/*.png", "assets/**/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="PyBullet UR5-suction simulator, CLIPort language tasks, oracles.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "cliport-demos = cliport_sim.demos:main",
            "cliport-oracle-check = cliport_sim.oracle_check:main",
            "cliport-scenes = cliport_sim.scene_captions:main",
            "sim = cliport_sim.nodes.sim_node:main",
            "twin = cliport_sim.nodes.twin_node:main",
        ],
        # The executor finds the simulated UR5 by name without importing this package.
        "cliport_executor.backends": [
            "sim = cliport_sim.sim_backend:SimBackend",
        ],
        "cliport_perception.sources": [
            "sim = cliport_sim.camera_source:SimCameraSource",
        ],
    },
)
