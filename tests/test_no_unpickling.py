"""Nothing is unpickled: scan the shipped code's syntax trees for pickle-based loading."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve"}
# Calls whose *attribute* name gives them away, whatever the object: torch.load / torch.save,
# pandas.read_pickle, and Accelerate's save_state/load_state (which write and read pickled .bin files).
BAD_ATTRIBUTES = {("torch", "load"), ("torch", "save"), ("serialization", "load"), ("*", "read_pickle"),
                  ("*", "load_state"), ("*", "save_state"), ("*", "to_pickle")}


def shipped_files() -> list[Path]:
    files = list((ROOT / "gancore").rglob("*.py"))
    for folder in ("plugins", "benchmarks"):
        files += [p for p in (ROOT / folder).rglob("*.py") if "tests" not in p.parts] if (ROOT / folder).is_dir() \
            else []
    return sorted(files)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def offences(source: str, filename: str = "<string>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in PICKLING_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in PICKLING_MODULES:
                found.append(f"{where}: from {module} import ...")
            if module.startswith("torch") and any(a.name in ("load", "save") for a in node.names):
                found.append(f"{where}: from {module} import load/save")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            parts = name.split(".")
            if len(parts) >= 2 and any(attr == parts[-1] and owner in ("*", parts[-2])
                                       for owner, attr in BAD_ATTRIBUTES):
                found.append(f"{where}: {name}(...)")
            if parts[-1] == "load" and any(k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant)
                                                                            and k.value.value is False)
                                           for k in node.keywords):
                found.append(f"{where}: {name}(allow_pickle=...)")
    return found


def test_scanner_catches_each_kind_of_unpickling():
    snippet = """
import pickle
from torch import load
import torch
torch.load("x.pt")
accelerator.load_state("dir")
np.load("x.npy", allow_pickle=True)
from dill import loads
"""
    assert len(offences(snippet)) == 6


#: The one read of a pickle-format file allowed: gancore/weights.py converts the published FID Inception
#: .pth after its SHA-256 matched the published digest (tests/test_weights.py proves an unverified
#: download is never read), with torch's restricted ``weights_only=True`` loader. Not a user's file.
VERIFIED_DOWNLOAD = ("gancore/weights.py", "torch.load(weights_only=True)")


def _verified_download_read(source: str) -> int:
    """How many ``torch.load(..., weights_only=True)`` calls ``source`` holds."""
    return sum(1 for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call) and _dotted(node.func) ==
               "torch.load" and any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                                    and k.value.value is True for k in node.keywords))


def test_shipped_code_never_unpickles():
    files = shipped_files()
    assert len(files) > 10 and any(p.name == "checkpoint.py" for p in files)
    found = [hit for path in files for hit in offences(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    allowed = (ROOT / VERIFIED_DOWNLOAD[0]).read_text(encoding="utf-8")
    assert _verified_download_read(allowed) == 1 and len([f for f in found if f.startswith(VERIFIED_DOWNLOAD[0])]) == 1
    found = [hit for hit in found if not hit.startswith(VERIFIED_DOWNLOAD[0] + ":")]
    assert not found, "pickle-based loading found:\n" + "\n".join(found)
