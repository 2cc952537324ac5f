"""Behaviour unchanged (issue 25): the resolved configuration of every family x data kind x
regularizer choice, and every family's initial weights under a fixed seed (computed the way a run
computes them), equal the fixture ``tests/fixtures/unchanged.json``, written before the resolution
was reworked. Rewrite it only for a change that is meant (and say so in its commit):

    python tests/test_unchanged.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from gancore.config import TrainConfig
from gancore.data import DataSpec
from gancore.errors import GanError
from gancore.plugins import Registry
from gancore.run.rundir import configure

FIXTURE = Path(__file__).parent / "fixtures" / "unchanged.json"

#: One data spec per data kind: the embedded sets' (ring is labelled by its 8 modes).
SPECS = {
    "ring": DataSpec("ring", (2,), 8, tuple(f"mode {i}" for i in range(8))),
    "digits": DataSpec("digits", (1, 8, 8), 10, tuple(map(str, range(10)))),
    "mnist": DataSpec("mnist", (1, 28, 28), 10, tuple(map(str, range(10)))),
}
#: The translation families' data: paired, unpaired and multi-domain (labelled) images.
TRANSLATION_SPECS = {
    "paired": DataSpec("mnist-edges", (1, 28, 28), pairing="paired", domains=("digit", "edges")),
    "unpaired": DataSpec("mnist-thick", (1, 28, 28), pairing="unpaired", domains=("thin", "thick")),
    "domains": DataSpec("mnist-rotations", (1, 28, 28), 4, class_names=("0", "90", "180", "270")),
}


def _error(exc: Exception) -> str:
    return f"error: {type(exc).__name__}: {exc}"


def _changed(values: dict) -> dict:
    """``values`` without the settings equal to :class:`TrainConfig`'s defaults (kept whole in the fixture)."""
    defaults = TrainConfig().to_dict()
    return {key: value for key, value in values.items() if key not in defaults or defaults[key] != value}


def resolutions(registry: Registry) -> dict[str, object]:
    """``family/data/choice`` -> the resolved configuration (``config.to_dict()``) and the options
    each active plugin was created with, or the error that refused it. ``choice`` is ``default``
    (the family's regularizers), ``none`` (``-r none``) or a regularizer's name (``-r NAME``)."""
    out: dict[str, object] = {}
    choices = {"default": None, "none": {}, **{name: {name: None} for name in registry.names("regularizer")}}
    for family in registry.names("family"):
        for data, spec in SPECS.items():
            for choice, regularizers in choices.items():
                user = {"plugins": [family], "data": data}
                if regularizers is not None:
                    user["regularizers"] = regularizers
                try:
                    config, run = configure(registry, spec, user)
                except (GanError, ValueError, TypeError) as exc:
                    out[f"{family}/{data}/{choice}"] = _error(exc)
                    continue
                out[f"{family}/{data}/{choice}"] = {"config": _changed(config.to_dict()), "addons": list(run.addons),
                                                    "regularizers": dict(run.regularizers)}
    return out


#: State-dict entries whose values are computed by matrix products at construction, not drawn from the
#: seeded generator: spectral normalization's power-iteration vectors (``..._u``, ``..._v``). Their last
#: bits follow the machine's BLAS (they differed between two CPUs with the same torch), so only their
#: names and shapes are hashed; the weights they are computed from are.
_MACHINE_DEPENDENT = ("._u", "._v")


def _digest(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        if not name.endswith(_MACHINE_DEPENDENT):
            digest.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
    return digest.hexdigest()[:16]


def weights(registry: Registry, seed: int = 0) -> dict[str, object]:
    """``family/data`` -> the hashes of the generator and discriminator a run at the family's
    defaults builds under ``torch.manual_seed(seed)`` (G first, then D, as the trainer does)."""
    from gancore.trainer import build_models

    out: dict[str, object] = {}
    for family in registry.names("family"):
        for data, spec in {**SPECS, **TRANSLATION_SPECS}.items():
            try:
                config, run = configure(registry, spec, {"plugins": [family], "data": data})
                torch.manual_seed(seed)
                generator, discriminator = build_models(run, config, spec)
            except (GanError, ValueError, TypeError, RuntimeError) as exc:
                out[f"{family}/{data}"] = _error(exc)
                continue
            out[f"{family}/{data}"] = {"generator": _digest(generator), "discriminator": _digest(discriminator)}
    return out


def current(registry: Registry) -> dict[str, object]:
    return {"defaults": TrainConfig().to_dict(), "resolutions": resolutions(registry), "weights": weights(registry)}



@pytest.fixture(scope="module")
def both(registry):
    return json.loads(FIXTURE.read_text()), json.loads(json.dumps(current(registry)))


@pytest.mark.parametrize("section", ["defaults", "resolutions", "weights"])
def test_resolution_and_initial_weights_are_those_of_the_fixture(both, section):
    recorded, now = both[0][section], both[1][section]
    if section == "defaults":
        assert now == recorded
        return
    assert sorted(now) == sorted(recorded), "the cases changed: families or regularizers added or gone"
    changed = [key for key in recorded if now[key] != recorded[key]]
    assert not changed, (f"{len(changed)} cases differ from the fixture, first {changed[0]}:\n"
                         f"recorded {recorded[changed[0]]}\nnow      {now[changed[0]]}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_unchanged.py --write")
    values = current(Registry.discover())
    # One line per case, so that a change shows as the lines of the cases it changes.
    lines = ["{"]
    for section, table in values.items():
        rows = [f"  {json.dumps(key)}: {json.dumps(value, sort_keys=True)}" for key, value in sorted(table.items())]
        lines.append(f" {json.dumps(section)}: {{\n" + ",\n".join(rows) + "\n }"
                     + ("," if section != "weights" else ""))
    FIXTURE.write_text("\n".join(lines) + "\n}\n")
    print(f"wrote {FIXTURE}")
