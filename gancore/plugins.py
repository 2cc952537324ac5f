"""Plugin discovery (entry points), and activation of plugins for one run.

Every plugin, built-in or not, is an entry point in the group ``gancore``.
The object an entry point names is a module, an instance, or a class; a class
is instantiated per run with that plugin's options as keyword arguments, so
its ``__init__`` signature *is* its list of options and their defaults.

Kinds (shown by ``gan plugins``):

* **family**: implements the family hooks (networks and losses);
* **regularizer**: accepts a ``weight`` option, chosen with ``--regularizer
  NAME[=WEIGHT]``;
* **add-on**: anything else, chosen with ``--plugin NAME``.

A run activates one family, its regularizers and its add-ons in a plugin
manager of its own, so "exactly one family" is checked once, up front.
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

    @property
    def kind(self) -> str:
        if self.error is not None:
            return "broken"
        if any(hook in self.hooks for hook in hookspecs.FAMILY_HOOKS):
            return "family"
        if "weight" in self.options:
            return "regularizer"
        return "add-on"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "value": self.value, "kind": self.kind, "hooks": list(self.hooks),
                "wrappers": list(self.wrappers), "options": {k: _jsonable(v) for k, v in self.options.items()},
                "doc": self.doc, "error": self.error}


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


REQUIRED = object()


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
                      hooks=plain, wrappers=wrappers, options=plugin_options(obj),
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
    def discover(cls, group: str = GROUP) -> "Registry":
        """Load every entry point of ``group``; record failures, never raise.

        ``GANCORE_LOAD_PLUGINS`` (comma-separated entry-point or distribution
        names; empty for none) limits what is loaded.
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
        options = {**self.options.get(info.name, {}), **(extra or {})}
        obj = self._instantiate(info, options)
        try:
            self.pm.register(obj, name=info.name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {info.name!r} breaks the hook contract: {exc}") from None
        self._check_family_hooks()
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
            if weight is None:
                weight = info.options["weight"]
                if weight is REQUIRED:
                    raise PluginError(f"regularizer {name!r} has no default weight: use --regularizer {name}=W.")
            self.register(info, {"weight": weight})
            self.regularizers[name] = float(weight)
        return dict(self.regularizers)

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

    def _check_family_hooks(self) -> None:
        for hook in hookspecs.FAMILY_HOOKS:
            owners = [impl.plugin_name for impl in getattr(self.pm.hook, hook).get_hookimpls()
                      if not (impl.wrapper or impl.hookwrapper)]
            if len(owners) > 1:
                raise PluginError(f"both {owners[0]!r} and {owners[1]!r} implement {hook}: only one family "
                                  "may be active in a run (an add-on that changes a family's networks must "
                                  "use @hookimpl(wrapper=True)).")

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
