"""A run directory from a stranger, and resumes that never lose a checkpoint (issue 24).

Every case runs the real `gan` command (click's CliRunner, in-process), as tests/test_hostile.py
does: bad input ends in one ``Error:`` paragraph and exit 1, and nothing outside the run
directory changes however the directory was crafted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gancore.checkpoint import list_checkpoints, load_checkpoint, meta_digest, open_checkpoint, save_checkpoint
from gancore.testing import assert_clean_error as fails  # exit 1, one Error: paragraph, last, no traceback

TINY_GAN = ["--plugin", "gancore-gan", "--set", "gancore-gan.hidden=8", "--set", "gancore-gan.layers=1"]
QUICK = ["--batch-size", "8", "--grid-size", "4", "--no-progress"]


def train(gan, out, name, *args, steps=2, data="ring", plugin=TINY_GAN):
    result = gan("train", *plugin, "--data", data, "--steps", steps, "--out", out, "--name", name, *QUICK, *args)
    assert result.exit_code == 0, result.output
    return Path(out) / name


def clean(result) -> None:
    """Exit 0, or exit 1 with one Error: paragraph (never a traceback)."""
    if result.exit_code != 0:
        fails(result)


def signed(meta: dict) -> dict:
    return {**meta, "meta_sha256": meta_digest(meta)}


def edit_meta(checkpoint: Path, change, sign: bool = True) -> None:
    meta = json.loads((checkpoint / "meta.json").read_text())
    change(meta)
    (checkpoint / "meta.json").write_text(json.dumps(signed(meta) if sign else meta))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    """A finished two-step ring run whose samples, checkpoints and metrics are written at every step."""
    from click.testing import CliRunner

    from gancore.cli import main

    out = tmp_path_factory.mktemp("stranger")
    args = ["train", *TINY_GAN, "--data", "ring", "--steps", "2", "--out", str(out), "--name", "run",
            "--sample-every", "1", "--checkpoint-every", "1", "--log-every", "1", *QUICK]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "run"


# --- 1. no write follows a link; nothing outside the run directory changes --------------------------------

#: Every file (and directory) gancore writes in a run directory, and the fixed temporary names it used to write.
WRITTEN = [".lock", "config.toml", "metrics.jsonl", "warnings.jsonl", "eval.json", "report.html", "samples",
           "samples/step-000004.png", "checkpoints", "checkpoints/step-000004", ".report.html.tmp",
           ".eval.json.tmp", ".config.toml.tmp", ".metrics.jsonl.tmp", "samples/step-000004.tmp.png"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("planted", WRITTEN)
def test_a_planted_link_changes_nothing_outside_the_run(gan, tmp_path, stranger, planted):
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "victim").write_text("precious\n")
    (outside / "dir" / "kept").write_text("kept\n")
    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    link = run / planted
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    is_dir = planted in ("samples", "checkpoints", "checkpoints/step-000004")
    link.symlink_to(outside / "dir" if is_dir else outside / "victim")
    before = snapshot(outside)

    for command in (["train", "--resume", run, "--steps", "4", "--sample-every", "2", "--checkpoint-every", "2",
                     "--log-every", "1", "--no-progress"],
                    ["eval", run, "-n", "200"], ["report", run], ["sample", run, "-n", "4", "-o", run / "s.png"]):
        clean(gan(*command))
        assert snapshot(outside) == before, (planted, command[0])
    # A link to where nothing is yet: nothing is created there either. (gancore may have replaced the link
    # by a file of its own, moving the link itself aside: never writing through it.)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(tmp_path / "nothing-here" if not is_dir else tmp_path / "no-dir")
    for command in (["train", "--resume", run, "--steps", "6", "--no-progress"], ["eval", run, "-n", "200"],
                    ["report", run]):
        clean(gan(*command))
    assert not (tmp_path / "nothing-here").exists() and not (tmp_path / "no-dir").exists()
    assert snapshot(outside) == before


def test_the_report_cannot_be_turned_into_a_pth_file(gan, tmp_path, stranger):
    """The attack of the issue: RUN/.report.html.tmp -> site-packages/x.pth and an import line in config.toml."""
    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    site = tmp_path / "site-packages"
    site.mkdir()
    (run / "config.toml").write_text((run / "config.toml").read_text() + "\n# import os; os.system('touch /tmp/x')\n")
    (run / ".report.html.tmp").symlink_to(site / "x.pth")
    (run / "report.html").symlink_to(site / "y.pth")
    result = gan("report", run)
    assert result.exit_code == 0, result.output
    assert list(site.iterdir()) == []
    assert (run / "report.html").is_file() and not (run / "report.html").is_symlink()
    fails(gan("report", run, "-o", site / "x.pth"), "a report is an HTML file")


def test_a_lock_file_link_is_refused_and_its_target_untouched(gan, tmp_path, stranger):
    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (run / ".lock").unlink()
    (run / ".lock").symlink_to(victim)
    fails(gan("train", "--resume", run, "--steps", "4", "--no-progress"), "cannot lock the run directory",
          "symbolic link")
    assert victim.read_text() == "precious\n"


def test_a_new_run_refuses_a_directory_holding_files_it_did_not_write(gan, tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.jsonl").symlink_to(tmp_path / "victim")
    fails(gan("train", *TINY_GAN, "--data", "ring", "--steps", "1", "--out", tmp_path, "--name", "r", *QUICK),
          f"run directory '{run}' already holds metrics.jsonl", "a new run starts in a new or empty directory")
    assert not (tmp_path / "victim").exists()
    (run / "metrics.jsonl").unlink()
    train(gan, tmp_path, "r", steps=1)  # an empty directory is fine


def test_reading_refuses_links_out_of_the_run(gan, tmp_path, stranger):
    secret = tmp_path / "secret"
    secret.write_text("password = 'hunter2'\n")
    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    (run / "config.toml").rename(run / "config.real")
    (run / "config.toml").symlink_to(secret)
    fails(gan("report", run), f"cannot read '{run / 'config.toml'}'", "symbolic link")
    fails(gan("train", "--resume", run, "--steps", "4"), "symbolic link")
    (run / "config.toml").unlink()
    (run / "config.toml").symlink_to("config.real")  # a link that stays inside is read
    assert gan("report", run).exit_code == 0
    generator = run / "checkpoints" / "step-000002" / "generator.safetensors"
    generator.rename(tmp_path / "g")
    generator.symlink_to(tmp_path / "g")
    result = gan("sample", run, "-o", tmp_path / "s.png")
    assert result.exit_code == 0, result.output
    assert "Skipping step-000002" in result.output and "a symbolic link stands in its place" in result.output


# --- 2. --resume of a checkpoint resumes exactly it; pruning keeps it and newer ones ------------------------

def test_resume_of_a_named_checkpoint_resumes_it_and_keeps_newer_ones(gan, tmp_path):
    run = train(gan, tmp_path, "r", "--checkpoint-every", "1", "--keep", "10", "--sample-every", "0", steps=4)
    newer = load_checkpoint(run / "checkpoints" / "step-000004").generator
    result = gan("train", "--resume", run / "checkpoints" / "step-000002", "--steps", "6", "--keep", "1",
                 "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"Resuming from {run / 'checkpoints' / 'step-000002'} (step 2)" in result.output
    assert "older than step-000003, step-000004: those are kept" in result.output
    names = [p.name for p in (run / "checkpoints").iterdir()]
    assert "step-000002" in names and "step-000006" in names and "step-000005" not in names, names
    replaced = [n for n in names if n.startswith("step-000004.replaced-")]
    assert len(replaced) == 1, names  # the resumed run's step 4 moved the old one aside, not deleted it
    old = load_checkpoint(run / "checkpoints" / replaced[0])
    assert all(torch.equal(old.generator[k], newer[k]) for k in newer)


def test_resume_name_and_out_are_refused_or_honoured(gan, tmp_path):
    run = train(gan, tmp_path, "r")
    fails(gan("train", "--resume", run, "--name", "x", "--steps", "4"), "--name x with --resume",
          "keeps its directory and name ('r')")
    fails(gan("train", "--resume", run, "--out", tmp_path / "elsewhere", "--steps", "4"), "not under --out")
    result = gan("train", "--resume", "r", "--out", tmp_path, "--steps", "4", "--no-progress")  # a name under --out
    assert result.exit_code == 0, result.output


# --- 3. a failed gan sample write keeps the file that was there ---------------------------------------------

def test_a_failed_sample_write_keeps_the_existing_file(gan, tmp_path, stranger, monkeypatch):
    import gancore.files

    existing = tmp_path / "grid.png"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(existing)
    before = existing.read_bytes()

    def full(*args):
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(gancore.files.os, "replace", full)  # the disk fills before the move into place
    fails(gan("sample", stranger, "-n", "4", "-o", existing), f"cannot write '{existing}'", "No space left")
    assert existing.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


# --- 4. meta.json: checksummed and validated ---------------------------------------------------------------

def _state_entry(meta, key, value):
    for entry in meta["state"]["__dict__"]:
        if entry[0] == key:
            entry[1] = value


@pytest.mark.parametrize("change, message", [
    (lambda m: m["config"].update(latent_dim=10 ** 9), "bad value for 'latent_dim': at most 65536"),
    (lambda m: m["config"].update(latent_dim=1e9), "bad value for 'latent_dim'"),
    (lambda m: m["data"].update(shape="abc"), "'data.shape' must be [C, H, W] or [D]"),
    (lambda m: m["data"].update(shape=[3, 10 ** 6, 10 ** 6]), "'data.shape' [3, 1000000, 1000000] is not an image"),
    (lambda m: _state_entry(m, "plugins", {"__dict__": [["ema", 5]]}), "'plugins' is not a table of tensors"),
    (lambda m: _state_entry(m, "sampler", {"__dict__": [["epoch", 0], ["cursor", -10 ** 12]]}),
     "the data sampler's position"),
    (lambda m: m.update(step=-1), "'step' must be a whole number"),
    (lambda m: m.update(family="gancore-wgan"), "says it was written by family 'gancore-wgan'"),
    (lambda m: m.update(regularizers={"r1": float("nan")}), "'regularizers' is not a table of finite weights"),
], ids=["huge-latent", "float-latent", "shape-text", "huge-shape", "plugin-state", "cursor", "step", "family",
        "nan-weight"])
def test_hostile_meta_values_are_refused(gan, tmp_path, stranger, change, message):
    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    checkpoint = run / "checkpoints" / "step-000002"
    (run / "checkpoints" / "step-000001").rename(run / "old-step-1")  # no fallback: the message is the one
    edit_meta(checkpoint, change)
    fails(gan("sample", checkpoint, "-o", tmp_path / "s.png"), message)
    fails(gan("eval", run, "-n", "200"), message)


def test_an_edited_meta_json_fails_its_checksum_and_old_checkpoints_still_load(gan, tmp_path, stranger):
    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    checkpoint = run / "checkpoints" / "step-000002"
    edit_meta(checkpoint, lambda m: m["config"].update(latent_dim=4), sign=False)
    fails(gan("sample", checkpoint, "-o", tmp_path / "s.png"), "meta.json does not match its checksum")
    # Format 1 (before meta.json was checksummed): read, by the same schema.
    edit_meta(checkpoint, lambda m: (m.update(format=1), m["config"].update(latent_dim=8), m.pop("meta_sha256")),
              sign=False)
    assert load_checkpoint(checkpoint).step == 2
    result = gan("sample", checkpoint, "-o", tmp_path / "s.png")
    assert result.exit_code == 0, result.output


def test_int8_weights_re_signed_into_a_checkpoint_are_refused(gan, tmp_path, stranger):
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    checkpoint = run / "checkpoints" / "step-000002"
    weights = checkpoint / "generator.safetensors"
    save_file({k: v.to(torch.int8) for k, v in load_file(str(weights)).items()}, str(weights))
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    edit_meta(checkpoint, lambda m: m["sha256"].update({"generator.safetensors": digest}))
    fails(gan("sample", checkpoint, "-o", tmp_path / "s.png"), "is torch.int8, the model expects torch.float32")


# --- 5. one clear line instead of a traceback -----------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--seed", "4294967296"], "bad value for 'seed': at most 4294967295"),
    (["--steps", str(10 ** 20)], "bad value for 'steps': at most 10000000000"),
    (["--latent-dim", str(10 ** 9)], "bad value for 'latent_dim': at most 65536"),
    (["--image-size", str(10 ** 6)], "bad value for 'image_size': at most 8192"),
    (["--eval-samples", str(10 ** 9)], "bad value for 'eval_samples': at most 1000000"),
    (["--set", "gancore-gan.hidden=100000000"], "generator would have"),
    (["--data", ""], "bad value for 'data': must be a data set name or an image folder, got ''"),
    (["--name", "a\nb"], "bad --name 'a\\nb'"),
    (["--plugin", "gancore-translation"], "'gancore-translation' is a library"),
    (["--plugin", "gp"], "'gp' is a regularizer, not an add-on: add it with --regularizer gp"),
], ids=["seed", "steps", "latent-dim", "image-size", "eval-samples", "width", "empty-data", "newline-name",
        "library", "regularizer-as-addon"])
def test_train_refuses_before_allocating(gan, tmp_path, args, message):
    fails(gan("train", "--plugin", "gancore-gan", "--data", "ring", "--steps", "1", "--out", tmp_path, *args), message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, message", [
    ('plugins = ["gancore-gan"]\nseed = 4294967296\n', "bad value for 'seed': at most 4294967295"),
    ('plugins = ["gancore-gan"]\nout = 5\n', "bad value for 'out': must be a non-empty path"),
    ('plugins = ["gancore-gan"]\ndata_root = 5\n', "bad value for 'data_root': must be a non-empty path"),
    ('plugins = ["gancore-gan"]\ndownload = "yes"\n', "bad value for 'download': must be true or false, got 'yes'"),
    ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nests tables or arrays more than 32 deep"),
], ids=["seed", "out", "data-root", "download", "deep"])
def test_config_files_that_gave_tracebacks(gan, tmp_path, text, message, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the file's own `out` is what is tested: no --out flag over it
    config = tmp_path / "c.toml"
    config.write_text(text)
    fails(gan("train", "--config", config, "--steps", "1"), message)


def test_a_config_with_a_utf8_bom_is_read(gan, tmp_path):
    config = tmp_path / "c.toml"
    config.write_bytes(b"\xef\xbb\xbfplugins = ['gancore-gan']\ndata = 'ring'\nsteps = 1\n")
    result = gan("train", "--config", config, "--out", tmp_path, "--name", "r", *QUICK)
    assert result.exit_code == 0, result.output


def test_a_symlink_loop_in_a_data_folder(gan, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (8, 8), 1).save(folder / "a.png")
    (folder / "loop.png").symlink_to("loop.png")
    fails(gan("train", *TINY_GAN, "--data", folder, "--out", tmp_path), f"cannot read image '{folder / 'loop.png'}'",
          "symbolic link")


@pytest.mark.parametrize("args, message", [
    (["--seed", "100000000000000000000"], "Invalid value for '--seed'"),
    (["-o", "grid.txt"], "bad --output 'grid.txt': gan sample writes a PNG image"),
    (["-o", "grid"], "bad --output 'grid'"),
    (["-n", "2000000"], "bad value for -n: at most 1000000 samples in one grid"),
], ids=["seed", "txt", "no-suffix", "too-many"])
def test_sample_refuses(gan, stranger, args, message):
    fails(gan("sample", stranger, *args), message)


def test_eval_refuses_a_sample_count_that_does_not_fit(gan, stranger):
    fails(gan("eval", stranger, "-n", "100000000"), "bad value for -n: 100000000 samples of shape (2,)",
          "more than gan eval's limit of 8 GiB; use at most -n")


def test_eval_on_a_read_only_output(gan, tmp_path, stranger, monkeypatch):
    import gancore.files

    real_open = os.open

    def read_only(path, flags, *args, **kwargs):  # what a read-only file system does: reads work, creating fails
        if flags & os.O_CREAT:
            raise OSError(30, os.strerror(30), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(gancore.files.os, "open", read_only)
    fails(gan("eval", stranger, "-n", "200", "-o", tmp_path / "e.json"), f"cannot write '{tmp_path / 'e.json'}'",
          "Read-only file system")


def test_report_on_what_runs_and_kills_leave(gan, tmp_path, stranger):
    run = tmp_path / "run"
    shutil.copytree(stranger, run)
    for name in ("step-000001.tmp.png", "step-final.png", ".step-000002.png.0a1b2c.tmp"):
        (run / "samples" / name).write_bytes(b"half a png")
    (run / "eval.json").write_text(json.dumps({"results": {}}))
    assert gan("report", run).exit_code == 0
    (run / "eval.json").write_text(json.dumps({"results": {"fid": {"fid": 2.0, "floor": 0, "n_fake": 2, "n_real": 2}}}))
    assert gan("report", run).exit_code == 0
    (run / "config.toml").write_bytes((run / "config.toml").read_bytes() + b"\n# \xff\xfe\n")
    with (run / "metrics.jsonl").open("ab") as handle:
        handle.write(b'{"step": "x", "loss": 1}\n{"step": 1e400}\n\xff\xfe\n')
    result = gan("report", run)
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text()
    assert "step 1<" in page and "step-final" not in page


def test_new_plugin_with_a_very_long_name(gan, tmp_path):
    fails(gan("new-plugin", "a" * 300, "--dir", tmp_path), "bad plugin name", "(300 characters)", "at most 64")
    assert list(tmp_path.iterdir()) == []


def test_sample_and_eval_refuse_a_checkpoint_of_another_family_as_resume_does(gan, tmp_path):
    run = train(gan, tmp_path, "gan")
    other = train(gan, tmp_path, "wgan", plugin=["--plugin", "gancore-wgan", "--set", "gancore-wgan.width=8",
                                                 "--set", "gancore-wgan.hidden=8"])
    shutil.rmtree(run / "checkpoints" / "step-000002")
    shutil.copytree(other / "checkpoints" / "step-000002", run / "checkpoints" / "step-000003")
    edit_meta(run / "checkpoints" / "step-000003", lambda m: m.update(step=3))
    message = "was written by family 'gancore-wgan', but run"
    fails(gan("sample", run, "-o", tmp_path / "s.png"), message)
    fails(gan("eval", run, "-n", "200"), message)
    fails(gan("train", "--resume", run, "--steps", "5"), "was written by family 'gancore-wgan'")


# --- 8. a checkpoint pruned while it is read ------------------------------------------------------------------

def test_a_checkpoint_pruned_while_read_is_not_damage(tmp_path, monkeypatch):
    import gancore.checkpoint as C

    root = tmp_path / "run" / "checkpoints"
    weights = {"w": torch.ones(2)}
    save_checkpoint(root, 1, weights, weights, {}, {})
    real = C.load_checkpoint
    calls = []

    def racing(path, map_location="cpu"):
        if not calls:  # a run still training writes step 2 and prunes step 1 (--keep 1) meanwhile
            save_checkpoint(root, 2, weights, weights, {}, {}, keep=1)
        calls.append(Path(path).name)
        return real(path, map_location)

    monkeypatch.setattr(C, "load_checkpoint", racing)
    found = open_checkpoint(tmp_path / "run")
    assert found.step == 2 and calls == ["step-000001", "step-000002"]
    assert [p.name for p in list_checkpoints(root)] == ["step-000002"]


# --- 9. large work streams, with progress -----------------------------------------------------------------------

def test_a_large_grid_is_streamed_with_the_pixels_of_a_whole_one(gan, tmp_path):
    import torchvision.utils as vutils

    from gancore.data import samples_to_image
    from gancore.generator import samples_of
    from gancore.grids import BATCH
    from gancore.run.rundir import load_generator
    from gancore.plugins import Registry

    run = train(gan, tmp_path, "d", "--sample-every", "0", data="digits")
    n = 3 * BATCH + 7  # several batches and a short last row
    result = gan("sample", run, "-n", n, "-o", tmp_path / "big.png", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert f"Sampling to {tmp_path / 'big.png'}: {n}/{n} (100%)" in result.output
    generator, spec, _, _ = load_generator(Registry.discover(), run)
    rng = torch.Generator().manual_seed(3)
    with torch.no_grad():  # the same draws, in the same batches, rendered whole
        columns = int(n ** 0.5)
        per_batch = (BATCH // columns) * columns
        samples = torch.cat([samples_of(generator(generator.latent(min(per_batch, n - s), rng=rng)))
                             for s in range(0, n, per_batch)])
    vutils.save_image(samples_to_image(samples, spec), str(tmp_path / "whole.png"))
    streamed = np.asarray(Image.open(tmp_path / "big.png"))
    whole = np.asarray(Image.open(tmp_path / "whole.png"))
    assert streamed.shape == whole.shape and (streamed == whole).all()


def test_a_small_grid_is_what_it_always_was(gan, tmp_path):
    import torchvision.utils as vutils

    from gancore.data import samples_to_image
    from gancore.generator import samples_of
    from gancore.plugins import Registry
    from gancore.run.rundir import load_generator

    run = train(gan, tmp_path, "d", "--sample-every", "0", data="digits")
    for n in (1, 2, 5, 64):
        result = gan("sample", run, "-n", n, "-o", tmp_path / f"s{n}.png")
        assert result.exit_code == 0, result.output
        generator, spec, _, _ = load_generator(Registry.discover(), run)
        with torch.no_grad():
            samples = samples_of(generator(generator.latent(n, rng=torch.Generator().manual_seed(0))))
        vutils.save_image(samples_to_image(samples, spec), str(tmp_path / f"w{n}.png"))
        assert (np.asarray(Image.open(tmp_path / f"s{n}.png")) == np.asarray(Image.open(tmp_path / f"w{n}.png"))).all()


def test_eval_shows_progress(gan, stranger):
    result = gan("eval", stranger, "-n", "1200")
    assert result.exit_code == 0, result.output
    assert "Generating samples: 1200/1200 (100%)" in result.output


# --- 10. --download never reads a pickle left in the data root ----------------------------------------------------

def _idx(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_download_never_reads_a_processed_pickle(gan, tmp_path, monkeypatch):
    import torchvision.datasets.utils as tvu

    root = tmp_path / "data"
    (root / "MNIST" / "processed").mkdir(parents=True)
    (root / "MNIST" / "processed" / "training.pt").write_bytes(b"\x80\x04 a pickle")
    (root / "MNIST" / "processed" / "test.pt").write_bytes(b"\x80\x04 a pickle")
    fetched = []

    def download(url, download_root, filename, md5):
        # No network in tests: the fetch writes what the mirror serves (gzipped IDX files), nothing else.
        fetched.append(filename)
        images = np.full((4, 28, 28), 7, np.uint8) if "images" in filename else np.arange(4, dtype=np.uint8)
        Path(download_root, filename).write_bytes(gzip.compress(_idx(images)))

    monkeypatch.setattr(tvu, "download_and_extract_archive", download)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load was called"))
    result = gan("train", *TINY_GAN, "--data", "mnist", "--data-root", root, "--download", "--steps", "1",
                 "--batch-size", "2", "--out", tmp_path, "--name", "r", "--no-progress", "--grid-size", "1")
    assert result.exit_code == 0, result.output
    assert sorted(fetched) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


# --- 7. gan translate never makes a path of a domain name ---------------------------------------------------------

def test_translate_domain_names_are_never_paths(gan, tmp_path):
    fixtures = Path(__file__).resolve().parents[1] / "plugins" / "gancore-translation" / "tests" / "fixtures"
    run = tmp_path / "stargan"
    shutil.copytree(fixtures / "runs-before-the-move" / "stargan", run)
    checkpoint = run / "checkpoints" / "step-000002"
    hostile = ["x/../../../escaped", "..", "rot180", "a\nb"]
    def hostile_names(meta):
        meta["data"].update(class_names=hostile)
        # Written before StarGAN's default generator changed (2026-12-07): its options name the old one.
        meta["config"]["options"]["gancore-stargan"].update(condition="shift")

    edit_meta(checkpoint, hostile_names, sign=False)  # format 1: no meta checksum
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "digit.png")
    out = tmp_path / "deep" / "er" / "out"
    result = gan("translate", run, tmp_path / "digit.png", "--to", "all", "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["digit-domain0.png", "digit-domain1.png", "digit-domain3.png",
                                                     "digit-rot180.png"]
    assert sorted(p.name for p in tmp_path.rglob("*escaped*")) == []


def test_plugin_state_that_does_not_fit_the_generator(gan, tmp_path):
    from safetensors.torch import load_file, save_file

    run = train(gan, tmp_path, "r", "--plugin", "ema", "--sample-every", "0")
    checkpoint = run / "checkpoints" / "step-000002"
    state = load_file(str(checkpoint / "state.safetensors"))
    ema = [key for key in state if key.startswith("state/plugins/ema/")]
    assert ema
    state[ema[0]] = torch.zeros(1)
    save_file(state, str(checkpoint / "state.safetensors"))
    digest = hashlib.sha256((checkpoint / "state.safetensors").read_bytes()).hexdigest()
    edit_meta(checkpoint, lambda m: m["sha256"].update({"state.safetensors": digest}))
    fails(gan("sample", run, "-o", tmp_path / "s.png"), "(ema) tensor", "has shape (1,), the model expects")
    result = gan("sample", run, "-o", tmp_path / "s.png", "--trained-weights")
    assert result.exit_code == 0, result.output
