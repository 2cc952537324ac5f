"""Declare, resolve, then build: one pass from the user's settings to a frozen run specification.

:func:`resolve_run` turns, lowest first,

1. gancore's defaults (:class:`gancore.config.TrainConfig`'s fields),
2. the data kind's (:data:`gancore.config.KIND_DEFAULTS`),
3. the family's declared ``defaults`` (then its add-ons'), for the data and the chosen regularizers,
   or, with ``--preset NAME`` (``preset``), the family's preset of that name in their place (its
   declared ``paper = {...}``: the paper's settings, whole; the add-ons' defaults still follow),
4. the ``--config`` file, and
5. the flags

into one :class:`RunSpec`: the configuration, the active plugins and every option each of them
will be created with (their declared defaults for the data's kind under the layers above),
remembering for each value the layer that set it (``gan train --dry-run`` prints them). Nothing
is created and no network built: plugins declare what the resolver needs as class data
(:mod:`gancore.declaration`). Only a family written before declarations, whose defaults come
from its ``default_config`` hook, is created here to be asked (once, with the user's options for
it: the same object then trains).

:func:`build_run` then creates every plugin once, with its resolved options, in a
:class:`gancore.plugins.Run`.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs
import pluggy

from gancore import hookspecs
from gancore.config import KIND_DEFAULTS, TrainConfig, check_keys, make_config
from gancore.errors import PluginError
from gancore.plugins import PluginInfo, Registry, Run

# A family's defaults may not choose these: they decide which family and data
# the defaults are asked of in the first place. (``plugins`` in the defaults
# names add-ons to turn on, and ``options`` sets options of those add-ons and
# of the regularizers.)
NOT_DEFAULTABLE = ("data", "data_root", "download", "image_size", "layout", "data_mode", "default_plugins")
#: What an add-on's defaults may not set besides those: which plugins run, and their options.
NOT_ADDON_DEFAULTABLE = ("plugins", "regularizers", "options")

#: The layer names a :class:`RunSpec` records (``sources``).
CORE, DECLARED, USER = "gancore", "declaration", "user"


@attrs.frozen
class RunSpec:
    """A resolved run, before anything is built: what ``gan train --dry-run`` prints.

    :param config: the resolved configuration (as ``config.toml`` records it).
    :param data: the :class:`gancore.data.DataSpec` it was resolved for.
    :param family: the family's entry-point name; ``addons`` the add-ons' (in activation order).
    :param regularizers: name -> resolved weight.
    :param plugin_options: every active plugin's options, as it will be created with them.
    :param sources: ``setting``, ``options.PLUGIN.OPTION`` or ``regularizers.NAME`` -> the layer
        that set it (``gancore``, ``data kind KIND``, ``family NAME``, ``add-on NAME``,
        ``declaration``, ``config file PATH``, ``flag``, ``user``).
    """

    config: TrainConfig
    data: Any
    family: str
    addons: tuple[str, ...]
    regularizers: Mapping[str, float]
    plugin_options: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, str]
    #: Plugins created while resolving (a family written before declarations, asked for its
    #: defaults), by name: :func:`build_run` registers these objects instead of creating others.
    created: Mapping[str, object] = attrs.field(factory=dict, eq=False, repr=False)

    def lines(self) -> list[str]:
        """The specification as ``name = value  # source`` lines (settings, then each plugin's options)."""
        rows = [("data spec", f"{self.data.name} {tuple(self.data.shape)} ({self.data.kind}, "
                              f"{self.data.num_classes} classes)", "")]
        for key, value in self.config.to_dict().items():
            if key == "options":
                continue
            rows.append((key, value, self.sources.get(key, CORE)))
        for plugin, options in self.plugin_options.items():
            for key, value in options.items():
                source = self.sources.get(f"options.{plugin}.{key}", DECLARED)
                if plugin in self.regularizers and key == "weight":
                    source = self.sources.get(f"regularizers.{plugin}", source)
                rows.append((f"{plugin}.{key}", value, source))
        width = max(len(name) for name, _, _ in rows)
        return [f"{name.ljust(width)} = {value!r}" + (f"  # {source}" if source else "")
                for name, value, source in rows]


def _field(name: str):
    return getattr(attrs.fields(TrainConfig), name)


