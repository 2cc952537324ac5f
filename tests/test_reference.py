"""The API reference pages (docs/reference/) are generated from the docstrings and kept current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from gancore import reference

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "reference"


def test_the_checked_in_pages_are_current():
    stale = reference.stale(PAGES)
    assert stale == [], (f"docs/reference is out of date ({', '.join(stale)}): run "
                         "`python -m gancore.reference` and commit the pages")


def test_the_pages_cover_what_an_author_needs():
    pages = reference.render_all()
    hooks = pages["hooks.md"]
    for name in reference._hook_names():
        assert f"## `{name}`" in hooks
    assert hooks.count("- **Returns**:") >= len(reference._hook_names())
    for page, names in {"declarations.md": ["declare", "option", "Option.default_for", "Declaration"],
                        "option-types.md": ["Range", "PositiveInt", "Norm", "coerce_option"],
                        "nets.md": ["StandardNetworks", "takes_mlp", "MLPGenerator", "ConvDiscriminator", "by_kind"],
                        "losses.md": ["logistic_d", "wasserstein_g", "input_gradient"],
                        "data.md": ["DataSpec", "DataSpec.kind", "DataSpec.is_image", "DataSpec.image_size"],
                        "testing.md": ["check_plugin", "ScriptedStep", "ScriptedStep.state_for", "run_cli"],
                        "step.md": ["Step.state_for", "Step.log", "DiscriminatorView"]}.items():
        for name in names:
            assert f"`{name}`" in pages[page], (page, name)
    # The contract of the mixin: the hooks it provides and what a family states itself.
    assert "build_generator" in pages["nets.md"] and "What the family must state itself" in pages["nets.md"]
    # Markdown, not reStructuredText: no roles, no double-backquote literals.
    for name, text in pages.items():
        text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks show source as it is
        assert ":func:`" not in text and ":class:`" not in text and "``" not in text.replace("```", ""), name


def test_the_output_is_deterministic_and_free_of_addresses():
    first = reference.render_all()
    assert first == reference.render_all()
    assert not any(" at 0x" in text for text in first.values())


def test_the_check_command_fails_on_a_stale_page(tmp_path):
    reference.write(tmp_path)
    assert reference.main([str(tmp_path), "--check"]) == 0
    (tmp_path / "nets.md").write_text((tmp_path / "nets.md").read_text() + "edited\n")
    (tmp_path / "old.md").write_text("# a page no one writes\n")
    assert reference.stale(tmp_path) == ["nets.md", "old.md"]
    done = subprocess.run([sys.executable, "-m", "gancore.reference", str(tmp_path), "--check"],
                          check=False, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "nets.md" in done.stderr and "python -m gancore.reference" in done.stderr


def test_rst_becomes_markdown():
    doc = """Do a thing with :func:`~gancore.nets.takes_mlp` and ``x``::

        from gancore import hookimpl

    :param step: the :class:`gancore.step.Step`; see
        ``step.data``.
    :return: nothing.
    """
    assert reference.rst_to_markdown(doc) == (
        "Do a thing with `takes_mlp` and `x`:\n\n```python\nfrom gancore import hookimpl\n```\n\n"
        "- **`step`**: the `gancore.step.Step`; see `step.data`.\n- **Returns**: nothing.")
