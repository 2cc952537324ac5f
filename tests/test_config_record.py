"""config.toml records every resolved option of every plugin, with the layer that set each value, and
agrees with `gan train --dry-run` and with a resumed run."""

from __future__ import annotations

import re

import pytest

from gancore.config import annotate_sources, load_config, read_toml
from gancore.run.launch import dry_run


def options_and_sources(path) -> tuple[dict, dict]:
    """The [options] tables of a config.toml, and the comment after each option's value."""
    sources, table = {}, None
    for line in path.read_text().splitlines():
        header = re.match(r"^\[options\.(.+)\]$", line)
        if header:
            table = header.group(1).strip('"')
            continue
        if line.startswith("["):
            table = None
        found = re.match(r"^(\w+) = .*  # (.+)$", line)
        if table and found:
            sources[f"{table}.{found.group(1)}"] = found.group(2)
    return read_toml(path).get("options", {}), sources


def test_every_option_is_recorded_with_its_layer(gan, tmp_path):
    result = gan("train", "-p", "gancore-dcgan", "--data", "digits", "--steps", 1, "--out", tmp_path, "--name", "run",
                 "-r", "gp", "--set", "gancore-dcgan.width=8")
    assert result.exit_code == 0, result.output
    path = tmp_path / "run" / "config.toml"
    options, sources = options_and_sources(path)
    spec = dry_run({"plugins": ["gancore-dcgan"], "data": "digits", "regularizers": {"gp": None},
                    "options": {"gancore-dcgan": {"width": 8}}})
    # The same values as --dry-run resolves (a regularizer's weight is under [regularizers]).
    expected = {name: {k: list(v) if isinstance(v, tuple) else v for k, v in table.items()
                       if not (name in spec.regularizers and k == "weight") and v is not None}
                for name, table in spec.plugin_options.items()}
    assert options == {name: table for name, table in expected.items() if table}
    # The family's declared per-kind default, an add-on it turns on, a regularizer's own option: all there.
    assert set(options) == {"gancore-dcgan", "ema", "gp"} and options["gp"]["center"] == 1.0
    assert sources["gancore-dcgan.width"] == "flag (--set)"
    assert sources["gancore-dcgan.norm"].startswith("declaration")
    assert read_toml(path)["regularizers"] == {"gp": 10.0}
    text = path.read_text()
    assert re.search(r"^data = \"digits\"  # flag$", text, re.MULTILINE)
    assert re.search(r"^lr_g = .*  # family gancore-dcgan$", text, re.MULTILINE)
    assert re.search(r"^plugins = \[  # ", text, re.MULTILINE)  # a multi-line array is annotated too
    # The file reads back as the configuration the run trained with.
    assert load_config(path).options == options

    # A resumed run resolves the same options (read back from the file) and keeps them recorded.
    resumed = dry_run({}, resume=str(tmp_path / "run"))
    assert {name: {k: v for k, v in table.items() if k in options.get(name, {})}
            for name, table in resumed.plugin_options.items() if name in options} == options
    result = gan("train", "--resume", tmp_path / "run", "--steps", 2)
    assert result.exit_code == 0, result.output
    assert read_toml(path)["options"] == options


def test_annotating_leaves_the_values_as_they_are():
    import tomllib

    text = ('steps = 5\nbetas = [\n    0.5,\n    0.9,\n]\n\n[regularizers]\ngp = 10.0\n\n'
            '[options.gancore-gan]\nhidden = 8\nloss = "saturating"\n')
    annotated = annotate_sources(text, {"steps": "flag", "options.gancore-gan.hidden": "declaration (vector)",
                                        "regularizers.gp": "flag"})
    assert tomllib.loads(annotated) == tomllib.loads(text)
    assert "steps = 5  # flag\nbetas = [  # gancore\n" in annotated
    assert "gp = 10.0  # flag" in annotated and "hidden = 8  # declaration (vector)" in annotated
    assert 'loss = "saturating"  # declaration' in annotated


@pytest.mark.parametrize("value", ["a # b", "x\ny"])
def test_a_value_that_looks_like_a_comment_is_kept(value):
    import tomli_w
    import tomllib

    text = tomli_w.dumps({"name": value})
    assert tomllib.loads(annotate_sources(text, {}))["name"] == value
