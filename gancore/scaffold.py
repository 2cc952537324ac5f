"""``gan new-plugin``: write a ready-to-install plugin package.

:func:`new_plugin` writes ``<dir>/gancore-<name>/`` with a ``pyproject.toml``
that registers the plugin under the entry-point group ``gancore``, a module
whose hook implementations are documented, a README and tests that run
gancore's conformance kit (:mod:`gancore.testing`). ``pip install -e`` accepts
it as written, and ``gan train`` trains with it at once:

* ``family``: ``gan train --plugin gancore-<name>`` (MLPs and the logistic loss);
* ``regularizer``: ``gan train --plugin gancore-gan --regularizer <name>``
  (the drift penalty of Karras et al. 2018);
* ``add-on``: ``gan train --plugin gancore-gan --plugin gancore-<name>``
  (logs the networks' gradient norms and keeps their running maximum in
  checkpointed state).
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from gancore.errors import ConfigError

KINDS = ("family", "regularizer", "add-on")
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: Longest plugin name: its file names (``tests/test_gancore_NAME.py``) must fit a file system's 255 bytes.
MAX_NAME = 64

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$summary"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["gancore>=$gancore_version"]

[project.optional-dependencies]
test = ["pytest>=7"]

# How gancore finds the plugin: `gan plugins` lists it once this is installed.
[project.entry-points.gancore]
$entry = "$module:$cls"

[tool.setuptools.packages.find]
where = ["src"]
"""

FAMILY = '''\
"""$cls: a GAN family for gancore.

Networks: MLPs (``hidden`` units x ``layers``) for any data shape.
Losses (Goodfellow et al. 2014, non-saturating), with ``D = sigmoid(score)``::

    L_D = -E[log D(x)] - E[log(1 - D(G(z)))]
    L_G = -E[log D(G(z))]

Change the networks in ``build_generator``/``build_discriminator`` and the
formulas in :func:`d_loss_from_scores`/:func:`g_loss_from_scores`.
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.declaration import PositiveInt, declare, option
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPDiscriminator, MLPGenerator


def d_loss_from_scores(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its raw scores (logits) on real and fake samples."""
    return logistic_d(real, fake)


def g_loss_from_scores(fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the discriminator's raw scores on its samples."""
    return logistic_g(fake)


#: Training settings by data kind (``DataSpec.kind``), under the user's (see gancore.hookspecs);
#: gancore itself gives vector data an 8-d latent.
DEFAULTS = {
    "vector": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)},
    "small-image": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "latent_dim": 64},
    "image": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "latent_dim": 64},
}


@declare
class $cls:
    """$summary"""

    kind = "family"
    defaults = DEFAULTS

    # Each option is declared once: type (PositiveInt is Annotated[int, Range(ge=1)]), default
    # (by_kind: per data kind), help. `--set $entry.hidden=128`; gancore checks values before the
    # family is created, and `gan plugins` lists them.
    hidden: PositiveInt = option(128, by_kind={"small-image": 256}, help="Units per hidden layer.")
    layers: PositiveInt = option(2, help="Hidden layers of G and D.")

    @hookimpl
    def build_generator(self, config, data):
        """A generator for samples shaped like ``data.shape``; it draws its own latent."""
        return MLPGenerator(data, config.latent_dim, self.hidden, self.layers)

    @hookimpl
    def build_discriminator(self, data):
        """A discriminator returning one raw score per sample."""
        return MLPDiscriminator(data, self.hidden, self.layers)

    @hookimpl
    def d_loss(self, step):
        """D's loss: one forward pass over real and fake (``step.fake`` carries no gradient to G here)."""
        real, fake = step.real_and_fake_scores()
        return d_loss_from_scores(real, fake)

    @hookimpl
    def g_loss(self, step):
        """G's loss: D is frozen in this phase, so the gradient reaches G only. ``fake_scores``
        scores the fakes as D's own update does (inside a real+fake batch if D has BatchNorm)."""
        return g_loss_from_scores(step.fake_scores())
'''

