"""The package graph: which cliport package may import which, and what a core may not import.

README.md's "Package graph" section lists, per package, the packages it may import; every
``.py`` under ``ros2_ws/src/<package>/`` is parsed (never run) and its imports must follow that
graph exactly, as must each ``package.xml``. Cores (modules outside ``nodes/`` and ``ros/``,
not named ``*_node.py``) never import rclpy or launch, and load no ``nodes/`` or ``ros/``
module on import: message types are plain data, which cores convert, but the middleware stays
in the nodes. Tests under ``test/`` may import any package (they start whole graphs), except
that the executor's never load the simulator.

Why: the layering (common at the bottom, perception beneath policy, an executor without
PyBullet) holds only while a test says so, and the README cannot drift from the code.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "ros2_ws" / "src"
README = ROOT / "README.md"

MIDDLEWARE = ("rclpy", "launch", "launch_ros", "tf2_ros")  # what a core never imports
SIMULATOR = ("pybullet", "pybullet_data", "pybullet_utils", "cliport_sim")
# Files that do not follow the rule their location implies, each with its reason.
NOT_A_CORE = {
    # Only the launch files import it, and only under ros2 launch.
    "cliport_bringup/cliport_bringup/launch_description.py",
}
TEST_SUPPORT = {
    # Helpers for the teleop tests, which start recorder graphs with bringup's runner.
    "cliport_teleop/cliport_teleop/testing.py",
}
# A dotted module path in a string (an importlib table, an entry point): an import by name.
BY_NAME = re.compile(r"(?:[\w.-]+\s*=\s*)?(cliport_[a-z]+)(?:\.[\w.]+)?(?::[\w.]+)?")
QUOTED_PACKAGE = re.compile(r"""["'](?:[\w.-]+\s*=\s*)?cliport_""")


@cache
def packages() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in SRC.iterdir() if (p / "package.xml").is_file()))


def rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def is_test(path: Path) -> bool:
    parts = path.relative_to(SRC).parts
    return parts[1] == "test" or rel(path) in TEST_SUPPORT


def is_core(path: Path) -> bool:
    parts = path.relative_to(SRC).parts
    return (len(parts) > 2 and parts[1] == parts[0] and not {"nodes", "ros"} & set(parts[2:-1])
            and not path.name.endswith("_node.py") and rel(path) not in NOT_A_CORE)


def python_files() -> list[Path]:
    return sorted(p for p in SRC.glob("*/**/*.py") if ".egg-info" not in p.as_posix())


@cache
def imports(path: Path) -> tuple[tuple[int, str, bool], ...]:
    """(line, dotted module, at module level) of every absolute import in ``path``: lazy ones
    inside functions too, and imports by name (a module path in a string)."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, str(path))
    found = []

    def visit(body: list[ast.stmt], top: bool) -> None:  # imports are statements: skip the rest
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name, top) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.lineno, node.module, top))
            inner = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                visit(getattr(node, name, None) or [], inner)

    visit(tree.body, True)
    if QUOTED_PACKAGE.search(text):
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings):
                match = BY_NAME.fullmatch(node.value.strip())
                if match and match.group(1) in packages():
                    found.append((node.lineno, match.group(1), False))
    return tuple(sorted(found))


def cross_imports(include_tests: bool = False) -> Iterator[tuple[str, str, str, int, str]]:
    """(package, imported package, file, line, module) for each import of another package."""
    known = set(packages())
    for path in python_files():
        if is_test(path) and not include_tests:
            continue
        package = path.relative_to(SRC).parts[0]
        for line, module, _ in imports(path):
            top = module.split(".")[0]
            if top in known and top != package:
                yield package, top, rel(path), line, module


@cache
def readme_graph() -> dict[str, frozenset[str]]:
    """README's "Package graph" table: each package and the packages it may import."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Package graph\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Package graph' section"
    graph = {}
    for row in re.finditer(r"^\| *`(cliport_\w+)` *\|([^|\n]*)\|", section.group(1),
                           re.MULTILINE):
        graph[row.group(1)] = frozenset(re.findall(r"`(cliport_\w+)`", row.group(2)))
    return graph


