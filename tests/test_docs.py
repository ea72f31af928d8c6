"""The repository's docs are self-contained: references resolve inside it, the README stays short.

Why: facts the code relies on live in ``docs/design.md`` under stable section names, so a
citation that points outside the repository, or at a section that was renamed, is a dead end.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
README_MAX_WORDS = 1500

# Built from pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join([
    "shared" + "/docs",
    "\u00a7 ?[0-9n]",  # "§3", "§0.1": section numbers of documents the repository lacks
    r"\bspec\s+(section|sections)\s+[0-9]",
    r"\bspec [0-9]+(\.[0-9]+)?\b",
    r"\bros-stack" + r"(\.md)? ?(section|[0-9])",
]), re.IGNORECASE)
CITATION = re.compile(r"design\.md#([A-Za-z0-9_-]+)")


@cache
def tracked_texts() -> dict[str, str]:
    """Every tracked file that decodes as UTF-8 text, by its path."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                         capture_output=True).stdout.decode()
    texts = {}
    for name in filter(None, out.split("\0")):
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def design_anchors() -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+)$", DESIGN.read_text(),
                                                  re.MULTILINE)}


def test_nothing_refers_outside_the_repository():
    hits = [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
            for name, text in tracked_texts().items() if name != "tests/test_docs.py"
            for m in OUTSIDE.finditer(text)]
    assert not hits, "references outside the repository:\n" + "\n".join(hits)


def test_every_cited_design_section_exists():
    anchors = design_anchors()
    missing = [f"{name}: design.md#{m.group(1)}"
               for name, text in tracked_texts().items()
               for m in CITATION.finditer(text) if m.group(1) not in anchors]
    assert not missing, "cited sections missing from docs/design.md:\n" + "\n".join(missing)


def test_design_section_names_are_unique():
    headings = re.findall(r"^#{1,6} +(.+)$", DESIGN.read_text(), re.MULTILINE)
    slugs = [slug(h) for h in headings]
    assert len(slugs) == len(set(slugs)), sorted(s for s in slugs if slugs.count(s) > 1)


def test_readme_is_short():
    words = len((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert words <= README_MAX_WORDS, f"README.md has {words} words (at most {README_MAX_WORDS})"
