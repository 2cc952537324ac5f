"""A conformance kit for gancore plugins: one call in a plugin's own tests.

::

    from gancore.testing import check_plugin

    def test_conformance():
        check_plugin("gancore-foo")            # a family, a regularizer or an add-on

:func:`check_plugin` finds the plugin through its entry point (so the
package must be installed, as it is under ``pip install -e``) and checks,
on the CPU, everything the trainer relies on:

1. **hook signatures**: every hook implementation names a hook of
   :mod:`gancore.hookspecs` and only that hook's arguments (pluggy's own
   validation, plus a clearer message); a family implements the required
   family hooks. **Option defaults**: every default (the plain one and each
   data kind's) fits the option's own declaration (:func:`check_defaults`):
   ``width: PositiveInt = 0`` fails, naming the option.
2. **networks** for 8x8 grey, 28x28 grey and 32x32 RGB images, 2-D points, and
   8x8 two-domain data (paired, and unpaired), the second image in
   ``batch.extra["b"]``:
   the generator follows :class:`gancore.generator.Generator`'s protocol and
   makes samples of the data's shape. A family declares a data shape
   unsupported by raising :class:`gancore.errors.PluginError` from
   ``build_generator`` or ``build_discriminator`` (as :mod:`gancore.nets`
   does for convolutions on vectors); such shapes are skipped, but at least
   one must work.
3. **a few training steps** through the real :class:`gancore.trainer.Trainer`,
   with the family's defaults: every loss and regularizer term is a finite
   scalar; the discriminator update leaves the generator's parameters
   untouched and gives them no gradient, and reaches D; the generator update
   leaves D's parameters untouched, and reaches G. A loss with no graph
   (``g_loss`` on detached fakes) or a term that is not a scalar fails with
   the trainer's contract message. **The latent matters**: two different
   latents give different samples, and a conditional generator's samples
   change with the label alone (samples that ignore their input fail with
   "samples do not depend on the latent").
4. **checkpoints**: training 3 steps equals training 2, saving a checkpoint,
   loading it into a fresh trainer and training 1 more (weights and plugin
   state), so resuming loses nothing. Right after loading, the plugin state
   equals the state saved (every tensor, its dtype and shape), and every
   tensor or number attribute of a plugin object (``self.lam``) that
   training changed before the checkpoint has its checkpoint value again: an
   attribute a resume loses fails, named, with the advice to keep it in
   ``step.state_for(self)``. (That state holds tensors only: assigning a
   Python number to it raises :class:`gancore.errors.PluginError` at once,
   see :class:`gancore.pluginstate.PluginState`.)
5. **determinism**: two runs with the same seed give the same weights and
   plugin state.

Regularizers and add-ons are checked inside a run of a family: the kit's own
small :class:`ReferenceFamily` unless ``family=`` names another. A failed
check raises :class:`ConformanceError` (an ``AssertionError``, so pytest shows
it as a test failure) that names the plugin, the data and what broke.
"""

from __future__ import annotations

import inspect
import math
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import attrs
import pluggy
import torch

from gancore import hookspecs
from gancore.data import Dataset, DataSpec
from gancore.errors import GanError, PluginError
from gancore.generator import samples_of
from gancore.hookspecs import hookimpl
from gancore.losses import logistic_d, logistic_g
from gancore.nets import MLPDiscriminator, MLPGenerator
from gancore.pluginstate import PluginState
from gancore.step import Step, schedule

#: The data shapes the kit trains on, by name.
DATA_SPECS: dict[str, DataSpec] = {
    "8x8 grey": DataSpec("conformance-8x8", (1, 8, 8), 10, tuple(map(str, range(10)))),
    "28x28 grey": DataSpec("conformance-28x28", (1, 28, 28), 10, tuple(map(str, range(10)))),
    "32x32 RGB": DataSpec("conformance-32x32-rgb", (3, 32, 32), 10, tuple(map(str, range(10)))),
    "2-D points": DataSpec("conformance-points", (2,), 10, tuple(map(str, range(10)))),
    # Two-domain data: a second image per sample in batch.extra["b"] (image-to-image families).
    "8x8 grey pairs": DataSpec("conformance-pairs", (1, 8, 8), pairing="paired", domains=("a", "b")),
    "8x8 grey two domains": DataSpec("conformance-domains", (1, 8, 8), pairing="unpaired", domains=("a", "b")),
}
REFERENCE = "gancore-testing-reference"


