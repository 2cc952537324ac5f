"""``gan new-plugin``: write a ready-to-install plugin package.

:func:`new_plugin` writes ``<dir>/gancore-<name>/`` with a ``pyproject.toml``
that registers the plugin under the entry-point group ``gancore``, a module
whose hook implementations are documented, a README and tests that run
gancore's conformance kit (:mod:`gancore.testing`). ``pip install -e`` accepts
it as written, and ``gan train`` trains with it at once:

* ``family``: ``gan train --plugin gancore-<name>`` (the shared networks of
  :class:`gancore.nets.StandardNetworks`, chosen per data kind, and the logistic loss;
  training ``defaults`` and network ``option_defaults`` by data kind); with
  ``stateful=True`` (``gan new-plugin NAME --stateful``) Fisher GAN instead, whose
  Lagrange multiplier is per-plugin state (``step.state_for(self)``, updated in ``post_step``);
* ``regularizer``: ``gan train --plugin gancore-gan --regularizer <name>``
  (the drift penalty of Karras et al. 2018);
* ``add-on``: ``gan train --plugin gancore-gan --plugin gancore-<name>``
  (logs the networks' gradient norms and keeps their running maximum in
  checkpointed state).

Every package's tests hold a hand-computed test of its formula, the conformance kit and a
command-line test (``gan train`` for a few steps on ``ring`` through the ``gan`` fixture).
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
test = ["pytest>=7"$test_extra]

# How gancore finds the plugin: `gan plugins` lists it once this is installed.
[project.entry-points.gancore]
$entry = "$module:$cls"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
# One torch thread per test (gancore's pytest plugin): tiny models gain nothing from more.
gancore_torch_threads = "1"
"""

FAMILY = '''\
"""$cls: a GAN family for gancore.

Networks: the shared ones of ``gancore.nets.StandardNetworks``, chosen by the data's kind
(an MLP for vector data such as ``ring``, DCGAN-style convolutions for images, or MLPs with
``arch = "mlp"``); their options ``width``, ``hidden``, ``norm`` and ``arch`` are declared by the
mixin, with this family's defaults per data kind in ``OPTION_DEFAULTS``.
Losses (Goodfellow et al. 2014, non-saturating), with ``D = sigmoid(score)``::

    L_D = -E[log D(x)] - E[log(1 - D(G(z)))]
    L_G = -E[log D(G(z))]

Change the formulas in :func:`d_loss_from_scores`/:func:`g_loss_from_scores`; to build networks
of your own, implement ``build_generator``/``build_discriminator`` (see gancore's API reference,
docs/reference/nets.md).
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.declaration import declare
from gancore.losses import logistic_d, logistic_g
from gancore.nets import StandardNetworks


def d_loss_from_scores(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its raw scores (logits) on real and fake samples."""
    return logistic_d(real, fake)


def g_loss_from_scores(fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the discriminator's raw scores on its samples."""
    return logistic_g(fake)


#: Training settings by data kind (``DataSpec.kind``), under the user's; gancore itself gives
#: vector data an 8-d latent. ``gan train --dry-run`` shows what a run resolves to, and from where.
DEFAULTS = {
    "vector": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)},
    "small-image": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "latent_dim": 64},
    "image": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "latent_dim": 64},
}
#: The network options' defaults by data kind (over StandardNetworks' own: width 64, hidden 256,
#: norm batch, arch conv): fully connected networks of 512 units on small images such as ``digits``.
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512}}


@declare
class $cls(StandardNetworks):
    """$summary"""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    # Declare options of your own beside the inherited network options, each once: type
    # (PositiveInt is Annotated[int, Range(ge=1)]), default (by_kind: per data kind), help:
    #     label_smoothing: Fraction = option(0.0, help="...")
    # `--set $entry.hidden=128` sets one; gancore checks values before the family is created,
    # and `gan plugins` lists them. build_generator and build_discriminator come from the mixin.

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

STATEFUL_FAMILY = '''\
"""$cls: Fisher GAN (Mroueh & Sercu 2017) for gancore, a family with per-plugin state.

The critic ``f`` maximises the mean discrepancy under a constraint on its second moments,
held by a Lagrange multiplier ``lambda`` (augmented Lagrangian, penalty ``rho``)::

    Omega = (E_P[f(x)^2] + E_Q[f(G(z))^2]) / 2
    L     = E_P[f(x)] - E_Q[f(G(z))] + lambda (1 - Omega) - rho/2 (1 - Omega)^2
    L_D   = -L                    (the critic ascends L)
    lambda <- lambda - rho (1 - Omega)   after each critic update (descends L)
    L_G   = -E_Q[f(G(z))]

``lambda`` changes during training, so it lives in ``step.state_for(self)``: a dict of tensors
that every checkpoint saves and ``--resume`` restores (kept on ``self`` it would be lost on
resume, which gancore's conformance kit catches). The update is a ``post_step`` hook.
Networks: the shared ones of ``gancore.nets.StandardNetworks`` (per data kind).
"""

