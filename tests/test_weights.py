"""`gan weights fetch`: download from a local HTTP server on 127.0.0.1, SHA-256 before any read,
conversion to safetensors, refusal of a wrong hash / short or long download, redirects, symlinks."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
from pathlib import Path

import attrs
import pytest
import torch
from safetensors.torch import load_file

from gancore import evaluation, weights
from gancore.errors import ConfigError


def _pth_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)  # a test fixture: the file the server serves
    return buffer.getvalue()


STATE = {"conv.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4), "fc.bias": torch.ones(5)}
GOOD = _pth_bytes(STATE)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    served: list[str] = []

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        self.served.append(self.path)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/weights.pth")
            self.end_headers()
            return
        if self.path == "/cut":  # announces the whole file, sends half, closes the connection
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[: len(GOOD) // 2])
            self.close_connection = True
            return
        if self.path == "/unsized":  # no Content-Length: more bytes than expected, then the end
            self.send_response(200)
            self.end_headers()
            self.wfile.write(GOOD + b"\0" * 100)
            self.close_connection = True
            return
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.routes = {"/weights.pth": GOOD, "/other.pth": bytes(reversed(GOOD))}  # same size, other bytes
    _Handler.served = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _source(base: str, path: str = "/weights.pth", body: bytes = GOOD) -> weights.WeightsSource:
    """The Inception entry pointed at the local server, with the hash and size of ``body``."""
    return attrs.evolve(weights.INCEPTION, url=base + path, sha256=hashlib.sha256(body).hexdigest(), size=len(body))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_verifies_converts_and_records_where_it_came_from(server, tmp_path, monkeypatch):
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANCORE_INCEPTION_WEIGHTS", raising=False)
    assert weights.fetched("inception") is None
    seen = []
    path = weights.fetch(source=_source(server), progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "cache" / "weights" / weights.INCEPTION.converted
    assert _leftovers(path.parent) == [weights.INCEPTION.converted]  # the .pth and temporaries are gone
    loaded = load_file(str(path))
    assert set(loaded) == set(STATE) and all(torch.equal(loaded[k], STATE[k]) for k in STATE)
    assert seen[-1] == (len(GOOD), len(GOOD))
    record = weights.provenance(path)
    assert record["url"] == server + "/weights.pth" and record["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert record["size"] == str(len(GOOD)) and record["file"] == weights.INCEPTION.file and record["fetched"]
    # gan eval's lookup finds it without a flag, before the torch hub cache.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    assert evaluation.find_inception_weights(None) == path == weights.fetched("inception")
    # A file converted by hand has no such record.
    from safetensors.torch import save_file

    save_file(STATE, str(tmp_path / "by-hand.safetensors"))
    assert weights.provenance(tmp_path / "by-hand.safetensors") is None


def test_a_wrong_hash_is_refused_and_the_file_never_read(server, tmp_path, monkeypatch):
    folder = tmp_path / "w"
    wrong = attrs.evolve(_source(server), sha256="0" * 64)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("an unverified download was read"))
    with pytest.raises(ConfigError, match="SHA-256 .* is not the published 0000.*deleted unread"):
        weights.fetch(source=wrong, directory=folder)
    assert _leftovers(folder) == []
    # Same size, other content (another file at the URL): refused by the hash too.
    with pytest.raises(ConfigError, match="is not the published"):
        weights.fetch(source=_source(server, "/other.pth", GOOD), directory=folder)
    assert _leftovers(folder) == []


def test_a_cut_or_oversized_download_is_refused(server, tmp_path):
    folder = tmp_path / "w"
    with pytest.raises(ConfigError, match=rf"ended after {len(GOOD) // 2} of {len(GOOD)} bytes"):
        weights.fetch(source=_source(server, "/cut"), directory=folder)
    with pytest.raises(ConfigError, match="sent more than"):
        weights.fetch(source=_source(server, "/unsized"), directory=folder)
    # A server announcing another size is refused before a byte is kept.
    with pytest.raises(ConfigError, match=f"serves {len(GOOD)} bytes, but .* has {len(GOOD) + 1}"):
        weights.fetch(source=attrs.evolve(_source(server), size=len(GOOD) + 1), directory=folder)
    with pytest.raises(ConfigError, match="HTTP 404"):
        weights.fetch(source=_source(server, "/missing"), directory=folder)
    assert _leftovers(folder) == []


def test_a_redirect_is_followed_and_a_mirror_url_still_needs_the_hash(server, tmp_path):
    path = weights.fetch(source=_source(server), url=server + "/moved", directory=tmp_path)
    assert _Handler.served == ["/moved", "/weights.pth"]
    assert weights.provenance(path)["url"] == server + "/moved"
    with pytest.raises(ConfigError, match="is not the published"):
        weights.fetch(source=_source(server), url=server + "/other.pth", directory=tmp_path / "m")
    # A file the user downloaded by hand goes through the same check and conversion (file:// URL).
    (tmp_path / "by-hand.pth").write_bytes(GOOD)
    local = weights.fetch(source=_source(server), url=(tmp_path / "by-hand.pth").as_uri(), directory=tmp_path / "f")
    assert torch.equal(load_file(str(local))["fc.bias"], STATE["fc.bias"])
    (tmp_path / "by-hand.pth").write_bytes(bytes(reversed(GOOD)))
    with pytest.raises(ConfigError, match="is not the published"):
        weights.fetch(source=_source(server), url=(tmp_path / "by-hand.pth").as_uri(), directory=tmp_path / "g")


def test_a_failed_fetch_keeps_the_old_file_and_a_symlink_is_replaced_not_followed(server, tmp_path):
    folder = tmp_path / "w"
    path = weights.fetch(source=_source(server), directory=folder)
    before = path.read_bytes()
    with pytest.raises(ConfigError):
        weights.fetch(source=_source(server, "/cut"), directory=folder)
    assert path.read_bytes() == before and _leftovers(folder) == [path.name]
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    path.unlink()
    path.symlink_to(victim)
    assert weights.fetched(directory=folder) is None  # a symlink is not taken for the fetched file
    weights.fetch(source=_source(server), directory=folder)
    assert victim.read_text() == "untouched" and not path.is_symlink()
    assert torch.equal(load_file(str(path))["fc.bias"], STATE["fc.bias"])


def test_unknown_weights_and_the_cli(gan, server, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown weights 'vgg'"):
        weights.source_of("vgg")
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))
    result = gan("weights", "list")
    assert result.exit_code == 0 and "inception" in result.output and "not fetched" in result.output
    assert weights.INCEPTION.sha256 in result.output
    # The CLI takes a mirror URL but never another hash: the served test file is refused.
    result = gan("weights", "fetch", "inception", "--url", server + "/weights.pth")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"serves {len(GOOD)} bytes, but {weights.INCEPTION.file} has 95628359" in result.output
    assert _leftovers(tmp_path / "cache" / "weights") == []
    weights.fetch(source=_source(server), directory=tmp_path / "cache" / "weights")
    result = gan("weights", "list")
    assert result.exit_code == 0 and "fetched 20" in result.output and weights.INCEPTION.converted in result.output


def test_fetched_inception_weights_serve_gan_eval_and_fidelity_on_a_folder(gan, server, tmp_path, monkeypatch):
    """End to end: an Inception-shaped .pth served locally is fetched, then gan eval on an image folder
    finds it without a flag and eval.json records where it came from."""
    pytest.importorskip("torch_fidelity")
    import json

    from PIL import Image

    import gancore

    # The network's own initial weights stand in for the published file (which cannot be shipped).
    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.Module, "load_state_dict", lambda self, *args, **kwargs: None)
        patch.setattr(evaluation, "_read_safetensors", lambda path: {})
        state = {k: v.contiguous() for k, v in evaluation.inception_extractor(tmp_path / "unused").state_dict().items()}
    body = _pth_bytes(state)
    _Handler.routes["/inception.pth"] = body
    monkeypatch.setenv("GANCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.delenv("GANCORE_INCEPTION_WEIGHTS", raising=False)
    fetched = weights.fetch(source=_source(server, "/inception.pth", body))
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(8):  # few: Inception-v3 at 299x299 on a CPU is the slow part
        Image.new("RGB", (8, 8), (i * 20, 0, 255 - i * 20)).save(folder / f"{i}.png")
    result = gan("train", "--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--data", folder,
                 "--steps", 2, "--batch-size", 8, "--out", tmp_path, "--name", "run", "--checkpoint-every", 2,
                 "--sample-every", 2, "--log-every", 2, "--grid-size", 4)
    assert result.exit_code == 0, result.output
    result = gan("eval", tmp_path / "run", "-n", 6, "-m", "kid")  # not fid: its 2048x2048 eigh is slow
    assert result.exit_code == 0, result.output
    extractor = json.loads((tmp_path / "run" / "eval.json").read_text())["provenance"]["extractor"]
    assert extractor["weights"] == str(fetched)
    assert extractor["weights_source"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert extractor["weights_source"]["url"] == server + "/inception.pth"
    record = gancore.load(tmp_path / "run").fidelity(n=6)
    assert set(record["results"]) >= {"precision", "recall", "density", "coverage"}
    assert record["provenance"]["n_real"] == 6 and record["provenance"]["n_real_available"] == 8
    assert record["provenance"]["extractor"]["weights_source"]["sha256"] == extractor["weights_source"]["sha256"]
