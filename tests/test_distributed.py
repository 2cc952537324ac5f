"""Two real CPU processes (gloo) train DCGAN with a gradient penalty.

``accelerate.debug_launcher`` forks two processes that each run what
``torchrun --nproc_per_node 2 -m gancore.cli train ...`` runs (``train_run``).
The test checks that DDP kept both replicas identical, that only the main
process wrote the run directory, and that the run matches a single-process
run at the same global batch.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from gancore.checkpoint import module_tensors

STEPS = 4
PER_PROCESS_BATCH = 32


def settings(out, name, batch_size):
    # norm=layer in D keeps each sample's score independent of the rest of
    # its batch, so one process at batch 2B and two at B compute the same
    # loss; G's BatchNorm still sees each process's own fakes (no SyncBN on CPU).
    return {"plugins": ["gancore-dcgan"], "regularizers": {"gp": 10.0}, "data": "digits", "steps": STEPS,
            "batch_size": batch_size, "seed": 3, "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
            "grid_size": 4, "out": str(out), "name": name, "device": "cpu",
            "options": {"gancore-dcgan": {"width": 16, "norm": "layer"}}}


def train_on_each_rank(out):
    """Runs in each forked process."""
    from accelerate.state import AcceleratorState, PartialState

    # The parent (pytest) may already hold a one-process Accelerate state.
    AcceleratorState._reset_state(reset_partial_state=True)
    PartialState._reset_state()
    torch.set_num_threads(1)
    from gancore.run.launch import train_run

    user = settings(out, None, PER_PROCESS_BATCH)
    user.pop("name")  # the default name holds the time of day: the processes must agree on one
    trainer = train_run(user, progress=False)
    rank = trainer.acc.process_index
    save_file({**{f"G.{k}": v for k, v in module_tensors(trainer.generator).items()},
               **{f"D.{k}": v for k, v in module_tensors(trainer.discriminator).items()}},
              os.path.join(out, f"rank{rank}.safetensors"))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as handle:
        json.dump({"world": trainer.acc.num_processes, "run_dir": str(trainer.run_dir),
                   "sampler": trainer.sampler.state_dict(), "shard": [trainer.sampler.rank, trainer.sampler.world]},
                  handle)


def parameters(tensors, model):
    return {k: v for k, v in tensors.items() if k.startswith(model) and "running_" not in k
            and "num_batches" not in k}


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    from accelerate import debug_launcher

    out = tmp_path_factory.mktemp("ddp")
    debug_launcher(train_on_each_rank, args=(str(out),), num_processes=2)
    return out


def test_both_ranks_hold_identical_weights_and_one_run_directory(two_process_run):
    out = two_process_run
    infos = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [info["world"] for info in infos] == [2, 2]
    assert [info["shard"] for info in infos] == [[0, 2], [1, 2]]
    assert infos[0]["run_dir"] == infos[1]["run_dir"]
    assert infos[0]["sampler"] == infos[1]["sampler"]
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1 and str(runs[0]) == infos[0]["run_dir"]
    assert [p.name for p in (runs[0] / "checkpoints").iterdir()] == [f"step-{STEPS:06d}"]
    rows = (runs[0] / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == STEPS  # written once, by the main process
    rank0, rank1 = (load_file(str(out / f"rank{r}.safetensors")) for r in (0, 1))
    for model in ("G.", "D."):
        params0, params1 = parameters(rank0, model), parameters(rank1, model)
        assert params0 and params0.keys() == params1.keys()
        for key in params0:
            assert torch.equal(params0[key], params1[key]), key


def single_process(out, name, noise_seed=None):
    """Initial and final weights of a one-process run at the two-process run's global batch.

    ``noise_seed`` redraws the noise (latents, penalty interpolation) while
    keeping the initial weights and the real batches.
    """
    from accelerate.utils import set_seed

    from gancore.plugins import Registry
    from gancore.run.rundir import resolve
    from gancore.trainer import Trainer

    config, run, dataset = resolve(Registry.discover(), settings(out, name, 2 * PER_PROCESS_BATCH))
    trainer = Trainer(config, run, dataset, out / name, progress=False)
    initial = {**{f"G.{k}": v.clone() for k, v in module_tensors(trainer.generator).items()},
               **{f"D.{k}": v.clone() for k, v in module_tensors(trainer.discriminator).items()}}
    if noise_seed is not None:
        set_seed(noise_seed)
    trainer.fit()
    final = {**{f"G.{k}": v for k, v in module_tensors(trainer.generator).items()},
             **{f"D.{k}": v for k, v in module_tensors(trainer.discriminator).items()}}
    return initial, final, trainer.sampler.state_dict()


def distance(a, b, model):
    a, b = parameters(a, model), parameters(b, model)
    return float(torch.cat([(a[k] - b[k]).flatten() for k in a]).norm())


def test_two_processes_match_one_process_at_the_same_global_batch(two_process_run, tmp_path):
    initial, single, sampler = single_process(tmp_path, "one")
    _, other_noise, _ = single_process(tmp_path, "two", noise_seed=12345)
    ddp = load_file(str(two_process_run / "rank0.safetensors"))
    assert sampler == json.loads((two_process_run / "rank0.json").read_text())["sampler"]
    for model in ("G.", "D."):
        # Both runs start from the same weights and see the same real images;
        # only the noise draws (and G's per-process BatchNorm statistics)
        # differ. So the two-process run must be as close to the one-process
        # run as a one-process run with other noise is: a lost gradient
        # average, a wrong data shard or a wrong batch size moves it further.
        moved = distance(single, initial, model)
        noise_floor = distance(other_noise, single, model)
        apart = distance(ddp, single, model)
        print(model, moved, noise_floor, apart)
        assert 0 < noise_floor and 0 < moved
        assert apart < 2 * noise_floor, (model, apart, noise_floor)
        if model == "D.":  # the real images, the same in both runs, dominate D's updates
            # (the noise floor is ~0.32 of D's movement: one latent draw per step feeds both updates)
            assert apart < 0.4 * moved, (model, apart, moved)


def test_the_shards_of_two_processes_are_the_global_batch_of_one():
    from gancore.data import Sampler

    one = Sampler(100, 2 * 8, seed=5)
    ranks = [Sampler(100, 8, seed=5, rank=r, world=2) for r in (0, 1)]
    for _ in range(15):  # across epoch boundaries
        assert torch.equal(one.next_indices(), torch.cat([s.next_indices() for s in ranks]))
