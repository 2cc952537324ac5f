"""Plugin discovery (entry points), and activation of plugins for one run.

Every plugin, built-in or not, is an entry point in the group ``gancore``.
The object an entry point names is a module, an instance, or a class; a class
is created once per run, with its resolved options.

What a plugin is and takes is its *declaration* (:mod:`gancore.declaration`),
class-level data read when it is discovered, before anything is created:

* ``kind``: ``family`` (implements the family hooks: networks and losses),
  ``regularizer`` (chosen with ``--regularizer NAME[=WEIGHT]``; declares a
  ``weight`` option), ``add-on`` (chosen with ``--plugin NAME``) or ``library``
  (implements only the install-time hooks, which gancore calls on every
  installed plugin; never part of a run);
* its options: one annotated class attribute each, set to ``option(...)`` (type,
  range or choices, default, default per data kind, help);
* ``defaults``: training settings by data kind.

A plugin written before declarations (options as ``__init__`` keyword arguments,
no ``kind``) is read by :func:`gancore.declaration.legacy_declaration`: its kind
is guessed (an option named ``weight`` makes a regularizer) and shown as guessed.

A run activates one family, its regularizers and its add-ons in a plugin
manager of its own, so "exactly one family" is checked once, up front. Option
values (``--set PLUGIN.OPTION=VALUE``, ``[options.PLUGIN]`` in a config file, a
regularizer's ``--regularizer NAME=WEIGHT``) are checked against the declaration
before the plugin is created (:meth:`Declaration.check`).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
from typing import Any, Iterable, Mapping

import attrs
import pluggy
import tomllib

from gancore import hookspecs
# The option types, re-exported: plugins written before gancore.declaration import them from here.
from gancore.declaration import (REQUIRED, Arch, Declaration, FiniteFloat, Fraction, NonNegativeFloat,  # noqa: F401
                                 NonNegativeInt, Norm, OptionValueError, PositiveFloat, PositiveInt, Range,
                                 coerce_option, describe_type, legacy_declaration, read_declaration)
from gancore.errors import PluginError

GROUP = "gancore"
ENV_LOAD = "GANCORE_LOAD_PLUGINS"
IMPL_ATTR = f"{hookspecs.PROJECT}_impl"


@attrs.frozen
class PluginInfo:
    """One discovered plugin (loaded or not) and its declaration."""

    name: str
    distribution: str
    version: str
    value: str
    obj: Any = None
    error: str | None = None
    hooks: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()
    doc: str = ""
    declaration: Declaration | None = None

    @property
    def options(self) -> dict[str, Any]:
        """Option name -> its default (:data:`REQUIRED` when it has none)."""
        return {name: opt.default for name, opt in self.declaration.options.items()} if self.declaration else {}

    @property
    def types(self) -> dict[str, Any]:
        """Option name -> its type (annotation); untyped options of an old-style plugin are left out."""
        if self.declaration is None:
            return {}
        return {name: opt.type for name, opt in self.declaration.options.items() if opt.type is not Any}

    def option_text(self, name: str) -> str:
        """``name=default`` with the option's type and its defaults per data kind, for listings:
        ``hidden=256 (int >= 1; small-image: 512)``."""
        opt = self.declaration.options[name]
        text = f"{name}={'(required)' if opt.required else repr(opt.default)}"
        notes = ([describe_type(opt.type)] if opt.type is not Any else []) + [
            f"{kind}: {value!r}" for kind, value in opt.by_kind.items()]
        invalid = opt.invalid_defaults()  # a default breaking its own type is the plugin's bug: say so
        notes += [f"INVALID DEFAULT {value!r}{'' if kind is None else f' for {kind}'}"
                  for kind, value in invalid.items()]
        return text + (f" ({'; '.join(notes)})" if notes else "")

    @property
    def kind(self) -> str:
        return "broken" if self.error is not None or self.declaration is None else self.declaration.kind

    @property
    def kind_guessed(self) -> bool:
        """A plugin written before declarations: its kind is gancore's guess, not its word."""
        return self.declaration is not None and not self.declaration.declared

    def to_dict(self) -> dict[str, Any]:
        opts = self.declaration.options if self.declaration else {}
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "value": self.value, "kind": self.kind, "kind_declared": not self.kind_guessed,
                "hooks": list(self.hooks), "wrappers": list(self.wrappers),
                "options": {k: _jsonable(v) for k, v in self.options.items()},
                "option_types": {k: describe_type(v) for k, v in self.types.items()},
                "option_help": {k: opt.help for k, opt in opts.items() if opt.help},
                "option_by_kind": {k: {kind: _jsonable(v) for kind, v in opt.by_kind.items()}
                                   for k, opt in opts.items() if opt.by_kind},
                "option_invalid_defaults": {k: {kind or "default": _jsonable(v) for kind, v in bad.items()}
                                            for k, opt in opts.items() if (bad := opt.invalid_defaults())},
                "doc": self.doc, "error": self.error}