def _family_defaults(registry: Registry, family: PluginInfo, data, chosen, user_options) -> tuple[dict, dict]:
    """The family's settings defaults, and the objects created to get them (a family written before
    declarations, asked through its ``default_config`` hook)."""
    if family.declaration.declared:
        return family.declaration.settings_defaults(data, chosen), {}
    run = Run(registry, family.name, user_options, data=data)
    obj = run._instantiate(family, run.check_options(family, user_options.get(family.name, {})))
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(obj, name=family.name)
    defaults = dict(manager.hook.default_config(data=data, regularizers=chosen) or {})
    if family.name in defaults.get("options", {}):
        # The family object exists already (it was asked); its own options follow the data in its
        # build hooks instead (a declared family gives them by data kind in its declaration).
        raise PluginError(f"family {family.name!r}: default_config may set options of its regularizers and "
                          "add-ons only, not its own (declare them as options with by_kind defaults: "
                          "docs/authoring/declarations.md).")
    return defaults, {family.name: obj}


def _check_defaults(owner: str, defaults: Mapping[str, Any], refused: tuple[str, ...]) -> None:
    bad = [key for key in defaults if key in refused]
    if bad:
        raise PluginError(f"{owner}: its defaults may not set {bad[0]!r}.")
    check_keys(defaults, f"the defaults of {owner}")


def resolve_run(registry: Registry, data, user: Mapping[str, Any]) -> RunSpec:
    """Resolve the user's settings (a ``--config`` file and flags, merged: see
    :func:`gancore.run.flags.settings_from_flags`, whose result says which came from where) for
    data ``data`` (a :class:`gancore.data.DataSpec`) into a :class:`RunSpec`, in one pass."""
    user_sources = dict(getattr(user, "sources", {}))
    user = dict(user)
    check_keys(user, "the configuration")
    plugins = _field("plugins").converter(user.get("plugins", ()))
    family = registry.family_of(plugins)
    user_regularizers = _field("regularizers").converter(user.get("regularizers"))
    chosen = None if user_regularizers is None else tuple(user_regularizers)
    user_options = _field("options").converter(user.get("options", {}))

    # The family's defaults (and the add-ons it turns on), or its preset in their place; then the add-ons'.
    preset = user.get("preset")
    if preset is None:
        family_layer = f"family {family.name}"
        family_defaults, created = _family_defaults(registry, family, data, chosen, user_options)
    else:
        _field("preset").validator(None, _field("preset"), preset)
        family_layer = f"preset {preset} of {family.name}"
        family_defaults, created = family.declaration.preset_settings(family.name, preset), {}
    _check_defaults(family_layer, family_defaults, NOT_DEFAULTABLE)
    default_addons = list(family_defaults.pop("plugins", ()))
    for name in default_addons:
        if registry.get(name).kind != "add-on":
            raise PluginError(f"family {family.name!r}: its defaults' plugins may name add-ons only; "
                              f"{name!r} is a {registry.get(name).kind}.")
    default_options = family_defaults.pop("options", {})
    active = list(dict.fromkeys(plugins))
    if user.get("default_plugins", True) is not False:
        named = {registry.get(name).name for name in active}
        active += [name for name in default_addons if name not in named]
    addons = [registry.get(name) for name in active if registry.get(name).name != family.name]
    for info in addons:
        if info.kind == "library":
            raise PluginError(f"{info.name!r} is a library: what it adds (commands, data) is there whenever it "
                              f"is installed; drop --plugin {info.name}.")

    # Settings: each layer over the ones below, remembering who set what.
    layers = [(f"data kind {data.kind}", KIND_DEFAULTS[data.kind]), (family_layer, family_defaults)]
    for info in addons:
        addon_defaults = info.declaration.settings_defaults(data, chosen)
        _check_defaults(f"add-on {info.name!r}", addon_defaults, NOT_DEFAULTABLE + NOT_ADDON_DEFAULTABLE)
        layers.append((f"add-on {info.name}", addon_defaults))
    layers.append((USER, {key: value for key, value in user.items() if key != "options"}))
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer, values in layers:
        for key, value in values.items():
            merged[key] = value
            sources[key] = user_sources.get(key, layer) if layer == USER else layer
    # Options: the defaults' go with the defaults' plugins (those of the family's regularizers are
    # dropped when the user chooses the regularizers, those of add-ons not turned on too).
    keep = {registry.get(name).name for name in active} | (set(family_defaults.get("regularizers") or {})
                                                           if chosen is None else set())
    options: dict[str, dict[str, Any]] = {}
    for name, table in default_options.items():
        if name in keep:
            options[name] = dict(table)
            sources.update({f"options.{name}.{key}": family_layer for key in table})
    for name, table in user_options.items():
        options.setdefault(name, {}).update(table)
        sources.update({f"options.{name}.{key}": user_sources.get(f"options.{name}.{key}", USER) for key in table})
    if list(active) != list(plugins):
        sources["plugins"] = f"{sources.get('plugins', USER)} + {family_layer}"
    merged["options"] = options
    config = make_config(merged)

    # The plugins' options, checked against their declarations, over their declared defaults.
    run = Run(registry, family.name, config.options, data=data)
    given = {info.name: run.check_options(info, config.options.get(info.name, {})) for info in [family, *addons]}
    regularizers: dict[str, float] = {}
    for name, weight in (config.regularizers or {}).items():
        info, regularizers[name] = run.regularizer_weight(name, weight)
        sources[f"regularizers.{name}"] = DECLARED if weight is None else sources.get("regularizers", USER)
        given[name] = run.check_options(info, config.options.get(name, {}))
    run.regularizers = dict(regularizers)  # so that check_all_used knows them
    run.addons = [info.name for info in addons]
    run.check_all_used()
    plugin_options = {}
    for name, table in given.items():
        declaration = registry.get(name).declaration
        full = {**declaration.option_defaults(data.kind), **table}
        if name in regularizers:
            full["weight"] = regularizers[name]
        plugin_options[name] = full
        for key, opt in declaration.options.items():
            if key not in table and key != "weight":
                sources.setdefault(f"options.{name}.{key}",
                                   f"{DECLARED} ({data.kind})" if data.kind in opt.by_kind else DECLARED)
    for name, table in given.items():
        _check_declared_defaults(registry.get(name), plugin_options[name], table, data.kind)
    # The options as the plugins get them (checked and converted: 4.0 -> 4 for an int option).
    config = attrs.evolve(config, plugins=tuple(active), regularizers=regularizers,
                          options={name: dict(table) for name, table in given.items() if table})
    return RunSpec(config=config, data=data, family=family.name, addons=tuple(run.addons),
                   regularizers=regularizers, plugin_options=plugin_options, sources=sources, created=created)