REGULARIZER = '''\
"""$cls: a regularizer for any gancore family.

The drift penalty of Karras et al. 2018 (Progressive GAN) keeps the
discriminator's scores near zero::

    weight * E[D(x)^2]

on the real inputs of every discriminator the family publishes
(``step.discriminator_views()``), so it works with every family.
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.declaration import NonNegativeFloat, declare, option


def drift(scores: torch.Tensor) -> torch.Tensor:
    """The mean squared score."""
    return scores.pow(2).mean()


@declare
class $cls:
    """$summary"""

    # A regularizer declares its `weight`: `--regularizer $entry=0.01`; gancore refuses a weight
    # that does not fit the declaration (NonNegativeFloat: a finite float >= 0).
    kind = "regularizer"

    weight: NonNegativeFloat = option(0.001, help="The penalty's weight.")

    @hookimpl
    def regularize(self, step, phase):
        """In phase "d", the weighted penalty per discriminator view; nothing in phase "g"."""
        if phase != "d":
            return None
        return step.per_view("$term", lambda view: self.weight * drift(view.score(view.real)))
'''

ADDON = '''\
"""$cls: an add-on for any gancore family.

After every optimizer step it logs the gradient norm of the network that
stepped (``grad_norm/d``, ``grad_norm/g`` in ``metrics.jsonl``) and keeps the
largest seen in per-plugin state, which checkpoints save and resume restores.
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.declaration import declare


def grad_norm(module: torch.nn.Module) -> torch.Tensor:
    """The L2 norm of all of ``module``'s parameter gradients."""
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    return torch.cat(grads).norm() if grads else torch.zeros(())


@declare
class $cls:
    """$summary"""

    kind = "add-on"

    @hookimpl
    def post_step(self, step, phase):
        """Log the stepped network's gradient norm; keep the maximum in checkpointed state."""
        norm = grad_norm(step.D if phase == "d" else step.G).cpu()
        state = step.state_for(self)
        key = f"max_{phase}"
        state[key] = torch.maximum(state.get(key, torch.zeros(())), norm)
        step.log(f"grad_norm/{phase}", norm)
        step.log(f"grad_norm/max_{phase}", state[key])
'''

TESTS = '''\
"""Tests of $dist: its formula by hand."""

from __future__ import annotations

import pytest
import torch
$imports


$unit
'''

CONFORMANCE = '''\
"""$dist through gancore's conformance kit."""

from gancore.testing import check_plugin


def test_conformance():
    # Hook signatures, networks for several data shapes, finite losses,
    # gradients to the right network, checkpoint round trip, determinism.
    check_plugin("$entry")
'''

UNIT = {
    "family": ('import math\n\nfrom $module import d_loss_from_scores, g_loss_from_scores', '''\
def test_losses_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # D: (log(1 + e^-2) + log(1 + e^-0.5)) / 2 + (log(1 + e^-2) + log(1 + e^0)) / 2
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-0.5))) / 2 + (
        math.log1p(math.exp(-2)) + math.log(2)) / 2
    assert d_loss_from_scores(real, fake).item() == pytest.approx(expected, rel=1e-6)
    # G: -(log D(-2) + log D(0)) / 2 = (log(1 + e^2) + log 2) / 2
    assert g_loss_from_scores(fake).item() == pytest.approx((math.log1p(math.exp(2)) + math.log(2)) / 2, rel=1e-6)'''),
    "regularizer": ('from $module import $cls', '''\
def test_penalty_by_hand():
    from types import SimpleNamespace

    from gancore.step import DiscriminatorView, Step

    view = DiscriminatorView(real=torch.tensor([[1.0], [3.0]]), fake=torch.zeros(2, 1),
                             score=lambda x: x.squeeze(1), parameters=lambda: iter(()))
    step = SimpleNamespace(discriminator_views=lambda: (view,))
    step.per_view = lambda term, penalty: Step.per_view(step, term, penalty)
    terms = $cls(weight=0.5).regularize(step=step, phase="d")
    assert terms["$term"].item() == pytest.approx(0.5 * (1 + 9) / 2)
    assert $cls().regularize(step=step, phase="g") is None'''),
    "add-on": ('from $module import grad_norm', '''\
def test_grad_norm_by_hand():
    layer = torch.nn.Linear(2, 1, bias=False)
    layer.weight.grad = torch.tensor([[3.0, 4.0]])
    assert grad_norm(layer).item() == pytest.approx(5.0)'''),
}

