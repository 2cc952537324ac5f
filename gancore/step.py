"""A training step: its table of phases, and the object every per-step hook receives.

A step is a short table of :class:`Phase` rows (:func:`phase_table`): D main
(``n_critic`` updates), D reg at each lazy regularization interval, G main, G
reg; :func:`schedule` says which of them run in a given step. A :class:`Step`
is built for each discriminator update and reused for the generator update
that follows; :meth:`Step.begin` switches its phase. It gives a plugin the
real batch, the networks to call in this phase, the generator's output, the
run's configuration and per-plugin state.

One generator pass per iteration: the last discriminator update's fakes are
made with gradients kept (its losses see them detached) and the generator
update that follows scores those same fakes, as the classic loops do, instead
of drawing a second latent and running the generator again. The gradient is
the same one a second pass on that latent would give (the generator's weights
have not changed in between); a plugin that needs fakes of a fresh latent in
the generator's phase says so with ``needs_fresh_fakes = True`` (see
:mod:`gancore.hookspecs`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs
import torch
from torch import nn

from gancore.config import TrainConfig
from gancore.data import Batch, DataSpec
from gancore.errors import ConfigError
from gancore.generator import Latent, map_latent, samples_of
from gancore.pluginstate import state_in


@attrs.frozen
class Phase:
    """One row of a step's table (StyleGAN2-ADA's phases: name, network, interval).

    :param name: ``"D main"``, ``"D reg"``, ``"G main"`` or ``"G reg"``.
    :param network: ``"d"`` or ``"g"``: the network it trains, the ``phase`` its hooks receive.
    :param interval: the row runs on update ``u`` of its network (counted from the start of the
        run) when ``u % interval == 0``; a reg row's terms are multiplied by it, so that the
        regularization keeps its average strength.
    :param regularizers: the plugins (by name) whose ``regularize`` terms the row adds: in a main
        row those without a lazy interval for the network, in a reg row those with this one.
    :param repeat: updates of the network per step (``n_critic`` for D main).
    :param loss: the family's ``d_loss``/``g_loss`` is part of the row (the main rows).
    :param separate: a reg row's own backward and optimizer step; otherwise its terms join the
        main row's update.
    """

    name: str
    network: str
    interval: int = 1
    regularizers: tuple[str, ...] = ()
    repeat: int = 1
    loss: bool = False
    separate: bool = False


@attrs.frozen
class Update:
    """One scheduled update of a network: its passes, each one backward and one optimizer step
    (the main row with the reg rows joined to it, then each separate reg row); ``post_step``
    follows once. ``number`` counts the network's updates from the start of the run; ``last``
    says it is the network's last update of the step."""

    network: str
    number: int
    passes: tuple[tuple[Phase, ...], ...]
    last: bool


def phase_table(n_critic: int, lazy: Mapping[str, Mapping[str, int]], mode: str = "inline") -> tuple[Phase, ...]:
    """The rows of a training step: D main, D reg at each lazy interval, G main, G reg at each.

    :param n_critic: discriminator updates per step.
    :param lazy: every plugin implementing ``regularize``, by name, to its lazy intervals by
        network (``{"r1": {"d": 16}, "gp": {}}``); a network it has no interval > 1 for is
        regularized in the main row.
    :param mode: ``TrainConfig.lazy_regularization``: ``"inline"`` joins the reg rows' terms to the
        main row's update; ``"separate"`` (StyleGAN2's) gives them their own, one interval per network.
    """
    rows = []
    for network, repeat in (("d", n_critic), ("g", 1)):
        every = {name: intervals.get(network, 1) for name, intervals in lazy.items()}
        if mode == "separate" and len(set(every.values()) - {1}) > 1:
            raise ConfigError(f"--lazy-regularization separate rescales {network.upper()}'s optimizer for one lazy "
                              "interval, but its regularizers have several: "
                              + ", ".join(f"{n} every {k}" for n, k in every.items() if k > 1)
                              + ". Give them one interval (--set NAME.every=K), or use --lazy-regularization inline.")
        rows.append(Phase(f"{network.upper()} main", network, 1, tuple(n for n, k in every.items() if k == 1),
                          repeat, loss=True))
        for k in sorted(set(every.values()) - {1}):
            rows.append(Phase(f"{network.upper()} reg", network, k, tuple(n for n, i in every.items() if i == k),
                              separate=mode == "separate"))
    return tuple(rows)


