"""Charts drawn on the server as self-contained SVG: the same markup serves the page and
the PDF report (WeasyPrint), with no script, no stylesheet and no external resource.

Why not a chart library: pygal (the well-kept pure-Python SVG one) styles its charts
with a <style> element inside the SVG and adds its tooltips with JavaScript; the app's
Content-Security-Policy (`style-src 'self'; script-src 'self'`) blocks both when the SVG
is inline in a page, leaving an unstyled drawing. Here every colour and line style is a
presentation attribute (fill, stroke, stroke-dasharray), which the policy allows.

Accessibility: the chart is an image (role="img") named by its <title> and described by
its <desc>, both in the page's language; every value is also written as text.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from babel import numbers as babel_numbers
from flask_babel import gettext as _
from markupsafe import Markup, escape

SCALE = (-2, -1, 0, 1, 2)
CURRENT_COLOUR = "#1d4ed8"
PREVIOUS_COLOUR = "#6b7280"
PAIN_COLOUR = "#b91c1c"
GRID_COLOUR = "#d1d5db"
AXIS_COLOUR = "#111827"
BAND_COLOUR = "#f3f4f6"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

LEFT, RIGHT, TOP, PLOT_HEIGHT, BOTTOM = 72, 24, 64, 240, 120
STEP = 92
LABEL_CHARS = 26


@dataclass(frozen=True)
class CurvePoint:
    """One x position of the curve: a touchpoint (or a phase) and its group (the phase)."""

    label: str
    group: str
    value: float | None
    previous: float | None = None
    pain: bool = False


def _locale():
    try:
        from flask_babel import get_locale

        return get_locale() or "en"
    except (RuntimeError, KeyError):
        return "en"


def _number(value: float) -> str:
    shown = round(value, 2)
    return babel_numbers.format_decimal(shown, format="+#,##0.##;-#,##0.##" if shown else "0", locale=_locale())


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1].rstrip() + "…"


def _y(value: float) -> float:
    return round(TOP + (2 - value) / 4 * PLOT_HEIGHT, 1)


def _runs(xs: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Consecutive known values as separate lines: a gap where nothing was measured."""
    runs, run = [], []
    for x, value in zip(xs, values, strict=True):
        if value is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append((x, _y(value)))
    if run:
        runs.append(run)
    return runs


def _polyline(run, colour: str, css: str, dashed: bool = False) -> str:
    points = " ".join(f"{x},{y}" for x, y in run)
    dash = ' stroke-dasharray="7 5"' if dashed else ""
    return (f'<polyline class="{css}" points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"'
            f' stroke-linejoin="round"{dash}/>')


def _groups(points: Sequence[CurvePoint]) -> list[tuple[str, int, int]]:
    """(group, first index, last index) of each run of points in the same group."""
    out: list[tuple[str, int, int]] = []
    for i, point in enumerate(points):
        if out and out[-1][0] == point.group:
            out[-1] = (point.group, out[-1][1], i)
        else:
            out.append((point.group, i, i))
    return out


def emotion_curve(points: Sequence[CurvePoint], *, chart_id: str = "emotion-curve", title: str | None = None,
                  desc: str | None = None) -> Markup:
    """The emotion curve as SVG: average emotion (−2..+2) per point, this period as a solid
    line and the previous period dashed, the zero axis marked (positive above, negative
    below), pain points red and drawn as downward triangles (not colour alone)."""
    title = title or _("Emotion curve")
    n = len(points)
    width = LEFT + max(n, 4) * STEP + RIGHT
    height = TOP + PLOT_HEIGHT + BOTTOM
    xs = [LEFT + STEP * (i + 0.5) for i in range(n)]
    if desc is None:
        desc = _describe(points)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="emotion-chart" role="img"'
        f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" lang="{escape(str(_locale()))}"'
        f' aria-labelledby="{escape(chart_id)}-title" aria-describedby="{escape(chart_id)}-desc"'
        f' font-family="{FONT}" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    # the phases as alternating bands, named at their top
    for k, (group, first, last) in enumerate(_groups(points)):
        x0, x1 = LEFT + STEP * first, LEFT + STEP * (last + 1)
        if k % 2 == 0:
            out.append(f'<rect class="band" x="{x0}" y="{TOP}" width="{x1 - x0}" height="{PLOT_HEIGHT}"'
                       f' fill="{BAND_COLOUR}"/>')
        out.append(f'<text class="group-label" x="{(x0 + x1) / 2}" y="{TOP - 8}" text-anchor="middle"'
                   f' font-weight="bold" fill="{AXIS_COLOUR}">{escape(_short(group))}</text>')
    # the scale: a grid line per step, the zero axis stronger
    out.append('<g class="y-axis">')
    for step in SCALE:
        y = _y(step)
        if step == 0:
            out.append(f'<line class="zero-axis" x1="{LEFT}" y1="{y}" x2="{width - RIGHT}" y2="{y}"'
                       f' stroke="{AXIS_COLOUR}" stroke-width="1.5"/>')
        else:
            out.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{width - RIGHT}" y2="{y}"'
                       f' stroke="{GRID_COLOUR}" stroke-width="1"/>')
        out.append(f'<text class="tick" x="{LEFT - 8}" y="{y + 4}" text-anchor="end"'
                   f' fill="{AXIS_COLOUR}">{escape(_number(step))}</text>')
    axis_y = TOP + PLOT_HEIGHT / 2
    out.append(f'<text class="axis-label" x="16" y="{axis_y}" text-anchor="middle" fill="{AXIS_COLOUR}"'
               f' transform="rotate(-90 16 {axis_y})">{escape(_("Average emotion"))}</text>')
    out.append('</g>')
    # the legend, above the plot
    out.append(_legend())
    if not n:
        out.append(f'<text class="empty" x="{width / 2}" y="{axis_y - 12}" text-anchor="middle"'
                   f' fill="{AXIS_COLOUR}">{escape(_("Nothing was measured in this period."))}</text>')
    # the previous period first, so this period's line is drawn over it
    for run in _runs(xs, [p.previous for p in points]):
        out.append(_polyline(run, PREVIOUS_COLOUR, "curve previous", dashed=True))
    for x, point in zip(xs, points, strict=True):
        if point.previous is not None:
            name = _("%(label)s, previous period: %(value)s", label=point.label, value=_number(point.previous))
            out.append(f'<circle class="point previous" cx="{x}" cy="{_y(point.previous)}" r="4" fill="#ffffff"'
                       f' stroke="{PREVIOUS_COLOUR}" stroke-width="2" data-value="{point.previous}">'
                       f'<title>{escape(name)}</title></circle>')
    for run in _runs(xs, [p.value for p in points]):
        out.append(_polyline(run, CURRENT_COLOUR, "curve current"))
    for x, point in zip(xs, points, strict=True):
        if point.value is not None:
            out.append(_point(x, point))
    # the touchpoints' names under the plot, slanted to fit
    label_y = TOP + PLOT_HEIGHT + 14
    for x, point in zip(xs, points, strict=True):
        colour = PAIN_COLOUR if point.pain else AXIS_COLOUR
        out.append(f'<text class="x-label" x="{x}" y="{label_y}" text-anchor="end" fill="{colour}"'
                   f' transform="rotate(-35 {x} {label_y})">{escape(_short(point.label))}</text>')
    out.append('</svg>')
    return Markup("".join(out))