class ScriptedStep:
    """A stand-in for :class:`gancore.step.Step` whose discriminator returns given scores.

    For checking a family's ``d_loss``/``g_loss`` against values computed by
    hand: real rows score ``real_scores`` in order, fake rows ``fake_scores``.
    The real ``Step.real_and_fake_scores`` and ``Step.fake_scores`` run on it;
    its discriminator has no batch statistics, so phase ``"g"`` scores the
    fakes alone. ``features`` is the width of the (constant) samples.

    A stateful family's loss runs on it as in training: ``step.state_for(self)`` is a
    :class:`gancore.pluginstate.PluginState` (tensors only, one per plugin object, kept
    across calls on this step, and readable as ``step.state``), ``step.log(name, value)``
    records into ``step.logs``, ``step.data`` is a :class:`gancore.data.DataSpec` (``data=``,
    else a vector spec of ``features`` values), ``step.accelerator.device`` is the CPU and
    ``step.phase``/``step.index`` are set from ``phase``/``index``::

        step = ScriptedStep([1.0, 3.0], [0.0, -2.0], phase="d")
        loss = FisherGAN(rho=1e-6).d_loss(step=step)
        family.post_step(step=step, phase="d")        # updates the multiplier
        assert step.state_for(family)["lam"].item() == pytest.approx(...)
        assert step.logs["lambda"].item() == pytest.approx(...)

    :param real_scores: D's scores of the real rows, in order.
    :param fake_scores: D's scores of the fake rows, in order.
    :param features: the width of the constant samples (``step.real``, ``step.fake``).
    :param data: the data spec the step reports (``step.data``).
    :param phase: ``"d"`` or ``"g"`` (``step.phase``).
    :param index: the step index (``step.index``).
    :param state: the per-plugin state to start from: an earlier scripted step's ``state``, so
        that a test follows a stateful plugin over several steps.
    """

    real_and_fake_scores = Step.real_and_fake_scores
    fake_scores = Step.fake_scores
    _has_batch_statistics = Step._has_batch_statistics
    separate_batches = Step.separate_batches
    log = Step.log

    def __init__(self, real_scores, fake_scores, features: int = 1, *, data: DataSpec | None = None,
                 phase: str = "d", index: int = 0, state: dict[int, PluginState] | None = None):
        real_scores, fake_scores = torch.as_tensor(real_scores), torch.as_tensor(fake_scores)
        self.real, self.fake = torch.zeros(len(real_scores), features), torch.ones(len(fake_scores), features)
        self.D = torch.nn.Identity()
        self._scores = {0.0: iter(real_scores), 1.0: iter(fake_scores)}
        self.data = data if data is not None else DataSpec("scripted", (features,))
        self.phase, self.index = phase, index
        self.accelerator = _CPU
        self.logs: dict[str, torch.Tensor] = {}
        #: Per-plugin state by ``id(plugin)``, as :meth:`state_for` hands it out.
        self.state: dict[int, PluginState] = {} if state is None else state

    def discriminator(self, x: torch.Tensor) -> torch.Tensor:
        """The scripted scores: the next real score for each zero row, the next fake one for each row of ones."""
        return torch.stack([next(self._scores[row.item()]) for row in x[:, 0]])

    def state_for(self, plugin: object) -> PluginState:
        """``plugin``'s state on this step (made empty on first use): tensors only, as in training."""
        if id(plugin) not in self.state:
            self.state[id(plugin)] = PluginState(type(plugin).__name__)
        return self.state[id(plugin)]


class _CPUAccelerator:
    """What a plugin reads of ``step.accelerator`` in a scripted step: the device."""

    device = torch.device("cpu")
    num_processes = 1
    is_main_process = True


_CPU = _CPUAccelerator()


