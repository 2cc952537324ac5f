"""gancore-inpainting: the library the inpainting families share.

Not a GAN family and never activated in a run: the Context Encoder and CCGAN
depend on it and import from it. It holds

* :mod:`gancore_inpainting.masks`: which pixels are missing (a centre square,
  a square at a random place, a user's mask image), and the masked-region
  errors the benchmark and the losses share;
* :mod:`gancore_inpainting.generator`: :class:`~gancore_inpainting.generator.Inpainter`,
  the generator base class whose latent is an image with a hole and the hole's
  mask, and whose output keeps every known pixel;
* :mod:`gancore_inpainting.cli`: ``gan inpaint CHECKPOINT IMAGE... --mask MASK``.

Any image data trains an inpainting family (``--data mnist``, a folder of
images): the holes are cut from the real batch as it is drawn, so there is no
special data set. Installed, it adds ``gan inpaint`` to the command line
(``register_commands``, the one install-time hook below).
"""

from __future__ import annotations

from gancore import hookimpl

__version__ = "0.1.0"
#: Its declared kind: a library (install-time hooks only; never part of a run).
kind = "library"


@hookimpl
def register_commands(cli):
    """``gan inpaint``."""
    from gancore_inpainting.cli import inpaint

    cli.add_command(inpaint)
