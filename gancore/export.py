"""``gan export`` and ``gan push``: a run's generator as a self-contained bundle, on disk or on the Hub.

:func:`export_run` writes the bundle described in :mod:`gancore.bundle` (the
model card with :mod:`huggingface_hub`'s ``ModelCard``/``ModelCardData``,
optionally an ONNX graph checked with ONNX Runtime) into a fresh folder that
appears only when complete; :func:`upload_plan` and :func:`push` hand it to
``huggingface_hub``'s commit API.

Optional extras: ``gancore[hub]`` (the model card, ``gan push``) and
``gancore[onnx]`` (``--format onnx``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from safetensors import SafetensorError

from gancore import __version__
from gancore import bundle as B
from gancore.checkpoint import module_tensors, write_error
from gancore.errors import CheckpointError, ConfigError
from gancore.generator import samples_of

FORMATS = ("safetensors", "onnx")
GRID_SAMPLES = 64
ONNX_TOLERANCE = 1e-4
ONNX_OPSET = 18  # the lowest the torch.export-based exporter implements


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise ConfigError("the model card and gan push need huggingface_hub: pip install 'gancore[hub]'.") from None
    return huggingface_hub


# --- model card ---------------------------------------------------------------------------------

def _eval_summary(record: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(name, value)`` of an ``eval.json``'s headline numbers (``modes``: classes covered, or ring modes)."""
    out = []
    for metric, result in dict(record.get("results", {})).items():
        if not isinstance(result, Mapping):
            continue
        keys = {"modes": ["classes_covered" if "classes_covered" in result else "modes"],
                "pr": ["precision", "recall"], "dc": ["density", "coverage"]}.get(metric, [metric])
        for key in keys:
            value = result.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                out.append((key, float(value)))
    return out


def model_card(info: Mapping[str, Any], eval_record: Mapping[str, Any] | None, has_grid: bool):
    """The bundle's ``README.md`` as a ``huggingface_hub.ModelCard``: Hub metadata, then the text."""
    hub = _hub()
    spec, config = info["data"], info["config"]
    data = Path(str(spec["name"])).name
    is_image = len(spec["shape"]) == 3
    name = f"{info['family']}-{data}"
    results = []
    if eval_record is not None:
        for metric, value in _eval_summary(eval_record):
            results.append(hub.EvalResult(task_type="unconditional-image-generation" if is_image else "other",
                                          dataset_type=data, dataset_name=data, metric_type=metric,
                                          metric_value=value, verified=False))
    card_data = hub.ModelCardData(
        library_name="gancore", model_name=name, tags=["gancore", "gan", info["family"],
                                                       *sorted(config.get("regularizers", {}) or {})],
        pipeline_tag="unconditional-image-generation" if is_image and not info["conditional"] else None,
        eval_results=results or None)
    regularizers = ", ".join(f"{k}={v}" for k, v in (config.get("regularizers") or {}).items()) or "none"
    classes = f", {spec['num_classes']} classes" if spec["num_classes"] else ""
    weights = ("the sampling weights an add-on kept (e.g. EMA)" if info["weights"] == "sampling"
               else "the trained weights")
    versions = ", ".join(f"{k} {v}" for k, v in sorted((info.get("plugin_versions") or {}).items())) or "unknown"
    lines = [
        f"# {name}",
        "",
        f"A {info['family']} generator trained with [gancore](https://pypi.org/project/gancore/) on "
        f"`{spec['name']}` (samples of shape {tuple(spec['shape'])}{classes}) for {info['step']} steps.",
        "",
        f"- plugins: {', '.join(info['plugins'])}; regularizers: {regularizers}",
        f"- weights: {weights} of checkpoint `{info['source']['checkpoint']}`",
        f"- exported by gancore {__version__}; plugin versions: {versions}",
        "",
    ]
    if has_grid:
        lines += ["![samples](samples.png)", "", f"{GRID_SAMPLES} samples, latent seed 0.", ""]
    lines += ["## Evaluation", ""]
    if eval_record is None:
        lines += ["Not evaluated (the run had no `eval.json`; `gan eval RUN` writes one).", ""]
    else:
        prov = dict(eval_record.get("provenance", {}))
        extractor = prov.get("extractor", {})
        extractor = extractor if isinstance(extractor, Mapping) else {"name": str(extractor)}
        weights_hash = f" (weights SHA-256 `{extractor['weights_sha256']}`)" if extractor.get("weights_sha256") else ""
        lines += ["| metric | value |", "| --- | --- |"]
        lines += [f"| {metric} | {value:.6g} |" for metric, value in _eval_summary(eval_record)]
        # eval.json names the generator it measured ("ema", "trained"); records from before did not.
        sampled = prov.get("generator") if isinstance(prov.get("generator"), str) else ""
        sampled = f" ({sampled} generator)" if sampled and " " not in sampled else ""
        lines += ["", f"Measured by `gan eval` on {prov.get('n_fake')} samples (seed {prov.get('seed')}) of step "
                  f"{prov.get('step')}{sampled}, extractor `{extractor.get('name')}`{weights_hash}; the full record "
                  "with its provenance is `eval.json`.", ""]
        if prov.get("step") is not None and prov.get("step") != info["step"]:
            lines += [f"Note: evaluated at step {prov.get('step')}, exported at step {info['step']}.", ""]
    labels_note = "  # labels=[...] for chosen classes" if info["conditional"] else ""
    packages = " ".join(p for p in info.get("distributions", ()) if p != "gancore")
    lines += ["## Use", "", "```python", "import gancore", "", 'generator = gancore.load("path/to/this/folder")',
              f"samples = generator.sample(16, seed=0){labels_note}", "```", "",
              f"Loading needs gancore and the plugins above installed (`pip install gancore {packages}`)."]
    if "onnx" in info:
        lines += ["", f"`generator.onnx` takes {', '.join(info['onnx']['inputs'])} and returns `sample`; it matched "
                  f"PyTorch within {info['onnx']['max_abs_diff']:.2g} on {info['onnx']['checked_samples']} samples."]
    return hub.ModelCard("---\n" + card_data.to_yaml() + "\n---\n\n" + "\n".join(lines) + "\n")


