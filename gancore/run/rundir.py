"""Run directories: resolving a run's configuration, creating and opening runs.

A run directory holds::

    config.toml                  the resolved configuration
    metrics.jsonl                one JSON object per log interval
    samples/step-000500.png      sample grids from a fixed latent batch
    checkpoints/step-000500/     see gancore.checkpoint
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import attrs
from torch import nn

from gancore import files
from gancore.checkpoint import Checkpoint, check_run_meta, load_weights, open_checkpoint
from gancore.config import TrainConfig, make_config
from gancore.data import Dataset, DataSpec, load_data
from gancore.errors import CheckpointError, ConfigError
from gancore.generator import build_within_limits, check_generator
from gancore.installed import installed_data
from gancore.plugins import Registry, Run
from gancore.run.resolve import NOT_DEFAULTABLE, RunSpec, build_run, resolve_run  # noqa: F401 (NOT_DEFAULTABLE: its old home)
from gancore.data.stream import StreamingDataset


def configure(registry: Registry, spec: DataSpec, user: Mapping[str, Any]) -> tuple[TrainConfig, Run]:
    """Resolve a run's configuration for data ``spec`` and create its plugins, once each
    (:func:`gancore.run.resolve.resolve_run`, then :func:`gancore.run.resolve.build_run`)."""
    run_spec = resolve_run(registry, spec, user)
    run = build_run(registry, run_spec)
    run.spec = run_spec  # what create_run_dir records in config.toml: every option, each value's layer
    return run_spec.config, run


def resolve(registry: Registry, user: Mapping[str, Any]) -> tuple[TrainConfig, Run, Dataset | StreamingDataset]:
    """Turn user settings (file and flags, merged) into a run.

    Loads the data, activates the plugins, applies the defaults under the
    user's settings and resolves regularizer weights (:func:`configure`).
    """
    first = make_config(user)
    if not first.plugins:
        raise ConfigError("no plugin given: use --plugin NAME (see `gan plugins` for the installed ones).")
    dataset = load_data(first.data, first.data_root, first.download, first.image_size, first.layout,
                        first.data_mode, readers=installed_data)
    config, run = configure(registry, dataset.spec, user)
    name = config.name or default_name(run.family, config.data)
    return attrs.evolve(config, name=name), run, dataset


def default_name(family: str, data: str) -> str:
    """``FAMILY-DATA-YYYYmmdd-HHMMSS-xxxxxx``: the time, and a random suffix so that runs started
    in the same second get directories of their own."""
    return f"{family}-{Path(data).name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"


def run_dir(config: TrainConfig) -> Path:
    name = str(config.name)
    if not name or name in (".", "..") or Path(name).name != name or "/" in name or os.sep in name \
            or not name.isprintable() or len(name.encode()) > 255:
        raise ConfigError(f"bad --name {name!r}: a run name is one directory name under --out (printable, at "
                          "most 255 bytes, no '/', '.' or '..'); use --out to choose where runs go.")
    return Path(config.out) / name


LOCK_FILE = ".lock"


class RunLock:
    """An exclusive lock on a run directory for the life of one run (``gan train``, new or resumed).

    ``fcntl.flock`` on ``RUN/.lock``, which holds the PID of the process holding it. The
    operating system releases the lock when that process ends, however it ends (SIGKILL
    included), so a lock is never left stale; the file itself stays.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._fd: int | None = None

    def acquire(self, path: str | Path | None = None) -> "RunLock":
        """Take the lock of ``path`` (or of the directory given when created); a :class:`ConfigError`
        naming the holder's PID when another process holds it."""
        if path is not None:
            self.path = Path(path)
        file = self.path / LOCK_FILE
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # Never through a link planted as RUN/.lock, and never truncating anything but a lock file.
            fd = files.open_lock(file)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EINVAL):  # a planted link or FIFO: say which file
                raise ConfigError(f"cannot lock the run directory {str(self.path)!r}: {str(file)!r}: "
                                  f"{exc.strerror}.") from None
            raise ConfigError(f"cannot write the run directory {str(self.path)!r}: {exc.strerror}.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ConfigError(f"cannot lock the run directory {str(self.path)!r}: {exc.strerror}.") from None
            raise ConfigError(f"run directory {str(self.path)!r} is in use by another run (PID {holder}, which "
                              "holds its lock): wait for it to end or stop it, then `gan train --resume "
                              f"{self.path}`; or start a new run with another --name.") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only the PID is not recorded
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def recorded_options(spec: RunSpec) -> dict[str, dict[str, Any]]:
    """Every option of every active plugin as the run resolved it (``spec.plugin_options``: declared
    defaults for the data's kind, a family's defaults for its add-ons and regularizers, the user's
    values), for ``config.toml``. A regularizer's weight is left out (``[regularizers]`` holds it),
    and so is an option TOML cannot hold (``None``: an old-style plugin's own choice)."""
    recorded = {}
    for plugin, options in spec.plugin_options.items():
        table = {key: list(value) if isinstance(value, tuple) else value for key, value in options.items()
                 if not (plugin in spec.regularizers and key == "weight") and _tomlable(value)}
        if table:
            recorded[plugin] = table
    return recorded


def _tomlable(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_tomlable(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _tomlable(item) for key, item in value.items())
    return False


def create_run_dir(config: TrainConfig, spec: RunSpec | None = None) -> Path:
    """Create a fresh run directory and write its ``config.toml``.

    With the run's resolved specification ``spec`` (``run.spec`` of :func:`configure`), the file
    records every option of every active plugin (:func:`recorded_options`) and, as a comment on
    each line, the layer that set the value (``gancore``, ``data kind ...``, ``family ...``,
    ``declaration (KIND)``, ``config file ...``, ``flag``): what ``gan train --dry-run`` prints.
    ``gan train --resume`` reads the values back (the comments are TOML comments).

    A directory that already holds anything but the run's own lock file is refused: a new run never
    writes among files it did not write (a stranger's links, another run's checkpoints)."""
    path = run_dir(config)
    try:
        present = sorted(p.name for p in path.iterdir() if p.name != LOCK_FILE) if path.is_dir() else []
    except OSError as exc:
        raise ConfigError(f"cannot read the run directory {str(path)!r}: {exc.strerror}.") from None
    if present:
        what = "checkpoints" if "checkpoints" in present else ", ".join(present[:3]) + (", ..." if len(present) > 3
                                                                                     else "")
        raise ConfigError(f"run directory {str(path)!r} already holds {what}: a new run starts in a new or empty "
                          f"directory. Continue it with `gan train --resume {path}`, choose another --name, or "
                          "remove it.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        if spec is None:
            config.save(path / "config.toml")
        else:
            attrs.evolve(config, options=recorded_options(spec)).save(path / "config.toml", sources=spec.sources)
    except OSError as exc:
        raise ConfigError(f"cannot write the run directory {str(path)!r}: {exc.strerror}.") from None
    return path


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint directory a command given ``path`` reads (see
    :func:`gancore.checkpoint.open_checkpoint`, which also verifies it)."""
    return open_checkpoint(path).path


def check_device(device: str) -> None:
    """Refuse a torch device string that does not parse, or a CUDA device without a GPU."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"bad --device {device!r}: use cpu, cuda or cuda:N.") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}, but no CUDA GPU is available to torch; use --device cpu.")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {device}: there are only {torch.cuda.device_count()} CUDA device(s).")


def newest_checkpoint(path: str | Path, device: str = "cpu", log: Callable[[str], None] | None = None
                      ) -> Checkpoint:
    """A checkpoint directory, read and verified; or a run directory's newest *intact* checkpoint, as
    ``--resume`` finds it (:func:`gancore.checkpoint.open_checkpoint`)."""
    return open_checkpoint(path, map_location=device, log=log)


def run_family(registry: Registry, run: Path) -> str | None:
    """The family run directory ``run``'s ``config.toml`` names (``None`` without one)."""
    from gancore.config import read_toml

    config_path = run / "config.toml"
    if not config_path.is_file():
        return None
    return registry.family_of(make_config(read_toml(config_path, root=run)).plugins).name


def load_generator(registry: Registry, path: str | Path, device: str = "cpu", trained_weights: bool = False,
                   log: Callable[[str], None] | None = None) -> tuple[nn.Module, DataSpec, TrainConfig, Checkpoint]:
    """Rebuild a run's generator from a checkpoint (or a run's newest one).

    The generator returned is the one an active plugin offers for sampling
    (the ``sampling_generator`` hook, e.g. an average of the weights), unless
    ``trained_weights`` is true or no plugin offers one. On a run directory a damaged newest
    checkpoint is skipped (see :func:`newest_checkpoint`), with a note to ``log``.
    """
    return load_sampler(registry, path, device, trained_weights, log)[:4]


def sampler_name(run: Run, generator: nn.Module, chosen: nn.Module, states: Mapping[str, Any]) -> str:
    """Which generator ``chosen`` is: ``"trained"`` when it is ``generator`` itself, else the name of
    the plugin whose ``sampling_generator`` offered it (``"ema"``). With several such plugins each is
    asked again in the hook's order (pluggy's LIFO), on a copy of ``states``: the first to answer won."""
    if chosen is generator:
        return "trained"
    impls = [impl for impl in reversed(run.pm.hook.sampling_generator.get_hookimpls())
             if not (impl.wrapper or impl.hookwrapper)]
    copied = {name: dict(values) for name, values in states.items()}
    given = {"generator": generator, "state_for": lambda plugin: copied.setdefault(run.name_of(plugin), {})}
    for impl in impls[:-1]:
        if impl.function(**{arg: given[arg] for arg in impl.argnames}) is not None:
            return impl.plugin_name
    return impls[-1].plugin_name


def load_sampler(registry: Registry, path: str | Path, device: str = "cpu", trained_weights: bool = False,
                 log: Callable[[str], None] | None = None) -> tuple[nn.Module, DataSpec, TrainConfig, Checkpoint, str]:
    """:func:`load_generator`, and which generator it is (:func:`sampler_name`: ``"trained"`` or the
    name of the plugin that offered it), for records that say what was sampled."""
    check_device(device)
    checkpoint = newest_checkpoint(path, device, log)
    check_run_meta(checkpoint)
    meta = checkpoint.meta
    try:
        config = make_config(meta["config"])
        spec = DataSpec.from_dict(meta["data"])
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r} lacks its configuration or has a damaged one: "
                              f"{exc}.") from None
    family = registry.family_of(config.plugins).name
    if meta["family"] != family:
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r} says it was written by family "
                              f"{meta['family']!r} but its configuration names {family!r}: a damaged meta.json.")
    root = Path(path)
    saved = run_family(registry, root) if not (root / "meta.json").exists() else None
    if saved is not None and saved != family:
        raise CheckpointError(f"checkpoint {str(checkpoint.path)!r} was written by family {family!r}, but run "
                              f"{str(root)!r} uses {saved!r}: a checkpoint from another family cannot be loaded.")
    run = registry.activate(config.plugins, config.options, data=spec)
    generator = build_within_limits(lambda: run.hook.build_generator(config=config, data=spec), "generator", family)
    check_generator(generator, run.family)
    load_weights(generator, checkpoint.generator, "generator")
    trained, source = generator, "trained"
    if not trained_weights:
        try:
            states = dict(checkpoint.state.get("plugins", {}))
            generator = run.sampling_generator(generator, states)
            source = sampler_name(run, trained, generator, states)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
            # A plugin's saved state (such as EMA weights) that does not fit the network built.
            raise CheckpointError(f"checkpoint {str(checkpoint.path)!r}: its plugin state does not fit this "
                                  f"generator: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                                  ". (`--trained-weights` of gan sample, eval and export uses the trained "
                                  "weights.)") from None
    return generator.to(device).eval(), spec, config, checkpoint, source
