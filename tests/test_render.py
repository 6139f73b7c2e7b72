"""SVG plan: one symbol per component, coverage circles, legend by state, lux layer, determinism."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib import image as mpimg

from ceiling_grid.evaluator.report import ComplianceReport, RuleResult, StageReport
from ceiling_grid.grid import Component, RoomGrid
from ceiling_grid.photometry import illuminance
from ceiling_grid.render import _png_rgba, illuminance_samples, lux_colour, render_svg
from ceiling_grid.testing import make_room

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def room() -> RoomGrid:
    states = {(5, 5): "column", (2, 2): "sprinkler", (3, 7): "access_panel", (0, 0): "cut_tile"}
    grid = make_room(
        12,
        10,
        grid_id="plan-room",
        states=states,
        outside=[(11, 0), (11, 1)],
        components={(1, 8): "air_return", (7, 7): "invalid"},
    )
    grid = grid.with_components(Component.LIGHT, [(2, 1), (6, 1), (2, 4), (7, 4), (2, 7), (6, 8), (10, 5)])
    grid = grid.with_components(Component.AIR_SUPPLY, [(4, 2), (8, 6)])
    return grid.with_components(Component.SMOKE_DETECTOR, [(5, 3), (9, 9)])


def _groups(svg: str, cls: str) -> int:
    return len(re.findall(rf'<g class="{cls}">', svg))


def test_one_symbol_per_component_and_one_coverage_circle_per_detector(room: RoomGrid) -> None:
    """Luminaires, diffusers, returns and detectors each appear exactly as often as in the grid."""
    svg = render_svg(room)
    assert _groups(svg, "luminaire") == 7 + 1  # + the legend sample
    assert _groups(svg, "diffuser") == 2 + 1
    assert _groups(svg, "return") == 1 + 1
    assert _groups(svg, "detector") == 2 + 1
    assert svg.count('class="coverage"') == 2
    r_px = re.search(r'class="coverage" cx="[^"]+" cy="[^"]+" r="([^"]+)"', svg)
    assert r_px is not None
    tile_px = float(re.search(r'class="tile-column" x="[^"]+" y="[^"]+" width="([^"]+)"', svg).group(1))
    assert float(r_px.group(1)) == pytest.approx(room.detector_spec.r_cover_m / room.tile_size_m * tile_px, abs=0.01)


def test_blocked_tiles_are_drawn_and_listed_in_the_legend(room: RoomGrid) -> None:
    """Each blocked state present gets its tiles drawn and one legend entry; absent states get none."""
    svg = render_svg(room)
    for cls in ("tile-column", "tile-sprinkler", "tile-access_panel", "tile-cut_tile", "tile-invalid"):
        assert svg.count(f'class="{cls}"') == 1, cls
    for label in (
        "Column (no ceiling)",
        "Sprinkler head",
        "Access panel",
        "Cut tile",
        "Blocked tile (invalid)",
        "Outside the room",
    ):
        assert label in svg
    assert "Under downstand beam" not in svg and "Existing equipment" not in svg


def test_svg_is_well_formed_and_deterministic(room: RoomGrid) -> None:
    """The document parses as XML, has a title with the grid id, and two renders are identical."""
    svg = render_svg(room)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    # Responsive: the drawing scales to its container; the viewBox holds the whole plan and the legend.
    assert root.get("width") == "100%" and root.get("height") is None
    _, _, vb_w, vb_h = (float(v) for v in root.get("viewBox", "").split())
    assert vb_w > 500 and vb_h > 300
    assert root.find(f"{SVG_NS}title").text == "Reflected ceiling plan plan-room"
    assert render_svg(room) == svg


def test_displayed_numbers_are_rounded() -> None:
    """A 9 ft ceiling reads 2.74 m in the title, not 2.7432 m."""
    svg = render_svg(make_room(8, 6, ceiling_height_m=2.7432))
    assert "ceiling 2.74 m" in svg and "2.7432" not in svg


def test_lux_layer_matches_photometry(room: RoomGrid) -> None:
    """The embedded image decodes to the viridis colours of photometry.illuminance at the samples."""
    values, k = illuminance_samples(room, max_work=1.0)  # forces one sample per tile
    assert k == 1
    ys, xs = np.nonzero(room.arrays.ceiling_area)
    direct = illuminance(room, room.positions(Component.LIGHT), (np.stack([xs, ys], axis=1) + 0.5) * room.tile_size_m)
    np.testing.assert_allclose(values[ys, xs], direct)
    assert np.isnan(values[5, 5]) and np.isnan(values[0, 11])  # column and outside
    svg = render_svg(room)
    data = re.search(r'href="data:image/png;base64,([^"]+)"', svg).group(1)
    pixels = mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
    assert pixels.shape[2] == 4 and pixels.shape[0] % room.height == 0


def test_no_lux_layer_without_lights_or_when_disabled(room: RoomGrid) -> None:
    """A room without luminaires, or illuminance=False, has no image and no colour bar."""
    bare = make_room(4, 4, grid_id="bare")
    for svg in (render_svg(bare), render_svg(room, illuminance=False)):
        assert "<image" not in svg and "colour-bar" not in svg


def test_title_shows_status_and_figures(room: RoomGrid) -> None:
    """With a report the title carries Em, U0 and the failed rules."""
    lights = StageReport(
        "lights", [RuleResult("L3", False, True, "Em too low")], 120.0, metrics={"em_lx": 412.3, "u0": 0.58}
    )
    report = ComplianceReport("plan-room", "nfpa72", "office", {"lights": lights})
    svg = render_svg(room, report)
    assert "Em 412 lx (target 500)" in svg and "U0 0.58 (target 0.6)" in svg
    assert "NOT COMPLIANT — failed L3" in svg
    assert "NOT EVALUATED" in render_svg(room)


def test_png_encoder_round_trips() -> None:
    """The dependency-free PNG encoder produces an image matplotlib reads back exactly."""
    rgba = np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4)
    back = mpimg.imread(io.BytesIO(_png_rgba(rgba)), format="png")
    np.testing.assert_array_equal(np.rint(back * 255).astype(np.uint8), rgba)


def test_colour_map_endpoints() -> None:
    """0 lx maps to viridis' first colour, vmax and above to its last."""
    cols = lux_colour(np.array([0.0, 500.0, 900.0]), 500.0)
    assert tuple(cols[0]) == (68, 1, 84) and tuple(cols[1]) == (253, 231, 37) and tuple(cols[2]) == (253, 231, 37)