from __future__ import annotations

import torch

from gancore import hookimpl
from gancore.declaration import PositiveFloat, declare, option
from gancore.nets import StandardNetworks


def constraint(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``1 - Omega``: how far the critic's second moment is from 1."""
    return 1 - 0.5 * (real.pow(2).mean() + fake.pow(2).mean())


def critic_loss(real: torch.Tensor, fake: torch.Tensor, lam: torch.Tensor, rho: float) -> torch.Tensor:
    """``-L``: minus the augmented Lagrangian, which the critic ascends."""
    gap = constraint(real, fake)
    return -(real.mean() - fake.mean() + lam * gap - rho / 2 * gap ** 2)


#: Training settings by data kind (the paper: Adam, lr 2e-4, beta1 0.5, two critic updates).
DEFAULTS = {
    "vector": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 2},
    "small-image": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 2, "latent_dim": 64},
    "image": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 2, "latent_dim": 64},
}
#: Network option defaults by data kind; no BatchNorm in the critic (its constraint is per sample).
OPTION_DEFAULTS = {"small-image": {"arch": "mlp", "hidden": 512}, "image": {"norm": "layer"}}


@declare
class $cls(StandardNetworks):
    """$summary"""

    kind = "family"
    defaults = DEFAULTS
    option_defaults = OPTION_DEFAULTS

    rho: PositiveFloat = option(1e-6, help="The penalty weight and the multiplier's step size.")

    def state(self, step) -> dict[str, torch.Tensor]:
        """This family's checkpointed state, ``lam`` (0 at the start) and the last ``gap``."""
        state = step.state_for(self)
        if "lam" not in state:  # tensors only: a Python float here would be refused at once
            state["lam"] = torch.zeros((), device=step.accelerator.device)
        return state

    @hookimpl
    def d_loss(self, step):
        """The critic's loss; keeps this update's ``1 - Omega`` for the multiplier's update."""
        real, fake = step.real_and_fake_scores()
        state = self.state(step)
        state["gap"] = constraint(real, fake).detach()
        return critic_loss(real, fake, state["lam"], self.rho)

    @hookimpl
    def g_loss(self, step):
        """The generator raises the critic's mean score of its samples."""
        return -step.fake_scores().mean()

    @hookimpl
    def post_step(self, step, phase):
        """After each critic update (under ``torch.no_grad()``): ``lambda -= rho * (1 - Omega)``."""
        if phase != "d":
            return
        state = self.state(step)
        state["lam"] = state["lam"] - self.rho * state["gap"]
        step.log("lambda", state["lam"])
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
    # Hook signatures and option defaults, networks for several data shapes, finite losses,
    # gradients to the right network, samples that depend on the latent, a checkpoint round
    # trip (plugin state and attributes), determinism. Small options keep it fast.
    check_plugin("$entry"$kit_options)
'''

CLI = '''\
"""$dist from the command line: `gan train` for a few steps, through gancore's `gan` fixture."""

import json


def test_trains_from_the_command_line(gan, tmp_path):
    plugin = [$train_args]
    result = gan("train", *plugin, "--data", "ring", "--steps", 3, "--batch-size", 16, "--log-every", 1,
                 "--out", tmp_path, "--name", "run")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 3 and $metric in rows[-1]