def _point(x: float, point: CurvePoint) -> str:
    y = _y(point.value)
    colour = PAIN_COLOUR if point.pain else CURRENT_COLOUR
    shown = _number(point.value)
    name = (_("%(label)s: %(value)s, pain point", label=point.label, value=shown) if point.pain
            else _("%(label)s: %(value)s", label=point.label, value=shown))
    if point.pain:
        mark = (f'<path d="M{x - 7},{y - 6} L{x + 7},{y - 6} L{x},{y + 7} Z" fill="{colour}" stroke="#ffffff"'
                f' stroke-width="1"/>')
    else:
        mark = f'<circle cx="{x}" cy="{y}" r="5.5" fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
    # the value above a point at or over zero, below one under it; near either end of the
    # scale it goes inside the plot, clear of the phase names and the touchpoints' names
    above = 0 <= point.value < 1.75 or point.value <= -1.75
    text_y = y - 12 if above else y + 22
    css = "point current pain" if point.pain else "point current"
    return (f'<g class="{css}" data-value="{point.value}" data-x="{x}" data-y="{y}"><title>{escape(name)}</title>'
            f'{mark}<text class="value" x="{x}" y="{text_y}" text-anchor="middle" font-weight="bold"'
            f' fill="{colour}">{escape(shown)}</text></g>')


def _legend() -> str:
    y = 18
    items = [
        f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + 28}" y2="{y}" stroke="{CURRENT_COLOUR}" stroke-width="2.5"/>'
        f'<text x="{LEFT + 34}" y="{y + 4}" fill="{AXIS_COLOUR}">{escape(_("This period"))}</text>',
        f'<line x1="{LEFT + 170}" y1="{y}" x2="{LEFT + 198}" y2="{y}" stroke="{PREVIOUS_COLOUR}"'
        f' stroke-width="2.5" stroke-dasharray="7 5"/>'
        f'<text x="{LEFT + 204}" y="{y + 4}" fill="{AXIS_COLOUR}">{escape(_("Previous period"))}</text>',
        f'<path d="M{LEFT + 343},{y - 6} L{LEFT + 357},{y - 6} L{LEFT + 350},{y + 7} Z" fill="{PAIN_COLOUR}"/>'
        f'<text x="{LEFT + 364}" y="{y + 4}" fill="{AXIS_COLOUR}">{escape(_("Pain point"))}</text>',
    ]
    return f'<g class="legend">{"".join(items)}</g>'


def _describe(points: Sequence[CurvePoint]) -> str:
    """The chart in words, for screen readers and for anyone who cannot see colours."""
    text = _("Average emotion per touchpoint in journey order, on a scale from -2 (very unhappy) to +2 "
             "(delighted); a solid line for this period and a dashed line for the previous period.")
    known = [p for p in points if p.value is not None]
    if known:
        text += " " + "; ".join(_("%(label)s: %(value)s", label=p.label, value=_number(p.value)) for p in known) + "."
    pains = [p.label for p in points if p.pain]
    if pains:
        text += " " + _("Pain points: %(names)s.", names=", ".join(pains))
    return text
