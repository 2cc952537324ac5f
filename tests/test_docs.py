"""The docs: every hook documented (as llm and datasette check theirs), and the Sphinx build clean."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gancore import hookspecs

ROOT = Path(__file__).resolve().parents[1]


def hooks() -> dict[str, object]:
    return {name: fn for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")}


def doc_problems(fn) -> list[str]:
    """What a hook's docstring lacks: substance, a :param: per argument, a :return:."""
    doc = inspect.getdoc(fn) or ""
    problems = []
    if len(doc.split()) < 15:
        problems.append("no docstring, or one too thin to say when it is called and what it does")
    for arg in inspect.signature(fn).parameters:
        if not re.search(rf":param {arg}:\s*\S", doc):
            problems.append(f"no :param {arg}:")
    if not re.search(r":return:\s*\S", doc):
        problems.append("no :return:")
    return problems


def test_there_are_hooks():
    assert {"build_generator", "build_discriminator", "d_loss", "g_loss", "regularize", "post_step"} <= set(hooks())


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_is_documented(name):
    assert doc_problems(hooks()[name]) == [], f"hook {name!r} in gancore/hookspecs.py is under-documented"


KINDS = ("family hook, firstresult", "collected", "notification", "sampling, firstresult", "install-time")


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_states_its_kind_and_types(name):
    # The contract on the hook itself, as pytest's hookspec.py does: its kind and its types.
    fn = hooks()[name]
    kind = re.search(r"^Kind: \*\*(.+?)\*\*", inspect.getdoc(fn) or "", re.M)
    assert kind and kind.group(1) in KINDS, f"hook {name!r}: no 'Kind: **...**' line naming one of {KINDS}"
    firstresult = getattr(fn, f"{hookspecs.PROJECT}_spec")["firstresult"]
    assert firstresult == kind.group(1).endswith("firstresult"), f"hook {name!r}: its kind and its spec differ"
    signature = inspect.signature(fn)
    assert signature.return_annotation is not inspect.Signature.empty, f"hook {name!r}: no return annotation"
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values()), name
    # The annotations name real types (hookspecs imports them only for type checkers, to avoid cycles).
    import typing

    import click
    import torch

    from gancore.config import TrainConfig
    from gancore.data import Dataset, DataSpec
    from gancore.step import Step

    names = dict(vars(hookspecs), torch=torch, nn=torch.nn, click=click, TrainConfig=TrainConfig, DataSpec=DataSpec,
                 Dataset=Dataset, Step=Step)
    assert set(typing.get_type_hints(fn, globalns=names)) == {*signature.parameters, "return"}


def test_the_documentation_check_can_fail():
    def thin(step, phase):
        """Do something."""

    def no_return(step):
        """Called once per step on every plugin, with the step object, to do a thing that matters.

        :param step: the step.
        """

    assert doc_problems(thin) == ["no docstring, or one too thin to say when it is called and what it does",
                                  "no :param step:", "no :param phase:", "no :return:"]
    assert doc_problems(no_return) == ["no :return:"]


def test_sphinx_builds_the_docs_without_warnings(tmp_path):
    # The same build as `nox -s docs`; -W makes every warning an error.
    out = tmp_path / "html"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    reference = (out / "authoring" / "hooks.html").read_text()
    for name in hooks():
        assert f'id="gancore.hookspecs.{name}"' in reference
    # Each hook's kind and types are rendered, and the capability flag is documented there.
    assert reference.count("Kind:") >= len(hooks()) and reference.count("Return type") >= len(hooks())
    assert 'id="gancore.hookspecs.DOUBLE_BACKWARD"' in reference
    tutorial = (out / "authoring" / "tutorial.html").read_text()
    assert "HingeGAN" in tutorial and "gancore_tutorial:HingeGAN" in tutorial  # the example's real code
    for page in ("installation", "quickstart", "mixing-regularizers", "monitor", "authoring/toolkit"):
        assert (out / f"{page}.html").is_file()
