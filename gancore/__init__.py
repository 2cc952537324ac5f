"""gancore: train GANs where every family is a plugin.

Plugin authors need :data:`hookimpl` (and the base classes in
:mod:`gancore.generator`); the hooks are documented in :mod:`gancore.hookspecs`.
"""

from gancore.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
