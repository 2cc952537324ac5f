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

from pathlib import Path
from typing import Any, Callable, Mapping

import attrs
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

@attrs.frozen
class NamedData:
    """A data set a plugin adds to ``--data``: ``load()`` returns its :class:`gancore.data.Dataset`."""

    name: str
    load: Callable[[], Any]
    plugin: str


@attrs.frozen
class FolderReader:
    """A reader of image folders in the ``--layout`` values ``layouts``, added by ``plugin``."""

    layouts: tuple[str, ...]
    read: Callable[[Path, int | None, str, str], Any]
    claims: Callable[[Path], bool]
    plugin: str


@attrs.define
class InstalledData:
    """The data sets and folder layouts that installed plugins add (``register_data``)."""

    named: dict[str, NamedData] = attrs.field(factory=dict)
    readers: list[FolderReader] = attrs.field(factory=list)
    #: One line per plugin whose ``register_data`` raised.
    problems: list[str] = attrs.field(factory=list)

    def reader_for(self, layout: str) -> FolderReader | None:
        return next((reader for reader in self.readers if layout in reader.layouts), None)

    def claiming(self, folder: Path) -> FolderReader | None:
        """The reader that ``--layout auto`` reads ``folder`` with, if any claims it."""
        return next((reader for reader in self.readers if reader.claims(folder)), None)

    def layouts(self) -> list[str]:
        return [layout for reader in self.readers for layout in reader.layouts]


def installed_data(registry=None, reserved: tuple[str, ...] = ()) -> InstalledData:
    """Collect ``register_data`` from every installed plugin (of ``registry``, else :func:`libraries`).

    :param reserved: the core's own data names, which no plugin may take.
    """
    from gancore.config import LAYOUTS

    if registry is None:
        registry = libraries()
    data = InstalledData()

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
                if layout not in LAYOUTS or layout in ("auto", "classes"):
                    raise PluginError(f"layout {layout!r} is not one a plugin may read: use "
                                      f"{', '.join(x for x in LAYOUTS if x not in ('auto', 'classes'))}.")
                other = data.reader_for(layout)
                if other is not None:
                    raise PluginError(f"layout {layout!r} is already read by plugin {other.plugin!r}.")
            data.readers.append(FolderReader(layouts, read, claims or (lambda folder: False), info.name))

        return {"register": register, "register_layout": register_layout}

    data.problems.extend(call_installed(registry, "register_data", arguments))
    return data
