"""The hooks a gancore plugin may implement: the whole plugin contract, in one file.

This module is the reference for plugin authors: every hook below is
documented with its kind, when the trainer calls it, what it receives and
what it must return; the plugin attributes the core reads are listed
below. The hooks reference, ``docs/reference/hooks.md``, is generated from
these docstrings and annotations by ``python -m gancore.reference``
(:mod:`gancore.reference`; a test fails when the page is stale).

A plugin is any object (a module, a class instance) registered under the
entry-point group ``gancore``; its hook implementations are functions or
methods decorated with :data:`hookimpl` whose names match a hook below.
pluggy passes an implementation only the arguments it names, so an
implementation may declare any subset of a hook's arguments, in any order.

Each hook's docstring opens with its kind, one of:

* **family hook, firstresult** (``default_config``, ``build_generator``,
  ``build_discriminator``, ``d_loss``, ``g_loss``): the call stops at the
  first non-``None`` result. In a run exactly one active plugin, the family,
  implements each of them as a plain hook; a second one is refused when the
  run is activated, naming both. A *wrapper* (``@hookimpl(wrapper=True)``)
  is allowed and is how add-ons such as spectral normalization change any
  family's networks.
* **collected** (``regularize``): called on every active plugin that
  implements it; the results are combined.
* **notification** (``post_step``, ``grow``): called on every active plugin that
  implements it; results are ignored.
* **sampling, firstresult** (``sampling_generator``): any number of add-ons
  may implement it; the first non-``None`` result (pluggy's LIFO order)
  supplies the weights samples are drawn with.
* **install-time** (``register_commands``, ``register_data``): called on
  every installed plugin module that implements it, not only on a run's
  active plugins, so that commands and data names exist before any run.

**What a plugin declares** (read before anything is created; the machinery is
:mod:`gancore.declaration`, the resolver :mod:`gancore.run.resolve`). A plugin class
decorated with :func:`gancore.declaration.declare` states, as class-level data:

* ``kind = "family" | "regularizer" | "add-on"`` (a module entry point that only
  implements the install-time hooks states ``kind = "library"``): never guessed;
* one annotated class attribute per option, set to
  :func:`gancore.declaration.option` (default, ``by_kind`` defaults per data
  kind, help): the one typed, validated declaration of that option, which
  ``--set``, config files, ``gan plugins`` and ``gan train --help`` all read;
  ``option_defaults = {kind: {option: value}}`` gives several options' defaults
  per data kind as one table (inherited options included); a regularizer
  declares ``weight`` (``-r NAME=W``);
* ``defaults``: :class:`gancore.config.TrainConfig` settings, a mapping by data
  kind (``{"vector": {...}, "small-image": {...}, "image": {...}}``) or a
  function ``defaults(data, regularizers)``; a family's may name add-ons to turn
  on (``plugins``) and options of those and of its regularizers (``options``).
  An add-on's may set plain settings only.

The resolver layers gancore's defaults, the data kind's, the family's and its
add-ons' ``defaults``, the config file and the flags into one run
specification (``gan train --dry-run`` prints it with each value's source);
only then is each plugin created, once, with its resolved options (declared
defaults for the data's kind under what the layers set), and the build hooks
build networks and nothing else. A plugin written before declarations (typed
``__init__`` arguments, no ``kind``, a ``default_config`` hook) still works:
its kind is guessed as before (an option named ``weight`` makes a regularizer)
and ``gan plugins`` says so; ``docs/authoring/declarations.md`` is the one-step
migration.

**Plugin attributes the core reads.** Optional class (or object)
attributes; the core reads each with ``getattr(..., default)``, so a plugin
or network that lacks one gets the default.

On a **plugin**:

* ``needs_double_backward = True`` (the name is :data:`DOUBLE_BACKWARD`):
  the plugin's loss terms differentiate a gradient (input-gradient penalties
  such as ``gp``, ``r1``, ``dragan``, ``div``, built on
  :func:`gancore.losses.input_gradient`). ``torch.compile`` does not support
  double backward, so ``gan train --compile`` refuses a run in which any
  active plugin sets it, naming the plugin.
* ``needs_fresh_fakes = True`` (:data:`FRESH_FAKES`): the generator's update
  must score fakes of a latent drawn for it. By default the trainer makes
  one generator pass per iteration: the last discriminator update's fakes
  are made with the generator's graph kept (its losses see them detached)
  and the generator's update scores those same fakes (see
  :mod:`gancore.step`), which gives the gradient a second pass on that
  latent would give, at the cost of one pass fewer.
* ``lazy_every = {"d": k}`` (:data:`LAZY_EVERY`; ``"g"`` for the
  generator's phase): the plugin's ``regularize`` terms are lazy, taken on
  one update of that network in ``k`` (StyleGAN2's lazy regularization,
  ``r1``'s and ``pathlength``'s ``every``). The trainer calls the plugin in
  that phase only on those updates and multiplies its terms by ``k``; the
  plugin returns its plain, weighted term (see the phase table below).

**The phase table.** A training step is a short table of phases, each a
row of (name, network, interval), as StyleGAN2-ADA's training loop has
them (:func:`gancore.step.phase_table`, run by :mod:`gancore.trainer`):

* *D main*: ``n_critic`` discriminator updates, each on a fresh real batch:
  ``d_loss`` and the phase-``"d"`` terms of every plugin not lazy in it;
* *D reg*, one row per lazy interval ``k``: the lazy plugins' ``"d"`` terms,
  times ``k``, on D updates ``u`` (counted from the start of the run) with
  ``u % k == 0``;
* *G main*: ``g_loss`` and the eager ``"g"`` terms, D frozen;
* *G reg*: the lazy ``"g"`` terms, times ``k``, on G updates ``u % k == 0``.

By default (``lazy_regularization = "inline"``) a reg row's terms join its
main row's loss: one backward, one optimizer step. With ``"separate"``
(StyleGAN2's) a due reg row is a pass of its own, right after its main
row: its own backward and optimizer step (a D reg pass on the main pass's
batch, fakes and views; a G reg pass on fresh fakes), and the network's
learning rate is multiplied by ``k / (k + 1)`` and its betas raised to
that power, so that ``k`` main and one reg update move the weights as
``k`` updates would. ``post_step`` follows once per update, after its
passes. Which rows run in which step (:func:`gancore.step.schedule`) is a
function of the step index alone, so a resumed run regularizes on the
same updates.

On the **family** only:

* ``separate_batches = True`` (:data:`SEPARATE_BATCHES`): a discriminator
  with batch statistics (BatchNorm) sees real and fake samples in separate
  forward passes (:meth:`gancore.step.Step.real_and_fake_scores`), as
  DCGAN's reference code does, and the generator's update then scores fakes
  alone (:meth:`gancore.step.Step.fake_scores`). Without it such a
  discriminator sees one real+fake batch and fakes are scored inside a
  real+fake batch in the generator's update too, so that BatchNorm
  normalises them as D learned; that costs a forward and backward pass of
  the real half.

On the **generator** that :func:`build_generator` returns (the protocol and
its base class, which sets these, are :class:`gancore.generator.Generator`):

* ``latent(n, labels=None, batch=None, rng=None)`` (required): draws the
  generator's own input for ``n`` samples; the trainer never builds latents.
* ``conditional`` (default ``False``): ``latent`` honours ``labels``, so
  ``gan sample --label`` works and the trainer's sample grids show one
  class per row.
* ``num_classes`` (read when ``conditional``): how many labels there are.
* ``latent_codes`` (default ``{}``): a mapping from latent-dict key to
  :class:`gancore.generator.LatentCode`, the interpretable codes that
  ``gan sample --traverse NAME`` varies.
* ``labels_from_batch`` (default ``False``): a training latent drawn for a
  labelled real batch takes the batch's labels, so real and fake samples of
  a step share them.
* ``translates`` (default ``False``): the generator maps source images to
  target domains (:class:`gancore.generator.Translator`, with ``domains``,
  ``allowed_targets()`` and ``translation_latent()``), which ``gan
  translate`` needs.
* ``forward_truncated(self, *inputs, psi: float)`` (optional; the name is
  :data:`gancore.generator.TRUNCATED`): the truncation trick. It takes
  exactly what ``forward`` takes plus ``psi`` and returns what ``forward``
  returns, with the part of the input the family truncates pulled towards
  its average (StyleGAN's ``w = w_avg + psi (w - w_avg)``; BigGAN's
  resampled tails), ``psi = 1`` giving ``forward``'s output. Only sampling
  calls it (``gan sample --truncation PSI``, ``LoadedGenerator.sample(...,
  truncation=psi)``), never training, and it must not change any state a
  checkpoint holds; a generator without it is refused there with a clear
  error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

import pluggy

if TYPE_CHECKING:  # annotations only: `import gancore` (which imports this module) stays free of cycles and of torch
    import click
    import torch
    from torch import nn

    from gancore.config import TrainConfig
    from gancore.data import Dataset, DataSpec
    from gancore.step import Step

PROJECT = "gancore"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Hooks that only the run's single family may implement (wrappers excepted).
FAMILY_HOOKS = ("default_config", "build_generator", "build_discriminator", "d_loss", "g_loss")
#: Family hooks a family must implement; ``default_config`` is optional.
REQUIRED_FAMILY_HOOKS = ("build_generator", "build_discriminator", "d_loss", "g_loss")

#: The plugin attribute a plugin sets to ``True`` when its terms take
#: gradients of gradients (``create_graph=True``), which ``torch.compile``
#: cannot do: ``gan train --compile`` refuses a run with such a plugin.
DOUBLE_BACKWARD = "needs_double_backward"
#: A plugin attribute: ``True`` when the generator's update needs fakes of a fresh latent.
FRESH_FAKES = "needs_fresh_fakes"
#: A plugin attribute: the lazy intervals of its ``regularize`` terms by network, ``{"d": 16}``.
LAZY_EVERY = "lazy_every"
#: A family attribute: ``True`` to show a BatchNorm discriminator real and fake in separate batches.
SEPARATE_BATCHES = "separate_batches"


@hookspec(firstresult=True)
def default_config(data: DataSpec, regularizers: tuple[str, ...] | None) -> Mapping[str, Any] | None:
    """Return the family's default training settings (families written before declarations).

    Kind: **family hook, firstresult**: the call stops at the first non-``None`` result;
    only the run's family implements it and may leave it out.

    A declared family states the same as class data instead (``defaults``, see
    "What a plugin declares" above), read without creating it; this hook is
    called only on a family that declares no ``kind``, which is then created
    (with the user's options for it) to be asked, and that object trains.

    Called once, before the run's configuration is resolved. Precedence,
    lowest first: gancore's defaults, this hook, the ``--config`` TOML file,
    command-line flags.

    :param data: the :class:`gancore.data.DataSpec` of the run's data. Its
        ``kind`` (``"vector"``, ``"small-image"`` or ``"image"``) is what a
        family states its defaults by: architecture-independent settings that
        hold for every family (an 8-d latent for vector data) are already
        applied by the core (:data:`gancore.config.KIND_DEFAULTS`), under
        this hook's result.
    :param regularizers: the regularizer names the user chose (a tuple), or
        ``None`` when the user chose none and the family's defaults apply; a
        family may pick the paper's optimizer for each variant (WGAN with
        clipping trains with RMSprop, WGAN-GP with Adam).
    :return: a mapping from :class:`gancore.config.TrainConfig` field names
        to values (for example ``{"optimizer": "rmsprop", "lr_d": 5e-5,
        "n_critic": 5, "regularizers": {"clip": None}}``), or ``None``.
        ``regularizers`` given here are the family's defaults and are replaced
        as a whole when the user names any ``--regularizer``. ``plugins``
        names add-ons the family trains with by default (``["ema"]``); they
        are activated beside the user's plugins unless the user turns them
        off (``--no-default-plugins``). ``options`` may set options of
        those add-ons and of the regularizers (``{"dragan": {"center":
        10.0}}``), under the user's ``--set``. The family's own options
        are not settings: the family exists when this hook is called, so
        such a family reads ``data.kind`` for them in its build hooks (a
        declared family gives them per data kind in its declaration).
    """


@hookspec(firstresult=True)
def build_generator(config: TrainConfig, data: DataSpec) -> nn.Module:
    """Build the generator network.

    Kind: **family hook, firstresult**: the call stops at the first non-``None`` result;
    only the run's family implements it (add-ons may wrap it).

    Called once at the start of a run (and by ``gan sample``), before the
    networks are placed on devices.

    :param config: the resolved :class:`gancore.config.TrainConfig`.
    :param data: the :class:`gancore.data.DataSpec` describing sample shape,
        channels, value range and number of classes.
    :return: an ``nn.Module`` following the :class:`gancore.generator.Generator`
        protocol: ``latent(n, labels=None, batch=None, rng=None)`` draws the
        module's own input for ``n`` samples and ``forward(latent)`` maps it to
        samples of shape ``(n, *data.shape)`` in ``[-1, 1]``. Families with
        several networks (two generators, an encoder) return one module that
        holds them all. ``forward`` may instead return a mapping with the
        samples under ``"sample"`` and further named outputs of the same
        pass (an encoder-decoder returns its code and reconstruction of the
        real images in ``latent(n, batch=...)``); losses read them from
        ``step.outputs``. A generator whose latent holds interpretable codes
        declares them in ``latent_codes`` (a mapping from latent key to
        :class:`gancore.generator.LatentCode`) for ``gan sample --traverse``.
    """


@hookspec(firstresult=True)
def build_discriminator(config: TrainConfig, data: DataSpec) -> nn.Module:
    """Build the discriminator (critic) network.

    Kind: **family hook, firstresult**: the call stops at the first non-``None`` result;
    only the run's family implements it (add-ons may wrap it).

    Called once at the start of a run, after :func:`build_generator`.

    :param config: the resolved :class:`gancore.config.TrainConfig`.
    :param data: the :class:`gancore.data.DataSpec`.
    :return: an ``nn.Module``. Its call signature is the family's business:
        only the family's own losses and the discriminator views it publishes
        (see :func:`d_loss`) call it.
    """


@hookspec(firstresult=True)
def d_loss(step: Step) -> torch.Tensor | Mapping[str, torch.Tensor]:
    """Compute the discriminator's loss for one discriminator update.

    Kind: **family hook, firstresult**: the call stops at the first non-``None`` result;
    only the run's family implements it (add-ons may wrap it).

    Called ``n_critic`` times per training step, each time on a fresh real
    batch, with gradients enabled for the discriminator only.

    :param step: the :class:`gancore.step.Step`. Use ``step.real`` (and
        ``step.labels``, ``step.batch``) for real data, ``step.fake`` for the
        generator's output on ``step.latent`` (computed once per phase,
        without gradients in this phase) and ``step.discriminator`` for D.
        A family whose discriminator takes more than one image tensor, or
        whose score is not ``D(x)``, must set ``step.views`` to describe how
        to score an input, so that any regularizer works with it.
    :return: a scalar tensor, or a mapping of named scalar terms whose sum is
        the loss (each term is logged as ``d/<name>``).
    """


@hookspec(firstresult=True)
def g_loss(step: Step) -> torch.Tensor | Mapping[str, torch.Tensor]:
    """Compute the generator's loss for one generator update.

    Kind: **family hook, firstresult**: the call stops at the first non-``None`` result;
    only the run's family implements it (add-ons may wrap it).

    Called once per training step after the discriminator updates, with
    gradients enabled for the generator only (D's parameters are frozen, so
    gradients flow through D to G without touching D).

    :param step: the :class:`gancore.step.Step`; ``step.fake`` is computed
        with gradients in this phase.
    :return: a scalar tensor, or a mapping of named scalar terms whose sum is
        the loss (each term is logged as ``g/<name>``).
    """


@hookspec
def regularize(step: Step, phase: Literal["d", "g"]) -> Mapping[str, torch.Tensor] | None:
    """Return extra loss terms for a phase: gradient penalties and the like.

    Kind: **collected**: called on every active plugin that implements it; every
    non-``None`` result is kept, and a term name returned by two plugins is an error.

    Called on every active plugin after the family's loss of the same phase,
    before the backward pass; all returned terms are added to that loss. A
    plugin that declares ``lazy_every`` is called in that phase only on the
    updates its interval picks, its terms multiplied by the interval (and,
    with ``lazy_regularization = "separate"``, in a pass of their own without
    the family's loss; see the phase table above).

    :param step: the :class:`gancore.step.Step`. In phase ``"d"``,
        ``step.views`` lists one :class:`gancore.step.DiscriminatorView` per
        discriminator (real inputs, fake inputs, and a function from inputs to
        D's adversarial score), which is all a penalty needs.
    :param phase: ``"d"`` or ``"g"``.
    :return: ``None`` (nothing this phase) or a mapping from term name to a
        scalar tensor, *already multiplied by the plugin's weight*. Each term
        is logged as ``<phase>/<name>``.
    """


@hookspec
def post_step(step: Step, phase: Literal["d", "g"]) -> None:
    """React to an optimizer step: clip weights, update averages, adapt.

    Kind: **notification**: called on every active plugin that implements it; results are
    ignored.

    Called on every active plugin right after the optimizer of ``phase``
    stepped (once per discriminator update in phase ``"d"``, once per
    generator update in phase ``"g"``; with separate lazy regularization,
    once after the update's main and reg passes), under ``torch.no_grad()``.

    :param step: the :class:`gancore.step.Step`. Keep anything that must
        survive a resume in ``step.state_for(self)`` (a dict of tensors that
        the checkpoint saves and restores); scalars to log go to
        ``step.log(name, value)``.
    :param phase: ``"d"`` or ``"g"``.
    :return: nothing.
    """


@hookspec
def grow(stage: int, fade: float, generator: nn.Module, discriminator: nn.Module) -> None:
    """Bring the networks to a growth stage: add layers, or switch on layers built up front.

    Kind: **notification**: called on every active plugin that implements it; results are
    ignored. Called only in runs whose generator states a ``growth`` schedule (a sequence of
    :class:`gancore.growth.Stage` rows, ``Stage(start, fade)``: the step each stage begins at
    and the steps its new layers fade in over; see :mod:`gancore.growth`).

    Called by the trainer, under no special grad mode, at the start of every training step
    whose stage or fade differs from the previous step's (every step of a fade-in, once at
    each stage's start otherwise, and at the first step of a run), before that step's
    updates; and on resume, before the checkpoint's weights and optimizer states are loaded,
    with each stage up to the checkpoint's in turn, so that the networks have the checkpoint's
    parameters (and again at the first step after the resume, with that step's fade, as the
    loaded weights overwrite buffers). Calls with the stage the networks are at must be
    harmless: bring the networks to the stage, do not add a stage per call. Afterwards the
    core adds to each optimizer every parameter of its network that it does not hold yet (a
    new parameter group with the optimizer's settings; the state of the parameters it held,
    Adam's moments, is kept), and the stage is saved in every checkpoint's training state.
    Which stage and fade a step has is a function of the step index alone, so a run resumed
    across a stage change trains as one trained straight.

    :param stage: the index of the stage in the generator's ``growth`` schedule.
    :param fade: how far the stage's new layers have faded in, from 0 to 1.
    :param generator: the bare generator module (not wrapped for distributed training).
    :param discriminator: the bare discriminator module.
    :return: nothing. Change the modules in place; keep what samples must know (the stage,
        the fade) in their buffers, so that ``gan sample`` draws at the checkpoint's stage.
        Under distributed training, build every stage's layers up front and only switch them
        on (DDP does not synchronise parameters added after it wrapped the network).
    """


@hookspec(firstresult=True)
def sampling_generator(generator: nn.Module,
                       state_for: Callable[[object], dict[str, torch.Tensor]]) -> nn.Module | None:
    """Offer the generator that samples are drawn with, in place of the trained one.

    Kind: **sampling, firstresult**: the call stops at the first non-``None`` result, in
    pluggy's LIFO order; any number of add-ons may implement it.

    Called wherever the core draws samples rather than trains: the trainer's
    sample grids, ``gan sample`` (and anything else that loads a generator
    through :func:`gancore.run.rundir.load_generator`). Not called during training
    updates, which always use the trained generator. Several plugins may
    implement it; the first non-``None`` result (pluggy's LIFO order) wins.

    :param generator: the trained generator module (bare, not wrapped for
        distributed training), with the weights of the step being sampled.
        Do not modify it.
    :param state_for: ``state_for(plugin)`` returns that plugin's persistent
        state, the same dict :meth:`gancore.step.Step.state_for` gives during
        training; ``gan sample`` fills it from the checkpoint. Call it as
        ``state_for(self)``.
    :return: ``None`` to sample from ``generator`` itself, or an ``nn.Module``
        following the same generator protocol (``latent``/``forward``), on
        ``generator``'s device, for example a copy of ``generator`` holding
        other weights.
    """


# --- install-time hooks ----------------------------------------------------------------
#
# Called on every *installed* plugin that can implement them, whether or not a run
# activates it, each plugin on its own (see :mod:`gancore.installed`): they are
# module-level functions of a plugin whose entry point names a module
# (``gancore-translation = "gancore_translation"``). gancore imports those modules, and only
# those, to call them, so such a module imports nothing heavy (torch) at its top.

#: Hooks called on every installed plugin rather than on a run's active ones; a plugin that
#: implements only these is a library (``gan plugins`` kind ``library``), never activated.
INSTALL_HOOKS = ("register_commands", "register_data")


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``gan`` command line (as llm's hook of the same name).

    Kind: **install-time**: called on every *installed* plugin module that implements it,
    whether or not a run activates the plugin; results are ignored.

    An *install-time* hook: a module-level function of a plugin whose entry point names a
    module (``gancore-translation = "gancore_translation"``), called whether or not a run
    activates the plugin. Called once per process when ``gan`` first needs a command it does
    not hold itself (``gan translate``, say) or lists its commands (``gan --help``), on every
    installed plugin that implements it; only those modules are imported for it, so that
    ``gan --help`` stays fast: import heavy modules (torch) inside the commands. The core's
    own commands (``train``, ``sample``, ...) never wait for it, so a plugin that fails to
    load or raises here costs them nothing: a plugin that raises is skipped with a one-line
    warning on stderr naming it, and a plugin that failed to load adds no command
    (``gan plugins`` shows its error).

    :param cli: the ``gan`` :class:`click.Group`. Add commands with ``@cli.command()`` or
        ``cli.add_command(...)``; a command named like one of the core's is refused with a
        warning.
    :return: nothing.
    """


@hookspec
def register_data(register: Callable[[str, Callable[[], Dataset]], None],
                  register_layout: Callable[..., None]) -> None:
    """Add named data sets to ``--data`` and image-folder layouts to ``--layout``.

    Kind: **install-time**: called on every *installed* plugin module that implements it,
    whether or not a run activates the plugin; results are ignored.

    An install-time hook, like :func:`register_commands`. Called on every installed plugin
    that implements it (by :func:`gancore.installed.installed_data`, whose result a run hands
    the data loader, :func:`gancore.data.load_data`, as its readers: ``data/`` imports nothing
    of the plugin machinery) when that loader meets data it does not read itself: a ``--data``
    name other than the core's (``ring``, ``digits``, ``mnist`` and the ``--data-root``
    sets), or an image folder (with ``--layout auto`` or one of the layouts that plugins
    read). A name no plugin registers is refused listing every known name.

    :param register: ``register(name, load)`` names a data set: ``load()`` returns the
        :class:`gancore.data.Dataset` that ``--data name`` trains on, held in memory
        (``--image-size`` resizes it afterwards, as for the core's sets). A name that the
        core or another plugin already uses raises :class:`gancore.errors.PluginError`;
        such failures are named in the error of a ``--data`` name that is not found.
    :param register_layout: ``register_layout(layouts, read, claims)`` reads image folders
        in the ``--layout`` values ``layouts`` (a tuple of names of the plugin's own; not
        ``auto`` or ``classes``, which the core reads): ``read(folder, image_size, layout, mode)`` returns
        the :class:`gancore.data.Dataset` of the ``pathlib.Path`` ``folder`` (``layout`` is
        one of ``layouts``, or ``"auto"``; ``mode`` is ``--data-mode``), and
        ``claims(folder)`` says whether ``--layout auto`` reads that folder with this
        reader rather than as class subfolders.
    :return: nothing.
    """
