"""What a plugin declares, as class-level data read before anything is created.

A plugin class states three things (the contract is documented in :mod:`gancore.hookspecs`)::

    from typing import Literal
    from gancore import hookimpl
    from gancore.declaration import PositiveInt, declare, option

    @declare
    class GAN:
        # Goodfellow et al. 2014: MLP networks, minimax game.

        kind = "family"                      # family, regularizer or add-on (a module: library)
        #: Training settings by data kind (or a function ``(data, regularizers) -> settings``).
        defaults = {"vector": {"lr_g": 1e-3}, "small-image": {}, "image": {}}

        # One typed, validated declaration per option: type, range or choices, default
        # (per data kind too) and help.
        loss: Literal["non-saturating", "saturating"] = option("non-saturating", help="G's loss.")
        hidden: PositiveInt = option(256, by_kind={"small-image": 512}, help="Units per MLP layer.")

        def __attrs_post_init__(self):      # anything derived from the options
            self.saturating = self.loss == "saturating"

* ``kind`` is never guessed for a plugin that states it.
* Each option is an annotated class attribute set to an :func:`option`: its type (``int``,
  ``float``, ``bool``, ``str``, ``Literal[...]`` for choices, unions of those, ``Annotated[T,
  Range(...)]`` for an interval; see :func:`coerce_option`), its default, its default per data
  kind (``by_kind``; the resolver gives the plugin the one for the run's data) and its help.
  :func:`declare` makes the class an attrs class over those attributes (``GAN(hidden=8)`` in a
  test checks and converts like a run does), so a value outside the declaration is refused with
  a message naming the option and what would fit; ``gan plugins`` and ``gan train --help`` print
  the declaration.
* ``defaults`` gives :class:`gancore.config.TrainConfig` settings (a family's and an add-on's),
  read by the resolver (:mod:`gancore.run.resolve`) with the data spec and the user's regularizers.

**Plugins written the old way** (options as typed ``__init__`` keyword arguments, no ``kind``,
defaults from a ``default_config`` hook) keep working through :func:`legacy_declaration`: their
options come from the ``__init__`` signature and their kind is guessed as before (a plugin with an
option named ``weight`` is a regularizer); ``gan plugins`` marks the guess. The one-step migration
is in ``docs/authoring/declarations.md``.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from typing import Annotated, Any, Callable, Literal, Mapping

import attrs

from gancore.config import PRESETS
from gancore.errors import PluginError

#: The kinds a plugin declares (``kind = "..."``).
KINDS = ("family", "regularizer", "add-on", "library")
#: A required option's default (no default: the user must give it).
REQUIRED = object()


@attrs.frozen
class Range:
    """The allowed interval of a numeric plugin option: ``Annotated[int, Range(ge=1)]``.

    ``ge``/``le`` are inclusive bounds, ``gt``/``lt`` exclusive ones; any may be left out.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False  # a range holds finite numbers only: NaN and infinities are refused
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def __str__(self) -> str:
        bounds = [f"{op} {bound:g}" for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le),
                                                         ("<", self.lt)) if bound is not None]
        return " and ".join(bounds) or "(finite)"


#: Common option types (``Annotated`` aliases over :class:`Range`).
PositiveInt = Annotated[int, Range(ge=1)]
NonNegativeInt = Annotated[int, Range(ge=0)]
PositiveFloat = Annotated[float, Range(gt=0)]
NonNegativeFloat = Annotated[float, Range(ge=0)]
FiniteFloat = Annotated[float, Range()]
Fraction = Annotated[float, Range(ge=0, le=1)]
#: The normalizations of :mod:`gancore.nets` (``NORMS``) and its architectures (``ARCHS``).
Norm = Literal["batch", "instance", "layer", "none"]
Arch = Literal["conv", "mlp"]


class OptionValueError(ValueError):
    """A value that does not fit an option's annotation; the message says what would."""