class ViewsStep:
    """A stand-in for :class:`gancore.step.Step` as a regularizer sees it, for checking a penalty by hand:
    the :class:`gancore.step.DiscriminatorView` objects given, the real ``Step.per_view``, and
    per-plugin state in :attr:`state` (a dict keyed by ``id(plugin)``) for ``state_for``."""

    per_view = Step.per_view

    def __init__(self, *views):
        self.views, self.state = views, {}

    def discriminator_views(self):
        return self.views

    def state_for(self, plugin):
        if id(plugin) not in self.state:
            self.state[id(plugin)] = PluginState(type(plugin).__name__)
        return self.state[id(plugin)]


def run_cli(*args: Any, catch_exceptions: bool = False) -> Any:
    """Run ``gan ARGS...`` in-process with click's ``CliRunner`` and return its ``Result``
    (``exit_code``, ``output``). Arguments are passed through ``str()``, so paths and numbers may
    be given as they are; exceptions other than clean CLI errors propagate unless
    ``catch_exceptions``. The ``gan`` fixture of gancore's pytest plugin returns this function."""
    from click.testing import CliRunner

    from gancore.cli import main

    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=catch_exceptions)


def assert_clean_error(result, *messages: str) -> None:
    """Assert that a ``gan`` command run with click's ``CliRunner`` failed the way gancore promises bad
    input fails: exit status 1, one ``Error: ...`` paragraph, last, no traceback, and each of
    ``messages`` in the output. For tests of a plugin's own errors as much as the core's."""
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert "Traceback" not in result.output and len(errors) == 1, result.output
    assert result.output.rstrip("\n").endswith(errors[0]), "the error is the last paragraph"
    for message in messages:
        assert message in result.output, result.output


class ConformanceError(AssertionError):
    """A plugin breaks gancore's plugin contract."""


class _Unsupported(Exception):
    """A family declared a data shape unsupported (a PluginError from a build hook)."""


class ReferenceFamily:
    """The kit's own small family (MLPs, logistic loss) for checking regularizers and add-ons."""

    @hookimpl
    def default_config(self, data):
        return {"latent_dim": 8}

    @hookimpl
    def build_generator(self, config, data):
        return MLPGenerator(data, config.latent_dim, hidden=32, layers=2)

    @hookimpl
    def build_discriminator(self, data):
        return MLPDiscriminator(data, hidden=32, layers=2)

    @hookimpl
    def d_loss(self, step):
        return logistic_d(*step.real_and_fake_scores())

    @hookimpl
    def g_loss(self, step):
        return logistic_g(step.discriminator(step.fake))


@attrs.define
class Report:
    """What :func:`check_plugin` checked: ``checked`` lines, and ``skipped`` data with the reason."""

    plugin: str
    kind: str
    checked: list[str] = attrs.field(factory=list)
    skipped: dict[str, str] = attrs.field(factory=dict)


def synthetic_data(spec: DataSpec, n: int = 64, seed: int = 0) -> Dataset:
    """``n`` random samples of ``spec``'s shape (``uint8`` images, Gaussian points) with labels."""
    rng = torch.Generator().manual_seed(seed)
    if spec.is_image:
        x = torch.randint(0, 256, (n, *spec.shape), generator=rng, dtype=torch.uint8)
    else:
        x = torch.randn((n, *spec.shape), generator=rng)
    labels = torch.randint(0, max(1, spec.num_classes), (n,), generator=rng) if spec.num_classes else None
    second = {"b": torch.randint(0, 256, (n, *spec.shape), generator=rng, dtype=torch.uint8)}
    if spec.pairing == "paired":
        return Dataset(spec, x, labels, extra=second)
    if spec.pairing == "unpaired":
        return Dataset(spec, x, labels, unpaired=second)
    return Dataset(spec, x, labels)


def declaration_of(cls: Any):
    """The :class:`gancore.declaration.Declaration` gancore reads off a plugin object or class."""
    from gancore.plugins import describe

    info = describe(getattr(cls, "__name__", "plugin"), cls)
    if info.error is not None:
        raise ConformanceError(info.error)
    return info.declaration


def make_plugin(cls: Any, data: DataSpec | None = None, **options: Any) -> Any:
    """Create the plugin class ``cls`` as a run creates it for ``data``: ``options`` over its
    declared options' defaults for the data's kind (``data=None``: the plain defaults). A class
    whose options are ``__init__`` arguments gets ``options`` only."""
    declaration = declaration_of(cls)
    if not declaration.options_declared:
        return cls(**options)
    return cls(**{**declaration.option_defaults(data.kind if data is not None else None), **options})


