"""The user's training settings from ``gan train``-style flags.

The flags are made from :class:`gancore.config.TrainConfig`'s fields (their
metadata: help, flag name, alias; choices from the validator; the default
from the field), so a new field is a new flag, with its help, in
``gan train`` and in :func:`settings_from_args`. Use :func:`settings_from_args`
to describe a run the way a user types it, then
:func:`gancore.run.launch.train_run` (or :func:`gancore.run.rundir.resolve`) to train it.
"""

from __future__ import annotations

import types
from typing import Any, Iterable, Mapping, Union, get_args, get_origin

import attrs
import click

from gancore.config import KIND_DEFAULTS, TrainConfig, read_toml
from gancore.errors import ConfigError

#: Fields a flag gives as repeated ``NAME`` / ``NAME=VALUE`` items; :func:`settings_from_flags`
#: turns them into the field's value.
REPEATED = ("plugins", "regularizers", "options")


def parse_regularizer(text: str) -> tuple[str, float | None]:
    """``NAME`` or ``NAME=WEIGHT`` (a ``--regularizer``) -> (name, weight or None)."""
    name, sep, weight = text.partition("=")
    if not name:
        raise ConfigError(f"bad --regularizer {text!r}: use NAME or NAME=WEIGHT.")
    if not sep:
        return name, None
    try:
        return name, float(weight)
    except ValueError:
        raise ConfigError(f"bad --regularizer {text!r}: the weight {weight!r} is not a number.") from None


def parse_set(text: str) -> tuple[str, str, Any]:
    """``PLUGIN.OPTION=VALUE`` (a ``--set``) -> (plugin, option, value read as TOML)."""
    from gancore.plugins import parse_option_value

    key, sep, value = text.partition("=")
    plugin, dot, option = key.rpartition(".")
    if not sep or not dot or not plugin or not option:
        raise ConfigError(f"bad --set {text!r}: use PLUGIN.OPTION=VALUE, e.g. --set gancore-gan.loss=saturating.")
    return plugin, option, parse_option_value(value)


def _scalar_type(annotation) -> type:
    """``int`` of ``int | None``; the annotation itself otherwise."""
    if get_origin(annotation) in (Union, types.UnionType):
        return next(arg for arg in get_args(annotation) if arg is not type(None))
    return annotation


def _shown_default(field: attrs.Attribute) -> str | None:
    meta = field.metadata
    if meta["default_text"] is not None:
        return meta["default_text"]
    default = field.default
    if default is None or isinstance(default, attrs.Factory) or field.name in REPEATED:
        return None
    text = ("on" if default else "off") if isinstance(default, bool) else f"{default:g}" if isinstance(
        default, float) else str(default)
    by_kind = [f"{values[field.name]} for {kind} data" for kind, values in KIND_DEFAULTS.items()
               if field.name in values]
    return ", or ".join((["family's"] if meta["family"] else []) + by_kind + [text])


def field_option(field: attrs.Attribute) -> click.Option | None:
    """The ``gan train`` flag of one :class:`TrainConfig` field (``None`` for a field without one).

    Every flag defaults to ``None`` (not given), so that only what the user typed goes over the
    configuration file and the defaults; the field's default is shown in the help.
    """
    meta = field.metadata
    if meta.get("flag", "") is None or "help" not in meta:
        return None
    long = meta["flag"] or "--" + field.name.replace("_", "-")
    shown = _shown_default(field)
    help_text = " ".join(part for part in (meta["help"], f"[default: {shown}]" if shown else "") if part)
    decls = [field.name, long] + ([meta["short"]] if meta["short"] else [])
    kind = _scalar_type(field.type)
    choices = getattr(field.validator, "choices", None)
    if field.name in REPEATED:
        return click.Option(decls, multiple=True, metavar=meta["metavar"], help=help_text)
    if kind is bool:
        if meta["negatable"]:
            decls[1] = f"{long}/--no-{long[2:]}"
            return click.Option(decls, default=None, help=help_text)
        return click.Option(decls, is_flag=True, default=None, help=help_text)
    if choices is not None:
        param_type = click.Choice(list(choices))
    elif meta["directory"]:
        param_type = click.Path(file_okay=False)
    else:
        param_type = kind
    return click.Option(decls, type=param_type, metavar=meta["metavar"], help=help_text)


