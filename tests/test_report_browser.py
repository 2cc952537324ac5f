"""``gan report``'s page in a real browser: headless Chromium opens ``report.html``.

The page must render without console errors, uncaught exceptions or failed
loads, request nothing beyond itself, and every image (sample grids as
``<img>``, curves as ``<svg>``) must have a non-zero size, both decoded
(``naturalWidth``/``naturalHeight``) and laid out. A screenshot of the whole
page is saved in the test's tmp directory and its path printed.

Chromium is driven through the Chrome DevTools Protocol over
``--remote-debugging-pipe`` (NUL-separated JSON on file descriptors 3 and 4),
so no network port, websocket package or driver is needed.

Without Chromium the browser tests skip, saying how to install it; with
``GANCORE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead.
``GANCORE_CHROMIUM`` names a browser binary other than ``chromium``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import attrs
import pytest

INSTALL = ("headless Chromium is not installed: `apt-get install -y chromium` (Debian/Ubuntu; "
           "or set GANCORE_CHROMIUM to a Chromium/Chrome binary)")
TIMEOUT = 90.0  # seconds for one page: Chromium starts slowly on a busy 2-core machine

# Runs in the page after its load event: every image's decoded and laid-out size.
# ``decode()`` settles once each <img> is decoded or has failed, so sizes are final.
MEASURE_IMAGES = """
(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  return [
    ...imgs.map((e, k) => ({kind: 'img', index: k, name: e.alt || e.getAttribute('src').slice(0, 40),
                            natural: [e.naturalWidth, e.naturalHeight], layout: box(e)})),
    ...Array.from(document.querySelectorAll('svg')).map((e, k) => ({
        kind: 'svg', index: k, name: e.getAttribute('aria-label') || '', natural: null, layout: box(e)})),
  ];
})()
"""


def find_chromium() -> str | None:
    """The browser binary: ``$GANCORE_CHROMIUM``, else the first of the usual names on ``PATH``."""
    named = os.environ.get("GANCORE_CHROMIUM")
    if named:
        return shutil.which(named)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser binary; skips the test without one, or fails it when ``GANCORE_REQUIRE_BROWSER=1``."""
    binary = find_chromium()
    if binary is None:
        if os.environ.get("GANCORE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GANCORE_REQUIRE_BROWSER=1 but {INSTALL}")
        pytest.skip(INSTALL)
    return binary


def _above_nine(fd: int) -> int:
    """A copy of ``fd`` numbered 10 or more (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class DevTools:
    """A headless Chromium and its DevTools Protocol connection over a pipe.

    Use as a context manager; :meth:`send` returns a command's result and keeps
    the events that arrive meanwhile in :attr:`events`.
    """

    def __init__(self, binary: str, profile: Path):
        profile.mkdir(parents=True, exist_ok=True)
        self.log_path = profile / "chromium.log"
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()
        # The browser's ends move above 9 so that putting them on 3 and 4 cannot overwrite one another.
        commands_r, replies_w = (_above_nine(fd) for fd in (commands_r, replies_w))
        flags = ["--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                 # The page is our own local file; the sandbox needs user namespaces that
                 # containers (and root) lack, so it is off rather than a reason to fail.
                 "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", "--mute-audio", "about:blank"]
        # Chromium reads commands on fd 3 and writes replies on fd 4: bash puts the pipes there.
        script = f'exec "$0" "$@" 3<&{commands_r} 4>&{replies_w} {commands_r}<&- {replies_w}>&-'
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([shutil.which("bash") or "/bin/bash", "-c", script, binary, *flags],
                                            pass_fds=(commands_r, replies_w), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)
        os.close(commands_r)
        os.close(replies_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def __enter__(self) -> "DevTools":
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.process.poll() is None:
                self._write({"id": -1, "method": "Browser.close"})
                self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._commands)
            os.close(self._replies)

    def _write(self, message: dict) -> None:
        os.write(self._commands, json.dumps(message).encode() + b"\0")

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer in time; its log: {self.log_path}")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.process.poll()}); its log: {self.log_path}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = TIMEOUT) -> dict:
        """Run one command; returns its result, raises on a protocol error."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> dict:
        """The first event named ``method``, waiting for it if it has not arrived yet."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            reply = self._read(deadline)
            if "method" in reply:
                self.events.append(reply)


@attrs.frozen
class PageCheck:
    """What Chromium saw on one page.

    :param errors: console errors, uncaught exceptions and failed loads, one line each.
    :param requests: URLs the page requested besides itself and ``data:`` URLs.
    :param images: one dict per ``<img>``/``<svg>``: kind, index, name, natural and layout size.
    :param screenshot: the full-page PNG.
    """

    errors: list[str]
    requests: list[str]
    images: list[dict]
    screenshot: Path

    def problems(self) -> list[str]:
        """Everything wrong with the page, one line each; empty when it rendered cleanly."""
        out = [f"error: {e}" for e in self.errors] + [f"requested {u}" for u in self.requests]
        for image in self.images:
            sizes = [("layout", image["layout"])] + ([("natural", image["natural"])] if image["natural"] else [])
            for what, (width, height) in sizes:
                if not (width > 0 and height > 0):
                    out.append(f"{image['kind']} #{image['index']} ({image['name']!r}) has {what} size "
                               f"{width:g}x{height:g}")
        return out


def _event_errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            errors.append("uncaught " + text.splitlines()[0])  # the first line; the stack follows
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            errors.append(entry.get("text", "") + (f" ({entry['url']})" if entry.get("url") else ""))
        elif method == "Network.loadingFailed":
            errors.append(f"load failed: {params.get('errorText')}")
    return errors


def check_page(page: Path, screenshot: Path, binary: str, profile: Path) -> PageCheck:
    """Open ``page`` in headless Chromium; returns what it saw and saves a full-page screenshot."""
    url = page.resolve().as_uri()
    with DevTools(binary, profile) as browser:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        navigation = browser.send("Page.navigate", {"url": url}, session=session)
        if navigation.get("errorText"):
            raise RuntimeError(f"Chromium could not open {url}: {navigation['errorText']}")
        browser.wait_for("Page.loadEventFired")
        measured = browser.send("Runtime.evaluate", {"expression": MEASURE_IMAGES, "awaitPromise": True,
                                                     "returnByValue": True}, session=session)
        if "exceptionDetails" in measured:
            raise RuntimeError(f"measuring the images failed: {measured['exceptionDetails']}")
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                            session=session)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        requests = [e["params"]["request"]["url"] for e in browser.events
                    if e["method"] == "Network.requestWillBeSent"]
        return PageCheck(errors=_event_errors(browser.events),
                         requests=[u for u in requests if u != url and not u.startswith("data:")],
                         images=measured["result"]["value"], screenshot=screenshot)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real run's report.html (4 steps of a tiny DCGAN on digits, grids and evaluations every 2, then
    ``gan eval`` and ``gan report``), made once for this module's tests."""
    from click.testing import CliRunner

    from gancore.cli import main

    def gan(*args):
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    out = tmp_path_factory.mktemp("report")
    gan("train", "--plugin", "gancore-dcgan", "--set", "gancore-dcgan.width=8", "--data", "digits", "--steps", 4,
        "--batch-size", 16, "--out", out, "--name", "run", "--log-every", 2, "--sample-every", 2,
        "--checkpoint-every", 4, "--grid-size", 16, "--eval-every", 2, "--eval-samples", 200)
    gan("eval", out / "run", "-n", 300)
    gan("report", out / "run")
    return out / "run" / "report.html"


