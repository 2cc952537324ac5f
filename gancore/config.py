"""Run configuration: one frozen attrs class, loaded from TOML and flags.

Precedence, lowest first: the defaults below, the defaults for the data's
kind (:data:`KIND_DEFAULTS`), the family's ``default_config`` hook (which
also sees the data, so it states its own defaults per kind), a ``--config``
TOML file, command-line flags. The resolved
configuration is written to ``<run>/config.toml``; loading that file gives
the same configuration back. Change a configuration with ``attrs.evolve``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import attrs
import tomli_w
import tomllib

from gancore.errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd")
LR_SCHEDULES = ("constant", "linear")
#: ``fp32`` and ``no`` both mean full precision (``no`` is Accelerate's name for it).
PRECISIONS = ("fp32", "bf16", "fp16", "no")
DEVICES = ("auto", "cpu", "cuda")
NAN_POLICIES = ("stop", "skip")
#: The folder layouts gancore reads itself (``gancore.data.readers.CORE_LAYOUTS``); every other
#: ``--layout`` is one an installed plugin registers (``register_data``), checked when the data is read.
LAYOUTS = ("auto", "classes")
#: How data is held: see :mod:`gancore.data.stream`.
DATA_MODES = ("auto", "memory", "stream")


#: Defaults that follow from the kind of data (:attr:`gancore.data.DataSpec.kind`), whatever the family:
#: above gancore's own defaults, below the family's. Vector data (``ring``) needs no 100-d noise; on
#: small images (``digits``) 2,000 steps leave DCGAN at 6.5x the FID floor, 5,000 reach 1.7x (docs/results.md).
#: The presets a family may declare (``paper = {...}`` on its class: :mod:`gancore.declaration`) and
#: ``gan train --preset`` chooses, in place of the family's ``defaults``.
PRESETS = ("paper",)

KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "vector": {"latent_dim": 8},
    "small-image": {"steps": 5000},
    "image": {},
}


class _Rule:
    """attrs' own validators, failing with a :class:`ConfigError` that states the rule in words
    (``bad value for 'steps': must be a whole number > 0, got 0.``) instead of attrs' message."""

    def __init__(self, rule: str, *validators):
        self.rule, self.validators = rule, validators
        self._check = attrs.validators.and_(*validators)

    def __call__(self, inst, attribute, value):
        try:
            self._check(inst, attribute, value)
        except (TypeError, ValueError):
            raise ConfigError(f"bad value for {attribute.name!r}: {self.rule}, got {value!r}.") from None

    @property
    def choices(self) -> tuple | None:
        """The values an ``in_`` rule allows (the CLI offers them as choices); ``None`` for other rules."""
        return next((v.options for v in self.validators if hasattr(v, "options")), None)


_v = attrs.validators
#: A whole number; ``True`` is an ``int`` to Python, not a step count to a user.
_WHOLE = _v.and_(_v.instance_of(int), _v.not_(_v.instance_of(bool)))
_NUMBER = _v.and_(_v.instance_of((int, float)), _v.not_(_v.instance_of(bool)))
_positive_int = _Rule("must be a whole number > 0", _WHOLE, _v.gt(0))
_non_negative_int = _Rule("must be a whole number >= 0", _WHOLE, _v.ge(0))
# gt(0) refuses NaN too (NaN > 0 is false); lt(inf) refuses infinity.
_positive_float = _Rule("must be a finite number > 0", _NUMBER, _v.gt(0), _v.lt(float("inf")))
_flag = _Rule("must be true or false", _v.instance_of(bool))
_betas = _Rule("must be two numbers in [0, 1)", _v.min_len(2), _v.max_len(2),
               _v.deep_iterable(_v.and_(_NUMBER, _v.ge(0), _v.lt(1))))


def _one_of(choices) -> _Rule:
    return _Rule(f"must be one of {', '.join(map(repr, choices))}", _v.in_(choices))