def schedule(table: tuple[Phase, ...], index: int) -> list[Update]:
    """The updates of step ``index`` in order: which phases run at which step."""
    updates = []
    for main in (row for row in table if row.loss):
        for repeat in range(main.repeat):
            number = index * main.repeat + repeat
            due = [row for row in table if row.network == main.network and not row.loss
                   and number % row.interval == 0]
            passes = ((main, *(row for row in due if not row.separate)), *((row,) for row in due if row.separate))
            updates.append(Update(main.network, number, passes, repeat == main.repeat - 1))
    return updates


def lazy_ratio(table: tuple[Phase, ...], network: str) -> float:
    """StyleGAN2's ``mb_ratio`` for ``network``'s optimizer: ``k / (k + 1)`` when a separate reg row
    adds an update every ``k``, else 1. Its learning rate is multiplied by it and its betas raised
    to it, so that ``k`` main updates and one reg update move the weights as ``k`` updates would."""
    intervals = [row.interval for row in table if row.network == network and row.separate]
    return intervals[0] / (intervals[0] + 1) if intervals else 1.0


@attrs.frozen
class DiscriminatorView:
    """What a regularizer needs to know about one discriminator.

    :param real: the discriminator's real inputs this step.
    :param fake: its fake inputs this step (no gradient to the generator).
    :param score: maps an input shaped like ``real`` to D's adversarial score,
        one value (or one map of patch values) per sample. Conditioning, paired
        source images and auxiliary heads are handled inside it, so a penalty
        such as a gradient penalty works for every family.
    :param parameters: the discriminator's parameters (for constraints on them).
    :param name: which discriminator this is (``"d"``, or ``"d_a"``/``"d_b"``
        for families with two), used to name logged terms.
    """

    real: torch.Tensor
    fake: torch.Tensor
    score: Callable[[torch.Tensor], torch.Tensor]
    parameters: Callable[[], Any]
    name: str = "d"