def test_report_renders_in_chromium_without_errors_and_with_every_image_sized(report, tmp_path):
    chromium = require_chromium()  # in the test, so that a missing browser fails it rather than errors
    check = check_page(report, tmp_path / "report.png", chromium, tmp_path / "profile")
    print(f"screenshot: {check.screenshot}")
    assert check.problems() == []
    kinds = [image["kind"] for image in check.images]
    assert kinds.count("img") == 2 and kinds.count("svg") >= 4  # grids at steps 2 and 4; loss and eval curves
    grid = next(image for image in check.images if image["kind"] == "img")
    assert grid["layout"][0] == 240 + 2  # the stylesheet's width plus its 1px border: the style applied
    assert check.screenshot.read_bytes().startswith(b"\x89PNG")


def test_the_check_reports_a_broken_report(report, tmp_path):
    chromium = require_chromium()
    # The report with its first grid's PNG missing, its second corrupt, an image laid out
    # at zero width and a script that logs an error and throws: each is named.
    text = report.read_text(encoding="utf-8")
    sources = re.findall(r'src="(data:image/png;base64,[^"]+)"', text)
    assert len(sources) == 2
    corrupt = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()
    text = text.replace(sources[0], "samples/step-000002.png").replace(sources[1], corrupt)
    text = text.replace("</body>", '<img alt="squashed" style="width:0;border:0" src="' + sources[0] + '">'
                        "<script>console.error('report script failed'); null.x;</script></body>")
    broken = tmp_path / "broken" / "report.html"
    broken.parent.mkdir()
    broken.write_text(text, encoding="utf-8")

    problems = check_page(broken, tmp_path / "broken.png", chromium, tmp_path / "profile").problems()
    print("\n".join(problems))
    assert any("ERR_FILE_NOT_FOUND" in p for p in problems)
    assert any(p.startswith("requested file://") and p.endswith("broken/samples/step-000002.png") for p in problems)
    assert "img #0 ('step-000002') has natural size 0x0" in problems
    assert "img #1 ('step-000004') has natural size 0x0" in problems
    assert any(p.startswith("img #2 ('squashed') has layout size 0x") for p in problems)
    assert "error: report script failed" in problems
    assert "error: uncaught TypeError: Cannot read properties of null (reading 'x')" in problems
    assert not any("'squashed') has natural" in p for p in problems)  # it decoded; only its layout is empty


def test_without_chromium_the_browser_test_skips_or_fails_when_required(tmp_path, monkeypatch):
    monkeypatch.delenv("GANCORE_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on PATH
    monkeypatch.delenv("GANCORE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        require_chromium()
    monkeypatch.setenv("GANCORE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="GANCORE_REQUIRE_BROWSER=1 but headless Chromium"):
        require_chromium()
