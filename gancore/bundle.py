"""Generator bundles: a trained generator in a folder of its own, in the Hugging Face Hub layout.

``gan export RUN --to DIR`` writes one (:mod:`gancore.export`);
``gancore.load(DIR)`` reads it. A bundle holds::

    DIR/
        README.md              model card: YAML metadata (library, tags, eval results), then text
        config.json            what rebuilds the generator: family, plugins, the run's configuration,
                               the data spec, step, and the SHA-256 of every other file
        generator.safetensors  the weights to sample with (an EMA average when the run kept one)
        samples.png            a sample grid from a fixed seed
        eval.json              the run's evaluation record, when it had one
        generator.onnx         with --format onnx

``config.json`` and ``generator.safetensors`` at the top level are what the Hub
expects of a model repository; nothing in a bundle is pickled. A bundle from a
stranger is untrusted input: :func:`read_bundle` validates ``config.json``,
checks each file's SHA-256 and the weights' names and shapes before loading.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import attrs
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from gancore.checkpoint import load_weights
from gancore.config import TrainConfig, make_config
from gancore.data import DataSpec
from gancore.errors import CheckpointError, ConfigError
from gancore.files import sha256, write_text
from gancore.generator import check_generator

FORMAT = 1
CONFIG = "config.json"
WEIGHTS = "generator.safetensors"
CARD = "README.md"
GRID = "samples.png"
EVAL = "eval.json"
ONNX = "generator.onnx"
MAX_CONFIG_BYTES = 1 << 20


@attrs.frozen
class BundleInfo:
    """What ``config.json`` says about a bundle (validated)."""

    path: Path
    family: str
    config: TrainConfig
    spec: DataSpec
    step: int
    weights: str
    record: Mapping[str, Any]


def is_bundle(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder holding a bundle's ``config.json`` and weights."""
    path = Path(path)
    return (path / CONFIG).is_file() and (path / WEIGHTS).is_file()


def read_info(path: str | os.PathLike, verify: tuple[str, ...] | None = (WEIGHTS,)) -> BundleInfo:
    """Read and validate a bundle's ``config.json``, and check files against the SHA-256 it lists.

    :param verify: the files to check: the weights by default (what loading reads; a model card
        edited on the Hub still loads); ``None`` checks every file listed.

    Files may be symlinks (``huggingface_hub.snapshot_download`` links them into its cache); they
    are only read.
    """
    path = Path(path)
    file = path / CONFIG
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{str(file)!r} is too large to be a bundle's config.json.")
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(file)!r} is not a readable bundle config.json: {exc}.") from None
    if not isinstance(record, dict) or record.get("gancore_bundle") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a gancore generator bundle of format {FORMAT} "
                              f"(its config.json lacks \"gancore_bundle\": {FORMAT}).")
    try:
        config = make_config(record["config"])
        spec = DataSpec.from_dict(record["data"])
        family, step, weights = str(record["family"]), int(record["step"]), str(record["weights"])
        files = dict(record["sha256"])
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise CheckpointError(f"{str(file)!r} lacks its configuration or has a damaged one: {exc}.") from None
    if WEIGHTS not in files:
        raise CheckpointError(f"{str(file)!r} lists no SHA-256 for {WEIGHTS}.")
    for name, digest in files.items():
        member = path / name
        if Path(name).name != name or not member.is_file():
            raise CheckpointError(f"bundle {str(path)!r}: {name!r} is missing or not a file in the folder.")
        if verify is not None and name not in verify:
            continue
        if sha256(member) != digest:
            raise CheckpointError(f"bundle {str(path)!r}: {name} does not match its SHA-256 in config.json "
                                  "(damaged or changed after export).")
    return BundleInfo(path, family, config, spec, step, weights, record)


def read_bundle(registry, path: str | os.PathLike, device: str = "cpu") -> tuple[torch.nn.Module, BundleInfo]:
    """Rebuild a bundle's generator with the installed plugins it names, on ``device``, in eval mode."""
    info = read_info(path)
    run = registry.activate(info.config.plugins, info.config.options)
    generator = run.hook.build_generator(config=info.config, data=info.spec)
    check_generator(generator, run.family)
    try:
        tensors = load_file(str(Path(path) / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"bundle {str(path)!r}: {WEIGHTS} is not readable: {exc}.") from None
    load_weights(generator, tensors, "generator")
    return generator.to(device).eval(), info


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=1, sort_keys=True, allow_nan=False) + "\n")


__all__ = ["BundleInfo", "CARD", "CONFIG", "EVAL", "FORMAT", "GRID", "ONNX", "WEIGHTS", "is_bundle", "read_bundle",
           "read_info", "sha256"]
