from setuptools import find_packages, setup

PACKAGE = "cliport_common"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="Shared code of the cliport packages: strict YAML config, stamps, poses, "
                "frames, and the ROS helpers of the thin nodes.",
    license="Apache-2.0",
)
