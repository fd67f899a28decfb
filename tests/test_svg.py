"""The inline SVG charts: well-formed, escaped, with sensible ticks and bins."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from aimo import svg


def test_ticks_are_round_and_cover_the_range():
    assert svg.nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0.83, 0.97) == [0.85, 0.9, 0.95]
    assert svg.nice_ticks(3, 3) == [3]


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50))
def test_every_value_falls_in_a_bin(values):
    edges = svg.even_edges(values, 12)
    assert edges[0] <= min(values) and edges[-1] >= max(values)
    assert sum(svg.bin_counts(values, edges)) == len(values)
    assert len(edges) <= 14


def test_charts_are_well_formed_svg_with_escaped_labels():
    line = svg.line_chart(
        [
            svg.Series("maj@k <&>", [1, 2, 4], [0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.6, 0.7, 0.8]),
            svg.Series("file", [4], [0.65], line=False),
        ],
        x_label="k",
        y_label="accuracy",
        log2_x=True,
        percent=True,
        marks=[(0.66, "strategy", "#f00")],
    )
    hist = svg.histogram(
        [svg.Group("right", [1, 2, 3]), svg.Group("wrong", [5])], [0, 2, 4, 6], x_label="tokens"
    )
    bars = svg.bar_chart([("p<1>", 3.0, "#0f0"), ("p2", 1.0, "#f00")], x_label="problems", y_label="s")
    for chart in (line, hist, bars):
        root = ET.fromstring(chart)
        assert root.tag.endswith("svg")
    assert "maj@k &lt;&amp;&gt;" in line and "<polygon" in line and "stroke-dasharray" in line
    assert hist.count("<rect") >= 6
    assert "p&lt;1&gt;" in bars
    assert (
        svg.line_chart([], x_label="", y_label="") == "" and svg.bar_chart([], x_label="", y_label="") == ""
    )
