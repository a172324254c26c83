"""The emotion curve's SVG: well-formed, labelled, the zero axis between positive and negative
points, pain points red and shaped apart, the previous period dashed beside it."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from crm.insights.charts import CURRENT_COLOUR, PAIN_COLOUR, CurvePoint, emotion_curve

SVG = "{http://www.w3.org/2000/svg}"
POINTS = [
    CurvePoint("Visita", "Descubrir", 1.67, previous=-1.0),
    CurvePoint("Entrega", "Interactuar", 0.0, pain=True),
    CurvePoint("Reclamación <urgente>", "Interactuar", -0.6, previous=0.5, pain=True),
    CurvePoint("Renovación", "Retener", None, previous=2.0),
    CurvePoint("Reseña", "Recomendar", 1.5),
]


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def zero_y(svg) -> float:
    axis = svg.find(f".//{SVG}line[@class='zero-axis']")
    assert axis is not None, "no zero axis"
    assert axis.get("y1") == axis.get("y2")
    return float(axis.get("y1"))


def current_points(svg):
    return [g for g in svg.iter(f"{SVG}g") if "current" in (g.get("class") or "").split()]


def test_a_labelled_image():
    chart = emotion_curve(POINTS, chart_id="curve", title="Curva", desc="Descripción")
    assert isinstance(chart, Markup)
    svg = parse(chart)
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "img"
    assert (svg.get("aria-labelledby"), svg.get("aria-describedby")) == ("curve-title", "curve-desc")
    assert svg.find(f"{SVG}title").text == "Curva" and svg.find(f"{SVG}title").get("id") == "curve-title"
    assert svg.find(f"{SVG}desc").text == "Descripción" and svg.find(f"{SVG}desc").get("id") == "curve-desc"
    # self-contained: no script, no stylesheet, no inline style, no external reference
    text = str(chart)
    for forbidden in ("<script", "<style", "style=", "href=", "url("):
        assert forbidden not in text


def test_points_above_and_below_the_zero_axis():
    svg = parse(emotion_curve(POINTS))
    zero = zero_y(svg)
    points = {float(g.get("data-value")): float(g.get("data-y")) for g in current_points(svg)}
    assert set(points) == {1.67, 0.0, -0.6, 1.5}  # no point where nothing was measured
    assert points[1.67] < points[1.5] < zero  # positive above (SVG y grows downwards)
    assert points[0.0] == zero
    assert points[-0.6] > zero
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks == ["-2", "-1", "0", "+1", "+2"]
    values = [g.find(f"{SVG}text").text for g in current_points(svg)]
    assert values == ["+1.67", "0", "-0.6", "+1.5"]  # readable as text


def test_pain_points_are_red_and_shaped_apart():
    svg = parse(emotion_curve(POINTS))
    pains = [g for g in current_points(svg) if "pain" in g.get("class").split()]
    assert [float(g.get("data-value")) for g in pains] == [0.0, -0.6]
    for g in pains:
        assert g.find(f"{SVG}path").get("fill") == PAIN_COLOUR  # a triangle, not only a colour
        assert "pain point" in g.find(f"{SVG}title").text
    others = [g for g in current_points(svg) if "pain" not in g.get("class").split()]
    assert all(g.find(f"{SVG}circle").get("fill") == CURRENT_COLOUR for g in others)
    red_labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "x-label" and t.get("fill") == PAIN_COLOUR]
    assert red_labels == ["Entrega", "Reclamación <urgente>"]  # escaped in the markup, text when parsed


def test_the_previous_period_is_dashed_beside_it_with_a_legend():
    svg = parse(emotion_curve(POINTS))
    lines = {line.get("class"): line for line in svg.iter(f"{SVG}polyline")}
    previous = [p for p in svg.iter(f"{SVG}polyline") if p.get("class") == "curve previous"]
    current = [p for p in svg.iter(f"{SVG}polyline") if p.get("class") == "curve current"]
    assert previous and all(p.get("stroke-dasharray") for p in previous)
    assert current and not any(p.get("stroke-dasharray") for p in current)
    assert "curve previous" in lines
    # a gap where the previous period measured nothing: Visita alone, then Reclamación–Renovación
    assert [len(p.get("points").split()) for p in previous] == [1, 2]
    assert [len(p.get("points").split()) for p in current] == [3, 1]
    previous_points = [float(c.get("data-value")) for c in svg.iter(f"{SVG}circle")
                       if c.get("class") == "point previous"]
    assert previous_points == [-1.0, 0.5, 2.0]
    legend = " ".join(t.text for t in svg.find(f"{SVG}g[@class='legend']").iter(f"{SVG}text"))
    assert legend == "This period Previous period Pain point"


def test_groups_and_a_description_by_default():
    svg = parse(emotion_curve(POINTS))
    groups = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "group-label"]
    assert groups == ["Descubrir", "Interactuar", "Retener", "Recomendar"]
    desc = svg.find(f"{SVG}desc").text
    assert "Visita: +1.67" in desc and "Pain points: Entrega, Reclamación <urgente>." in desc


def test_nothing_measured():
    svg = parse(emotion_curve([]))
    assert zero_y(svg) > 0
    assert current_points(svg) == []
    assert [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "empty"] == [
        "Nothing was measured in this period."]


@pytest.mark.parametrize("value", [-2, 2])
def test_the_ends_of_the_scale_stay_inside_the_plot(value):
    svg = parse(emotion_curve([CurvePoint("x", "g", value)]))
    y = float(current_points(svg)[0].get("data-y"))
    ticks = {t.text: float(t.get("y")) - 4 for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"}
    assert y == ticks["+2" if value > 0 else "-2"]