def _precision(value):
    return "fp32" if value == "no" else value


def _tuple_of_str(value):
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _regularizers(value):
    if value is None:
        return None
    if isinstance(value, Mapping):
        return dict(value)
    raise ConfigError(f"bad value for 'regularizers': must be a table of name = weight, got {value!r}.")


def _weights(inst, attribute, value):
    if value is None:
        return
    for name, weight in value.items():
        try:
            _v.optional(_NUMBER)(inst, attribute, weight)
        except (TypeError, ValueError):
            raise ConfigError(f"bad value for '{attribute.name}.{name}': must be a number, got {weight!r}.") from None


def _options(value):
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError(f"bad value for 'options': must be a table of plugin tables, got {value!r}.")
    return {str(name): dict(table) for name, table in value.items()}


def setting(default: Any = None, *, help: str, validator=None, converter=None, factory=None, flag: str | None = "",
            short: str | None = None, metavar: str | None = None, default_text: str | None = None,
            family: bool = False, directory: bool = False, negatable: bool = True):
    """A :class:`TrainConfig` field and its ``gan train`` flag (:mod:`gancore.run.flags` makes the flags).

    ``help`` is the flag's help (the shown default is added to it); ``flag`` the flag's long name
    (default: ``--`` and the field's name with dashes; ``None``: the setting has no flag);
    ``short`` a one-letter alias; ``default_text`` replaces the shown default; ``family`` says a
    family's ``default_config`` commonly chooses it (shown as ``family's, or X``); ``directory`` makes
    the flag a directory path; ``negatable`` (bools) adds ``--no-NAME``.
    """
    metadata = {"help": help, "flag": flag, "short": short, "metavar": metavar, "default_text": default_text,
                "family": family, "directory": directory, "negatable": negatable}
    if factory is not None:
        return attrs.field(factory=factory, validator=validator, converter=converter, metadata=metadata)
    return attrs.field(default=default, validator=validator, converter=converter, metadata=metadata)


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Everything that defines a training run.

    Mapping-valued fields hold plain dicts so the config serializes to TOML;
    treat them as read-only and use ``attrs.evolve`` to change a config.
    Each field's metadata (:func:`setting`) also describes its ``gan train`` flag.
    """

    #: Plugins to activate: exactly one family, plus any add-ons.
    plugins: tuple[str, ...] = setting(
        (), converter=_tuple_of_str, flag="--plugin", short="-p",
        help="Plugin to activate, by entry-point or distribution name: exactly one family, plus any add-ons. "
             "Repeatable.")
    #: Regularizer name -> weight (``None``: the plugin's default weight).
    #: ``None`` as a whole means "the family's default regularizers".
    regularizers: dict[str, float | None] | None = setting(
        None, converter=_regularizers, validator=_weights, flag="--regularizer", short="-r",
        metavar="NAME[=WEIGHT]",
        help="Regularizer to add, with an optional weight (default: the plugin's). Repeatable; when given, "
             "replaces the family's default regularizers. `-r none` uses none.")
    #: Turn on the add-ons the family's ``default_config`` names (such as ``ema``); false trains with
    #: only the plugins given in ``plugins``.
    default_plugins: bool = setting(
        True, validator=_flag,
        help="Turn on the add-ons the family uses by default for the data (such as ema; the run's first line "
             "names them).")
    #: Plugin name -> {option: value}, passed to the plugin when it is created.
    options: dict[str, dict[str, Any]] = setting(
        factory=dict, converter=_options, flag="--set", short="-s", metavar="PLUGIN.OPTION=VALUE",
        help="A plugin option (VALUE is read as TOML: 0.5, true, \"text\"), checked against the plugin's "
             "signature (`gan plugins` lists options and types). Repeatable.")

    #: Embedded data set (``ring``, ``digits``, ``mnist``), a torchvision-format
    #: data set name used with ``data_root``, or a path to an image folder.
    data: str = setting(
        "digits", validator=_Rule("must be text", _v.instance_of(str)),
        help="Embedded data set (ring, digits, mnist), mnist/fashion-mnist/cifar10 with --data-root, or an "
             "image folder.")
    data_root: str | None = setting(
        None, directory=True,
        help="Directory of torchvision-format data files for --data mnist|fashion-mnist|cifar10.")
    download: bool = setting(False, negatable=False, help="Allow downloading --data-root files.")
    #: Resize (and centre-crop) folder images to this size; ``None`` keeps
    #: their size, which must then be the same for every image.
    image_size: int | None = setting(None, validator=_v.optional(_positive_int),
                                     help="Resize images to this size (square).")
    #: How to read an image folder: ``auto``, ``classes``, or a layout an
    #: installed plugin reads through ``register_data`` (``gancore-translation``
    #: reads ``paired``, ``unpaired`` and ``side-by-side``), checked when the data is read.
    layout: str = setting(
        "auto", validator=_Rule("must be a layout name", _v.instance_of(str), _v.min_len(1)),
        help="How to read an image folder: auto, classes (class subfolders), or a layout an installed plugin "
             "reads (gancore-translation: paired, unpaired, side-by-side; see `gan plugins`).")
    #: The data path (see :mod:`gancore.data.stream`): ``memory`` holds the data as
    #: one tensor on the device; ``stream`` decodes an image folder's batches
    #: in DataLoader workers; ``auto`` streams single-domain image folders
    #: larger than 1 GiB decoded and keeps everything else in memory.
    data_mode: str = setting(
        "auto", validator=_one_of(DATA_MODES),
        help="Hold the data as one tensor on the device (memory), or decode an image folder's batches in "
             "DataLoader workers (stream); auto streams single-domain image folders over 1 GiB decoded.")
    #: DataLoader worker processes decoding a streamed data set; 0 decodes in
    #: the training process. Unused in memory.
    data_workers: int = setting(
        2, validator=_non_negative_int,
        help="DataLoader worker processes of a streamed folder; 0 decodes in the training process.")

    #: A named set of the family's settings in place of its defaults (:data:`PRESETS`); ``None``: its defaults.
    preset: str | None = setting(
        None, validator=_Rule(f"must be one of {', '.join(map(repr, PRESETS))}", _v.optional(_v.in_(PRESETS))),
        metavar="|".join(PRESETS), default_text="the family's defaults",
        help="Train with the family's named settings in place of its defaults: paper, the exact settings of the "
             "family's paper (for reproducing it; the defaults are the ones that train well in gancore's budget). "
             "Flags still override it.")
    steps: int = setting(2000, validator=_positive_int, help="Generator updates to train for.")
    batch_size: int = setting(64, validator=_positive_int, family=True, help="Batch size per process.")
    n_critic: int = setting(1, validator=_positive_int, family=True,
                            help="Discriminator updates per generator update.")
    optimizer: str = setting("adam", validator=_one_of(OPTIMIZERS), family=True, help="")
    lr_g: float = setting(2e-4, validator=_positive_float, family=True, help="Generator learning rate.")
    lr_d: float = setting(2e-4, validator=_positive_float, family=True, help="Discriminator learning rate.")
    #: ``linear`` decays both learning rates linearly to 0 at ``steps``.
    lr_schedule: str = setting(
        "constant", validator=_one_of(LR_SCHEDULES), family=True,
        help="Learning-rate schedule: constant, or linear decay to 0 at the last step.")
    betas: tuple[float, float] = setting((0.5, 0.999), converter=tuple, validator=_betas, flag=None,
                                         help="Adam's (beta1, beta2); SGD's momentum is beta1. Set in a --config file.")
    latent_dim: int = setting(100, validator=_positive_int, family=True,
                              help="Size of the generator's noise vector.")
    seed: int = setting(0, validator=_non_negative_int, help="Random seed.")

    out: str = setting("runs", directory=True, help="Parent directory of run directories.")
    name: str | None = setting(None, default_text="FAMILY-DATA-TIMESTAMP-RANDOM",
                               help="Run directory name, one directory under --out.")
    log_every: int = setting(50, validator=_positive_int, help="Steps between metrics lines.")
    #: Steps between sample grids / checkpoints; 0 turns them off (a final
    #: grid and checkpoint are always written).
    sample_every: int = setting(500, validator=_non_negative_int,
                                help="Steps between sample grids, 0 for only the last.")
    checkpoint_every: int = setting(1000, validator=_non_negative_int,
                                    help="Steps between checkpoints, 0 for only the last.")
    keep: int = setting(3, validator=_positive_int, help="Checkpoints to keep.")
    grid_size: int = setting(64, validator=_positive_int, help="Samples in each grid.")
    #: Steps between quick evaluations logged to ``metrics.jsonl`` as
    #: ``eval/...`` (see :func:`gancore.evaluation.training_metrics`); 0: never.
    eval_every: int = setting(
        0, validator=_non_negative_int,
        help="Steps between quick evaluations (classifier-FID and classes covered, or ring modes) logged to "
             "metrics.jsonl, 0 for never.")
    #: Samples drawn for each of those evaluations.
    eval_samples: int = setting(2000, validator=_positive_int, help="Samples per --eval-every evaluation.")

    device: str = setting("auto", validator=_one_of(DEVICES), help="")
    #: ``fp32`` (full precision; ``no``, Accelerate's name for it, is read as ``fp32``), ``bf16`` or ``fp16``.
    precision: str = setting(
        "fp32", converter=_precision, validator=_one_of(PRECISIONS),
        help="Mixed precision through Accelerate: bf16 (CPU or GPU), fp16 (GPU, with loss scaling), or fp32 "
             "(= no; config.toml records fp32).")
    #: Keep image models and batches in the channels-last memory layout (faster convolutions on GPUs).
    channels_last: bool = setting(False, validator=_flag,
                                  help="Channels-last memory layout for image models and batches.")
    #: ``torch.compile`` the generator and discriminator; refused when an
    #: active plugin declares ``needs_double_backward`` (gradient penalties).
    compile: bool = setting(
        False, validator=_flag,
        help="torch.compile both networks; refused with double-backward penalties (gp, div, ...).")

    #: What a non-finite loss or gradient does: ``stop`` the run (the last
    #: good checkpoint stays), or ``skip`` that update, at most ``nan_limit``
    #: times in a run.
    nan: str = setting(
        "stop", validator=_one_of(NAN_POLICIES),
        help="On a NaN/Inf loss or gradient: stop (keeping the last good checkpoint) or skip that update.")
    nan_limit: int = setting(10, validator=_non_negative_int, help="Most updates --nan skip may drop in a run.")
    #: How a lazy regularizer (one update in k: ``r1.every``, ``pathlength.every``) trains: ``None``
    #: (``inline``; left out of config.toml, as in runs saved before the option) adds its term, times
    #: k, to that update's loss; ``separate`` gives it an update of its own, with the network's
    #: learning rate times k/(k+1) and betas to the power k/(k+1) (StyleGAN2).
    lazy_regularization: str | None = setting(
        None, converter=lambda value: None if value == "inline" else value, default_text="inline",
        metavar="inline|separate",
        validator=_Rule("must be 'inline' or 'separate'", _v.optional(_v.in_(("separate",)))),
        help="Lazy regularizers (r1.every, pathlength.every > 1): inline adds the term, times its interval k, to "
             "that update's loss; separate gives it its own update with lr x k/(k+1) and betas^(k/(k+1)) "
             "(StyleGAN2's).")
    #: ``torch.use_deterministic_algorithms(True)`` for the run (exact resume).
    deterministic: bool = setting(False, validator=_flag,
                                  help="Use deterministic algorithms only (bit-exact resume).")

    def to_dict(self) -> dict[str, Any]:
        """A TOML-ready dict (``None`` values are left out, as TOML has no null)."""
        out = {}
        for field in attrs.fields(TrainConfig):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            if field.name == "regularizers" and None in value.values():
                raise ConfigError("resolve regularizer weights before saving the configuration.")
            if field.name == "options":
                # An option set to None is one left to the plugin (its choice for the data's kind).
                value = {name: {k: v for k, v in table.items() if v is not None} for name, table in value.items()}
            out[field.name] = value
        return out

    def save(self, path: str | Path, sources: Mapping[str, str] | None = None) -> None:
        """Write the configuration as TOML, atomically and never through a link (:mod:`gancore.files`).

        :param sources: the layer that set each value (``setting``, ``options.PLUGIN.OPTION`` or
            ``regularizers.NAME`` -> ``gancore``, ``data kind KIND``, ``family NAME``, ...; see
            :class:`gancore.run.resolve.RunSpec`), written as a comment after each value. A
            setting without one came from gancore's defaults, an option without one from its
            plugin's declaration.
        """
        from gancore.files import write_text

        text = tomli_w.dumps(self.to_dict())
        write_text(path, text if sources is None else annotate_sources(text, sources))


#: The first lines of a ``config.toml`` written with its sources.
SOURCES_HEADER = ("# The resolved configuration of this run: every setting and every plugin option, each with the\n"
                  "# layer that set it (what `gan train --dry-run` prints). `gan train --resume` reads it back.\n")


def annotate_sources(text: str, sources: Mapping[str, str]) -> str:
    """``text`` (TOML as ``tomli_w`` writes a configuration) with ``# <layer>`` after each value: a
    setting's layer from ``sources[name]`` (else ``gancore``), an option's from
    ``sources["options.PLUGIN.OPTION"]`` (else ``declaration``), a regularizer's weight from
    ``sources["regularizers.NAME"]``. Lines that are not one ``key = value`` (a multi-line array)
    are left as they are; the values read back unchanged."""
    table: tuple[str, ...] = ()
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            try:
                parsed = tomllib.loads(stripped)
            except tomllib.TOMLDecodeError:
                parsed = None
            path = []
            while isinstance(parsed, dict) and len(parsed) == 1:
                key = next(iter(parsed))
                path.append(key)
                parsed = parsed[key]
            table = tuple(path)
            lines.append(line)
            continue
        opening = re.match(r"^([A-Za-z0-9_-]+) = \[$", stripped)  # a multi-line array starts
        try:
            parsed = {opening.group(1): None} if opening else tomllib.loads(stripped) if "=" in stripped else {}
        except tomllib.TOMLDecodeError:
            parsed = {}
        if len(parsed) != 1:
            lines.append(line)
            continue
        key = next(iter(parsed))
        if not table:
            source = sources.get(key, "gancore")
        elif table[0] == "options" and len(table) == 2:
            source = sources.get(f"options.{table[1]}.{key}", "declaration")
        elif table == ("regularizers",):
            source = sources.get(f"regularizers.{key}", sources.get("regularizers", "gancore"))
        else:
            source = None
        lines.append(f"{line}  # {source}" if source else line)
    return SOURCES_HEADER + "\n".join(lines) + ("\n" if text.endswith("\n") else "")


FIELDS = tuple(field.name for field in attrs.fields(TrainConfig))


def check_keys(values: Mapping[str, Any], source: str) -> None:
    """Refuse keys that are not configuration fields, naming the first one."""
    for key in values:
        if key not in FIELDS:
            raise ConfigError(
                f"unknown configuration key {key!r} in {source}. Known keys: {', '.join(FIELDS)}.")


#: Deepest nesting of tables and arrays a configuration file may have (tomllib recurses per level).
MAX_TOML_DEPTH = 32
#: The largest configuration file read (a resolved config.toml is a few KiB).
MAX_TOML_BYTES = 1 << 20


def _depth(text: str) -> int:
    """An upper bound on the nesting depth of TOML ``text``: brackets and braces outside strings are
    counted, so a file nested 100,000 deep is refused before the parser recurses into it."""
    depth = deepest = 0
    quote = None
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            quote = "\n"  # a comment runs to the end of the line
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def read_toml(path: str | Path, root: str | Path | None = None) -> dict[str, Any]:
    """Read a configuration file, checking its keys (not yet its values).

    A UTF-8 byte-order mark is skipped; files larger than :data:`MAX_TOML_BYTES` or nested deeper
    than :data:`MAX_TOML_DEPTH` are refused. With ``root`` (a run directory), the file must not be
    a symbolic link that leaves it.
    """
    from gancore.files import read_bytes

    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_TOML_BYTES:
            raise ConfigError(f"configuration file {str(path)!r} is larger than {MAX_TOML_BYTES} bytes.")
        raw = read_bytes(path, root) if root is not None else path.read_bytes()
        text = raw.decode("utf-8").removeprefix("\ufeff")
        if _depth(text) > MAX_TOML_DEPTH:
            raise ConfigError(f"configuration file {str(path)!r} nests tables or arrays more than "
                              f"{MAX_TOML_DEPTH} deep.")
        values = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"configuration file {str(path)!r} is not UTF-8 text: {exc}.") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigError(f"configuration file {str(path)!r} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {exc.strerror}.") from None
    check_keys(values, str(path))
    return values


#: Upper bounds on settings that size memory or time, checked before anything is allocated
#: (docs/reliability.md, "Limits"). Generous: each is far above any run gancore is meant for.
LIMITS = {"latent_dim": 1 << 16, "image_size": 8192, "eval_samples": 1_000_000, "grid_size": 10_000,
          "batch_size": 1 << 20, "steps": 10 ** 10, "seed": 2 ** 32 - 1}


def check_values(config: "TrainConfig") -> None:
    """What the field rules do not say: upper limits (:data:`LIMITS`), and the types of the settings
    that have no rule of their own (``out``, ``data_root``, ``name``, ``download``)."""
    for key, limit in LIMITS.items():
        value = getattr(config, key)
        if isinstance(value, int) and value > limit:
            raise ConfigError(f"bad value for {key!r}: at most {limit} (a limit of gancore, see docs/reliability.md), "
                              f"got {value}.")
    for key in ("out", "data_root", "name"):
        value = getattr(config, key)
        if value is None and key != "out":
            continue
        if not isinstance(value, str) or not value or "\0" in value:
            raise ConfigError(f"bad value for {key!r}: must be a non-empty path or name (text), got {value!r}.")
    if not config.data:
        raise ConfigError("bad value for 'data': must be a data set name or an image folder, got ''.")
    if not isinstance(config.download, bool):
        raise ConfigError(f"bad value for 'download': must be true or false, got {config.download!r}.")


def make_config(*layers: Mapping[str, Any]) -> TrainConfig:
    """Build a config from layers of values, later layers winning.

    ``options`` tables merge per plugin instead of replacing each other.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        check_keys(layer, "the configuration")
        for key, value in layer.items():
            if key == "options" and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                combined = {name: dict(table) for name, table in merged[key].items()}
                for name, table in value.items():
                    combined.setdefault(name, {}).update(table if isinstance(table, Mapping) else {})
                merged[key] = combined
            else:
                merged[key] = value
    try:
        config = TrainConfig(**merged)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        # attrs' validators put the readable message first in args.
        raise ConfigError(f"bad configuration: {exc.args[0] if exc.args else exc}") from None
    check_values(config)
    return config


def load_config(path: str | Path) -> TrainConfig:
    """Load a saved (resolved) configuration file."""
    return make_config(read_toml(path))