def test_supplied_illuminance_must_match_the_grid(room: RoomGrid) -> None:
    """An illuminance array of the wrong shape is rejected with the expected shape."""
    with pytest.raises(ValueError, match="height·k, width·k"):
        render_svg(room, illuminance=np.zeros((7, 7)))


def test_dimension_lines_give_the_wall_offsets_and_spacings() -> None:
    """Above the plan: wall offset, column spacing, wall offset (m); left of it: the same for the rows."""
    grid = make_room(10, 8, components={(2, 1): "light", (7, 1): "light", (2, 6): "light", (7, 6): "light"})
    root = ET.fromstring(render_svg(grid, illuminance=False))
    ns = {"s": "http://www.w3.org/2000/svg"}
    dims = root.find(".//s:g[@class='dimensions']", ns)
    assert dims is not None
    labels = [t.text for t in dims.findall("s:text", ns)]
    assert labels == ["1.50", "3.00", "1.50", "0.90", "3.00", "0.90"]  # columns at x 2, 7; rows at y 1, 6
    assert render_svg(make_room(10, 8), illuminance=False).count('class="dimensions"') == 0


def test_beams_that_are_walls_are_outlined_and_named_in_the_legend() -> None:
    """A beam deep enough to zone the detectors gets a dashed outline and a legend entry; a shallow one does not."""
    from ceiling_grid.render import render_svg
    from ceiling_grid.testing import beam_line, make_room

    deep = make_room(12, 6, ceiling_height_m=3.0, detector_standard="bs5839_1",
                     beams=beam_line(0.4, x=6, span=range(6)))
    svg = render_svg(deep)
    assert 'class="beam-walls"' in svg and "Beam &gt; 0.30 m: detector wall" in svg
    shallow = make_room(12, 6, ceiling_height_m=3.0, detector_standard="bs5839_1",
                        beams=beam_line(0.2, x=6, span=range(6)))
    svg = render_svg(shallow)
    assert 'class="beam-walls"' not in svg and "detector wall" not in svg and "Under downstand beam" in svg


@pytest.mark.parametrize("rotation", [0, 90])
def test_troffers_are_drawn_in_their_true_footprint(rotation: int) -> None:
    lights = {(2, 2): "light", (3, 2): "light", (6, 4): "light", (7, 4): "light"} if rotation == 0 else {
        (2, 2): "light", (2, 3): "light", (6, 4): "light", (6, 5): "light"}
    grid = make_room(12, 8, components=lights, luminaire={"length_tiles": 2, "rotation_deg": rotation})
    root = ET.fromstring(render_svg(grid, illuminance=False))
    ns = {"s": "http://www.w3.org/2000/svg"}
    layer = root.find(".//s:g[@class='light-layer']", ns)
    assert layer is not None
    housings = [g.find("s:rect", ns) for g in layer.findall("s:g[@class='luminaire']", ns)]
    assert len(housings) == 2
    for rect in housings:
        assert rect is not None
        w, h = float(rect.get("width", 0)), float(rect.get("height", 0))
        assert (w > 1.9 * h) if rotation == 0 else (h > 1.9 * w)
    assert "2 luminaires" in render_svg(grid, illuminance=False)
    assert "Luminaire (2x4 troffer)" in render_svg(grid, illuminance=False)
