"""The prepared room: §2.2 calculation grid (L1, L2), §7.4 D1 lattice, built once and frozen."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ceiling_grid.geometry import geometry_of
from ceiling_grid.prepared import evaluation_band_m, grid_spacing_m, prepare
from ceiling_grid.testing import l_shaped_room, make_room


@pytest.mark.parametrize(("d", "p"), [(5.0, 0.6), (10.0, 1.0), (25.0, 1.9)])
def test_grid_spacing_examples(d: float, p: float) -> None:
    """p = 0.2 x 5^log10(d) reproduces the published example spacings (5 m -> 0.6, 10 m -> 1.0, 25 m -> ~2)."""
    assert grid_spacing_m(d) == pytest.approx(p, abs=0.02)


def test_grid_spacing_capped_at_10_m() -> None:
    """The grid spacing never exceeds 10 m."""
    assert grid_spacing_m(10_000.0) == 10.0


def test_calculation_grid_of_office() -> None:
    """A 14.4 x 8.4 m office: 0.5 m band, d = 13.4 m, p = 1.226 m, 11 x 7 centroids, all kept."""
    grid = make_room(24, 14)
    cg = prepare(grid).calc
    assert cg.band_m == 0.5
    assert cg.bbox == pytest.approx((0.5, 0.5, 13.9, 7.9))
    assert cg.d_m == pytest.approx(13.4)
    assert cg.p_m == pytest.approx(0.2 * 5 ** math.log10(13.4))
    assert (cg.nx, cg.ny) == (11, 7)
    assert len(cg.points) == 77
    xs = np.unique(cg.points[:, 0])
    assert xs[0] == pytest.approx(0.5 + 13.4 / 22)
    assert np.diff(xs) == pytest.approx(np.full(10, 13.4 / 11))


def test_long_room_uses_short_side() -> None:
    """When long/short >= 2, d is the shorter side of the evaluation box."""
    grid = make_room(50, 3, room_type="corridor")
    cg = prepare(grid).calc
    assert cg.d_m == pytest.approx(0.8)
    assert cg.nx == math.ceil(29.0 / grid_spacing_m(0.8))


def test_band_shrinks_in_narrow_rooms() -> None:
    """A 1.2 m wide room keeps 0.6 m of evaluation width: b = (1.2 - 0.6)/2 = 0.3 m."""
    assert evaluation_band_m(prepare(make_room(20, 2))) == pytest.approx(0.3)
    assert evaluation_band_m(prepare(make_room(20, 1))) == 0.0
    assert evaluation_band_m(prepare(make_room(20, 4))) == 0.5


def test_points_respect_band_columns_and_l_cut() -> None:
    """Points stay b from every wall, outside columns and outside the L-cut."""
    grid = l_shaped_room(20, 16, 8, 7, states={(5, 12): "column", (6, 12): "column"})
    pts = prepare(grid).calc.points
    geo = geometry_of(grid)
    assert len(pts) > 20
    assert (geo.distance_to_walls(pts) >= 0.5 - 1e-9).all()
    assert geo.inside(pts).all()
    assert not geo.in_column(pts).any()
    t = grid.tile_size_m
    in_cut = (pts[:, 0] > 12 * t) & (pts[:, 1] < 7 * t)
    assert not in_cut.any()


def test_ring_room_whose_band_swallows_every_point_falls_back_to_the_whole_ceiling() -> None:
    """A 0.6 m-wide ring loses every point to the 0.5 m band; the whole ceiling becomes the task area."""
    from ceiling_grid.runner import PipelineRunner

    ring = make_room(3, 4, outside=[(1, 1), (1, 2)], grid_id="ring")
    cg = prepare(ring).calc
    assert len(cg.points) > 0 and cg.band_m == 0.0
    assert geometry_of(ring).on_ceiling(cg.points).all()
    with PipelineRunner(max_workers=1) as runner:
        result = runner.run_full_pipeline(ring)
    assert result.report.stages["lights"].metrics["count"] >= 1


def test_prepared_room_is_built_once_and_frozen() -> None:
    """Placing components keeps the same prepared room; its arrays are read-only; other rooms get their own."""
    from ceiling_grid.grid import Component

    grid = make_room(12, 9, states={(3, 3): "column"})
    room = prepare(grid)
    lit = grid.with_components(Component.LIGHT, [(1, 1), (5, 5)])
    assert prepare(lit) is room and geometry_of(lit) is room.geometry
    for arr in (room.calc.points, room.lattice.points, room.wall_runs, room.in_room, room.geometry.walls):
        with pytest.raises(ValueError, match="read-only"):
            arr.flat[0] = 0
    other = prepare(make_room(12, 9))
    assert other is not room and len(other.calc.points) >= len(room.calc.points)
    bs = prepare(make_room(12, 9, detector_standard="bs5839_1"))
    assert bs is not other and bs.lattice.radius != other.lattice.radius


def test_lattice_covers_the_polygon_and_skips_columns() -> None:
    """The D1 lattice: 0.1 m points inside the room plus its vertices, none strictly inside a column."""
    grid = l_shaped_room(20, 16, 8, 7, states={(5, 12): "column"})
    room = prepare(grid)
    lat = room.lattice
    geo = room.geometry
    assert not lat.corridor and lat.radius == grid.detector_spec.r_cover_m
    assert geo.on_ceiling(lat.points).all() and not geo.in_column(lat.points).any()
    corners = np.unique(np.concatenate([geo.walls[:, :2], geo.walls[:, 2:]]), axis=0)
    assert {tuple(c) for c in corners.round(9).tolist()} <= {tuple(p) for p in lat.points.round(9).tolist()}


def test_bs_corridor_lattice_is_the_centreline() -> None:
    """A BS 5839-1 corridor is checked on its centreline with the 7.5 m corridor radius."""
    room = prepare(make_room(50, 3, room_type="corridor", detector_standard="bs5839_1"))
    assert room.is_bs_corridor and room.lattice.corridor and room.lattice.radius == 7.5
    assert np.unique(room.lattice.points[:, 1]) == pytest.approx([0.9])


@pytest.mark.parametrize(("standard", "depth", "is_wall"), [
    ("bs5839_1", 0.31, True),  # BS 5839-1: deeper than 10 % of H = 3.0 m
    ("bs5839_1", 0.30, False),  # exactly 10 %: not deeper
    ("cen_ts_54_14", 0.30, False),
    ("cen_ts_54_14", 0.35, True),
    ("nfpa72", 0.30, True),  # NFPA 72: at least 10 % (and a lone beam is spaced far enough)
    ("nfpa72", 0.29, False),
])
def test_beam_is_a_wall_by_the_rule_sets_depth(standard: str, depth: float, is_wall: bool) -> None:
    """§4.4 beam_as_wall: the depth limit against the ceiling height, strict for BS/CEN, inclusive for NFPA."""
    from ceiling_grid.testing import beam_line

    room = prepare(make_room(20, 10, ceiling_height_m=3.0, detector_standard=standard,
                             beams=beam_line(depth, x=10, span=range(10))))
    assert bool(room.beam_walls[:, 10].all()) is is_wall and not room.beam_walls[:, :10].any()
    geo = room.detection
    assert (geo is room.geometry) is not is_wall
    if is_wall:  # the beam leaves the polygon detectors are measured in; lighting keeps the whole room
        assert not geo.in_room[:, 10].any() and room.geometry.in_room[:, 10].all()
        lattice = room.lattice.points
        assert not ((lattice[:, 0] > 6.0 + 1e-9) & (lattice[:, 0] < 6.6 - 1e-9)).any()


def test_nfpa_closely_spaced_deep_beams_are_not_pockets() -> None:
    """NFPA 72 17.7.3.2.4.2: deep beams closer than 0.4 H centre to centre do not make separate pockets."""
    from ceiling_grid.testing import beam_line

    h = 6.0  # 0.4 H = 2.4 m: beams 3 tiles (1.8 m) apart are too close, 5 tiles (3.0 m) apart are not
    close = {**beam_line(0.7, x=5, span=range(8)), **beam_line(0.7, x=8, span=range(8))}
    far = {**beam_line(0.7, x=4, span=range(8)), **beam_line(0.7, x=9, span=range(8))}
    assert not prepare(make_room(14, 8, ceiling_height_m=h, beams=close)).beam_walls.any()
    assert prepare(make_room(14, 8, ceiling_height_m=h, beams=far)).beam_walls.sum() == 16
    # BS 5839-1 has no spacing condition: the same close beams are walls
    bs = make_room(14, 8, ceiling_height_m=h, detector_standard="bs5839_1", beams=close)
    assert prepare(bs).beam_walls.sum() == 16