# --- ONNX -----------------------------------------------------------------------------------------

class _Positional(torch.nn.Module):
    """The generator with its latent as positional tensors (ONNX graphs take named tensors, not dicts)."""

    def __init__(self, generator: torch.nn.Module, keys: tuple[str, ...] | None):
        super().__init__()
        self.generator, self.keys = generator, keys

    def forward(self, *tensors):
        latent = tensors[0] if self.keys is None else dict(zip(self.keys, tensors))
        return samples_of(self.generator(latent))


def export_onnx(generator: torch.nn.Module, path: Path, seed: int = 0, check: int = 8) -> dict[str, Any]:
    """Write ``generator`` as ONNX (``torch.onnx.export``) and check it with ONNX Runtime.

    The graph's inputs are the generator's latent (``z``, or each tensor of a latent dict, by key)
    with a free batch dimension; its output is ``sample``. ONNX Runtime runs it on ``check``
    seeded latents (another batch size than the one traced) and the largest absolute difference
    from PyTorch's output on the same latents is returned with the graph's description.
    """
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("--format onnx needs onnx and onnxruntime: pip install 'gancore[onnx]'.") from None
    trace_latent = generator.latent(2, rng=torch.Generator().manual_seed(seed))
    keys = None if isinstance(trace_latent, torch.Tensor) else tuple(trace_latent)
    names = ["z"] if keys is None else list(keys)
    inputs = (trace_latent,) if keys is None else tuple(trace_latent[k] for k in keys)
    wrapper = _Positional(generator, keys).eval()
    try:
        with torch.no_grad():
            # torch.export-based exporter (PyTorch's default since 2.9; the TorchScript one is deprecated).
            batch = torch.export.Dim("n")
            torch.onnx.export(wrapper, inputs, str(path), input_names=names, output_names=["sample"],
                              dynamic_shapes=(tuple({0: batch} for _ in names),), opset_version=ONNX_OPSET,
                              dynamo=True, external_data=False, verbose=False)
    except Exception as exc:  # the exporter's errors have many types; the message says what it could not trace
        raise ConfigError(f"torch.onnx.export cannot export this generator ({type(generator).__name__}): "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}.") from None
    latent = generator.latent(check, rng=torch.Generator().manual_seed(seed + 1))
    tensors = (latent,) if keys is None else tuple(latent[k] for k in keys)
    with torch.no_grad():
        expected = wrapper(*tensors).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["sample"], {name: t.numpy() for name, t in zip(names, tensors)})[0]
    if got.shape != expected.shape:
        raise ConfigError(f"the ONNX graph returns shape {got.shape}, PyTorch {expected.shape}: not exported.")
    diff = float(abs(got - expected).max())
    if not diff <= ONNX_TOLERANCE:
        raise ConfigError(f"the ONNX graph differs from PyTorch by up to {diff:.3g} (> {ONNX_TOLERANCE}) on the same "
                          "latents: not exported.")
    return {"file": B.ONNX, "inputs": {name: {"dtype": str(t.dtype).removeprefix("torch."),
                                              "shape": ["n", *t.shape[1:]]} for name, t in zip(names, tensors)},
            "output": "sample", "opset": ONNX_OPSET, "max_abs_diff": diff, "checked_samples": check,
            "onnxruntime": onnxruntime.__version__}


