"""Self-contained HTML reports: inline SVG plots and tables, no scripts, no network.

A report is a title plus sections; each section holds a heading, prose that says what
it shows and what to conclude (`paragraphs`), and plots or tables made by the helpers
here. The file opens anywhere, offline.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

from circlerank.errors import OutputError

WIDTH, ROW = 640, 22
COLOURS = ("#3366aa", "#cc6633", "#339966", "#aa3366", "#7755aa", "#998833")
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { padding: .2em .7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #666; } svg { display: block; margin: .5em 0; } .wide { overflow-x: auto; }
.verdict { font-weight: 600; border-left: 4px solid #3366aa; padding-left: .6em; }
.warning { border-left: 4px solid #cc6633; padding-left: .6em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.4g}"
    return _e(value)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<div class="wide"><table><tr>{head}</tr>{body}</table></div>'


def interval_bars(
    labels: Sequence[str],
    values: Sequence[float],
    lows: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
    reference: float | None = None,
) -> str:
    """Horizontal bars with interval whiskers; `reference` draws a vertical line."""
    lows = lows if lows is not None else values
    highs = highs if highs is not None else values
    finite = [v for v in (*values, *lows, *highs, reference or 0.0, 0.0) if math.isfinite(v)]
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    left, plot = 250, WIDTH - 320

    def x(v: float) -> float:
        return left + (v - lo) / span * plot

    parts = []
    for i, (label, v, a, b) in enumerate(zip(labels, values, lows, highs, strict=True)):
        y = 10 + i * ROW
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{_e(label)}</text>')
        if math.isfinite(v):
            x0, x1 = sorted((x(0.0), x(v)))
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" height="12" '
                f'fill="{colour}" opacity="0.75"/>'
            )
            end = x(max(v, b if math.isfinite(b) else v)) + 6
            parts.append(f'<text x="{end:.1f}" y="{y + 13}">{v:.4g}</text>')
        if math.isfinite(a) and math.isfinite(b):
            parts.append(
                f'<line x1="{x(a):.1f}" x2="{x(b):.1f}" y1="{y + 9}" y2="{y + 9}" '
                'stroke="#222" stroke-width="1.5"/>'
            )
    if reference is not None:
        parts.append(
            f'<line x1="{x(reference):.1f}" x2="{x(reference):.1f}" y1="5" '
            f'y2="{15 + len(labels) * ROW}" stroke="#888" stroke-dasharray="4 3"/>'
        )
    height = 20 + len(labels) * ROW
    return f'<svg width="{WIDTH}" height="{height}" font-size="12">{"".join(parts)}</svg>'


def lines(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    bands: dict[str, tuple[Sequence[float], Sequence[float], Sequence[float]]] | None = None,
    x_label: str = "",
    y_label: str = "",
    diagonal: bool = False,
) -> str:
    """Line plot of named (x, y) series; `bands` shade (x, low, high) regions;
    `diagonal` draws y = x (e.g. the equality line of a Lorenz curve)."""
    bands = bands or {}
    xs = [v for xv, _ in series.values() for v in xv] + [v for b in bands.values() for v in b[0]]
    ys = [v for _, yv in series.values() for v in yv]
    ys += [v for b in bands.values() for v in (*b[1], *b[2])]
    xs, ys = (
        [v for v in xs if math.isfinite(v)] or [0, 1],
        [v for v in ys if math.isfinite(v)] or [0, 1],
    )
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    left, top, w, h = 60, 10, WIDTH - 200, 220

    def px(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * w

    def py(v: float) -> float:
        return top + h - (v - y0) / (y1 - y0) * h

    parts = [
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>',
        f'<text x="{left}" y="{top + h + 16}">{x0:.3g}</text>',
        f'<text x="{left + w}" y="{top + h + 16}" text-anchor="end">{x1:.3g}</text>',
        f'<text x="{left - 4}" y="{top + h}" text-anchor="end">{y0:.3g}</text>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{y1:.3g}</text>',
        f'<text x="{left + w / 2}" y="{top + h + 30}" text-anchor="middle">{_e(x_label)}</text>',
        f'<text x="12" y="{top + h / 2}" transform="rotate(-90 12 {top + h / 2})" '
        f'text-anchor="middle">{_e(y_label)}</text>',
    ]
    if diagonal:
        parts.append(
            f'<line x1="{px(x0):.1f}" y1="{py(x0):.1f}" x2="{px(x1):.1f}" y2="{py(x1):.1f}" '
            'stroke="#aaa" stroke-dasharray="4 3"/>'
        )
    for i, (name, (bx, low, high)) in enumerate(bands.items()):
        outline = [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(bx, high, strict=True)]
        outline += [
            f"{px(a):.1f},{py(b):.1f}" for a, b in reversed(list(zip(bx, low, strict=True)))
        ]
        colour = COLOURS[i % len(COLOURS)]
        parts.append(
            f'<polygon points="{" ".join(outline)}" fill="{colour}" opacity="0.18">'
            f"<title>{_e(name)}</title></polygon>"
        )
    for i, (name, (sx, sy)) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(
            f"{px(a):.1f},{py(b):.1f}" for a, b in zip(sx, sy, strict=True) if math.isfinite(b)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{left + w + 10}" y="{top + 14 + i * 16}" fill="{colour}">{_e(name)}</text>'
        )
    return f'<svg width="{WIDTH}" height="{top + h + 40}" font-size="12">{"".join(parts)}</svg>'


def lorenz(counts: Sequence[float]) -> tuple[list[float], list[float]]:
    """Points of the Lorenz curve of non-negative amounts (share of holders, share held)."""
    values = sorted(max(float(c), 0.0) for c in counts)
    total = sum(values) or 1.0
    xs, ys, running = [0.0], [0.0], 0.0
    for i, v in enumerate(values, start=1):
        running += v
        xs.append(i / len(values))
        ys.append(running / total)
    return xs, ys


def paragraphs(*texts: str, css: str = "") -> str:
    """Plain-text paragraphs (escaped), with an optional class: "verdict" for a
    conclusion, "warning" for a caveat."""
    attr = f' class="{_e(css)}"' if css else ""
    return "".join(f"<p{attr}>{_e(t)}</p>" for t in texts if t)


def section(heading: str, *body: str, note: str = "") -> str:
    text = f'<p class="note">{_e(note)}</p>' if note else ""
    return f"<h2>{_e(heading)}</h2>{text}{''.join(body)}"


def write_report(path: str | Path, title: str, sections: Sequence[str], subtitle: str = "") -> Path:
    path = Path(path)
    sub = f'<p class="note">{_e(subtitle)}</p>' if subtitle else ""
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>{sub}{''.join(sections)}"
        "</body></html>\n"
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page)
    except OSError as exc:
        raise OutputError(f"cannot write the report {path}: {exc}") from exc
    return path
