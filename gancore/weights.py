"""Standard network weights that gancore downloads, only when asked: the FID Inception-v3.

FID, KID and IS on image data other than ``digits``/``mnist``/``ring`` need the
FID Inception-v3 weights, which no FID package ships (they all download them on
first use). gancore never downloads anything on its own; ``gan weights fetch
inception`` (or :func:`fetch`) does, once:

1. the file is streamed to a fresh temporary name in the cache directory
   (``$GANCORE_CACHE/weights``, else ``~/.cache/gancore/weights``) while its
   SHA-256 is computed; a wrong size, a download cut short or a wrong hash
   deletes it and stops, **before anything reads it**;
2. the verified file is converted to safetensors, with where it came from
   (URL, SHA-256, size, date) in the safetensors header's metadata, and moved
   into place atomically; the downloaded ``.pth`` is deleted.

:func:`fetched` is where :func:`gancore.evaluation.find_inception_weights`
looks for it, and :func:`provenance` is what ``eval.json`` records about it.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Mapping

import attrs
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from gancore import __version__
from gancore.classifier import cache_dir
from gancore.errors import ConfigError
from gancore.files import write_bytes

CHUNK = 1 << 20


@attrs.frozen
class WeightsSource:
    """A weights file gancore knows: where it is published and the SHA-256 it must have.

    :param file: the published file's name (a PyTorch ``.pth``).
    :param converted: the name of the safetensors file in the cache.
    """

    name: str
    url: str
    sha256: str
    size: int
    file: str
    converted: str
    description: str


#: torch-fidelity's release of the FID Inception-v3 (TensorFlow's 2015-12-05 Inception, converted
#: to PyTorch; the same network pytorch-fid, clean-fid and torchmetrics use). Its name carries
#: the first 8 hex digits of its SHA-256, torch.hub's convention; the full digest and size are
#: those of the published file.
INCEPTION = WeightsSource(
    name="inception",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
    size=95_628_359,
    file="weights-inception-2015-12-05-6726825d.pth",
    converted="pt_inception-2015-12-05-6726825d.safetensors",
    description="FID Inception-v3 (TensorFlow 2015-12-05), for fid/kid/is on data other than digits, mnist, ring",
)

KNOWN: dict[str, WeightsSource] = {INCEPTION.name: INCEPTION}


def weights_dir() -> Path:
    """Where fetched weights live: ``$GANCORE_CACHE/weights``, else ``~/.cache/gancore/weights``."""
    return cache_dir() / "weights"


def source_of(name: str) -> WeightsSource:
    if name not in KNOWN:
        raise ConfigError(f"unknown weights {name!r}: gancore can fetch {', '.join(KNOWN)}.")
    return KNOWN[name]


def fetched(name: str = "inception", directory: str | os.PathLike | None = None) -> Path | None:
    """The converted safetensors file of ``name`` in the cache, or ``None`` when it was not fetched."""
    path = Path(directory or weights_dir()) / source_of(name).converted
    return path if path.is_file() and not path.is_symlink() else None


def provenance(path: str | os.PathLike) -> dict[str, str] | None:
    """Where a safetensors weights file came from, as :func:`fetch` recorded it in its header;
    ``None`` for a file converted by hand (or unreadable: the reader of the weights says why)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError):
        return None
    return {key[len("gancore."):]: value for key, value in meta.items() if key.startswith("gancore.")} or None