def _extra_options() -> dict[str, list[click.Option]]:
    """Flags that are not one field each, by the field whose flag they come before."""
    return {
        "data": [click.Option(["config_file", "--config"], type=click.Path(dir_okay=False),
                              help="TOML file of settings; flags override it.")],
        "lr_g": [click.Option(["lr", "--lr"], type=float,
                              help="Learning rate of both networks (sets --lr-g and --lr-d).")],
    }


def setting_options(before: Mapping[str, Iterable[click.Parameter]] = ()) -> list[click.Parameter]:
    """``gan train``'s settings flags, in :class:`TrainConfig`'s field order, plus ``--config`` and
    ``--lr``; ``before`` puts a command's other parameters before the flag of the field named."""
    extras = _extra_options()
    for name, params in dict(before).items():
        extras.setdefault(name, []).extend(params)
    attrs.resolve_types(TrainConfig)
    out: list[click.Parameter] = []
    for field in attrs.fields(TrainConfig):
        out += extras.pop(field.name, [])
        option = field_option(field)
        if option is not None:
            out.append(option)
    return out + [param for params in extras.values() for param in params]


class UserSettings(dict):
    """The user's settings (a plain dict of :class:`TrainConfig` values) that also remember where
    each came from: ``sources`` maps a setting, or ``options.PLUGIN.OPTION``, to ``config file PATH``
    or ``flag`` (what ``gan train --dry-run`` shows beside the value)."""

    def __init__(self, values=(), sources: Mapping[str, str] | None = None):
        super().__init__(values)
        self.sources = dict(sources or {})


def settings_from_flags(flags: Mapping[str, Any]) -> UserSettings:
    """The user's settings (``resolve``'s input) from parsed :func:`setting_options` values.

    The ``--config`` file first, then every flag given (not ``None``) over it; ``--lr`` sets
    whichever of ``lr_g`` and ``lr_d`` has no flag of its own.
    """
    flags = dict(flags)
    config_file, lr = flags.pop("config_file", None), flags.pop("lr", None)
    plugins, regularizers, sets = (tuple(flags.pop(name, ()) or ()) for name in REPEATED)
    user: dict[str, Any] = read_toml(config_file) if config_file else {}
    from_file = f"config file {config_file}"
    sources = {key: from_file for key in user if key != "options"}
    file_options = user.get("options")
    if isinstance(file_options, Mapping):  # anything else is refused, as the file's, when the config is made
        sources.update({f"options.{name}.{key}": from_file for name, table in file_options.items()
                        if isinstance(table, Mapping) for key in table})
    given = {key: value for key, value in flags.items() if value is not None}
    user.update(given)
    sources.update(dict.fromkeys(given, "flag"))
    for key in ("lr_g", "lr_d"):
        if lr is not None and flags.get(key) is None:
            user[key] = lr
            sources[key] = "flag (--lr)"
    if plugins:
        user["plugins"] = list(plugins)
        sources["plugins"] = "flag"
    if regularizers:
        user["regularizers"] = {} if regularizers == ("none",) else dict(map(parse_regularizer, regularizers))
        sources["regularizers"] = "flag"
    if sets:
        options = {name: dict(table) for name, table in user.get("options", {}).items()}
        for plugin, option, value in map(parse_set, sets):
            options.setdefault(plugin, {})[option] = value
            sources[f"options.{plugin}.{option}"] = "flag (--set)"
        user["options"] = options
    return UserSettings(user, sources)


def settings_from_args(args: list[str]) -> dict[str, Any]:
    """The settings ``gan train ARGS`` would train with (before defaults), for scripts that describe
    runs the way users type them: ``settings_from_args(["-p", "gancore-wgan", "-r", "gp"])``."""
    command = click.Command("train", params=setting_options())
    try:
        params = command.make_context("train", list(args)).params
    except click.UsageError as exc:
        raise ConfigError(f"bad training arguments {' '.join(args)!r}: {exc.format_message()}") from None
    return settings_from_flags(params)