def describe_type(annotation: Any) -> str:
    """``annotation`` in words, for messages and ``gan plugins``: ``int >= 1``, ``one of 'a', 'b'``."""
    ranges: list[Range] = []
    if typing.get_origin(annotation) is Annotated:
        annotation, *extras = typing.get_args(annotation)
        ranges = [extra for extra in extras if isinstance(extra, Range)]
    origin = typing.get_origin(annotation)
    if origin is Literal:
        text = "one of " + ", ".join(repr(choice) for choice in typing.get_args(annotation))
    elif origin in (typing.Union, types.UnionType):
        text = " or ".join(describe_type(arm) for arm in typing.get_args(annotation))
    elif annotation is bool:
        text = "bool (true or false)"
    else:
        text = getattr(annotation, "__name__", None) or str(annotation)
    return " ".join([text, *map(str, ranges)])


def coerce_option(annotation: Any, value: Any) -> Any:
    """``value`` checked against ``annotation`` (and converted: int to float, 4.0 to 4).

    An ``int`` option refuses ``true`` and ``1.5`` (``4.0`` is taken as 4); a ``float`` option
    takes an integer as a float; a :class:`Range` holds finite numbers only. Raises
    :class:`OptionValueError`; unknown annotations pass the value through.
    """
    ranges: list[Range] = []
    if typing.get_origin(annotation) is Annotated:
        annotation, *extras = typing.get_args(annotation)
        ranges = [extra for extra in extras if isinstance(extra, Range)]
    value = _coerce_base(annotation, value)
    for allowed in ranges:
        if value not in allowed:
            raise OptionValueError(str(allowed))
    return value


def _coerce_base(annotation: Any, value: Any) -> Any:
    origin = typing.get_origin(annotation)
    bad = OptionValueError(describe_type(annotation))
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    if annotation is None or annotation is type(None):
        if value is None:
            return value
        raise bad
    if origin is Literal:
        for choice in typing.get_args(annotation):
            if type(choice) is type(value) and choice == value:
                return value
        raise bad
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(annotation):
            try:
                return coerce_option(arm, value)
            except OptionValueError:
                continue
        raise bad
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if annotation is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise bad
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if annotation is str:
        if isinstance(value, str):
            return value
        raise bad
    if inspect.isclass(annotation) and origin is None:
        if isinstance(value, annotation):
            return value
        raise bad
    return value  # a generic or otherwise unchecked annotation


@attrs.frozen
class Option:
    """One declared option (made by :func:`option`; its ``type`` is read from the annotation)."""

    default: Any = REQUIRED
    help: str = ""
    #: Data kind (``DataSpec.kind``) -> the default for that kind, over ``default``.
    by_kind: Mapping[str, Any] = attrs.field(factory=dict)
    type: Any = Any

    def default_for(self, kind: str | None) -> Any:
        """The default for data of ``kind`` (``None``: not known, the plain default)."""
        return self.by_kind.get(kind, self.default) if kind is not None else self.default

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def invalid_defaults(self) -> dict[str | None, Any]:
        """The defaults that break this option's own type: data kind (``None`` for the plain
        default) -> the value. A default the plugin would refuse from a user is a bug in the plugin."""
        found = {}
        for kind, value in [(None, self.default), *self.by_kind.items()]:
            if value is REQUIRED:
                continue
            try:
                coerce_option(self.type, value)
            except OptionValueError:
                found[kind] = value
        return found


#: The attrs metadata key under which a declared option's :class:`Option` lives.
METADATA = "gancore"


def option(default: Any = REQUIRED, *, help: str = "", by_kind: Mapping[str, Any] | None = None) -> Any:
    """Declare an option of a :func:`declare`-d plugin: its default (none: required), its default
    per data kind (``by_kind={"small-image": 512}``) and its help (shown by ``gan plugins``)."""
    return Option(default=default, help=help, by_kind=dict(by_kind or {}))


def _converter(plugin: str, name: str, annotation: Any) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            return coerce_option(annotation, value)
        except OptionValueError:
            raise OptionValueError(f"bad value for option {name!r} of {plugin}: got {value!r}; expected "
                                   f"{describe_type(annotation)}") from None

    return convert


