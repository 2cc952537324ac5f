"""gancore-translation: the image-to-image library the translation families share.

Not a GAN family and never activated in a run: pix2pix, CycleGAN, DiscoGAN and
StarGAN depend on it and import from it. It holds

* :mod:`gancore_translation.domains`: two-domain and multi-domain data, the
  embedded tasks ``mnist-edges``, ``mnist-thick``, ``mnist-rotations``, ``mnist-styles`` and
  the folder layouts ``paired``, ``unpaired`` and ``side-by-side``;
* :mod:`gancore_translation.generator`: :class:`~gancore_translation.generator.Translator`,
  the generator base class whose latent is a source image and a target domain;
* :mod:`gancore_translation.nets`: U-Net, ResNet generator, PatchGAN and the
  per-domain containers;
* :mod:`gancore_translation.translate` and :mod:`gancore_translation.cli`:
  the ``gan translate`` command.

Installed, it adds its data to ``--data``/``--layout`` (``register_data``) and
``gan translate`` to the command line (``register_commands``): the two
install-time hooks below, called on this module. They import nothing heavy
until they are called.
"""

from __future__ import annotations

import functools

from gancore import hookimpl

__version__ = "0.1.0"
#: Its declared kind: a library (install-time hooks only; never part of a run).
kind = "library"


@hookimpl
def register_commands(cli):
    """``gan translate``."""
    from gancore_translation.cli import translate

    cli.add_command(translate)


@hookimpl
def register_data(register, register_layout):
    """The embedded tasks by name; paired, unpaired and side-by-side image folders."""
    from gancore_translation import domains

    for name in domains.TASKS:
        register(name, functools.partial(domains.load_task, name))
    register_layout(domains.OWN_LAYOUTS, domains.load_folder, domains.has_domain_folders)
