"""Plugin discovery (entry points), and activation of plugins for one run.

Every plugin, built-in or not, is an entry point in the group ``gancore``.
The object an entry point names is a module, an instance, or a class; a class
is instantiated per run with that plugin's options as keyword arguments, so
its ``__init__`` signature *is* its list of options and their defaults.

Kinds (shown by ``gan plugins``):

* **family**: implements the family hooks (networks and losses);
* **regularizer**: accepts a ``weight`` option, chosen with ``--regularizer
  NAME[=WEIGHT]``;
* **add-on**: anything else, chosen with ``--plugin NAME``;
* **library**: implements only the install-time hooks (commands, data), which
  gancore calls on every installed plugin; never part of a run.

A run activates one family, its regularizers and its add-ons in a plugin
manager of its own, so "exactly one family" is checked once, up front.

Option values (``--set PLUGIN.OPTION=VALUE``, ``[options.PLUGIN]`` in a
config file, a regularizer's ``--regularizer NAME=WEIGHT``) are checked
against the ``__init__`` annotations before the plugin is created, by one
mechanism for every plugin (:func:`check_option`): ``int``, ``float``,
``bool``, ``str``, ``Literal[...]`` for choices, unions of those, and
``Annotated[T, Range(...)]`` for an allowed interval::

    def __init__(self, hidden: Annotated[int, Range(ge=1)] = 256,
                 norm: Literal["batch", "layer"] = "batch", weight: NonNegativeFloat = 10.0): ...

An ``int`` option refuses ``true`` and ``1.5`` (``4.0`` is taken as 4); a
``float`` option takes an integer as a float. A ``Range`` holds finite numbers
only (``FiniteFloat`` is ``Annotated[float, Range()]``), so it refuses NaN and
infinities. Options without an annotation are passed on unchecked.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import math
import os
import types
import typing
from typing import Annotated, Any, Iterable, Literal, Mapping

import attrs
import pluggy
import tomllib

from gancore import hookspecs
from gancore.errors import PluginError

GROUP = "gancore"
ENV_LOAD = "GANCORE_LOAD_PLUGINS"
IMPL_ATTR = f"{hookspecs.PROJECT}_impl"


@attrs.frozen
class PluginInfo:
    """One discovered plugin (loaded or not)."""

    name: str
    distribution: str
    version: str
    value: str
    obj: Any = None
    error: str | None = None
    hooks: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()
    options: Mapping[str, Any] = attrs.field(factory=dict)
    doc: str = ""
    #: Option name -> its annotation (see :func:`option_types`).
    types: Mapping[str, Any] = attrs.field(factory=dict)

    def option_text(self, name: str) -> str:
        """``name=default`` with the option's type, for listings: ``hidden=256 (int >= 1)``."""
        default = self.options[name]
        text = f"{name}={'(required)' if default is REQUIRED else repr(default)}"
        return text + (f" ({describe_type(self.types[name])})" if name in self.types else "")

    @property
    def kind(self) -> str:
        if self.error is not None:
            return "broken"
        if any(hook in self.hooks for hook in hookspecs.FAMILY_HOOKS):
            return "family"
        if self.hooks and set(self.hooks) <= set(hookspecs.INSTALL_HOOKS) and not self.wrappers:
            return "library"
        if "weight" in self.options:
            return "regularizer"
        return "add-on"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "value": self.value, "kind": self.kind, "hooks": list(self.hooks),
                "wrappers": list(self.wrappers), "options": {k: _jsonable(v) for k, v in self.options.items()},
                "option_types": {k: describe_type(v) for k, v in self.types.items()},
                "doc": self.doc, "error": self.error}


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


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

    Raises :class:`OptionValueError`; unknown annotations pass the value through.
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


def check_option(info: PluginInfo, option: str, value: Any) -> Any:
    """``value`` for ``info``'s ``option``, checked against its annotation and converted; a
    :class:`PluginError` naming the plugin, the option, its type and allowed values otherwise."""
    if option not in info.types:
        return value
    try:
        return coerce_option(info.types[option], value)
    except OptionValueError:
        expected = describe_type(info.types[option])
        how = (f"--regularizer {info.name}=W" if option == "weight" and info.kind == "regularizer"
               else f"--set {info.name}.{option}=VALUE")
        raise PluginError(f"bad value for option {option!r} of plugin {info.name!r}: got {value!r}; expected "
                          f"{expected} ({how}).") from None


