"""gancore: train GANs where every family is a plugin.

Plugin authors need :data:`hookimpl` (and the base classes in
:mod:`gancore.generator`); the hooks are documented in :mod:`gancore.hookspecs`.

From Python: :func:`train` trains a run as ``gan train`` does; :func:`load` (:mod:`gancore.api`)
takes a run directory, a checkpoint or an exported bundle, ready to ``.sample(n)``; :func:`evaluate`
measures one as ``gan eval`` does.
"""

from gancore.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "load", "LoadedGenerator", "train", "FinishedRun", "evaluate"]

# Imported on first use, so that `import gancore` (and `gan --help`) stays free of torch.
_LAZY = {name: "gancore.api" for name in ("load", "LoadedGenerator", "train", "FinishedRun", "evaluate")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gancore' has no attribute {name!r}")