def _jsonable(value: Any) -> Any:
    if value is REQUIRED:
        return "(required)"
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


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


def describe(name: str, obj: Any, distribution: str = "(in-process)", version: str = "",
             value: str = "") -> PluginInfo:
    """A :class:`PluginInfo` for ``obj``: its hooks and its declaration (read, not created); a bad
    declaration makes it a broken plugin, with the reason."""
    plain, wrappers = hook_names(obj)
    doc = inspect.getdoc(obj) or ""
    doc = doc.strip().splitlines()[0] if doc else ""
    try:
        declaration = read_declaration(obj) or legacy_declaration(obj, plain, wrappers)
    except PluginError as exc:
        return PluginInfo(name=name, distribution=distribution, version=version, value=value, obj=obj,
                          hooks=plain, wrappers=wrappers, doc=doc, error=f"bad declaration: {exc}")
    return PluginInfo(name=name, distribution=distribution, version=version, value=value, obj=obj,
                      hooks=plain, wrappers=wrappers, doc=doc, declaration=declaration)


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

    def regularizer(self, name: str) -> PluginInfo:
        """The regularizer ``name``; a clear error when it is unknown or not a regularizer."""
        if name not in self:
            known = ", ".join(self.names("regularizer")) or "(none installed)"
            raise PluginError(f"unknown regularizer {name!r}. Available regularizers: {known}.")
        info = self.get(name)
        if info.kind != "regularizer":
            known = ", ".join(self.names("regularizer"))
            article = "an" if info.kind[0] in "aeiou" else "a"
            raise PluginError(f"{name!r} is {article} {info.kind}, not a regularizer "
                              "(--regularizer takes regularizers only). "
                              f"Available regularizers: {known}.")
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

    def activate(self, plugins: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None,
                 data: Any = None) -> "Run":
        """Create the plugin manager of one run: its family and add-ons, each created with ``options``
        over its declared defaults for ``data`` (a :class:`gancore.data.DataSpec`; ``None``: the
        plain defaults, not those by data kind)."""
        plugins = list(dict.fromkeys(plugins))
        family = self.family_of(plugins)
        run = Run(self, family.name, options or {}, data=data)
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

    def __init__(self, registry: Registry, family: str, options: Mapping[str, Mapping[str, Any]],
                 data: Any = None):
        self.registry = registry
        self.family = family
        self.options = options
        #: The run's :class:`gancore.data.DataSpec` (declared options' defaults follow its kind).
        self.data = data
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.regularizers: dict[str, float] = {}
        self.addons: list[str] = []
        #: The options given to each registered plugin, checked and converted (see :meth:`Declaration.check`).
        self.given_options: dict[str, dict[str, Any]] = {}
        #: Every option each registered plugin was created with (given ones over its declared defaults).
        self.plugin_options: dict[str, dict[str, Any]] = {}

    @property
    def hook(self):
        return self.pm.hook

    @property
    def _kind(self) -> str | None:
        """The data's kind, which declared option defaults follow (``None``: not known)."""
        return self.data.kind if self.data is not None else None

    @property
    def names(self) -> list[str]:
        return [self.family, *self.addons, *self.regularizers]

    def name_of(self, plugin: object) -> str:
        name = self.pm.get_name(plugin)
        if name is None:
            raise PluginError(f"{plugin!r} is not a plugin of this run.")
        return name

    def register(self, info: PluginInfo, extra: Mapping[str, Any] | None = None, obj: object = None) -> object:
        """Create the plugin ``info`` with its options (this run's for it, and ``extra``) and add it;
        ``obj``: add that object, already created with those options, instead."""
        if self.pm.has_plugin(info.name):
            raise PluginError(f"plugin {info.name!r} is given twice.")
        if info.kind == "library":  # what it adds is there whenever it is installed (as activate says)
            raise PluginError(f"{info.name!r} is a library: what it adds (commands, data) is there whenever it "
                              f"is installed; drop --plugin {info.name}.")
        if info.kind == "regularizer" and "weight" not in (extra or {}):
            raise PluginError(f"{info.name!r} is a regularizer, not an add-on: add it with --regularizer "
                              f"{info.name}[=WEIGHT] (in a config file: regularizers = {{{info.name} = W}}).")
        given = self.check_options(info, self.options.get(info.name, {}))
        self.given_options[info.name] = given
        if obj is None:
            obj = self._instantiate(info, {**given, **self.check_options(info, extra or {})})
        else:
            self.plugin_options[info.name] = {**info.declaration.option_defaults(self._kind), **given}
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
            info, weight = self.regularizer_weight(name, weight)
            self.register(info, {"weight": weight})
            self.regularizers[name] = weight
        return dict(self.regularizers)

    def regularizer_weight(self, name: str, weight: float | None) -> tuple[PluginInfo, float]:
        """The regularizer ``name`` and its weight: ``weight`` (``None``: its declared default for the
        data's kind), checked; a weight given as an option (``--set NAME.weight``) is refused."""
        info = self.registry.regularizer(name)
        if "weight" in self.options.get(name, {}):
            raise PluginError(f"regularizer {name!r}: its weight is set with --regularizer {name}=W (in a "
                              f"config file: regularizers = {{{name} = W}}), not with --set {name}.weight or "
                              f"[options.{name}].")
        if weight is None:
            weight = info.declaration.options["weight"].default_for(self._kind)
            if weight is REQUIRED:
                raise PluginError(f"regularizer {name!r} has no default weight: use --regularizer {name}=W.")
        return info, float(self.check_options(info, {"weight": weight})["weight"])

    def check_options(self, info: PluginInfo, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked against the plugin's declaration and converted (:meth:`Declaration.check`)."""
        if options and not info.declaration.options:
            raise PluginError(f"plugin {info.name!r} takes no options; got {', '.join(options)}.")
        how = {"weight": f"--regularizer {info.name}=W"} if info.kind == "regularizer" else {}
        return {key: info.declaration.check(info.name, key, value, how.get(key)) for key, value in options.items()}

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
        obj, declaration = info.obj, info.declaration
        if not inspect.isclass(obj):
            return obj
        resolved = {**declaration.option_defaults(self._kind), **options}
        missing = [key for key, opt in declaration.options.items() if opt.required and key not in resolved]
        if missing:
            raise PluginError(f"plugin {info.name!r} needs option {missing[0]!r} "
                              f"(--set {info.name}.{missing[0]}=VALUE).")
        self.plugin_options[info.name] = resolved
        try:
            if declaration.options_declared:
                return obj(**resolved)
            return obj(**options)  # options as __init__ arguments: its __init__ holds their defaults
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