README = """\
# $dist

$summary

A [gancore](https://pypi.org/project/gancore/) plugin ($kind).

## Install and train

```bash
pip install -e .
$command
```

`gan plugins` lists it once installed. Its hooks are documented in
`src/$module/__init__.py`; gancore's hooks reference says when each is called.

## Test

```bash
python -m pytest tests
```

`tests/test_conformance.py` runs gancore's conformance kit (`gancore.testing.check_plugin`).
"""


def names_for(name: str, kind: str) -> dict[str, str]:
    """The distribution, module, class and entry-point names for plugin ``name``."""
    if not NAME.match(name) or len(name) > MAX_NAME:
        shown = name if len(name) <= 60 else name[:40] + f"... ({len(name)} characters)"
        raise ConfigError(f"bad plugin name {shown!r}: use at most {MAX_NAME} lowercase letters, digits and single "
                          "dashes, starting with a letter (e.g. 'lsgan' or 'my-penalty').")
    if kind not in KINDS:
        raise ConfigError(f"bad --kind {kind!r}: use one of {', '.join(KINDS)}.")
    short = name[len("gancore-"):] if name.startswith("gancore-") and len(name) > len("gancore-") else name
    dist = f"gancore-{short}"
    cls = "".join(part.capitalize() for part in short.split("-"))
    entry = short if kind == "regularizer" else dist
    return {"dist": dist, "module": dist.replace("-", "_"), "cls": cls, "entry": entry, "short": short,
            "term": short.replace("-", "_"), "kind": kind}


def new_plugin(name: str, kind: str = "family", directory: str | Path = ".") -> Path:
    """Write the package for plugin ``name``; returns its directory. Refuses to overwrite."""
    from gancore import __version__

    values = names_for(name, kind)
    values["gancore_version"] = __version__
    values["summary"] = {
        "family": f"The {values['short']} GAN family: MLPs trained on the GAN's logistic loss.",
        "regularizer": "The drift penalty (Karras et al. 2018): weight * E[D(x)^2] on real inputs.",
        "add-on": "Logs the generator's and discriminator's gradient norms after every update.",
    }[kind]
    values["command"] = {
        "family": f"gan train --plugin {values['entry']} --data ring",
        "regularizer": f"gan train --plugin gancore-gan --regularizer {values['entry']}=0.001",
        "add-on": f"gan train --plugin gancore-gan --plugin {values['entry']}",
    }[kind]
    root = Path(directory) / values["dist"]
    if root.exists():
        raise ConfigError(f"{str(root)!r} already exists: choose another name or --dir.")
    module = {"family": FAMILY, "regularizer": REGULARIZER, "add-on": ADDON}[kind]
    imports, unit = UNIT[kind]
    files = {
        "pyproject.toml": PYPROJECT,
        f"src/{values['module']}/__init__.py": module,
        "README.md": README,
        f"tests/test_{values['module']}.py": TESTS.replace("$imports", imports).replace("$unit", unit),
        "tests/test_conformance.py": CONFORMANCE,
    }
    from gancore.files import write_text

    try:
        for relative, template in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, Template(template).substitute(values))
    except OSError as exc:
        raise ConfigError(f"cannot write {str(root)!r}: {exc.strerror}.") from None
    return root
