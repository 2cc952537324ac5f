"""Seeded fuzzing of the CLI's inputs: random and mutated images, checkpoints and config files.

Every case must end cleanly: exit 0, or exit 1 with one "Error: ..." paragraph. Five kinds:
image files, checkpoints, config files, plugin options (issue 19), and crafted run directories
(links, FIFOs and folders planted where a run writes; issue 24), after which nothing outside the
run directory may have changed. An exception escaping the CLI (a traceback) fails the test,
because the `gan` fixture does not catch exceptions. Sizes are kept small: the fuzzing is of
formats and types; the limits on valid but huge values (a --latent-dim of 10^9) are tested in
tests/test_stranger_run.py.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil

import pytest
import tomli_w
from click.testing import CliRunner
from PIL import Image

from gancore.checkpoint import meta_digest
from gancore.cli import main
from gancore.config import FIELDS

CASES = 120  # per kind; three kinds
TINY = ["--plugin", "gancore-gan", "--set", "gancore-gan.hidden=4", "--set", "gancore-gan.layers=1"]
QUICK = ["--steps", "1", "--sample-every", "0", "--grid-size", "1", "--no-progress"]


def clean_exit(result) -> None:
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and len(errors[0]) > 20, result.output


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.random()
        if kind < 0.5 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind < 0.7:
            data = data[:rng.randrange(len(data) + 1)]
        elif kind < 0.85:
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.randbytes(rng.randint(1, 16))
        elif data:
            at = rng.randrange(len(data))
            del data[at:at + rng.randint(1, 16)]
    return bytes(data)


def test_fuzz_image_files(gan, tmp_path):
    rng = random.Random(7)
    good = tmp_path / "good.png"
    Image.new("L", (8, 8), 100).save(good)
    valid = good.read_bytes()
    for case in range(CASES):
        folder = tmp_path / f"imgs{case}"
        folder.mkdir()
        shutil.copy(good, folder / "a.png")
        suffix = rng.choice([".png", ".jpg", ".gif", ".bmp", ".webp", ".tif", ".pgm"])
        data = rng.randbytes(rng.randint(0, 300)) if case % 2 else mutate(valid, rng)
        (folder / f"b{suffix}").write_bytes(data)
        clean_exit(gan("train", *TINY, "--data", folder, "--batch-size", "1", "--out", tmp_path, "--name",
                       f"r{case}", *QUICK))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz-run")
    result = CliRunner().invoke(main, ["train", *TINY, "--data", "ring", "--batch-size", "4", "--out", str(out),
                                       "--name", "run", *QUICK], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "run"


def _mutated_meta(meta: dict, rng: random.Random) -> dict:
    meta = json.loads(json.dumps(meta))
    hostile = [None, -1, 0, 2.5, "", "x", [], {}, [1, "a"], {"__tensor__": "nope"}, {"__dict__": 3},
               {"__tuple__": [{"__dict__": [[[], 1]]}]}, True]
    for _ in range(rng.randint(1, 3)):
        target, key = meta, rng.choice(sorted(meta))
        if isinstance(meta[key], dict) and meta[key] and rng.random() < 0.5:
            target, key = meta[key], rng.choice(sorted(meta[key]))
        target[key] = json.loads(json.dumps(rng.choice(hostile)))
    return meta


def test_fuzz_checkpoints(gan, tmp_path, trained):
    rng = random.Random(11)
    source = trained / "checkpoints" / "step-000001"
    for case in range(CASES):
        run = tmp_path / f"run{case}"
        shutil.copytree(trained, run)
        ckpt = run / "checkpoints" / "step-000001"
        meta = json.loads((source / "meta.json").read_text())
        kind = case % 4
        if kind == 0:  # random bytes for meta.json
            (ckpt / "meta.json").write_bytes(rng.randbytes(rng.randint(0, 200)))
        elif kind == 1:  # valid JSON, hostile values (re-signed, so that the schema behind the checksum sees them)
            hostile = _mutated_meta(meta, rng)
            (ckpt / "meta.json").write_text(json.dumps({**hostile, "meta_sha256": meta_digest(hostile)}
                                                       if case % 8 == 1 else hostile))
        else:  # a damaged tensor file; with kind 3 its checksum is updated, so the parser sees it
            name = rng.choice(["generator.safetensors", "discriminator.safetensors", "state.safetensors"])
            data = (source / name).read_bytes()
            data = mutate(data, rng) if rng.random() < 0.7 else rng.randbytes(rng.randint(0, 400))
            (ckpt / name).write_bytes(data)
            if kind == 3:
                meta["sha256"][name] = hashlib.sha256(data).hexdigest()
                (ckpt / "meta.json").write_text(json.dumps({**meta, "meta_sha256": meta_digest(meta)}))
        if case % 2:
            clean_exit(gan("sample", ckpt, "-n", "2", "-o", tmp_path / f"s{case}.png"))
        else:
            clean_exit(gan("train", "--resume", run, "--steps", "2", "--no-progress"))


def test_fuzz_config_files(gan, tmp_path):
    rng = random.Random(5)
    base = {"plugins": ["gancore-gan"], "data": "ring", "batch_size": 4,
            "options": {"gancore-gan": {"hidden": 4, "layers": 1}}}
    hostile = [-1, 0, 1, 3, 2.5, -0.5, "", "x", "ring", "cuda", "fp16", "bf16", "skip", "sgd", "linear",
               "gancore-gan", "gp", [], [1, 2], ["gancore-gan", "gancore-wgan"], {}, {"a": 1}, {"gp": "x"},
               {"gancore-gan": {"nope": 1}}, True, False, float("inf"), float("nan")]
    text = tomli_w.dumps(base).encode()
    for case in range(CASES):
        path = tmp_path / f"c{case}.toml"
        kind = case % 3
        if kind == 0:
            path.write_bytes(rng.randbytes(rng.randint(0, 200)))
        elif kind == 1:
            path.write_bytes(mutate(text, rng))
        else:
            values = dict(base)
            for _ in range(rng.randint(1, 3)):
                key = rng.choice(FIELDS + ("unknown_key",))
                if key not in ("out", "name", "steps"):
                    values[key] = rng.choice(hostile)
            path.write_text(tomli_w.dumps(values))
        clean_exit(gan("train", "--config", path, "--out", tmp_path, "--name", f"r{case}", *QUICK))


def plausible(default, annotation, rng: random.Random):
    """A value like ``default``: a choice of a Literal, a small number of its type."""
    import typing

    if default is None:  # an option the plugin chooses by data kind (`X | None`): a value of type X
        base = [arg for arg in typing.get_args(annotation) if arg is not type(None)][0]
        if typing.get_origin(base) is typing.Annotated:
            base = typing.get_args(base)[0]
        annotation, default = base, {int: 1, float: 1.0}.get(base, "")
    choices = [arg for arg in typing.get_args(annotation) if isinstance(arg, str)]
    if isinstance(default, bool):
        return rng.choice([True, False])
    if isinstance(default, int):
        return rng.randint(0, 3)
    if isinstance(default, float):
        return rng.choice([0.0, 0.1, 0.5, 1.0, 2.0])
    return rng.choice(choices) if choices else default


def test_fuzz_plugin_options(gan, tmp_path):
    """Hostile values for the options of the run's plugins (and regularizer weights), through a
    config file: checked against each plugin's signature, so nothing reaches torch unchecked."""
    from gancore.plugins import Registry

    rng = random.Random(19)
    registry = Registry.discover()
    runs = [("gancore-gan", [], []), ("gancore-dcgan", [], []), ("gancore-wgan", ["gp", "div"], []),
            ("gancore-wgan", ["clip"], []), ("gancore-lsgan", [], ["gancore-monitor"]),
            ("gancore-gan", ["r1"], ["ema"]), ("gancore-gan", ["dragan"], ["spectral-norm"])]
    hostile = [-2, -1, 0, 1, 2, 3, 2.5, -0.5, 1e-3, "", "x", "batch", "layer", "none", "mlp", "saturating",
               True, False, float("nan"), float("inf"), [], [1], {}, {"a": 1}]
    outcomes = []
    for case in range(CASES):
        family, regularizers, addons = rng.choice(runs)
        plugins = [family, *addons, *regularizers]
        options: dict = {family: {"hidden": 4, "width": 4}} if family != "gancore-gan" else {family: {"hidden": 4}}
        options[family] = {k: v for k, v in options[family].items() if k in registry.get(family).options}
        for _ in range(rng.randint(1, 2)):
            plugin = rng.choice(plugins)
            info = registry.get(plugin)
            names = sorted(info.options) + ["nope"] * (rng.random() < 0.1)
            name = rng.choice(names)
            if rng.random() < 0.5:
                value = rng.choice(hostile)
            else:  # a value of the option's own kind, often a fitting one
                value = plausible(info.options.get(name, 1), info.types.get(name), rng)
            if name != "weight" or plugin not in regularizers or rng.random() < 0.1:
                options.setdefault(plugin, {})[name] = value
        weights = {name: rng.choice([None, None, 0.5, *hostile]) for name in regularizers}
        values = {"plugins": [family, *addons], "data": "ring", "batch_size": 4, "options": options,
                  "regularizers": {k: v for k, v in weights.items() if v is not None}}
        if not values["regularizers"] and not regularizers:
            del values["regularizers"]
        path = tmp_path / f"o{case}.toml"
        path.write_text(tomli_w.dumps(values))
        result = gan("train", "--config", path, "--out", tmp_path, "--name", f"r{case}", *QUICK)
        clean_exit(result)
        outcomes.append(result.exit_code)
    assert outcomes.count(0) >= 10 and outcomes.count(1) >= 10, outcomes  # both paths are exercised