def defaults_of(cls: Any, data: DataSpec, regularizers: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The training settings a plugin declares for ``data`` and the chosen ``regularizers``
    (its ``defaults``), as the resolver reads them."""
    return declaration_of(cls).settings_defaults(data, regularizers)


def check_signatures(name: str, obj: Any) -> list[str]:
    """Check ``obj``'s hook implementations against the specs; returns the hooks it implements."""
    specs = {hook: inspect.signature(getattr(hookspecs, hook)).parameters
             for hook in dir(hookspecs) if hasattr(getattr(hookspecs, hook), f"{hookspecs.PROJECT}_spec")}
    found = []
    for attr in dir(obj):
        try:
            member = getattr(obj, attr)
        except Exception:
            continue
        opts = getattr(member, f"{hookspecs.PROJECT}_impl", None)
        if not isinstance(opts, Mapping):
            continue
        hook = opts.get("specname") or attr
        if hook not in specs:
            raise ConformanceError(f"plugin {name!r}: {attr} is marked @hookimpl but gancore has no hook "
                                   f"{hook!r}. Hooks: {', '.join(sorted(specs))}.")
        params = list(inspect.signature(member).parameters)
        if inspect.isclass(obj) and params:
            params = params[1:]  # self, on a class plugin's unbound method
        unknown = [p for p in params if p not in specs[hook]]
        if unknown:
            raise ConformanceError(f"plugin {name!r}: {hook} takes {unknown[0]!r}, which the hook does not "
                                   f"offer. It may take any of: {', '.join(specs[hook])}.")
        found.append(hook)
    if not found:
        raise ConformanceError(f"plugin {name!r} implements no gancore hook (are its methods decorated with "
                               "gancore.hookimpl?).")
    # pluggy's own validation, on a plugin manager of its own.
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    try:
        instance = obj() if inspect.isclass(obj) and all(
            p.default is not p.empty for p in list(inspect.signature(obj.__init__).parameters.values())[1:]
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)) else obj
        pm.register(instance, name=name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConformanceError(f"plugin {name!r} fails pluggy's validation: {exc}") from None
    return sorted(set(found))


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _changed(module: torch.nn.Module, before: Mapping[str, torch.Tensor]) -> list[str]:
    return [name for name, p in module.named_parameters() if not torch.equal(p.detach(), before[name])]


def _same_state(a: Mapping[str, Mapping[str, torch.Tensor]], b: Mapping[str, Mapping[str, torch.Tensor]]) -> str | None:
    if sorted(a) != sorted(b):
        return f"plugin state names differ: {sorted(a)} vs {sorted(b)}"
    for plugin in a:
        if sorted(a[plugin]) != sorted(b[plugin]):
            return f"state of {plugin!r} has keys {sorted(a[plugin])} vs {sorted(b[plugin])}"
        for key in a[plugin]:
            x, y = a[plugin][key], b[plugin][key]
            if x.dtype != y.dtype or x.shape != y.shape:
                return (f"state {plugin}.{key} is {x.dtype} of shape {tuple(x.shape)} vs {y.dtype} of shape "
                        f"{tuple(y.shape)}")
            if not torch.equal(x.cpu(), y.cpu()):
                return f"state {plugin}.{key} differs"
    return None


def _plugin_state(trainer) -> dict[str, dict[str, torch.Tensor]]:
    """A copy of a trainer's per-plugin state."""
    return {plugin: {key: value.detach().cpu().clone() for key, value in values.items()}
            for plugin, values in trainer.plugin_state.items()}


def _attributes(trainer) -> dict[str, dict[str, Any]]:
    """The tensors and numbers each plugin object of a trainer's run holds in its ``__dict__``, copied."""
    found = {}
    for name, obj in trainer.run.pm.list_name_plugin():
        values = {}
        for attr, value in getattr(obj, "__dict__", {}).items():
            if isinstance(value, torch.Tensor):
                values[attr] = value.detach().cpu().clone()
            elif isinstance(value, (bool, int, float)):
                values[attr] = value
        found[name] = values
    return found


def _same_value(x: Any, y: Any) -> bool:
    if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
        return (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.dtype == y.dtype
                and x.shape == y.shape and torch.equal(x.nan_to_num(), y.nan_to_num()))
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def _shown(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.item():.6g}" if value.numel() == 1 else f"a tensor of shape {tuple(value.shape)}"
    return repr(value)


def _same_latent(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return sorted(a) == sorted(b) and all(_same_latent(a[k], b[k]) for k in a)
    return False


def check_defaults(name: str, declaration, old_style: bool = False) -> list[str]:
    """Check that every option default of a plugin's ``declaration`` (the plain one and each data
    kind's) fits the option's own type; returns the options checked. A default the plugin would
    refuse from a user (``width: PositiveInt = 0``) is a :class:`ConformanceError` naming it.
    ``old_style``: a plugin written before declarations, whose plain ``None`` default means "the
    plugin's choice, resolved in its hooks" and is let through."""
    from gancore.declaration import describe_type

    for option, opt in declaration.options.items():
        for kind, value in opt.invalid_defaults().items():
            if old_style and kind is None and value is None:
                continue
            raise ConformanceError(
                f"plugin {name!r}: the default of option {option!r}{'' if kind is None else f' for {kind} data'} is "
                f"{value!r}, which breaks its own declaration ({describe_type(opt.type)}). Fix the default or the "
                "annotation.")
    return sorted(declaration.options)


def _weights_differ(x: torch.nn.Module, y: torch.nn.Module) -> str | None:
    for (name, p), q in zip(x.state_dict().items(), y.state_dict().values()):
        if p.shape != q.shape or not torch.allclose(p.float(), q.float(), rtol=1e-5, atol=1e-7):
            return name
    return None


class _Checker:
    def __init__(self, registry, plugin: str, kind: str, family: str, options, family_options, settings):
        self.registry, self.plugin, self.kind, self.family = registry, plugin, kind, family
        self.options = {family: dict(family_options or {})}
        if plugin != family:
            self.options[plugin] = dict(options or {})
        else:
            self.options[family].update(options or {})
        self.settings = dict(settings or {})
        # A regularizer's weight is chosen as with --regularizer NAME=WEIGHT.
        self.weight = self.options.get(plugin, {}).pop("weight", None) if kind == "regularizer" else None

    def fail(self, where: str, message: str):
        raise ConformanceError(f"plugin {self.plugin!r} ({self.kind}) on {where}: {message}")

    def trainer(self, spec: DataSpec, run_dir: Path, probe: bool = False, **overrides):
        from gancore.run.rundir import configure
        from gancore.trainer import Trainer

        plugins = [self.family] + ([self.plugin] if self.kind == "add-on" else [])
        chosen = {self.plugin: self.weight} if self.kind == "regularizer" else None
        options = {k: v for k, v in self.options.items() if v}
        user = {"plugins": plugins, "options": options, "data": spec.name, "steps": 2, "batch_size": 8,
                "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 0, "grid_size": 8,
                "keep": 10, "name": "conformance", **self.settings, **overrides}
        if chosen is not None:
            user["regularizers"] = chosen
        config, run = configure(self.registry, spec, user)
        if probe:
            try:
                run.hook.build_generator(config=config, data=spec)
                run.hook.build_discriminator(config=config, data=spec)
            except PluginError as exc:
                raise _Unsupported(str(exc)) from None
        return Trainer(config, run, synthetic_data(spec), run_dir, progress=False)

    def check_updates(self, where: str, trainer) -> None:
        G, D = trainer.generator, trainer.discriminator
        with torch.no_grad():
            batch = trainer.dataset.batch(torch.arange(4))
            x = samples_of(G(G.latent(4, batch=batch)))
        # Translating families may return several images per input (both directions): a multiple of 4 rows.
        if tuple(x.shape[1:]) != tuple(trainer.spec.shape) or x.shape[0] == 0 or x.shape[0] % 4:
            self.fail(where, f"the generator made samples of shape {tuple(x.shape)} from 4 latents; expected "
                             f"{(4, *trainer.spec.shape)} (or a multiple of 4 rows).")
        if not torch.isfinite(x).all():
            self.fail(where, "the generator made non-finite samples.")
        g0, d0 = _snapshot(G), _snapshot(D)
        step = trainer._new_step()
        self.update(where, trainer, step, "d")
        self.check_terms(where, step, "d")
        if _changed(G, g0):
            self.fail(where, f"the discriminator update changed the generator ({_changed(G, g0)[0]}).")
        leaked = [name for name, p in G.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        if leaked:
            self.fail(where, f"D's loss reaches the generator: {leaked[0]} has a gradient after the discriminator "
                             "update (use step.fake, which is computed without gradients in phase 'd').")
        if not [n for n, p in D.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]:
            self.fail(where, "D's loss gives the discriminator no gradient.")
        d1 = _snapshot(D)
        D.requires_grad_(False)
        try:
            self.update(where, trainer, step, "g")
        finally:
            D.requires_grad_(True)
        self.check_terms(where, step, "g")
        if _changed(D, d1):
            self.fail(where, f"the generator update changed the discriminator ({_changed(D, d1)[0]}).")
        if not [n for n, p in G.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]:
            self.fail(where, "G's loss gives the generator no gradient.")
        if self.kind == "family" and not _changed(D, d0):
            self.fail(where, "a discriminator update left every discriminator parameter unchanged.")

    def check_latent(self, where: str, trainer) -> None:
        """Different latents give different samples; a conditional generator's samples also change
        with the label alone (the same noise)."""
        G = trainer.generator
        first, second = (trainer.dataset.batch(torch.arange(i, i + 4)) for i in (0, 4))
        was_training = G.training
        G.eval()  # as gan sample and the sample grids use it
        try:
            with torch.no_grad():
                a = G.latent(4, batch=first, rng=torch.Generator().manual_seed(1))
                b = G.latent(4, batch=first, rng=torch.Generator().manual_seed(2))
                if _same_latent(a, b):  # a translating generator's latent is the batch's images
                    b = G.latent(4, batch=second, rng=torch.Generator().manual_seed(2))
                if not _same_latent(a, b) and torch.equal(samples_of(G(a)), samples_of(G(b))):
                    self.fail(where, "samples do not depend on the latent: two different latents gave the same "
                                     "samples. The generator's forward must use its input (every sample the same "
                                     "is mode collapse by construction).")
                if getattr(G, "conditional", False) and getattr(G, "num_classes", 0) > 1:
                    # The same noise with labels 0 and 1 (labels= given: not taken from the batch).
                    zero, one = (G.latent(4, labels=torch.full((4,), label, dtype=torch.long), batch=first,
                                          rng=torch.Generator().manual_seed(3)) for label in (0, 1))
                    if torch.equal(samples_of(G(zero)), samples_of(G(one))):
                        self.fail(where, "samples do not depend on the label: the same noise with labels 0 and 1 "
                                         "gave the same samples. A conditional generator's forward must use "
                                         "latent['labels'].")
        finally:
            G.train(was_training)

    def update(self, where: str, trainer, step, phase: str) -> None:
        try:
            # The network's first update of the run: every phase of its rows, lazy ones included, is due.
            trainer._update(step, next(u for u in schedule(trainer.phases, 0) if u.network == phase))
        except (GanError, RuntimeError) as exc:
            self.fail(where, f"the {phase!r} update failed: {type(exc).__name__}: {exc}")

    def check_terms(self, where: str, step, phase: str) -> None:
        terms = {k: v for k, v in step.logs.items() if k.startswith(f"{phase}/")}
        if not terms:
            self.fail(where, f"no loss terms were logged in phase {phase!r}.")
        for name, value in terms.items():
            if value.dim() != 0:
                self.fail(where, f"{name} is not a scalar (shape {tuple(value.shape)}).")
            if not math.isfinite(float(value)):
                self.fail(where, f"{name} = {float(value)} is not finite.")

    def check_resume_and_seed(self, where: str, spec: DataSpec, tmp: Path) -> None:
        from gancore.checkpoint import load_checkpoint

        full = self.trainer(spec, tmp / "full", steps=3, checkpoint_every=2)
        # What the plugin objects and their state hold when the checkpoint of step 2 is written.
        initial, saved, save = _attributes(full), {}, full.save_checkpoint

        def save_and_record():
            if full.index == 2:
                saved.update(state=_plugin_state(full), attributes=_attributes(full))
            return save()

        full.save_checkpoint = save_and_record
        try:
            full.fit()
        except GanError as exc:
            self.fail(where, f"training 3 steps failed: {exc}")
        again = self.trainer(spec, tmp / "again", steps=3)
        again.fit()
        self._same_run(where, full, again, "two runs with the same seed give",
                       "draw randomness from torch's global RNG or step.G.latent(..., rng=...), not from other "
                       "sources")
        resumed = self.trainer(spec, tmp / "resumed", steps=3)
        resumed.load_checkpoint(load_checkpoint(tmp / "full" / "checkpoints" / "step-000002"))
        problem = _same_state(saved["state"], _plugin_state(resumed))
        if problem:
            self.fail(where, f"resuming from a checkpoint does not restore the plugin state saved in it exactly: "
                             f"{problem}. Keep only tensors in step.state_for(self).")
        self._check_attributes(where, initial, saved["attributes"], _attributes(resumed))
        resumed.fit()
        self._check_late_attributes(where, initial, saved["attributes"], _attributes(full), _attributes(resumed))
        self._same_run(where, full, resumed, "resuming from a checkpoint gives",
                       "keep everything that must survive a resume in step.state_for(self)")

    def _check_attributes(self, where: str, initial, saved, resumed) -> None:
        """Fail when an attribute of a plugin object changed during training (from ``initial`` to
        ``saved``, at the checkpoint) and resuming from that checkpoint does not give it back."""
        for plugin, values in saved.items():
            for attr, value in values.items():
                before = initial.get(plugin, {}).get(attr)
                if attr not in initial.get(plugin, {}) or _same_value(before, value):
                    continue  # not changed by training: configuration, not state
                after = resumed.get(plugin, {}).get(attr)
                if not _same_value(after, value):
                    self.fail(where, f"resuming from a checkpoint loses {plugin}'s attribute self.{attr}: training "
                                     f"changed it ({_shown(before)} at the start, {_shown(value)} at the checkpoint) "
                                     f"but a resumed run has {_shown(after)}. Keep what training changes in "
                                     "step.state_for(self) (a dict of tensors saved in every checkpoint), not on "
                                     "self.")

    def _check_late_attributes(self, where: str, initial, saved, full, resumed) -> None:
        """An attribute a plugin first sets during training (``self.lam`` made in the first
        ``post_step``) is compared at the end of the runs: a resumed run must end with the value
        the uninterrupted run ends with (a cache rebuilt the same way passes)."""
        for plugin, values in saved.items():
            for attr in values:
                if attr in initial.get(plugin, {}) or attr not in full.get(plugin, {}):
                    continue
                expected, actual = full[plugin][attr], resumed.get(plugin, {}).get(attr)
                if not _same_value(expected, actual):
                    self.fail(where, f"resuming from a checkpoint loses {plugin}'s attribute self.{attr}: set during "
                                     f"training, it ends at {_shown(expected)} in an uninterrupted run but at "
                                     f"{_shown(actual)} in a resumed one. Keep what training changes in "
                                     "step.state_for(self) (a dict of tensors saved in every checkpoint), not on "
                                     "self.")

    def _same_run(self, where, expected, actual, finding: str, advice: str) -> None:
        """Fail unless ``actual`` ended with ``expected``'s weights and plugin state."""
        for what in ("generator", "discriminator"):
            name = _weights_differ(getattr(expected, what), getattr(actual, what))
            if name:
                self.fail(where, f"{finding} different {what} weights ({name}): {advice}.")
        problem = _same_state(expected.plugin_state, actual.plugin_state)
        if problem:
            self.fail(where, f"{finding} different plugin state: {problem}.")


def check_plugin(name: str, *, family: str | None = None, options: Mapping[str, Any] | None = None,
                 family_options: Mapping[str, Any] | None = None, data: Iterable[str] | None = None,
                 settings: Mapping[str, Any] | None = None, registry=None) -> Report:
    """Check that the installed plugin ``name`` keeps gancore's plugin contract.

    :param name: the plugin's entry-point (or distribution) name.
    :param family: for a regularizer or add-on, the family to check it with
        (default: the kit's :class:`ReferenceFamily`).
    :param options: the plugin's options (``--set`` values), e.g. a small
        ``width`` to keep the check fast.
    :param family_options: options of ``family``.
    :param data: names from :data:`DATA_SPECS` to train on (default: all).
    :param settings: :class:`gancore.config.TrainConfig` values to override
        (``batch_size``, ``n_critic``, ...).
    :param registry: a :class:`gancore.plugins.Registry` (default: the
        installed plugins).
    :return: a :class:`Report`. Raises :class:`ConformanceError` on the
        first broken rule.
    """
    from gancore.plugins import Registry

    registry = registry or Registry.discover()
    try:
        info = registry.get(name)
    except PluginError as exc:
        raise ConformanceError(str(exc)) from None
    name = info.name
    report = Report(name, info.kind)
    report.checked.append(f"hooks: {', '.join(check_signatures(name, info.obj))}")
    report.checked.append(_check_declaration(info))
    if info.kind == "family":
        family = name
    elif family is None:
        if REFERENCE not in registry:
            registry.add(REFERENCE, ReferenceFamily)
        family = REFERENCE
    checker = _Checker(registry, name, info.kind, family, options, family_options, settings)
    names = list(DATA_SPECS) if data is None else list(data)
    unknown = [n for n in names if n not in DATA_SPECS]
    if unknown:
        raise ValueError(f"unknown data {unknown[0]!r}; use some of {', '.join(DATA_SPECS)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the kit's models are tiny: more threads only contend
    try:
        with tempfile.TemporaryDirectory(prefix="gancore-conformance-") as tmp:
            _check_all(checker, report, names, Path(tmp))
    finally:
        torch.set_num_threads(threads)
    return report


def _check_declaration(info) -> str:
    """The plugin's declared kind agrees with its hooks; every option's default fits its type. A
    plugin written before declarations passes with its kind guessed (the report says so)."""

    plain_family = set(info.hooks) & set(hookspecs.FAMILY_HOOKS)
    if info.kind == "family" and not set(hookspecs.REQUIRED_FAMILY_HOOKS) <= set(info.hooks):
        missing = sorted(set(hookspecs.REQUIRED_FAMILY_HOOKS) - set(info.hooks))
        raise ConformanceError(f"plugin {info.name!r} declares kind 'family' but does not implement {missing[0]}.")
    if info.kind in ("regularizer", "add-on") and plain_family:
        raise ConformanceError(f"plugin {info.name!r} declares kind {info.kind!r} but implements the family hook "
                               f"{sorted(plain_family)[0]} (an add-on may only wrap it: @hookimpl(wrapper=True)).")
    checked = check_defaults(info.name, info.declaration, old_style=info.kind_guessed)
    kind = "kind guessed (declares none)" if info.kind_guessed else f"kind {info.kind}"
    return f"declaration: {kind}; option defaults fit their declarations: {', '.join(checked) or '(no options)'}"


def _check_all(checker: _Checker, report: Report, names: list[str], tmp: Path) -> None:
    first = None
    for data_name in names:
        spec = DATA_SPECS[data_name]
        where = f"{data_name} data"
        try:
            trainer = checker.trainer(spec, tmp / data_name.replace(" ", "-"), probe=True)
        except _Unsupported as exc:
            report.skipped[data_name] = str(exc)
            continue
        except GanError as exc:
            checker.fail(where, f"setting up a run failed: {exc}")
        checker.check_updates(where, trainer)
        checker.check_latent(where, trainer)
        report.checked.append(f"{data_name}: shapes, finite losses, gradients to the right network, samples that "
                              "depend on the latent")
        first = first or data_name
    if first is None:
        checker.fail("every data shape", "no data shape is supported: "
                     + "; ".join(f"{k}: {v}" for k, v in report.skipped.items()))
    checker.check_resume_and_seed(f"{first} data", DATA_SPECS[first], tmp / "resume")
    report.checked.append(f"{first}: checkpoint round trip and determinism under a seed")