def find_cycle(graph: dict[str, set[str] | frozenset[str]]) -> list[str]:
    """One cycle of ``graph`` as a path that returns to its start, or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [node])):
                return cycle
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return []


def declared(package: str) -> list[tuple[str, int, str]]:
    """(file, line, name) of every dependency in ``package``'s package.xml and setup.py."""
    deps = []
    xml = SRC / package / "package.xml"
    lines = xml.read_text(encoding="utf-8").splitlines()
    for element in ET.parse(xml).getroot():
        if element.tag.endswith("depend") and element.tag != "test_depend":
            name = (element.text or "").strip()
            line = next((i for i, text in enumerate(lines, 1) if f">{name}<" in text), 0)
            deps.append((rel(xml), line, name))
    setup = SRC / package / "setup.py"
    if setup.is_file():
        for node in ast.walk(ast.parse(setup.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "install_requires":
                deps += [(rel(setup), item.lineno, re.split(r"[<>=!~ \[;]", item.value)[0])
                         for item in ast.walk(node.value)
                         if isinstance(item, ast.Constant) and isinstance(item.value, str)]
    return deps


def report(problems: list[str], what: str) -> str:
    return f"{len(problems)} {what}:\n" + "\n".join(sorted(set(problems)))


def test_readme_graph_names_every_package_and_keeps_the_layering():
    graph = readme_graph()
    assert tuple(sorted(graph)) == packages(), "README's package graph lists other packages"
    for package, allowed in graph.items():
        assert allowed <= set(graph), f"{package} may import unknown {sorted(allowed - set(graph))}"
    assert not find_cycle(graph), f"README's package graph has a cycle: {find_cycle(graph)}"
    assert graph["cliport_common"] == frozenset(), "cliport_common imports no cliport package"
    assert graph["cliport_perception"] <= {"cliport_common", "cliport_msgs"}
    assert "cliport_sim" not in graph["cliport_executor"]


def test_imports_follow_the_readme_graph():
    graph = readme_graph()
    bad = [f"{path}:{line}: imports {module} ({package} may import {sorted(graph[package])})"
           for package, top, path, line, module in cross_imports() if top not in graph[package]]
    assert not bad, report(bad, "imports outside README's package graph")


def test_readme_graph_allows_no_edge_that_nothing_uses():
    used = {(package, top) for package, top, *_ in cross_imports()}
    unused = [f"README.md: {package} may import {dep}, but no module of it does"
              for package, allowed in readme_graph().items() for dep in sorted(allowed)
              if (package, dep) not in used]
    assert not unused, report(unused, "edges of README's package graph are unused")


def test_package_import_graph_has_no_cycle():
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for package, top, path, line, module in cross_imports():
        graph.setdefault(package, set()).add(top)
        where.setdefault((package, top), f"{path}:{line}: imports {module}")
    cycle = find_cycle(graph)
    assert not cycle, "import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(
        where[edge] for edge in zip(cycle, cycle[1:], strict=False))


def test_package_xml_declares_what_the_code_imports_and_nothing_else():
    graph = readme_graph()
    bad = []
    for package in packages():
        deps = {name for _, _, name in declared(package)}
        bad += [f"{where}:{line}: depends on {name} ({package} may import "
                f"{sorted(graph[package])})" for where, line, name in declared(package)
                if name.startswith("cliport_") and name not in graph[package]]
        bad += [f"{path}:{line}: imports {module}, which {package}/package.xml does not declare"
                for pkg, top, path, line, module in cross_imports()
                if pkg == package and top not in deps]
    assert not bad, report(bad, "dependency declarations out of step")


def test_cores_never_import_the_middleware():
    bad = []
    for path in filter(is_core, python_files()):
        for line, module, top in imports(path):
            parts = module.split(".")
            if parts[0] in MIDDLEWARE:
                bad.append(f"{rel(path)}:{line}: a core imports {module}")
            elif top and parts[0] in packages() and (
                    {"nodes", "ros"} & set(parts[1:]) or parts[-1].endswith("_node")):
                bad.append(f"{rel(path)}:{line}: a core loads the ROS side {module} on import")
    assert not bad, report(bad, "core imports of rclpy, launch or, on import, a ROS side")


def test_executor_never_loads_the_simulator():
    bad = [f"{rel(path)}:{line}: imports {module}"
           for path in python_files() if path.relative_to(SRC).parts[0] == "cliport_executor"
           for line, module, _ in imports(path) if module.split(".")[0] in SIMULATOR]
    bad += [f"{where}:{line}: depends on {name}"
            for where, line, name in declared("cliport_executor")
            if any(s in name for s in ("pybullet", "cliport_sim"))]
    assert not bad, report(bad, "ways the executor loads the simulator")
