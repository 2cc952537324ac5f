"""Run configuration: one frozen attrs class, loaded from TOML and flags.

Precedence, lowest first: the defaults below, the defaults for the data's
kind (:data:`KIND_DEFAULTS`), the family's ``default_config`` hook (which
also sees the data, so it states its own defaults per kind), a ``--config``
TOML file, command-line flags. The resolved
configuration is written to ``<run>/config.toml``; loading that file gives
the same configuration back. Change a configuration with ``attrs.evolve``.
"""

from __future__ import annotations

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
LAYOUTS = ("auto", "classes", "paired", "unpaired", "side-by-side")
#: How data is held: see :mod:`gancore.stream`.
DATA_MODES = ("auto", "memory", "stream")


#: Defaults that follow from the kind of data (:attr:`gancore.data.DataSpec.kind`), whatever the family:
#: above gancore's own defaults, below the family's. Vector data (``ring``) needs no 100-d noise.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "vector": {"latent_dim": 8},
    "small-image": {},
    "image": {},
}


def _check(condition: bool, name: str, rule: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"bad value for {name!r}: {rule}, got {value!r}.")


def _positive_int(_inst, attribute, value):
    _check(isinstance(value, int) and not isinstance(value, bool) and value > 0, attribute.name,
           "must be a whole number > 0", value)


def _non_negative_int(_inst, attribute, value):
    _check(isinstance(value, int) and not isinstance(value, bool) and value >= 0, attribute.name,
           "must be a whole number >= 0", value)


def _positive_float(_inst, attribute, value):
    _check(isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
           and value == value and value != float("inf"), attribute.name, "must be a finite number > 0", value)


def _one_of(choices):
    def validate(_inst, attribute, value):
        _check(value in choices, attribute.name, f"must be one of {', '.join(map(repr, choices))}", value)

    return validate


def _betas(_inst, attribute, value):
    _check(len(value) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in value),
           attribute.name, "must be two numbers in [0, 1)", value)


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


def _weights(_inst, attribute, value):
    if value is None:
        return
    for name, weight in value.items():
        _check(weight is None or (isinstance(weight, (int, float)) and not isinstance(weight, bool)),
               f"{attribute.name}.{name}", "must be a number", weight)


