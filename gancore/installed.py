"""What installed plugins add to gancore outside any run: ``gan`` commands and data.

The install-time hooks (:data:`gancore.hookspecs.INSTALL_HOOKS`) are called on
every installed plugin that can implement them, not only on a run's active
ones, and on each plugin on its own: one that raises is reported by name and
the others' additions stay. Those plugins are the module entry points
(``name = "package"``): install-time hooks are module-level functions, and
only those modules are imported to call them (:func:`libraries`), so that
``gan --help`` does not import every family (and torch). A plugin that failed
to load is skipped here; ``gan plugins`` shows its error.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pluggy

from gancore import hookspecs
from gancore.errors import PluginError


def libraries():
    """The installed plugins that can implement install-time hooks: every module entry point of
    the group ``gancore``, loaded (a :class:`gancore.plugins.Registry`)."""
    from gancore.plugins import Registry

    return Registry.discover(modules_only=True)


def call_installed(registry, hook: str, arguments: Callable[[Any], Mapping[str, Any]]) -> list[str]:
    """Call ``hook`` on every loaded plugin of ``registry`` that implements it, one by one.

    :param arguments: the hook's keyword arguments for a plugin, from its
        :class:`gancore.plugins.PluginInfo`.
    :return: one line per plugin that raised, naming it and the error.
    """
    problems = []
    for info in registry:
        if info.error is not None or hook not in info.hooks:
            continue
        # A manager per plugin: pluggy stops at the first implementation that raises.
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        try:
            manager.register(info.obj, name=info.name)
            getattr(manager.hook, hook)(**arguments(info))
        except Exception as exc:  # a plugin's bug must not take gan down
            problems.append(f"plugin {info.name!r} ({info.distribution} {info.version}) failed in {hook}: "
                            f"{type(exc).__name__}: {exc}")
    return problems


# --- commands ------------------------------------------------------------------------------

def add_commands(cli, registry) -> list[str]:
    """Let every installed plugin add commands to the click group ``cli`` (``register_commands``).

    A plugin may not replace a command ``cli`` already holds; such a command is
    put back. Returns the problems (see :func:`call_installed`), for a warning.
    """
    own = dict(cli.commands)
    problems = call_installed(registry, "register_commands", lambda info: {"cli": cli})
    for name, command in own.items():
        if cli.commands.get(name) is not command:
            problems.append(f"a plugin tried to replace the command {name!r}; kept gan's own.")
            cli.commands[name] = command
    return problems


# --- data ------------------------------------------------------------------------------------

def installed_data(registry=None, reserved: tuple[str, ...] | None = None):
    """Collect ``register_data`` from every installed plugin (of ``registry``, else :func:`libraries`):
    the :class:`gancore.data.readers.Readers` a run hands :func:`gancore.data.load_data`.

    :param reserved: the data names no plugin may take (default: the core's own).
    """
    # Here, not at the top: `gan --help` imports this module and must not import torch (gancore.data does).
    from gancore.data import EMBEDDED, ON_DISK
    from gancore.data.readers import CORE_LAYOUTS, FolderReader, NamedData, Readers

    if reserved is None:
        reserved = EMBEDDED + ON_DISK
    if registry is None:
        registry = libraries()
    data = Readers()

    def arguments(info):
        def register(name: str, load: Callable[[], Any]) -> None:
            if name in reserved:
                raise PluginError(f"data name {name!r} is gancore's own.")
            if name in data.named:
                raise PluginError(f"data name {name!r} is already registered by plugin {data.named[name].plugin!r}.")
            data.named[name] = NamedData(str(name), load, info.name)

        def register_layout(layouts, read, claims=None) -> None:
            layouts = (layouts,) if isinstance(layouts, str) else tuple(layouts)
            for layout in layouts:
                if not isinstance(layout, str) or not layout or layout in CORE_LAYOUTS:
                    raise PluginError(f"layout {layout!r} is not one a plugin may read: name a layout of its own "
                                      f"(not {', '.join(CORE_LAYOUTS)}, which gancore reads itself).")
                other = data.reader_for(layout)
                if other is not None:
                    raise PluginError(f"layout {layout!r} is already read by plugin {other.plugin!r}.")
            data.readers.append(FolderReader(layouts, read, claims or (lambda folder: False), info.name))

        return {"register": register, "register_layout": register_layout}

    data.problems.extend(call_installed(registry, "register_data", arguments))
    return data