def test_is_listed_with_its_kind(gan):
    result = gan("plugins", "--json")
    assert result.exit_code == 0, result.output
    assert {p["name"]: p["kind"] for p in json.loads(result.output)}["$entry"] == "$kind"
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
    "stateful": ('from gancore.testing import ScriptedStep\n\nfrom $module import $cls', '''\
def test_the_critic_loss_and_the_multiplier_by_hand_over_two_updates():
    family = $cls(rho=0.1)
    first = ScriptedStep(torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0]))  # D's scores: real rows, fake rows
    # E_P = 2, E_Q = -1, Omega = ((1 + 9) / 2 + (0 + 4) / 2) / 2 = 3.5, 1 - Omega = -2.5, lambda = 0:
    # L = 3 + 0 - 0.1 / 2 * 6.25 = 2.6875
    assert family.d_loss(step=first).item() == pytest.approx(-2.6875)
    family.post_step(step=first, phase="d")
    # lambda = 0 - 0.1 * (-2.5) = 0.25, kept in the step's per-plugin state and logged
    assert family.state(first)["lam"].item() == pytest.approx(0.25)
    assert first.logs["lambda"].item() == pytest.approx(0.25)
    # The next update starts from that state: E_P = 2, E_Q = 0, Omega = (4 + 0) / 2 = 2, 1 - Omega = -1:
    # L = 2 + 0.25 * (-1) - 0.05 * 1 = 1.7; then lambda = 0.25 - 0.1 * (-1) = 0.35
    second = ScriptedStep([2.0, 2.0], [0.0, 0.0], state=first.state)
    assert family.d_loss(step=second).item() == pytest.approx(-1.7)
    family.post_step(step=second, phase="d")
    assert family.state(second)["lam"].item() == pytest.approx(0.35)


def test_the_generator_loss_by_hand():
    step = ScriptedStep([], [2.0, -1.0], phase="g")
    assert $cls().g_loss(step=step).item() == pytest.approx(-0.5)  # -(2 - 1) / 2
    $cls().post_step(step=step, phase="g")  # the multiplier moves after critic updates only
    assert step.state == {} and step.logs == {}'''),
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
`src/$module/__init__.py`; gancore's API reference (`docs/reference/` in gancore's repository:
the hooks, declarations, networks, losses, the data spec and the testing kit) says when each
hook is called and what the building blocks take.

## Test

```bash
pip install -e ".[test]"
python -m pytest tests
```

`tests/test_$module.py` checks the formula against values computed by hand,
`tests/test_conformance.py` runs gancore's conformance kit (`gancore.testing.check_plugin`) and
`tests/test_cli.py` trains it for a few steps with `gan train` through the `gan` fixture.
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


def new_plugin(name: str, kind: str = "family", directory: str | Path = ".", stateful: bool = False) -> Path:
    """Write the package for plugin ``name``; returns its directory. Refuses to overwrite.

    :param kind: ``family``, ``regularizer`` or ``add-on``.
    :param stateful: (a family only) write Fisher GAN, whose Lagrange multiplier is per-plugin
        state updated in ``post_step``, instead of the logistic-loss family.
    """
    from gancore import __version__

    values = names_for(name, kind)
    if stateful and kind != "family":
        raise ConfigError(f"--stateful writes a family (Fisher GAN, whose multiplier is per-plugin state); got "
                          f"--kind {kind}. The add-on that --kind add-on writes keeps state already.")
    values["gancore_version"] = __version__
    values["summary"] = {
        "family": (f"The {values['short']} GAN family: Fisher GAN (Mroueh & Sercu 2017), its Lagrange multiplier "
                   "in checkpointed state." if stateful else
                   f"The {values['short']} GAN family: the shared networks trained on the GAN's logistic loss."),
        "regularizer": "The drift penalty (Karras et al. 2018): weight * E[D(x)^2] on real inputs.",
        "add-on": "Logs the generator's and discriminator's gradient norms after every update.",
    }[kind]
    values["command"] = {
        "family": f"gan train --plugin {values['entry']} --data ring",
        "regularizer": f"gan train --plugin gancore-gan --regularizer {values['entry']}=0.001",
        "add-on": f"gan train --plugin gancore-gan --plugin {values['entry']}",
    }[kind]
    # The command-line test trains a regularizer or an add-on inside gancore-gan's run.
    values["test_extra"] = "" if kind == "family" else ', "gancore-gan"'
    values["train_args"] = {
        "family": f'"--plugin", "{values["entry"]}", "--set", "{values["entry"]}.hidden=16"',
        "regularizer": f'"--plugin", "gancore-gan", "--regularizer", "{values["entry"]}=0.01"',
        "add-on": f'"--plugin", "gancore-gan", "--plugin", "{values["entry"]}"',
    }[kind]
    values["metric"] = {"family": '"lambda"' if stateful else '"d/loss"', "regularizer": f'"d/{values["term"]}"',
                        "add-on": '"grad_norm/max_d"'}[kind]
    values["kit_options"] = ', options={"width": 8, "hidden": 16}' if kind == "family" else ""
    root = Path(directory) / values["dist"]
    if root.exists():
        raise ConfigError(f"{str(root)!r} already exists: choose another name or --dir.")
    module = {"family": STATEFUL_FAMILY if stateful else FAMILY, "regularizer": REGULARIZER, "add-on": ADDON}[kind]
    imports, unit = UNIT["stateful" if stateful else kind]
    files = {
        "pyproject.toml": PYPROJECT,
        f"src/{values['module']}/__init__.py": module,
        "README.md": README,
        f"tests/test_{values['module']}.py": TESTS.replace("$imports", imports).replace("$unit", unit),
        "tests/test_conformance.py": CONFORMANCE,
        "tests/test_cli.py": CLI,
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