class Step:
    """Per-iteration context handed to ``d_loss``, ``g_loss``, ``regularize``
    and ``post_step``.

    Its attributes:

    * ``index``: the training step (number of generator updates done so far).
    * ``phase``: ``"d"`` or ``"g"``.
    * ``batch``: the real :class:`gancore.data.Batch` on the training device.
    * ``config``: the resolved :class:`gancore.config.TrainConfig`.
    * ``data``: the :class:`gancore.data.DataSpec` (``step.data.kind``, ``step.data.shape``).
    * ``G``, ``D``: the generator and discriminator modules themselves (unwrapped
      from any distributed wrapper): for their attributes and
      parameters, not for forward passes.
    * ``accelerator``: the ``accelerate.Accelerator`` of the run (``step.accelerator.device``
      is where new tensors go).

    Per-plugin state that must survive a resume lives in :meth:`state_for`; scalars to log go
    to :meth:`log`. In tests, :class:`gancore.testing.ScriptedStep` stands in for it.
    """

    #: A discriminator with batch statistics sees real and fake in separate batches (the family's
    #: ``separate_batches``, set by the trainer); see :meth:`real_and_fake_scores`.
    separate_batches = False

    def __init__(self, *, index: int, batch: Batch, generator: nn.Module, discriminator: nn.Module,
                 G: nn.Module, D: nn.Module, config: TrainConfig, data: DataSpec, accelerator: Any,
                 state: dict[str, dict[str, torch.Tensor]], name_of: Callable[[object], str],
                 warnings: list[dict[str, Any]] | None = None):
        self.index = index
        self.batch = batch
        self.config = config
        self.data = data
        self.accelerator = accelerator
        self.G, self.D = G, D
        self._wrapped_g, self._wrapped_d = generator, discriminator
        self._state = state
        self._name_of = name_of
        self.logs: dict[str, torch.Tensor] = {}
        self.warnings: list[dict[str, Any]] = [] if warnings is None else warnings
        self.phase = "d"
        self._cache: dict[str, Any] = {}
        self._keep_fakes = False
        self.views: tuple[DiscriminatorView, ...] | None = None

    def begin(self, phase: str, keep_fakes: bool = False) -> "Step":
        """Start ``phase`` (``"d"`` or ``"g"``).

        ``begin("d", keep_fakes=True)`` makes this discriminator update's fakes with the
        generator's graph kept, so that the ``"g"`` phase begun next reuses them (its latent and
        outputs, with gradients); otherwise each phase draws its own latent and fakes.
        """
        keep = self._keep_fakes and phase == "g" and "fake" in self._cache
        self._cache = {"latent": self._cache["latent"], "fake": self._cache["attached"]} if keep else {}
        self._keep_fakes = keep_fakes and phase == "d"
        self.phase = phase
        self.views = None
        return self

    # -- data ------------------------------------------------------------
    @property
    def real(self) -> torch.Tensor:
        """The real samples of this step's batch."""
        return self.batch.x

    @property
    def labels(self) -> torch.Tensor | None:
        """The real batch's labels, or ``None`` for unlabelled data."""
        return self.batch.labels

    # -- networks --------------------------------------------------------
    @property
    def generator(self) -> Callable[[Latent], torch.Tensor]:
        """The generator to call in this phase (distributed-wrapped in ``"g"``)."""
        return self._wrapped_g if self.phase == "g" else self.G

    @property
    def discriminator(self) -> Callable[..., torch.Tensor]:
        """The discriminator to call in this phase.

        In ``"d"`` it is the (distributed-wrapped) trainable network; in
        ``"g"`` it is the bare module with its parameters frozen, so gradients
        reach the generator through it but never D itself.
        """
        return self._wrapped_d if self.phase == "d" else self.D

    @property
    def latent(self) -> Latent:
        """The generator input for this phase, drawn once per phase."""
        if "latent" not in self._cache:
            self._cache["latent"] = self.G.latent(len(self.batch), batch=self.batch)
        return self._cache["latent"]

    @property
    def fake(self) -> torch.Tensor:
        """The samples of ``generator(latent)``, computed once per phase.

        Without gradients in phase ``"d"`` (D's loss must not reach G), with
        gradients in phase ``"g"``.
        """
        return samples_of(self.outputs)

    @property
    def outputs(self) -> Any:
        """``generator(latent)`` as returned: the samples, or a mapping of named outputs.

        A generator that returns a mapping (``{"sample": ..., "code": ...}``,
        see :mod:`gancore.generator`) gives its family's losses every output
        of the one forward pass; computed once per phase like :attr:`fake`.
        """
        if "fake" not in self._cache:
            if self._keep_fakes:
                # The distributed-wrapped generator, with its graph: the "g" phase backpropagates
                # through this very pass. D's losses see the outputs detached.
                self._cache["attached"] = self._wrapped_g(self.latent)
                self._cache["fake"] = map_latent(self._cache["attached"], torch.Tensor.detach)
            elif self.phase == "d":
                with torch.no_grad():
                    self._cache["fake"] = self.generator(self.latent)
            else:
                self._cache["fake"] = self.generator(self.latent)
        return self._cache["fake"]

    def real_and_fake_scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``D(real), D(fake)``.

        One forward pass over both, unless the discriminator has batch
        statistics (BatchNorm) and the family asked for
        :attr:`separate_batches` (a real batch and a fake batch, as DCGAN's
        reference code): then two, and :meth:`fake_scores` scores fakes alone.
        """
        if self._has_batch_statistics() and self.separate_batches:
            return self.discriminator(self.real), self.discriminator(self.fake)
        scores = self.discriminator(torch.cat([self.real, self.fake]))
        return scores.split([len(self.real), len(self.fake)])

    def fake_scores(self, score: Callable[[torch.Tensor], Any] | None = None) -> Any:
        """``D(fake)`` scored the way the discriminator scores fakes in its own update.

        A discriminator with batch statistics (BatchNorm) normalises each
        input by its batch; when its update sees real and fake in one batch
        (:meth:`real_and_fake_scores`), fakes scored alone in the generator's
        phase would be normalised differently from what D learned on. So with
        BatchNorm the fakes are scored inside a real+fake batch (the real
        half's scores are dropped). Without BatchNorm, or when the family keeps
        real and fake in :attr:`separate_batches`, they are scored alone: one
        forward over half the inputs, the cheaper path.

        :param score: what to apply instead of ``step.discriminator``, for a
            family that needs more of D than its score (an auto-encoder's
            reconstruction error *and* code): a function of a batch returning
            a tensor or a tuple of per-sample tensors; the fakes' rows of each
            are returned.
        """
        score = score or self.discriminator
        if not self._has_batch_statistics() or self.separate_batches:
            return score(self.fake)
        out = score(torch.cat([self.real, self.fake]))
        n = len(self.real)
        return tuple(part[n:] for part in out) if isinstance(out, tuple) else out[n:]

    def _has_batch_statistics(self) -> bool:
        found = getattr(self.D, "_gancore_batch_statistics", None)
        if found is None:
            found = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())
            self.D._gancore_batch_statistics = found  # modules do not change kind during a run
        return found

    def per_view(self, term: str, penalty: Callable[[DiscriminatorView], torch.Tensor]) -> dict[str, torch.Tensor]:
        """Apply ``penalty`` to every discriminator view; name the terms.

        The term is ``term`` for a single discriminator named ``"d"`` and
        ``term_<view name>`` otherwise (``gp_d_a``, ``gp_d_b``).
        """
        return {term if view.name == "d" else f"{term}_{view.name}": penalty(view)
                for view in self.discriminator_views()}

    def discriminator_views(self) -> tuple[DiscriminatorView, ...]:
        """The views regularizers use: the family's, or ``D(real)`` vs ``D(fake)``."""
        if self.views is None:
            self.views = (DiscriminatorView(real=self.real, fake=self.fake, score=self.discriminator,
                                            parameters=self.D.parameters),)
        return self.views

    # -- plugin state and logging ----------------------------------------
    def state_for(self, plugin: object) -> dict[str, torch.Tensor]:
        """The calling plugin's persistent state: a dict of tensors.

        It is saved in every checkpoint and restored on resume. It holds only
        tensors: assigning anything else raises a :class:`gancore.errors.PluginError`.
        """
        return state_in(self._state, self._name_of(plugin))

    def log(self, name: str, value: torch.Tensor | float) -> None:
        """Record a scalar for this step's metrics: ``metrics.jsonl`` shows its mean over the log
        interval. A later value under the same name in the same step replaces an earlier one; with
        ``n_critic > 1`` every discriminator update's step counts."""
        value = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
        self.logs[name] = value

    def warn(self, code: str, message: str, plugin: object | None = None) -> None:
        """Report a problem with training that does not stop it.

        The trainer shows it above the progress bar and appends it, with the
        step index, to ``<run>/warnings.jsonl``; training goes on.

        :param code: a short, stable name for the kind of problem
            (``"mode-collapse"``), for filtering.
        :param message: one sentence for the person watching the run.
        :param plugin: the calling plugin (``self``), recorded by name.
        """
        source = self._name_of(plugin) if plugin is not None else None
        self.warnings.append({"step": self.index, "code": str(code), "message": str(message), "plugin": source})


def loss_terms(result: Any, hook: str, family: str) -> Mapping[str, torch.Tensor]:
    """Normalise a loss hook's result to named scalar terms."""
    from gancore.errors import PluginError

    if isinstance(result, torch.Tensor):
        result = {"loss": result}
    if not isinstance(result, Mapping) or not result:
        raise PluginError(f"plugin {family!r}: {hook} must return a scalar tensor or a mapping of named "
                          f"scalar tensors; got {type(result).__name__}.")
    for name, value in result.items():
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            got = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise PluginError(f"plugin {family!r}: {hook} term {name!r} is not a scalar tensor (got {got}); "
                              "reduce it to one number, e.g. with .mean().")
    return result


def require_graph(total: torch.Tensor, phase: str, family: str) -> None:
    """Refuse a phase's summed loss that no gradient can flow from (torch's "element 0 of tensors does
    not require grad" at backward), naming the family's loss hook and what it must depend on."""
    from gancore.errors import PluginError

    if not total.requires_grad:
        hook, source = (("g_loss", "the fakes with their graph (step.fake or step.outputs in phase 'g', not "
                                   "detached and not made under torch.no_grad())") if phase == "g" else
                        ("d_loss", "the discriminator's scores of this phase (step.discriminator or "
                                   "step.real_and_fake_scores(), not detached)"))
        raise PluginError(f"plugin {family!r}: the {phase!r} update's loss has no gradient to follow: its terms do "
                          f"not depend on any trainable parameter. The family's {hook} must depend on {source}.")
