"""`docs/results.md` is shared by several benchmarks: each owns one `## ` section of it."""

from __future__ import annotations

from pathlib import Path

PREAMBLE = "# Results\n\nMeasured numbers, each with the command that produced it.\n"


def read_section(path: Path, heading: str) -> str:
    """The text of section ``heading`` (``"## ..."``) of ``path``, or ``""``."""
    text = path.read_text() if path.exists() else ""
    start = text.find(heading + "\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start:end + 1 if end >= 0 else len(text)]


def replace_section(path: Path, heading: str, body: str) -> None:
    """Write ``body`` (which starts with ``heading``) in place of that section, keeping the others."""
    text = path.read_text() if path.exists() else PREAMBLE
    old = read_section(path, heading)
    body = body.rstrip("\n") + "\n\n"
    text = text.replace(old, body) if old else text.rstrip("\n") + "\n\n" + body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
