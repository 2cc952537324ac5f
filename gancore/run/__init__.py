"""From flags to a running trainer: declare, resolve, then build.

The modules in the order a ``gan train`` passes through them:

* :mod:`gancore.run.flags`: command-line flags and ``--config`` files to the user's settings
  (``gan train``'s options are generated from :class:`gancore.config.TrainConfig`'s fields);
* :mod:`gancore.run.resolve`: one pass from gancore's defaults, the data kind's, the family's and
  its add-ons' declarations, the config file and the flags to a frozen run specification that
  remembers which layer set each value (``gan train --dry-run`` prints it); then the plugins are
  created once with their resolved options;
* :mod:`gancore.run.rundir`: the run directory (its name, the lock, creation) and loading a run's
  generator;
* :mod:`gancore.run.resume`: which checkpoint a ``--resume`` continues and what it restores;
* :mod:`gancore.run.launch`: ``train_run``, which ties them together and starts the trainer.

Floors: ``flags``, ``resolve``, ``rundir`` and ``resume`` sit on :mod:`gancore.data`,
:mod:`gancore.plugins` and :mod:`gancore.checkpoint` (``rundir.load_generator`` also serves
``gan eval``, the export and :func:`gancore.load`); ``launch`` alone sits on
:mod:`gancore.trainer`, and only the CLI sits on ``launch``.
"""