def option_types(obj: Any) -> dict[str, Any]:
    """A class plugin's option annotations (``Annotated`` extras kept), by option name.

    Annotations that cannot be resolved (a name the plugin's module lacks) are left out: unchecked.
    """
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
    return {name: hints[name] for name in plugin_options(obj) if name in hints}


def hook_names(obj: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hooks ``obj`` implements, split into plain hooks and wrappers."""
    plain, wrappers = [], []
    for attr in dir(obj):
        try:
            member = getattr(obj, attr)
        except Exception:  # a property or descriptor that fails on a class
            continue
        opts = getattr(member, IMPL_ATTR, None)
        if not isinstance(opts, Mapping):
            continue
        hook = opts.get("specname") or attr
        (wrappers if opts.get("wrapper") or opts.get("hookwrapper") else plain).append(hook)
    return tuple(sorted(plain)), tuple(sorted(wrappers))


def plugin_options(obj: Any) -> dict[str, Any]:
    """A class plugin's options (its ``__init__`` keyword arguments) with defaults."""
    if not inspect.isclass(obj):
        return {}
    options = {}
    for param in list(inspect.signature(obj.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        options[param.name] = REQUIRED if param.default is param.empty else param.default
    return options


def describe(name: str, obj: Any, distribution: str = "(in-process)", version: str = "",
             value: str = "") -> PluginInfo:
    plain, wrappers = hook_names(obj)
    doc = inspect.getdoc(obj) or ""
    return PluginInfo(name=name, distribution=distribution, version=version, value=value, obj=obj,
                      hooks=plain, wrappers=wrappers, options=plugin_options(obj), types=option_types(obj),
                      doc=doc.strip().splitlines()[0] if doc else "")


def parse_option_value(text: str) -> Any:
    """Parse a command-line option value as a TOML value, else keep the string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


class Registry:
    """Every plugin found, by entry-point name."""

    def __init__(self, infos: Iterable[PluginInfo] = ()):
        self._infos: dict[str, PluginInfo] = {}
        for info in infos:
            self._infos[info.name] = info

    @classmethod
    def discover(cls, group: str = GROUP, modules_only: bool = False) -> "Registry":
        """Load every entry point of ``group``; record failures, never raise.

        ``GANCORE_LOAD_PLUGINS`` (comma-separated entry-point or distribution
        names; empty for none) limits what is loaded.

        :param modules_only: load only the entry points that name a module
            (``name = "package"``, no ``:attribute``): the plugins that can
            implement the install-time hooks (:data:`gancore.hookspecs.INSTALL_HOOKS`).
        """
        wanted = os.environ.get(ENV_LOAD)
        allowed = None if wanted is None else {w.strip() for w in wanted.split(",") if w.strip()}
        infos = []
        for ep in importlib.metadata.entry_points(group=group):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else "(unknown)"
            version = dist.version if dist is not None else ""
            if allowed is not None and ep.name not in allowed and dist_name not in allowed:
                continue
            if modules_only and ep.attr is not None:
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not take the CLI down
                infos.append(PluginInfo(name=ep.name, distribution=dist_name, version=version, value=ep.value,
                                        error=f"{type(exc).__name__}: {exc}"))
                continue
            infos.append(describe(ep.name, obj, dist_name, version, ep.value))
        return cls(infos)

    def add(self, name: str, obj: Any, distribution: str = "(in-process)", version: str = "") -> PluginInfo:
        """Add a plugin object directly (tests, notebooks)."""
        info = describe(name, obj, distribution, version, value=f"{type(obj).__module__}")
        self._infos[name] = info
        return info

    def __iter__(self):
        return iter(sorted(self._infos.values(), key=lambda info: (info.kind, info.name)))

    def __contains__(self, name: str) -> bool:
        return name in self._infos

    def names(self, kind: str | None = None) -> list[str]:
        return sorted(info.name for info in self._infos.values() if kind is None or info.kind == kind)

    def get(self, name: str) -> PluginInfo:
        """Find a plugin by entry-point name, or by distribution name."""
        info = self._infos.get(name)
        if info is None:
            by_dist = [i for i in self._infos.values() if i.distribution == name]
            family = [i for i in by_dist if i.kind == "family"]
            if len(family) == 1 or len(by_dist) == 1:
                info = (family or by_dist)[0]
        if info is None:
            known = ", ".join(self.names()) or "none (is gancore installed with its plugins?)"
            raise PluginError(f"unknown plugin {name!r}. Installed plugins: {known}.")
        if info.error is not None:
            raise PluginError(f"plugin {name!r} (from {info.distribution} {info.version}) failed to load: "
                              f"{info.error}")
        return info

    def version_of(self, name: str) -> str:
        info = self._infos.get(name)
        return info.version if info else ""

    def family_of(self, plugins: Iterable[str]) -> PluginInfo:
        """The single family among ``plugins``; a clear error otherwise."""
        infos = [self.get(name) for name in plugins]
        families = [info for info in infos if info.kind == "family"]
        if not families:
            raise PluginError("no GAN family selected: add --plugin NAME with one of: "
                              f"{', '.join(self.names('family')) or '(none installed)'}.")
        if len(families) > 1:
            raise PluginError(f"only one family per run, but both {families[0].name!r} and {families[1].name!r} "
                              "implement the family hooks.")
        return families[0]

    def activate(self, plugins: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> "Run":
        """Create the plugin manager of one run: its family and add-ons."""
        plugins = list(dict.fromkeys(plugins))
        family = self.family_of(plugins)
        run = Run(self, family.name, options or {})
        run.register(family)
        for name in plugins:
            info = self.get(name)
            if info.kind == "library":
                raise PluginError(f"{info.name!r} is a library: what it adds (commands, data) is there whenever it "
                                  "is installed; drop --plugin " + name + ".")
            if info.name != family.name:
                run.register(info)
        return run


class Run:
    """The plugins active in one run, in a plugin manager of their own."""

    def __init__(self, registry: Registry, family: str, options: Mapping[str, Mapping[str, Any]]):
        self.registry = registry
        self.family = family
        self.options = options
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.regularizers: dict[str, float] = {}
        self.addons: list[str] = []
        #: The options given to each registered plugin, checked and converted (see :func:`check_option`).
        self.given_options: dict[str, dict[str, Any]] = {}

    @property
    def hook(self):
        return self.pm.hook

    @property
    def names(self) -> list[str]:
        return [self.family, *self.addons, *self.regularizers]

    def name_of(self, plugin: object) -> str:
        name = self.pm.get_name(plugin)
        if name is None:
            raise PluginError(f"{plugin!r} is not a plugin of this run.")
        return name

    def register(self, info: PluginInfo, extra: Mapping[str, Any] | None = None) -> object:
        if self.pm.has_plugin(info.name):
            raise PluginError(f"plugin {info.name!r} is given twice.")
        if info.kind == "library":  # what it adds is there whenever it is installed (as activate says)
            raise PluginError(f"{info.name!r} is a library: what it adds (commands, data) is there whenever it "
                              f"is installed; drop --plugin {info.name}.")
        if info.kind == "regularizer" and "weight" not in (extra or {}):
            raise PluginError(f"{info.name!r} is a regularizer, not an add-on: add it with --regularizer "
                              f"{info.name}[=WEIGHT] (in a config file: regularizers = {{{info.name} = W}}).")
        given = self._check_options(info, self.options.get(info.name, {}))
        self.given_options[info.name] = given
        obj = self._instantiate(info, {**given, **self._check_options(info, extra or {})})
        try:
            self.pm.register(obj, name=info.name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {info.name!r} breaks the hook contract: {exc}") from None
        if info.name != self.family and "weight" not in (extra or {}):
            self.addons.append(info.name)
        return obj

    def add_regularizers(self, regularizers: Mapping[str, float | None]) -> dict[str, float]:
        """Activate regularizers by name; returns their resolved weights."""
        for name, weight in regularizers.items():
            if name not in self.registry:
                known = ", ".join(self.registry.names("regularizer")) or "(none installed)"
                raise PluginError(f"unknown regularizer {name!r}. Available regularizers: {known}.")
            info = self.registry.get(name)
            if info.kind != "regularizer":
                known = ", ".join(self.registry.names("regularizer"))
                raise PluginError(f"{name!r} is a {info.kind}, not a regularizer (it takes no weight). "
                                  f"Available regularizers: {known}.")
            if "weight" in self.options.get(name, {}):
                raise PluginError(f"regularizer {name!r}: its weight is set with --regularizer {name}=W (in a "
                                  f"config file: regularizers = {{{name} = W}}), not with --set {name}.weight or "
                                  f"[options.{name}].")
            if weight is None:
                weight = info.options["weight"]
                if weight is REQUIRED:
                    raise PluginError(f"regularizer {name!r} has no default weight: use --regularizer {name}=W.")
            weight = self._check_options(info, {"weight": weight})["weight"]
            self.register(info, {"weight": weight})
            self.regularizers[name] = float(weight)
        return dict(self.regularizers)

    def _check_options(self, info: PluginInfo, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked against the plugin's annotations and converted (:func:`check_option`)."""
        return {key: check_option(info, key, value) for key, value in options.items()}

    def check_all_used(self) -> None:
        """Refuse options given for plugins that are not active in this run."""
        unused = [name for name in self.options if name not in self.names]
        if unused:
            name = unused[0]
            option = next(iter(self.options[name]), "OPTION")
            try:
                kind = self.registry.get(name).kind if name in self.registry else None
            except PluginError:
                kind = None
            how = f"--regularizer {name}" if kind == "regularizer" else f"--plugin {name}"
            raise PluginError(f"--set {name}.{option}: plugin {name!r} is not active in this run "
                              f"(active: {', '.join(self.names)}); add it with {how}, or drop the option."
                              + ("" if name in self.registry else
                                 f" Installed plugins: {', '.join(self.registry.names())}."))

    def _instantiate(self, info: PluginInfo, options: Mapping[str, Any]) -> object:
        if not info.options and options:
            raise PluginError(f"plugin {info.name!r} takes no options; got {', '.join(options)}.")
        if not inspect.isclass(info.obj):
            return info.obj
        unknown = [key for key in options if key not in info.options]
        if unknown:
            raise PluginError(f"plugin {info.name!r} has no option {unknown[0]!r}. Its options: "
                              f"{', '.join(info.options)}.")
        missing = [key for key, default in info.options.items() if default is REQUIRED and key not in options]
        if missing:
            raise PluginError(f"plugin {info.name!r} needs option {missing[0]!r} "
                              f"(--set {info.name}.{missing[0]}=VALUE).")
        try:
            return info.obj(**options)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"plugin {info.name!r} rejected its options {dict(options)}: {exc}") from None

    def check_complete(self) -> None:
        """Refuse a family that leaves a required hook unimplemented."""
        for hook in hookspecs.REQUIRED_FAMILY_HOOKS:
            if not [impl for impl in getattr(self.pm.hook, hook).get_hookimpls()
                    if not (impl.wrapper or impl.hookwrapper)]:
                raise PluginError(f"family {self.family!r} does not implement the {hook} hook.")

    def sampling_generator(self, generator: Any, state: dict[str, dict[str, Any]]) -> Any:
        """The generator to draw samples with: one an active plugin offers
        through the ``sampling_generator`` hook, else ``generator`` itself.

        :param state: the run's plugin state (plugin name -> dict of tensors),
            from the trainer or a checkpoint.
        """
        chosen = self.hook.sampling_generator(
            generator=generator, state_for=lambda plugin: state.setdefault(self.name_of(plugin), {}))
        if chosen is None:
            return generator
        if not callable(getattr(chosen, "latent", None)):
            raise PluginError(f"sampling_generator returned a {type(chosen).__name__}, not a generator module.")
        return chosen

    def versions(self) -> dict[str, str]:
        return {name: self.registry.version_of(name) for name in self.names}
