"""The streaming data path: same batches as in memory, exact resume, the auto rule, clear errors."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gancore.data.stream
from gancore.config import make_config
from gancore.data import Dataset, Sampler, load_data
from gancore.errors import ConfigError, DataError
from gancore.data.stream import Batches, StreamingDataset

# A constant rate: runs here are trained further on resume (7 -> 14 steps), and a linear decay ends at each
# run's own last step.
TINY_GAN = ["--plugin", "gancore-gan", "--set", "gancore-gan.hidden=16", "--set", "gancore-gan.layers=1",
            "--lr-schedule", "constant"]
WEIGHTS = ("generator.safetensors", "discriminator.safetensors", "state.safetensors")


@pytest.fixture(autouse=True)
def _deterministic_off_afterwards():
    yield
    torch.use_deterministic_algorithms(False)


def image_folder(root, classes=("cats", "dogs"), per_class=(9, 14), mode="RGB", seed=0):
    """Class subfolders of noise PNGs of assorted sizes (``--image-size`` makes them one size)."""
    rng = np.random.default_rng(seed)
    for name, count in zip(classes, per_class):
        (root / name).mkdir(parents=True)
        for i in range(count):
            size = (10 + i % 3, 9 + i % 4)
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / name / f"{i:03d}.png")
    return root


def take(batches, n):
    return [next(batches) for _ in range(n)]


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_equal_in_memory_batches(tmp_path, workers):
    folder = image_folder(tmp_path / "data")
    memory = load_data(str(folder), image_size=8, mode="memory")
    streamed = load_data(str(folder), image_size=8, mode="stream")
    assert isinstance(memory, Dataset) and isinstance(streamed, StreamingDataset)
    assert streamed.spec == memory.spec and len(streamed) == len(memory) == 23
    for rank in (0, 1):  # two processes' shards; 23 samples, global batch 6: epochs end after 3 batches
        a = Batches(memory, Sampler(23, 3, seed=5, rank=rank, world=2))
        b = Batches(streamed, Sampler(23, 3, seed=5, rank=rank, world=2), workers=workers)
        try:
            for one, other in zip(take(a, 8), take(b, 8)):
                assert torch.equal(one.x, other.x) and torch.equal(one.labels, other.labels)
                assert other.x.dtype == torch.float32 and other.x.min() >= -1 and other.x.max() <= 1
            assert b.state_dict() == a.state_dict() == {"epoch": 2, "cursor": 12}  # consumed, not prefetched
        finally:
            b.close()
    grid = torch.tensor([4, 0, 22])
    assert torch.equal(streamed.batch(grid).x, memory.batch(grid).x)
    assert torch.equal(torch.cat(list(streamed.images(batch=5, workers=workers))), memory.batch(torch.arange(23)).x)


def test_a_flat_folder_streams_unlabelled_at_its_own_size(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (5, 7), dtype=np.uint8), "L").save(tmp_path / f"{i}.png")
    memory, streamed = (load_data(str(tmp_path), mode=mode) for mode in ("memory", "stream"))
    assert streamed.spec == memory.spec and streamed.spec.shape == (1, 5, 7) and streamed.labels is None
    one, other = next(Batches(memory, Sampler(6, 4, seed=2))), next(Batches(streamed, Sampler(6, 4, seed=2), 0))
    assert torch.equal(one.x, other.x) and other.labels is None
    Image.new("L", (9, 5)).save(tmp_path / "6.png")
    with pytest.raises(DataError, match="6.png' is 9x5 but .*0.png' is 7x5; pass --image-size N"):
        load_data(str(tmp_path), mode="stream").decode(range(7))


def test_restoring_the_sampler_restarts_the_stream_exactly(tmp_path):
    streamed = load_data(str(image_folder(tmp_path / "data")), image_size=8, mode="stream")
    reference = Batches(streamed, Sampler(23, 4, seed=1), workers=2)
    resumed = Batches(streamed, Sampler(23, 4, seed=1), workers=2)
    try:
        expected = take(reference, 9)
        take(resumed, 2)  # workers have read ahead of these by now
        resumed.load_state_dict({"epoch": 0, "cursor": 16})  # as after batch 4
        got = take(resumed, 5)
        assert all(torch.equal(a.x, b.x) for a, b in zip(expected[4:], got))
    finally:
        reference.close()
        resumed.close()
    assert not multiprocessing.active_children()


def test_auto_streams_large_single_domain_folders_only(tmp_path, monkeypatch):
    folder = image_folder(tmp_path / "data", mode="L")
    assert isinstance(load_data(str(folder), image_size=8), Dataset)  # 23 * 64 bytes, far below 1 GiB
    monkeypatch.setattr(gancore.data.stream, "STREAM_ABOVE_BYTES", 23 * 64 - 1)
    assert isinstance(load_data(str(folder), image_size=8), StreamingDataset)
    assert isinstance(load_data(str(folder), image_size=8, mode="memory"), Dataset)
    monkeypatch.setattr(gancore.data.stream, "STREAM_ABOVE_BYTES", 0)
    assert isinstance(load_data("digits"), Dataset)  # embedded data stays in memory whatever its size
    with pytest.raises(DataError, match="--data-mode stream reads an image folder.*'digits'"):
        load_data("digits", mode="stream")
    # Two-domain folders (gancore-translation's layouts) stay in memory: its tests check them.


def test_a_bad_image_in_a_streamed_folder_is_a_data_error(tmp_path):
    folder = image_folder(tmp_path / "data")
    good = (folder / "dogs" / "003.png").read_bytes()
    (folder / "dogs" / "003.png").write_bytes(good[: len(good) // 2])
    streamed = load_data(str(folder), image_size=8, mode="stream")  # only the first image is read up front
    batches = Batches(streamed, Sampler(23, 23, seed=0), workers=1)
    with pytest.raises(DataError, match="cannot read image .*003.png") as caught:
        next(batches)
    assert "Traceback" not in str(caught.value)
    (folder / "dogs" / "003.png").write_bytes(good)
    Image.new("L", (8, 8)).save(folder / "dogs" / "004.png")
    with pytest.raises(DataError, match="004.png' has 1 channel.*000.png' has 3"):
        next(Batches(streamed, Sampler(23, 23, seed=0), workers=0))


def test_data_mode_and_workers_are_validated(gan, tmp_path):
    assert make_config({"data_workers": 0}).data_workers == 0 and make_config({}).data_workers == 2
    for value in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="'data_workers'"):
            make_config({"data_workers": value})
    with pytest.raises(ConfigError, match="'data_mode'"):
        make_config({"data_mode": "disk"})
    result = gan("train", *TINY_GAN, "--data", "ring", "--data-workers", "-1", "--out", tmp_path)
    assert result.exit_code == 1 and "data_workers" in result.output and "Traceback" not in result.output
    result = gan("train", *TINY_GAN, "--data", "ring", "--data-mode", "stream", "--out", tmp_path)
    assert result.exit_code == 1 and "--data-mode stream" in result.output and "Traceback" not in result.output


def train(gan, folder, out, name, steps, *extra):
    result = gan("train", *TINY_GAN, "--data", folder, "--image-size", 8, "--steps", steps, "--batch-size", 4,
                 "--out", out, "--name", name, "--log-every", 3, "--sample-every", 0, "--grid-size", 4,
                 "--deterministic", "--no-progress", *extra)
    assert result.exit_code == 0, result.output
    return out / name / "checkpoints" / f"step-{steps:06d}"


def same_bytes(a, b):
    for name in WEIGHTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs"


def test_gan_train_streams_a_folder_and_resumes_byte_identically(gan, tmp_path):
    folder = image_folder(tmp_path / "data")
    # 23 images, batch 4: 5 batches an epoch; 14 steps cross two epochs, the resume lands mid-epoch.
    straight = train(gan, folder, tmp_path, "straight", 14, "--data-mode", "stream", "--data-workers", 2)
    first = gan("train", *TINY_GAN, "--data", folder, "--image-size", 8, "--steps", 7, "--batch-size", 4,
                "--out", tmp_path, "--name", "split", "--log-every", 3, "--sample-every", 0, "--grid-size", 4,
                "--deterministic", "--no-progress", "--data-mode", "stream", "--data-workers", 2)
    assert first.exit_code == 0 and "streamed by 2 workers" in first.output, first.output
    assert not multiprocessing.active_children()  # the finished run ended its workers
    resumed = gan("train", "--resume", tmp_path / "split", "--steps", 14, "--no-progress")
    assert resumed.exit_code == 0 and "Resuming from" in resumed.output, resumed.output
    same_bytes(straight, tmp_path / "split" / "checkpoints" / "step-000014")
    # The same batches in memory train the same weights, so a run may change its data path on resume.
    same_bytes(straight, train(gan, folder, tmp_path, "memory", 14, "--data-mode", "memory"))
    train(gan, folder, tmp_path, "switched", 7, "--data-mode", "memory")
    switched = gan("train", "--resume", tmp_path / "switched", "--steps", 14, "--data-mode", "stream",
                   "--data-workers", 1, "--no-progress")
    assert switched.exit_code == 0 and "streamed by 1 worker)" in switched.output, switched.output
    same_bytes(straight, tmp_path / "switched" / "checkpoints" / "step-000014")


def test_a_bad_image_stops_gan_train_with_a_message(gan, tmp_path):
    folder = image_folder(tmp_path / "data")
    (folder / "dogs" / "005.png").write_bytes(b"not a png")
    result = gan("train", *TINY_GAN, "--data", folder, "--image-size", 8, "--steps", 20, "--batch-size", 4,
                 "--out", tmp_path, "--name", "bad", "--no-progress", "--data-mode", "stream")
    assert result.exit_code == 1 and "cannot read image" in result.output and "005.png" in result.output
    assert "Traceback" not in result.output


def test_inception_statistics_read_a_streamed_folder_batch_by_batch(tmp_path):
    from gancore.evaluation import inception_outputs

    class Net:  # stands in for Inception: "features" of the uint8 RGB input it is given
        def __init__(self):
            self.sizes = []

        def _torch_fidelity_forward(self, x):
            self.sizes.append(len(x))
            flat = x.double().flatten(1)
            return flat[:, :5], flat[:, 5:9]

    folder = image_folder(tmp_path / "data")
    memory = load_data(str(folder), image_size=8, mode="memory")
    streamed, net = load_data(str(folder), image_size=8, mode="stream"), Net()
    got = inception_outputs(net, streamed, batch=10)
    expected = inception_outputs(Net(), memory.batch(torch.arange(len(memory))).x, batch=10)
    assert net.sizes == [10, 10, 3]
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def _two_ranks_stream_and_memory(out, folder):
    """Runs in each of two forked processes: the same run streamed, then in memory."""
    from accelerate.state import AcceleratorState, PartialState
    from safetensors.torch import save_file

    from gancore.checkpoint import module_tensors
    from gancore.run.launch import train_run

    torch.set_num_threads(1)
    for mode in ("stream", "memory"):
        AcceleratorState._reset_state(reset_partial_state=True)
        PartialState._reset_state()
        user = {"plugins": ["gancore-gan"], "options": {"gancore-gan": {"hidden": 16, "layers": 1}},
                "data": folder, "image_size": 8, "data_mode": mode, "data_workers": 1, "steps": 7,
                "batch_size": 2, "seed": 3, "log_every": 7, "sample_every": 0, "checkpoint_every": 0,
                "grid_size": 4, "device": "cpu", "out": out, "name": mode}
        trainer = train_run(user, progress=False)
        rank = trainer.acc.process_index
        save_file({f"G.{k}": v for k, v in module_tensors(trainer.generator).items()},
                  f"{out}/{mode}{rank}.safetensors")
        (Path(out) / f"{mode}{rank}.json").write_text(json.dumps(trainer.sampler.state_dict()))


def test_two_processes_stream_their_shards_like_memory(tmp_path):
    from accelerate import debug_launcher
    from safetensors.torch import load_file

    folder = image_folder(tmp_path / "data")
    debug_launcher(_two_ranks_stream_and_memory, args=(str(tmp_path), str(folder)), num_processes=2)
    weights = {name: load_file(str(tmp_path / f"{name}.safetensors"))
               for name in ("stream0", "stream1", "memory0", "memory1")}
    for name in ("stream1", "memory0", "memory1"):
        assert weights[name].keys() == weights["stream0"].keys()
        assert all(torch.equal(weights[name][k], weights["stream0"][k]) for k in weights[name]), name
    # 23 images, global batch 4: 5 batches an epoch, so 7 steps end at epoch 1, cursor 8.
    states = {json.loads((tmp_path / f"{name}.json").read_text()) == {"epoch": 1, "cursor": 8} for name in weights}
    assert states == {True}


def test_a_dead_worker_is_a_data_error(tmp_path, monkeypatch):
    streamed = load_data(str(image_folder(tmp_path / "data")), image_size=8, mode="stream")
    monkeypatch.setattr(StreamingDataset, "__getitem__", _die)
    with pytest.raises(DataError, match="DataLoader worker .*failed.*--data-workers 0"):
        next(Batches(streamed, Sampler(23, 4, seed=0), workers=1))


def _die(self, indices):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_ctrl_c_to_the_process_group_checkpoints_and_ends_the_workers(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = image_folder(tmp_path / "data")
    command = [sys.executable, "-m", "gancore.cli", "train", *TINY_GAN, "--data", str(folder), "--image-size", "8",
               "--data-mode", "stream", "--data-workers", "2", "--n-critic", "3", "--steps", "100000",
               "--batch-size", "4", "--log-every", "5", "--sample-every", "0", "--checkpoint-every", "0",
               "--grid-size", "4", "--out", str(tmp_path), "--name", "run", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # A session of its own: the signal goes to the trainer and its DataLoader workers alike, as Ctrl-C does.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    metrics, deadline = tmp_path / "run" / "metrics.jsonl", time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.killpg(proc.pid, signal.SIGINT)
    stderr = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 128 + signal.SIGINT and "Stopped by SIGINT" in stderr, stderr
    assert "Traceback" not in stderr and "DataLoader" not in stderr
    assert list((tmp_path / "run" / "checkpoints").glob("step-*"))
    with pytest.raises(ProcessLookupError):  # no worker left behind in the group
        for _ in range(50):
            os.killpg(proc.pid, 0)
            time.sleep(0.1)


def test_gan_eval_reads_the_real_images_of_a_streamed_run_from_the_stream(gan, tmp_path, monkeypatch, registry):
    from gancore import evaluation

    folder = image_folder(tmp_path / "data")
    train(gan, folder, tmp_path, "run", 2, "--data-mode", "stream")
    seen = {}

    def evaluate(generator, spec, metrics, n, seed, inception_weights, real, log, **options):
        seen["real"] = real()
        return {"results": {}, "provenance": {}}

    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    evaluation.evaluate_checkpoint(registry, tmp_path / "run")
    assert isinstance(seen["real"], StreamingDataset) and len(seen["real"]) == 23