def _check_declared_defaults(info: PluginInfo, resolved: Mapping[str, Any], given: Mapping[str, Any],
                             kind: str) -> None:
    """Refuse a default the run would use that breaks its option's own type (``width: PositiveInt = 0``,
    declared or an old-style ``__init__`` default): a bug in the plugin, named before anything is
    built instead of failing deep inside torch. An old-style plugin's ``None`` default (its own
    choice, resolved in its hooks) is let through."""
    from gancore.declaration import OptionValueError, coerce_option, describe_type

    for key, value in resolved.items():
        opt = info.declaration.options.get(key)
        if key in given or opt is None or (value is None and not info.declaration.options_declared):
            continue
        try:
            coerce_option(opt.type, value)
        except OptionValueError:
            which = f" for {kind} data" if kind in opt.by_kind else ""
            raise PluginError(f"plugin {info.name!r}: the default of its option {key!r}{which} is {value!r}, which "
                              f"breaks the option's own type ({describe_type(opt.type)}): a bug in the plugin. Give "
                              f"the option a value with --set {info.name}.{key}=VALUE, or fix its default.") from None


def build_run(registry: Registry, spec: RunSpec) -> Run:
    """Create the run's plugins, each once, with its resolved options: the family, its add-ons,
    its regularizers (in that order: the order of their hooks)."""
    config = spec.config
    run = Run(registry, spec.family, config.options, data=spec.data)
    run.register(registry.get(spec.family), obj=spec.created.get(spec.family))
    for name in spec.addons:
        run.register(registry.get(name))
    run.add_regularizers(spec.regularizers)
    run.check_all_used()
    return run