def declare(cls: type) -> type:
    """Make ``cls`` a declared plugin: an attrs class (``kw_only``, identity equality, no slots) whose
    fields are its annotated :func:`option` attributes (and its declared bases'), each value checked
    and converted against its annotation when the plugin is created. ``kind`` and ``defaults`` stay
    plain class attributes. ``option_defaults = {kind: {option: value}}`` adds defaults by data kind
    to its options, inherited ones included, as a table (``{"small-image": {"hidden": 512}}``)."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:
        raise PluginError(f"plugin class {cls.__qualname__}: its option annotations cannot be read: "
                          f"{type(exc).__name__}: {exc}") from None
    table = vars(cls).get("option_defaults", {})
    declared = {name: attrs.evolve(value, type=hints.get(name, Any)) for name, value in vars(cls).items()
                if isinstance(value, Option)}
    inherited = {}
    for base in cls.__mro__[1:]:
        if attrs.has(base):
            inherited = {**declared_options(base), **inherited}
    for kind, values in table.items():
        for name, value in values.items():
            if name not in declared:
                if name not in inherited:
                    raise PluginError(f"plugin class {cls.__qualname__}: option_defaults names {name!r}, which is "
                                      "not one of its options.")
                declared[name] = inherited[name]
                cls.__annotations__ = {**vars(cls).get("__annotations__", {}), name: declared[name].type}
            declared[name] = attrs.evolve(declared[name], by_kind={**declared[name].by_kind, kind: value})
    for name, opt in declared.items():
        field = {"converter": _converter(cls.__qualname__, name, opt.type), "metadata": {METADATA: opt}}
        if not opt.required:
            field["default"] = opt.default
        setattr(cls, name, attrs.field(**field))
    return attrs.define(cls, slots=False, kw_only=True, eq=False)


def declared_options(cls: type) -> dict[str, Option]:
    """The options a :func:`declare`-d class declares (its own and its bases'), by name."""
    return {field.name: field.metadata[METADATA] for field in attrs.fields(cls) if METADATA in field.metadata}


@attrs.frozen
class Declaration:
    """What a plugin declares (or, for one written the old way, what is read off it)."""

    kind: str
    options: Mapping[str, Option] = attrs.field(factory=dict)
    #: The plugin's settings defaults (a mapping by data kind, or ``defaults(data, regularizers)``), or ``None``.
    defaults: Any = None
    #: ``False`` for a plugin written the old way: kind guessed, options from ``__init__``.
    declared: bool = True
    #: Preset name (:data:`gancore.config.PRESETS`) -> the settings it stands for, in place of ``defaults``
    #: (a family's ``paper = {...}``: its paper's exact settings, ``gan train --preset paper``).
    presets: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    #: ``True`` when the options are :func:`declare`-d (the plugin is created with every resolved
    #: option); ``False`` when they are ``__init__`` arguments (created with the options given).
    options_declared: bool = False

    def option_defaults(self, kind: str | None) -> dict[str, Any]:
        """Every option's default for data of ``kind`` (required options left out)."""
        return {name: opt.default_for(kind) for name, opt in self.options.items() if not opt.required}

    def settings_defaults(self, data, regularizers: tuple[str, ...] | None) -> dict[str, Any]:
        """The settings this plugin declares as defaults for ``data`` and the chosen ``regularizers``."""
        if self.defaults is None:
            return {}
        if callable(self.defaults):
            return dict(self.defaults(data, regularizers) or {})
        return dict(self.defaults.get(data.kind) or {})

    def preset_settings(self, plugin: str, name: str) -> dict[str, Any]:
        """The settings of preset ``name`` (``paper``), in place of :meth:`settings_defaults`; a
        :class:`PluginError` when the plugin declares no such preset."""
        if name not in self.presets:
            has = f"its presets: {', '.join(self.presets)}" if self.presets else "it declares none"
            raise PluginError(f"family {plugin!r} has no preset {name!r} ({has}); drop --preset to train with its "
                              f"defaults, or give its settings as flags (its page in docs/families/ lists them).")
        return {key: dict(value) if isinstance(value, Mapping) else value for key, value in self.presets[name].items()}

    def check(self, plugin: str, name: str, value: Any, how: str | None = None) -> Any:
        """``value`` for option ``name``, checked against its declaration and converted; a
        :class:`PluginError` naming the plugin, the option, its type and allowed values otherwise."""
        if name not in self.options:
            raise PluginError(f"plugin {plugin!r} has no option {name!r}. Its options: "
                              f"{', '.join(self.options) or '(none)'}.")
        try:
            return coerce_option(self.options[name].type, value)
        except OptionValueError:
            how = how or f"--set {plugin}.{name}=VALUE"
            raise PluginError(f"bad value for option {name!r} of plugin {plugin!r}: got {value!r}; expected "
                              f"{describe_type(self.options[name].type)} ({how}).") from None


def read_declaration(obj: Any) -> Declaration | None:
    """``obj``'s declaration (a class or module with a ``kind``), or ``None`` when it states no
    kind (a plugin written the old way: :func:`legacy_declaration`). A class that states its kind
    but keeps its options as ``__init__`` arguments (the first half of the migration) has them
    read from there. A bad declaration raises :class:`PluginError`."""
    kind = getattr(obj, "kind", None) if inspect.isclass(obj) or inspect.ismodule(obj) else None
    if kind is None:
        return None
    if kind not in KINDS:
        raise PluginError(f"it declares kind {kind!r}; a plugin's kind is one of {', '.join(KINDS)}.")
    declared = declared_options(obj) if inspect.isclass(obj) and attrs.has(obj) else {}
    if declared and set(declared) <= set(inspect.signature(obj.__init__).parameters):
        options, options_declared = declared, True
    else:  # options as __init__ arguments (a subclass of a declared plugin may have an __init__ of its own)
        options, options_declared = legacy_declaration(obj, (), ()).options, False
    if kind == "regularizer" and "weight" not in options:
        raise PluginError("it declares kind 'regularizer' but no option 'weight' (the --regularizer NAME=W).")
    defaults = getattr(obj, "defaults", None)
    if defaults is not None and not (callable(defaults) or isinstance(defaults, Mapping)):
        raise PluginError("its defaults are neither a mapping by data kind nor a function (data, regularizers).")
    presets = {name: getattr(obj, name) for name in PRESETS if getattr(obj, name, None) is not None}
    for name, settings in presets.items():
        if kind != "family" or not isinstance(settings, Mapping):
            raise PluginError(f"its {name!r} preset must be a mapping of settings, declared by a family "
                              f"(it is a {kind}'s {type(settings).__name__}).")
    return Declaration(kind=kind, options=options, defaults=defaults, options_declared=options_declared,
                       presets=presets)


def legacy_declaration(obj: Any, hooks: tuple[str, ...], wrappers: tuple[str, ...]) -> Declaration:
    """The declaration of a plugin written before declarations: options from its ``__init__``
    signature (annotations as types), kind guessed as gancore always guessed it."""
    from gancore.hookspecs import FAMILY_HOOKS, INSTALL_HOOKS

    options = {name: Option(default=default, type=types_.get(name, Any))
               for types_ in [init_annotations(obj)] for name, default in init_options(obj).items()}
    if any(hook in hooks for hook in FAMILY_HOOKS):
        kind = "family"
    elif hooks and set(hooks) <= set(INSTALL_HOOKS) and not wrappers:
        kind = "library"
    elif "weight" in options:
        kind = "regularizer"
    else:
        kind = "add-on"
    return Declaration(kind=kind, options=options, declared=False, options_declared=False)


def init_options(obj: Any) -> dict[str, Any]:
    """An old-style class plugin's options (its ``__init__`` keyword arguments) with defaults."""
    if not inspect.isclass(obj):
        return {}
    options = {}
    for param in list(inspect.signature(obj.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        options[param.name] = REQUIRED if param.default is param.empty else param.default
    return options


def init_annotations(obj: Any) -> dict[str, Any]:
    """An old-style class plugin's ``__init__`` annotations (``Annotated`` extras kept), by option
    name; annotations that cannot be resolved are left out (unchecked)."""
    if not inspect.isclass(obj):
        return {}
    try:
        hints = typing.get_type_hints(obj.__init__, include_extras=True)
    except Exception:
        hints = {}
        module = inspect.getmodule(obj)
        for name, text in getattr(obj.__init__, "__annotations__", {}).items():
            try:
                hints[name] = eval(text, vars(module)) if isinstance(text, str) else text  # noqa: S307
            except Exception:
                continue
    return {name: hints[name] for name in init_options(obj) if name in hints}