def test_fuzz_crafted_run_directories(gan, tmp_path, trained):
    """Links (to a file or a folder outside, to nowhere, to themselves), FIFOs and folders planted at
    random names a run writes or reads, then a random command: a clean exit, and nothing outside changes."""
    import os

    rng = random.Random(23)
    names = [".lock", "config.toml", "metrics.jsonl", "warnings.jsonl", "eval.json", "report.html", "samples",
             "samples/step-000002.png", "checkpoints", "checkpoints/step-000002", "checkpoints/step-000001/meta.json",
             "checkpoints/step-000001/generator.safetensors", ".report.html.tmp", ".metrics.jsonl.tmp"]
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "victim").write_text("precious\n")
    before = {str(p): p.read_bytes() if p.is_file() else None for p in outside.rglob("*")}
    for case in range(24):
        run = tmp_path / f"run{case}"
        shutil.copytree(trained, run)
        for name in rng.sample(names, rng.randint(1, 3)):
            path = run / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            kind = rng.choice(["file", "dir", "nowhere", "loop", "fifo", "folder"])
            if kind == "fifo":
                os.mkfifo(path)
            elif kind == "folder":
                path.mkdir()
            else:
                path.symlink_to({"file": outside / "victim", "dir": outside / "dir", "nowhere": tmp_path / "nowhere",
                                 "loop": path}[kind])
        command = rng.choice([["train", "--resume", run, "--steps", "2", "--no-progress"], ["eval", run, "-n", "50"],
                              ["report", run], ["sample", run, "-n", "2", "-o", run / "s.png"]])
        if command[0] == "train":
            command[4] = "3"
        clean_exit(gan(*command))
        assert {str(p): p.read_bytes() if p.is_file() else None for p in outside.rglob("*")} == before, case
        assert not (tmp_path / "nowhere").exists(), case
