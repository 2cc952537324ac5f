"""What data the core does not read itself: named data sets and image-folder readers, handed in.

:func:`gancore.data.load_data` is given a :class:`Readers` (or a function returning one, called
only when it meets a ``--data`` name or an image-folder layout of its own it does not read), so
that ``data/`` knows nothing of plugins: whoever calls it collects them, as
:func:`gancore.installed.installed_data` does from the installed plugins' ``register_data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import attrs

#: The folder layouts the core reads itself: ``auto`` (class subfolders, unless a reader claims the
#: folder) and ``classes``. Every other ``--layout`` is a name a reader registers.
CORE_LAYOUTS = ("auto", "classes")


@attrs.frozen
class NamedData:
    """A data set added to ``--data``: ``load()`` returns its :class:`gancore.data.Dataset`."""

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
class Readers:
    """The named data sets and folder readers that :func:`gancore.data.load_data` may use."""

    named: dict[str, NamedData] = attrs.field(factory=dict)
    readers: list[FolderReader] = attrs.field(factory=list)
    #: One line per source whose data could not be added (a plugin whose ``register_data`` raised).
    problems: list[str] = attrs.field(factory=list)

    def reader_for(self, layout: str) -> FolderReader | None:
        return next((reader for reader in self.readers if layout in reader.layouts), None)

    def claiming(self, folder: Path) -> FolderReader | None:
        """The reader that ``--layout auto`` reads ``folder`` with, if any claims it."""
        return next((reader for reader in self.readers if reader.claims(folder)), None)

    def layouts(self) -> list[str]:
        return [layout for reader in self.readers for layout in reader.layouts]
