from glob import glob

from setuptools import find_packages, setup

PACKAGE = "cliport_policy"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/clip", glob("config/clip/*.json")),
        (f"share/{PACKAGE}/models", glob("models/*.ckpt") + glob("models/*.safetensors")
         + glob("models/*.md")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="Two-stream CLIPort policy: models, training, evaluation, inference.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "cliport-train = cliport_policy.cli:train",
            "cliport-eval = cliport_policy.cli:evaluate",
            "cliport-results-table = cliport_policy.results_table:main",
            "cliport-export-checkpoint = cliport_policy.checkpoint:main",
            "cliport-pretrain-clip = cliport_policy.cli:pretrain_clip",
            "policy_node = cliport_policy.cli:policy_node",
        ],
    },
)