# --- export ---------------------------------------------------------------------------------------

def _target(to: str | os.PathLike) -> Path:
    to = Path(to)
    if to.is_symlink():
        raise ConfigError(f"--to {str(to)!r} is a symlink: give a new folder.")
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise ConfigError(f"--to {str(to)!r} exists and is not an empty folder: give a new one (nothing is "
                          "overwritten).")
    return to


def _run_dir(checkpoint_path: Path) -> Path:
    return checkpoint_path.parent.parent if checkpoint_path.parent.name == "checkpoints" else checkpoint_path


def _read_eval(path: Path) -> dict[str, Any] | None:
    if not path.is_file() or path.is_symlink():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{str(path)!r} is not readable JSON ({exc}): "
                          "run `gan eval` again or move it away.") from None
    if not isinstance(record, dict) or not isinstance(record.get("results"), dict):
        raise ConfigError(f"{str(path)!r} is not an eval.json record: run `gan eval` again or move it away.")
    return record


def export_run(registry, path: str | os.PathLike, to: str | os.PathLike, fmt: str = "safetensors",
               trained_weights: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """Write the generator of run (or checkpoint) ``path`` as a bundle in the new folder ``to``.

    The bundle is built in a temporary folder beside ``to``, read back with
    :func:`gancore.bundle.read_bundle` and checked to give the same samples as
    the run's generator, then renamed into place.

    :param fmt: ``safetensors``, or ``onnx`` to add ``generator.onnx``.
    :return: the bundle folder.
    """
    from gancore.data import samples_to_image
    from gancore.run.rundir import load_generator

    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}.")
    to = _target(to)
    generator, spec, config, checkpoint = load_generator(registry, path, "cpu", trained_weights, log=log)
    translates = bool(getattr(generator, "translates", False))
    if translates and fmt == "onnx":
        raise ConfigError("--format onnx exports generators drawn from a latent; this one translates images.")
    config_dict = {key: value for key, value in config.to_dict().items() if key != "out"}
    info: dict[str, Any] = {
        "gancore_bundle": B.FORMAT, "library_name": "gancore", "gancore_version": __version__,
        "family": str(checkpoint.meta.get("family", config.plugins[0])), "plugins": list(config.plugins),
        "plugin_versions": dict(checkpoint.meta.get("plugins", {}) or {}), "config": config_dict,
        "data": spec.to_dict(), "step": checkpoint.step, "weights": "trained" if trained_weights else "sampling",
        "generator_class": type(generator).__name__, "conditional": bool(getattr(generator, "conditional", False)),
        "num_classes": int(getattr(generator, "num_classes", 0) or 0), "translates": translates,
        "distributions": sorted({registry.get(name).distribution for name in
                                 [*config.plugins, *(config.regularizers or {})]} - {"(in-process)"}),
        "source": {"run": _run_dir(checkpoint.path).name, "checkpoint": checkpoint.path.name}}
    eval_record = _read_eval(_run_dir(checkpoint.path) / "eval.json")
    try:
        to.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=to.parent, prefix=f".{to.name}.export-"))
    except OSError as exc:
        raise ConfigError(f"cannot write beside --to {str(to)!r}: {exc.strerror}.") from None
    try:
        from safetensors.torch import save_file

        save_file(module_tensors(generator), str(work / B.WEIGHTS), metadata={"format": "pt"})
        has_grid = False
        if not translates:
            with torch.no_grad():
                grid = samples_of(generator(generator.latent(GRID_SAMPLES, rng=torch.Generator().manual_seed(0))))
            if spec.is_image or spec.shape == (2,):
                import torchvision.utils as vutils

                vutils.save_image(samples_to_image(grid, spec), str(work / B.GRID))
                has_grid = True
        if eval_record is not None:
            shutil.copyfile(_run_dir(checkpoint.path) / "eval.json", work / B.EVAL)
        if fmt == "onnx":
            info["onnx"] = export_onnx(generator, work / B.ONNX)
        model_card(info, eval_record, has_grid).save(str(work / B.CARD))
        info["sha256"] = {file.name: B.sha256(file) for file in sorted(work.iterdir())}
        B.write_json(work / B.CONFIG, info)
        _check_round_trip(registry, generator, work, translates)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)  # mkdtemp's folder is private; the bundle is meant to be shared
        for file in work.iterdir():
            os.chmod(file, 0o666 & ~umask)
        if to.exists():
            to.rmdir()  # an empty folder the user made for it
        os.rename(work, to)
    except (OSError, SafetensorError) as exc:  # safetensors reports a full disk with its own error type
        raise ConfigError(f"cannot write the bundle {str(to)!r}: {write_error(exc)}.") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return to