def _download(url: str, source: WeightsSource, handle, timeout: float,
              progress: Callable[[int, int], None] | None) -> str:
    """Stream ``url`` into the open file ``handle``; returns the SHA-256 of what was written.

    Refuses (one :class:`ConfigError`) a response that announces another size than
    ``source.size``, that runs past it, or that ends before it.
    """
    request = urllib.request.Request(url, headers={"User-Agent": f"gancore/{__version__}"})
    digest, written = hashlib.sha256(), 0
    try:
        # urllib follows HTTP redirects (GitHub's release links redirect to its file host), only to
        # http(s) URLs; whatever is served, the SHA-256 below decides.
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.isdigit() and int(announced) != source.size:
                raise ConfigError(f"{url} serves {int(announced)} bytes, but {source.file} has {source.size}: "
                                  "not the expected file; nothing was kept.")
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > source.size:
                    raise ConfigError(f"{url} sent more than the {source.size} bytes of {source.file}: not the "
                                      "expected file; nothing was kept.")
                digest.update(chunk)
                handle.write(chunk)
                if progress is not None:
                    progress(written, source.size)
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"cannot download {url}: HTTP {exc.code} {exc.reason}.") from None
    except urllib.error.URLError as exc:
        raise ConfigError(f"cannot download {url}: {exc.reason}.") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a reset connection, a timeout, a bad reply
        raise ConfigError(f"cannot download {url}: {exc}.") from None
    if written != source.size:
        raise ConfigError(f"the download of {url} ended after {written} of {source.size} bytes; nothing was kept: "
                          "try again.")
    return digest.hexdigest()


def _read_verified_state(path: Path, source: WeightsSource) -> dict[str, torch.Tensor]:
    """The tensors of a downloaded ``.pth`` whose SHA-256 was checked against ``source``.

    gancore unpickles nothing a user hands it. This file is not a user's: it is the
    published release file, and it is read only after its SHA-256 matched the
    digest written above (see :func:`fetch`). Even so it is read with PyTorch's
    restricted ``weights_only`` loader, which builds tensors and containers only.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted loader's refusals are plain exceptions of several kinds
        raise ConfigError(f"{source.file}: cannot read the verified file as PyTorch weights ({exc}).") from None
    if not isinstance(state, Mapping) or not state or not all(
            isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()):
        raise ConfigError(f"{source.file} does not hold a flat dict of named tensors.")
    return {key: value.contiguous() for key, value in state.items()}


def _temporary(directory: Path, suffix: str):
    # mkstemp creates with O_CREAT | O_EXCL: never through an existing file or symlink.
    fd, name = tempfile.mkstemp(dir=directory, prefix=".fetch-", suffix=suffix)
    return os.fdopen(fd, "wb"), Path(name)


def fetch(name: str = "inception", directory: str | os.PathLike | None = None, url: str | None = None,
          source: WeightsSource | None = None, timeout: float = 60.0,
          progress: Callable[[int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> Path:
    """Download ``name``, verify its SHA-256, convert it to safetensors in the cache; return that file.

    :param directory: the cache folder [default: :func:`weights_dir`].
    :param url: a mirror to download from; the file must still have the published SHA-256.
    :param source: another :class:`WeightsSource` to fetch (tests, a new release); ``name`` is
        then ignored.
    :return: the safetensors file; an existing one is replaced only once the new one is complete.
    """
    source = source or source_of(name)
    url = url or source.url
    folder = Path(directory or weights_dir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the weights cache {str(folder)!r}: {exc.strerror}.") from None
    say = log or (lambda text: None)
    say(f"Downloading {source.file} ({source.size / 1e6:.1f} MB) from {url}")
    download = None
    try:
        handle, download = _temporary(folder, ".pth")
        with handle:
            got = _download(url, source, handle, timeout, progress)
        if got != source.sha256:
            raise ConfigError(f"{url}: SHA-256 {got} is not the published {source.sha256} of {source.file}; "
                              "the file was deleted unread.")
        tensors = _read_verified_state(download, source)

        meta = {"gancore.name": source.name, "gancore.url": url, "gancore.file": source.file,
                "gancore.sha256": got, "gancore.size": str(source.size), "gancore.gancore": __version__,
                "gancore.fetched": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        data = safetensors_bytes(tensors, metadata=meta)
        target = folder / source.converted
        # A fresh temporary moved over the target: a symlink there is replaced, never written through.
        write_bytes(target, data)
    except OSError as exc:
        raise ConfigError(f"cannot write the weights cache {str(folder)!r}: {exc.strerror or exc}.") from None
    finally:
        if download is not None:
            download.unlink(missing_ok=True)
    say(f"Verified SHA-256 {source.sha256[:16]}..., converted to {target}")
    return target


__all__ = ["INCEPTION", "KNOWN", "WeightsSource", "fetch", "fetched", "provenance", "source_of", "weights_dir"]