def _options(value):
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError(f"bad value for 'options': must be a table of plugin tables, got {value!r}.")
    return {str(name): dict(table) for name, table in value.items()}


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Everything that defines a training run.

    Mapping-valued fields hold plain dicts so the config serializes to TOML;
    treat them as read-only and use ``attrs.evolve`` to change a config.
    """

    #: Plugins to activate: exactly one family, plus any add-ons.
    plugins: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    #: Regularizer name -> weight (``None``: the plugin's default weight).
    #: ``None`` as a whole means "the family's default regularizers".
    regularizers: dict[str, float | None] | None = attrs.field(
        default=None, converter=_regularizers, validator=_weights)
    #: Turn on the add-ons the family's ``default_config`` names (such as ``ema``); false trains with
    #: only the plugins given in ``plugins``.
    default_plugins: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    #: Plugin name -> {option: value}, passed to the plugin when it is created.
    options: dict[str, dict[str, Any]] = attrs.field(factory=dict, converter=_options)

    #: Embedded data set (``ring``, ``digits``, ``mnist``), a torchvision-format
    #: data set name used with ``data_root``, or a path to an image folder.
    data: str = attrs.field(default="digits", validator=attrs.validators.instance_of(str))
    data_root: str | None = None
    download: bool = False
    #: Resize (and centre-crop) folder images to this size; ``None`` keeps
    #: their size, which must then be the same for every image.
    image_size: int | None = attrs.field(default=None, validator=attrs.validators.optional(_positive_int))
    #: How to read an image folder: ``auto``, ``classes``, ``paired``,
    #: ``unpaired`` or ``side-by-side`` (the last three read by an installed
    #: plugin through ``register_data``, such as ``gancore-translation``).
    layout: str = attrs.field(default="auto", validator=_one_of(LAYOUTS))
    #: The data path (see :mod:`gancore.stream`): ``memory`` holds the data as
    #: one tensor on the device; ``stream`` decodes an image folder's batches
    #: in DataLoader workers; ``auto`` streams single-domain image folders
    #: larger than 1 GiB decoded and keeps everything else in memory.
    data_mode: str = attrs.field(default="auto", validator=_one_of(DATA_MODES))
    #: DataLoader worker processes decoding a streamed data set; 0 decodes in
    #: the training process. Unused in memory.
    data_workers: int = attrs.field(default=2, validator=_non_negative_int)

    steps: int = attrs.field(default=2000, validator=_positive_int)
    batch_size: int = attrs.field(default=64, validator=_positive_int)
    n_critic: int = attrs.field(default=1, validator=_positive_int)
    optimizer: str = attrs.field(default="adam", validator=_one_of(OPTIMIZERS))
    lr_g: float = attrs.field(default=2e-4, validator=_positive_float)
    lr_d: float = attrs.field(default=2e-4, validator=_positive_float)
    #: ``linear`` decays both learning rates linearly to 0 at ``steps``.
    lr_schedule: str = attrs.field(default="constant", validator=_one_of(LR_SCHEDULES))
    betas: tuple[float, float] = attrs.field(default=(0.5, 0.999), converter=tuple, validator=_betas)
    latent_dim: int = attrs.field(default=100, validator=_positive_int)
    seed: int = attrs.field(default=0, validator=_non_negative_int)

    out: str = "runs"
    name: str | None = None
    log_every: int = attrs.field(default=50, validator=_positive_int)
    #: Steps between sample grids / checkpoints; 0 turns them off (a final
    #: grid and checkpoint are always written).
    sample_every: int = attrs.field(default=500, validator=_non_negative_int)
    checkpoint_every: int = attrs.field(default=1000, validator=_non_negative_int)
    keep: int = attrs.field(default=3, validator=_positive_int)
    grid_size: int = attrs.field(default=64, validator=_positive_int)
    #: Steps between quick evaluations logged to ``metrics.jsonl`` as
    #: ``eval/...`` (see :func:`gancore.evaluation.training_metrics`); 0: never.
    eval_every: int = attrs.field(default=0, validator=_non_negative_int)
    #: Samples drawn for each of those evaluations.
    eval_samples: int = attrs.field(default=2000, validator=_positive_int)

    device: str = attrs.field(default="auto", validator=_one_of(DEVICES))
    #: ``fp32`` (full precision; ``no``, Accelerate's name for it, is read as ``fp32``), ``bf16`` or ``fp16``.
    precision: str = attrs.field(default="fp32", converter=_precision, validator=_one_of(PRECISIONS))
    #: Keep image models and batches in the channels-last memory layout (faster convolutions on GPUs).
    channels_last: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    #: ``torch.compile`` the generator and discriminator; refused when an
    #: active plugin declares ``needs_double_backward`` (gradient penalties).
    compile: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    #: What a non-finite loss or gradient does: ``stop`` the run (the last
    #: good checkpoint stays), or ``skip`` that update, at most ``nan_limit``
    #: times in a run.
    nan: str = attrs.field(default="stop", validator=_one_of(NAN_POLICIES))
    nan_limit: int = attrs.field(default=10, validator=_non_negative_int)
    #: ``torch.use_deterministic_algorithms(True)`` for the run (exact resume).
    deterministic: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

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

    def save(self, path: str | Path) -> None:
        Path(path).write_text(tomli_w.dumps(self.to_dict()))


FIELDS = tuple(field.name for field in attrs.fields(TrainConfig))


def check_keys(values: Mapping[str, Any], source: str) -> None:
    """Refuse keys that are not configuration fields, naming the first one."""
    for key in values:
        if key not in FIELDS:
            raise ConfigError(
                f"unknown configuration key {key!r} in {source}. Known keys: {', '.join(FIELDS)}.")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a configuration file, checking its keys (not yet its values)."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration file {str(path)!r} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {exc.strerror}.") from None
    check_keys(values, str(path))
    return values


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
        return TrainConfig(**merged)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        # attrs' validators put the readable message first in args.
        raise ConfigError(f"bad configuration: {exc.args[0] if exc.args else exc}") from None


def load_config(path: str | Path) -> TrainConfig:
    """Load a saved (resolved) configuration file."""
    return make_config(read_toml(path))