def _check_round_trip(registry, generator: torch.nn.Module, folder: Path, translates: bool) -> None:
    """Read the bundle back and require the same samples as ``generator`` on seeded latents."""
    try:
        loaded, _ = B.read_bundle(registry, folder)
    except CheckpointError as exc:
        raise ConfigError(f"the exported weights do not rebuild the generator ({exc}); the plugin that offers the "
                          "sampling weights keeps another network: export with --trained-weights.") from None
    if translates:
        return
    latent = generator.latent(4, rng=torch.Generator().manual_seed(1))
    with torch.no_grad():
        same = torch.equal(samples_of(generator(latent)), samples_of(loaded(latent)))
    if not same:
        raise ConfigError("the exported bundle does not reproduce the run's samples: not exported.")


# --- the Hub --------------------------------------------------------------------------------------

def upload_plan(folder: str | os.PathLike) -> list:
    """The ``huggingface_hub.CommitOperationAdd`` of every file of a (validated) bundle folder."""
    hub = _hub()
    folder = Path(folder)
    B.read_info(folder, verify=None)  # a bundle, whole: every file as config.json's SHA-256 says
    return [hub.CommitOperationAdd(path_in_repo=file.name, path_or_fileobj=str(file))
            for file in sorted(folder.iterdir()) if file.is_file() and not file.name.startswith(".")]


def check_repo_id(repo_id: str) -> str:
    hub = _hub()
    try:
        hub.utils.validate_repo_id(repo_id)
    except hub.utils.HFValidationError as exc:
        raise ConfigError(f"bad repository id {repo_id!r}: {exc}") from None
    if "/" not in repo_id:
        raise ConfigError(f"bad repository id {repo_id!r}: use OWNER/NAME.")
    return repo_id


def push(folder: str | os.PathLike, repo_id: str, token: str | None = None, private: bool = False,
         revision: str | None = None, message: str | None = None):
    """Upload a bundle folder to the Hub model repository ``repo_id`` (created if missing) in one commit.

    :return: huggingface_hub's ``CommitInfo`` (its ``commit_url`` names the commit).
    """
    hub = _hub()
    check_repo_id(repo_id)
    operations = upload_plan(folder)
    api = hub.HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        return api.create_commit(repo_id, operations=operations, repo_type="model", revision=revision,
                                 commit_message=message or f"Upload {B.read_info(folder).family} generator "
                                                           "(gan push)")
    except Exception as exc:  # network, authentication and Hub errors: one line, what the Hub said
        raise ConfigError(f"cannot push to {repo_id!r}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else 'no details'}") from None


__all__ = ["FORMATS", "check_repo_id", "export_onnx", "export_run", "model_card", "push", "upload_plan"]
