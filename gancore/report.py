"""``gan report``: one self-contained HTML page per run.

The page holds everything inline (sample grids as base64 PNG, curves as
SVG, no scripts, styles or fonts from elsewhere), so it opens offline, can be
mailed as one file, and a browser makes no network request for it.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

from gancore import files
from gancore.errors import ConfigError

#: The name of a sample grid a run writes.
GRID = re.compile(r"step-(\d{6,})\.png")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.grids, .curves { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: 0.85em; color: #555; text-align: center; }
img { image-rendering: pixelated; width: 240px; border: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: left; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
svg text { font-size: 11px; fill: #444; }
"""


def _read_metrics(path: Path, run: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file() or path.is_symlink():
        for line in _read_text(path, run).splitlines():
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                continue  # a line cut short by an interrupted run
            if isinstance(row, dict) and _number(row.get("step")):
                rows.append(row)
    return rows


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_text(path: Path, run: Path) -> str:
    """A text file of run directory ``run``: never a link out of it; bytes that are not UTF-8 are
    shown replaced rather than refused (a report shows what is there)."""
    try:
        return files.read_bytes(path, run).decode("utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}.") from None


def series(rows: Iterable[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """``{name: [(step, value), ...]}`` of every numeric column but ``step`` and ``time``."""
    out: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key in ("step", "time") or not _number(value):
                continue
            if _number(row.get("step")):
                out.setdefault(key, []).append((float(row["step"]), float(value)))
    return out


def svg_curve(name: str, points: list[tuple[float, float]], width: int = 320, height: int = 180) -> str:
    """A line chart of ``points`` as an inline SVG element, with its axis ranges labelled."""
    left, right, top, bottom = 48, 10, 20, 28
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def sx(x):
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y):
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    marks = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" fill="#1f5fbf"/>' for x, y in points) \
        if len(points) <= 40 else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(name)}">'
            f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
            f'fill="#fafafa" stroke="#ccc"/>'
            f'<text x="{left}" y="13">{html.escape(name)}</text>'
            f'<text x="2" y="{top + 9}">{y1:.4g}</text><text x="2" y="{height - bottom}">{y0:.4g}</text>'
            f'<text x="{left}" y="{height - 8}">step {x0:g}</text>'
            f'<text x="{width - right}" y="{height - 8}" text-anchor="end">{x1:g}</text>'
            f'<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="{path}"/>{marks}</svg>')


def _image(path: Path, run: Path) -> str:
    try:
        data = base64.b64encode(files.read_bytes(path, run)).decode("ascii")
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}.") from None
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _grid_step(path: Path) -> int:
    return int(GRID.fullmatch(path.name).group(1))


def render(run: Path) -> str:
    """The report of run directory ``run`` as an HTML string."""
    from gancore.evaluation import table_rows

    if not run.is_dir():
        raise ConfigError(f"run directory {str(run)!r} does not exist.")
    config_path, eval_path = run / "config.toml", run / "eval.json"
    # Only the grids a run writes (step-NNNNNN.png): not a kill's leftovers, not other names.
    grids = sorted((p for p in (run / "samples").glob("step-*.png") if GRID.fullmatch(p.name)), key=_grid_step) \
        if (run / "samples").is_dir() else []
    rows = _read_metrics(run / "metrics.jsonl", run)
    if not (config_path.is_file() or grids or rows):
        raise ConfigError(f"{str(run)!r} is not a run directory (no config.toml, samples or metrics.jsonl).")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>gancore run "
             f"{html.escape(run.name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>gancore run <code>{html.escape(run.name)}</code></h1>"]

    parts.append("<h2>Evaluation</h2>")
    if eval_path.is_file():
        try:
            record = json.loads(_read_text(eval_path, run))
            body = "".join(f"<tr><td>{html.escape(m)}</td><td>{html.escape(v)}</td><td>{html.escape(d)}</td></tr>"
                           for m, v, d in table_rows(record))
            parts.append(f"<table><tr><th>metric</th><th>value</th><th>details</th></tr>{body}</table>")
            parts.append("<details><summary>How it was measured (eval.json provenance)</summary><pre>"
                         + html.escape(json.dumps(record.get("provenance", {}), indent=1, sort_keys=True))
                         + "</pre></details>")
        except (ValueError, KeyError, TypeError, AttributeError, ZeroDivisionError, RecursionError) as exc:
            parts.append(f"<p>eval.json could not be read: {html.escape(str(exc))}</p>")
    else:
        parts.append(f"<p>No eval.json yet: run <code>gan eval {html.escape(str(run))}</code>.</p>")

    parts.append("<h2>Samples over training</h2>")
    if grids:
        parts.append('<div class="grids">' + "".join(
            f"<figure>{_image(p, run)}<figcaption>step {_grid_step(p)}</figcaption></figure>" for p in grids)
            + "</div>")
    else:
        parts.append("<p>No sample grids.</p>")

    parts.append("<h2>Curves</h2>")
    curves = series(rows)
    if curves:
        order = sorted(curves, key=lambda k: (not k.startswith("eval/"), k))
        parts.append('<div class="curves">' + "".join(svg_curve(k, curves[k]) for k in order) + "</div>")
    else:
        parts.append("<p>No metrics.jsonl rows.</p>")

    parts.append("<h2>Configuration</h2>")
    parts.append("<pre>" + (html.escape(_read_text(config_path, run)) if config_path.is_file()
                            or config_path.is_symlink() else "(no config.toml)") + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run: Path, output: Path | None = None) -> Path:
    """Write ``report.html`` (or ``output``) atomically, never through a link; returns its path."""
    text = render(run)
    out = output or run / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        # A report written as x.pth or x.py would be run by Python: it is HTML, and named so.
        raise ConfigError(f"bad --output {str(out)!r}: a report is an HTML file; give a name ending in .html.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        files.write_text(out, text)
    except OSError as exc:
        raise ConfigError(f"cannot write {str(out)!r}: {exc.strerror}.") from None
    return out
