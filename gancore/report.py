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
from pathlib import Path
from typing import Any, Iterable

from gancore.errors import ConfigError

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


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by an interrupted run
            if isinstance(row, dict) and "step" in row:
                rows.append(row)
    return rows


def series(rows: Iterable[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """``{name: [(step, value), ...]}`` of every numeric column but ``step`` and ``time``."""
    out: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key in ("step", "time") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
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
    sx = lambda x: left + (x - x0) / (x1 - x0) * (width - left - right)
    sy = lambda y: height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)
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


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def render(run: Path) -> str:
    """The report of run directory ``run`` as an HTML string."""
    from gancore.evaluation import table_rows

    if not run.is_dir():
        raise ConfigError(f"run directory {str(run)!r} does not exist.")
    config_path, eval_path = run / "config.toml", run / "eval.json"
    grids = sorted((run / "samples").glob("step-*.png")) if (run / "samples").is_dir() else []
    rows = _read_metrics(run / "metrics.jsonl")
    if not (config_path.is_file() or grids or rows):
        raise ConfigError(f"{str(run)!r} is not a run directory (no config.toml, samples or metrics.jsonl).")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>gancore run "
             f"{html.escape(run.name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>gancore run <code>{html.escape(run.name)}</code></h1>"]

    parts.append("<h2>Evaluation</h2>")
    if eval_path.is_file():
        try:
            record = json.loads(eval_path.read_text(encoding="utf-8"))
            body = "".join(f"<tr><td>{html.escape(m)}</td><td>{html.escape(v)}</td><td>{html.escape(d)}</td></tr>"
                           for m, v, d in table_rows(record))
            parts.append(f"<table><tr><th>metric</th><th>value</th><th>details</th></tr>{body}</table>")
            parts.append("<details><summary>How it was measured (eval.json provenance)</summary><pre>"
                         + html.escape(json.dumps(record.get("provenance", {}), indent=1, sort_keys=True))
                         + "</pre></details>")
        except (ValueError, KeyError, TypeError) as exc:
            parts.append(f"<p>eval.json could not be read: {html.escape(str(exc))}</p>")
    else:
        parts.append(f"<p>No eval.json yet: run <code>gan eval {html.escape(str(run))}</code>.</p>")

    parts.append("<h2>Samples over training</h2>")
    if grids:
        parts.append('<div class="grids">' + "".join(
            f"<figure>{_image(p)}<figcaption>step {int(p.stem.split('-')[1])}</figcaption></figure>" for p in grids)
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
    parts.append("<pre>" + (html.escape(config_path.read_text(encoding="utf-8")) if config_path.is_file()
                            else "(no config.toml)") + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run: Path, output: Path | None = None) -> Path:
    """Write ``report.html`` (or ``output``) atomically; returns its path."""
    text = render(run)
    out = output or run / "report.html"
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise ConfigError(f"cannot write {str(out)!r}: {exc.strerror}.") from None
    return out
