"""Tests for the lighting rules: calculation grid, lumen method, spacing rules and regular arrays."""

from __future__ import annotations

import numpy as np
import pytest

from ceiling_grid.lighting import (
    array_shapes,
    fixture_rules,
    lpd_w_m2,
    lumen_method_count,
    nearest_neighbour_shr,
    regular_array,
    room_index,
    shr_minimum_count,
    utilisation_factor,
)
from ceiling_grid.prepared import prepare
from ceiling_grid.testing import l_shaped_room, make_room


def test_room_index_and_uf_interpolation() -> None:
    """K = 2A/(Hm P) and UF interpolates the published row linearly."""
    grid = make_room(24, 14)
    assert room_index(prepare(grid)) == pytest.approx(14.4 * 8.4 / (1.95 * (14.4 + 8.4)))
    assert utilisation_factor(2.25) == pytest.approx(0.67)
    assert utilisation_factor(0.5) == pytest.approx(0.44 - 0.25 * 0.24)
    assert utilisation_factor(0.05) == 0.30
    assert utilisation_factor(9.0) == 0.77


def test_lumen_method_worked_example() -> None:
    """24 x 14 office: K = 2.7207, UF = 0.7032, N = 500·120.96/(3400·0.7032·0.8) = 31.6 -> 32."""
    grid = make_room(24, 14)
    k = 120.96 / (1.95 * 22.8)
    uf = 0.69 + (k - 2.5) / 0.5 * 0.03
    n = 500 * 120.96 / (3400 * uf * 0.8)
    assert 31 < n < 32
    assert lumen_method_count(prepare(grid)) == 32


def test_lumen_method_corridor_extrapolates() -> None:
    """A 30 x 1.8 m corridor (K = 0.63 at floor level) extrapolates the UF and needs 5 panels for 100 lx."""
    grid = make_room(50, 3, room_type="corridor")
    assert room_index(prepare(grid)) == pytest.approx(2 * 54 / (2.7 * 63.6))
    assert lumen_method_count(prepare(grid)) == 5


def test_shr_minimum_count() -> None:
    """N_SHR = ceil(14.4/2.925) x ceil(8.4/2.925) = 5 x 3."""
    assert shr_minimum_count(prepare(make_room(24, 14))) == 15


def test_lpd() -> None:
    """LPD is fixtures x watts / ceiling area (columns excluded)."""
    grid = make_room(10, 10, states={(0, 0): "column"})
    assert lpd_w_m2(prepare(grid), 10) == pytest.approx(340 / (99 * 0.36))


def test_nearest_neighbour_shr() -> None:
    """S/Hm uses centre-to-centre distance to the nearest other fixture."""
    grid = make_room(20, 10)
    shr = nearest_neighbour_shr(prepare(grid), np.array([[2, 2], [6, 2], [2, 9]]))
    assert shr == pytest.approx(np.array([2.4, 2.4, 4.2]) / 1.95)
    assert nearest_neighbour_shr(prepare(grid), np.array([[2, 2]])).tolist() == [0.0]


def test_fixture_rules_regular_array_passes_and_wall_hugger_fails() -> None:
    """A regular array at S/2 from the walls passes L4; a fixture pressed against a wall fails it."""
    grid = make_room(24, 14)
    tiles = regular_array(prepare(grid), 6, 4, grid.arrays.free_for_light)
    rules = fixture_rules(prepare(grid), tiles)
    assert rules.passing.all()
    assert rules.fraction == 1.0
    moved = tiles.copy()
    corner = int(np.argmin(moved[:, 0] + moved[:, 1]))
    moved[corner] = (0, 0)  # 0.3 m from the walls while S is about 2.4 m
    bad = fixture_rules(prepare(grid), moved)
    assert not bad.wall_ok[corner]


def test_fixture_rules_single_row_corridor() -> None:
    """In a one-row corridor the across-axis has no spacing, so only the far-wall limit applies."""
    grid = make_room(50, 3, room_type="corridor")
    tiles = regular_array(prepare(grid), 8, 1, grid.arrays.free_for_light)
    rules = fixture_rules(prepare(grid), tiles)
    assert rules.wall_ok.all()
    assert rules.max_shr == pytest.approx(3.6 / 2.7)


def test_array_shapes_sorted_and_shr_filtered() -> None:
    """Shapes come by count then aspect match; the SHR filter removes too-sparse shapes."""
    grid = make_room(24, 14)
    shapes = array_shapes(prepare(grid))
    counts = [nx * ny for nx, ny in shapes]
    assert counts == sorted(counts)
    assert shapes[0] == (1, 1)
    filtered = array_shapes(prepare(grid), shr_max=1.5)
    assert all(14.4 / nx <= 1.5 * 1.95 + 0.6 and 8.4 / ny <= 1.5 * 1.95 + 0.6 for nx, ny in filtered)  # L4's tile
    assert filtered[0] == (5, 3)
    assert (4, 3) not in filtered and (5, 2) not in filtered  # 3.6 m and 4.2 m: past 1.5 Hm + t = 3.525 m


def test_regular_array_positions() -> None:
    """A 6 x 4 array in 14.4 x 8.4 m puts centres S/2 from the walls, snapped symmetrically to tiles."""
    grid = make_room(24, 14)
    tiles = regular_array(prepare(grid), 6, 4, grid.arrays.free_for_light)
    assert len(tiles) == 24
    xs, ys = sorted(set(tiles[:, 0].tolist())), sorted(set(tiles[:, 1].tolist()))
    assert xs == [1, 5, 9, 14, 18, 22]  # ideal centres 2, 6, 10 fall on tile edges: the wall side, mirrored
    assert ys == [1, 5, 8, 12]
    assert [23 - x for x in xs] == xs[::-1] and [13 - y for y in ys] == ys[::-1]


def test_symmetric_snapping_and_the_parity_rule() -> None:
    """Odd counts in even spans cannot be symmetric; every other count is mirrored exactly."""
    from ceiling_grid.lighting import axis_tiles, symmetric_shape

    for span in range(1, 30):
        for count in range(1, span + 1):
            tiles = axis_tiles(0, span, count)
            assert len(set(tiles)) == count and tiles == sorted(tiles)
            mirrored = [span - 1 - t for t in tiles][::-1] == tiles
            assert mirrored == (count % 2 == 0 or span % 2 == 1), (span, count)
    room = prepare(make_room(10, 9))
    assert symmetric_shape(room, 2, 3) and symmetric_shape(room, 4, 1)
    assert symmetric_shape(room, 2, 2) and not symmetric_shape(room, 3, 3)


def test_snapping_keeps_the_outer_lines_in_the_wall_offset_window() -> None:
    """A boundary tie goes to the wall-side tile unless that leaves L4b's window; ``inward`` asks for the other."""
    from ceiling_grid.lighting import array_variants, axis_tiles

    assert axis_tiles(0, 4, 2) == [1, 2]  # 0 and 3 would sit 0.5 tile from the walls, 3 apart (< 0.25 S)
    assert axis_tiles(0, 8, 2) == [1, 6] and axis_tiles(0, 8, 2, inward=True) == [2, 5]  # both in the window
    assert axis_tiles(0, 24, 6) == [1, 5, 9, 14, 18, 22] and axis_tiles(0, 24, 6, inward=True) == [2, 5, 9, 14, 18, 21]
    assert axis_tiles(0, 9, 3, inward=True) == axis_tiles(0, 9, 3)  # no tie: one snapping
    for span in range(2, 30):
        for count in range(2, span + 1):
            for inward in (False, True):
                tiles = axis_tiles(0, span, count, inward=inward)
                assert len(set(tiles)) == count and tiles == sorted(tiles)
                assert ([span - 1 - t for t in tiles][::-1] == tiles) == (count % 2 == 0 or span % 2 == 1)
    room = prepare(make_room(8, 7))
    assert array_variants(room, 2, 3) == [(False, False), (True, False)]  # 3 across 7 tiles has no tie
    assert array_variants(room, 3, 3) == [(False, False)]


def test_obstacles_move_fixtures_along_their_row_and_keep_symmetry() -> None:
    """A blocked target moves along its row towards the centre; symmetric obstacles keep the array symmetric."""
    from ceiling_grid.lighting import regularity

    corners = {(1, 1): "sprinkler", (22, 1): "sprinkler", (1, 12): "sprinkler", (22, 12): "sprinkler"}
    grid = make_room(24, 14, states=corners)
    room = prepare(grid)
    tiles = regular_array(room, 6, 4, grid.arrays.free_for_light)
    placed = set(map(tuple, tiles.tolist()))
    assert {(2, 1), (21, 1), (2, 12), (21, 12)} <= placed and not placed & set(corners)
    reg = regularity(room, tiles)
    assert reg.symmetry_x == 1.0 and reg.symmetry_y == 1.0 and reg.complete and reg.aligned == 1.0


def test_regular_array_l_shape_and_blocked_tiles() -> None:
    """Targets outside an L-shape are dropped; a blocked target moves to the nearest free tile."""
    lroom = l_shaped_room(24, 14, 12, 7)
    tiles = regular_array(prepare(lroom), 6, 4, lroom.arrays.free_for_light)
    assert len(tiles) == 24 - 3 * 2
    assert lroom.arrays.free_for_light[tiles[:, 1], tiles[:, 0]].all()
    blocked = make_room(24, 14, states={(2, 1): "sprinkler"})
    moved = regular_array(prepare(blocked), 6, 4, blocked.arrays.free_for_light)
    assert len(moved) == 24
    assert (2, 1) not in set(map(tuple, moved.tolist()))
    assert any(abs(x - 2) + abs(y - 1) == 1 for x, y in moved.tolist())


def test_regularity_tells_a_designer_array_from_steps_and_holes() -> None:
    """L6: a full symmetric array is regular; diagonal steps, a hole and uneven corridor gaps are not."""
    from ceiling_grid.lighting import regularity

    office = prepare(make_room(6, 5))
    square = regularity(office, np.array([[1, 1], [4, 1], [1, 3], [4, 3]]))
    assert square.regular and square.score == 1.0 and (square.rows, square.columns) == (2, 2)
    steps = regularity(office, np.array([[1, 1], [2, 2], [3, 3]]))  # the old private-office layout
    assert not steps.regular and steps.aligned == 0.0 and steps.rows == steps.columns == 3
    big = prepare(make_room(24, 14))
    full = regular_array(big, 8, 4, make_room(24, 14).arrays.free_for_light)
    holed = regularity(big, full[1:])
    assert not holed.complete and holed.symmetry_x < 1.0 and not holed.regular
    corridor = prepare(make_room(50, 3, room_type="corridor"))
    uneven = regularity(corridor, np.array([[3, 1], [21, 1], [28, 1], [40, 1], [46, 1]]))  # gaps 18, 7, 12, 6
    assert uneven.max_gap_deviation_tiles == pytest.approx(18 - 43 / 4) and uneven.evenness == 0.0
    assert regularity(corridor, np.zeros((0, 2))).score == 0.0


def test_wing_bands_of_l_u_and_t_rooms() -> None:
    """A rectangle is one band per axis; an L, U or T room is cut at its re-entrant corners into wing bands."""
    from ceiling_grid.lighting import axis_segments

    assert axis_segments(prepare(make_room(24, 14)), 0) == [(0, 24)]
    lroom = prepare(l_shaped_room(20, 16, 8, 7))  # the top-right 8 x 7 corner is outside
    assert axis_segments(lroom, 0) == [(0, 12), (12, 8)] and axis_segments(lroom, 1) == [(0, 7), (7, 9)]
    u = prepare(make_room(20, 12, outside=[(x, y) for x in range(7, 13) for y in range(6)]))  # a U open upwards
    assert axis_segments(u, 0) == [(0, 7), (7, 6), (13, 7)] and axis_segments(u, 1) == [(0, 6), (6, 6)]


def test_l_room_wings_share_lines_and_sit_off_the_inner_walls() -> None:
    """Each wing of an L gets its own lines at the common spacing, symmetric within the wing, so the array
    continues across the L and the fixtures next to the re-entrant walls keep the L4b offset."""
    from ceiling_grid.lighting import axis_lines, regularity

    grid = l_shaped_room(20, 16, 8, 7)
    room = prepare(grid)
    assert axis_lines(room, 0, 5) == [1, 6, 10, 13, 18]  # 3 in the 12-tile wing, 2 in the 8-tile one
    assert axis_lines(room, 1, 4) == [1, 5, 9, 13]  # 2 in the 7-tile wing, 2 in the 9-tile one
    tiles = regular_array(room, 5, 4, grid.arrays.free_for_light)
    assert len(tiles) == 3 * 2 + 5 * 2  # the clipped lattice: every crossing inside the room is lit
    rules = fixture_rules(room, tiles)
    assert rules.wall_ok.all() and rules.gap_ok.all()
    reg = regularity(room, tiles, rules.wall_ok)
    assert reg.complete and reg.aligned == 1.0 and reg.symmetry_y == 1.0 and reg.wall_offset_ok == 1.0
    # an even count in each wing band mirrors about the band's own centre line: a regular array
    even = regular_array(room, 6, 4, grid.arrays.free_for_light)
    assert axis_lines(room, 0, 6) == [1, 4, 7, 10, 13, 18] and regularity(room, even).symmetry_x == 1.0


def test_gaps_hold_without_agrees_with_the_whole_check() -> None:
    """Removing one fixture: the neighbourhood re-check gives the same L4 verdict as fixture_rules on all of them."""
    from scipy.spatial import cKDTree

    from ceiling_grid.lighting import gaps_hold_without

    rng = np.random.default_rng(7)
    verdicts = set()
    for w, h, nx, ny in ((24, 14, 8, 4), (24, 14, 6, 3), (40, 30, 10, 7), (50, 3, 12, 1)):
        grid = make_room(w, h, room_type="corridor" if h == 3 else "office")
        room = prepare(grid)
        tiles = regular_array(room, nx, ny, grid.arrays.free_for_light)
        assert fixture_rules(room, tiles).gap_ok.all()
        shared = cKDTree(room.light_centres(tiles))  # one tree serves every trial removal
        for drop in rng.choice(len(tiles), size=min(25, len(tiles)), replace=False).tolist():
            whole = bool(fixture_rules(room, np.delete(tiles, drop, axis=0)).gap_ok.all())
            assert gaps_hold_without(room, tiles, drop) is whole, (w, h, drop)
            assert gaps_hold_without(room, tiles, drop, tree=shared) is whole, (w, h, drop)
            verdicts.add(whole)
    assert verdicts == {True, False}  # both outcomes occur (the 6 x 3 and 10 x 7 arrays are near the limit)


def test_gaps_hold_without_serves_several_removals_from_one_tree() -> None:
    """With fixtures already marked gone, one removal more gives the verdict fixture_rules gives the rest."""
    from scipy.spatial import cKDTree

    from ceiling_grid.lighting import gaps_hold_without

    rng = np.random.default_rng(11)
    verdicts = set()
    for w, h, nx, ny in ((40, 30, 10, 7), (24, 14, 8, 4), (60, 20, 16, 5)):
        grid = make_room(w, h)
        room = prepare(grid)
        tiles = regular_array(room, nx, ny, grid.arrays.free_for_light)
        tree = cKDTree(room.light_centres(tiles))
        for _ in range(12):
            gone = np.zeros(len(tiles), dtype=bool)
            gone[rng.choice(len(tiles), size=int(rng.integers(1, 6)), replace=False)] = True
            left = np.nonzero(~gone)[0]
            if not fixture_rules(room, tiles[left]).gap_ok.all():
                continue  # the premise: the gaps hold before this removal
            drop = int(rng.choice(left))
            whole = bool(fixture_rules(room, tiles[left[left != drop]]).gap_ok.all())
            assert gaps_hold_without(room, tiles, drop, tree=tree, gone=gone) is whole, (w, h, drop)
            verdicts.add(whole)
    assert verdicts == {True, False}


def test_gap_evenness_stops_at_a_u_rooms_notch() -> None:
    """Fixtures either side of a U's notch are two runs along the row, not one line with a 9-tile gap."""
    from ceiling_grid.lighting import regularity

    u = prepare(make_room(20, 12, outside=[(x, y) for x in range(7, 13) for y in range(6)]))
    arms = np.array([[1, 2], [3, 2], [5, 2], [14, 2], [16, 2], [18, 2]])
    assert regularity(u, arms).max_gap_deviation_tiles == 0.0
    across = np.array([[1, 8], [3, 8], [5, 8], [14, 8], [16, 8], [18, 8]])  # below the notch: one run, uneven
    assert regularity(u, across).max_gap_deviation_tiles == pytest.approx(9 - 17 / 5)


# ----- troffers (2-tile luminaires) ----------------------------------------------------------------

def test_two_tile_fittings_centre_on_tile_boundaries_mirrored() -> None:
    from ceiling_grid.lighting import axis_tiles

    assert axis_tiles(0, 20, 5, size=2) == [1, 5, 9, 13, 17]  # centres 2, 6, 10, 14, 18: S = 4, S/2 to walls
    assert axis_tiles(0, 24, 4, size=2) == [2, 8, 14, 20]
    assert axis_tiles(3, 10, 2, size=2) == [4, 10]  # centres 5.5 -> 5 and its mirror 11 (the band is 3..13)


def test_troffer_parity_and_arrays_never_overlap() -> None:
    from ceiling_grid.grid import footprint_tiles
    from ceiling_grid.lighting import regular_array, symmetric_shape

    room = prepare(make_room(20, 15, luminaire={"length_tiles": 2}))
    assert symmetric_shape(room, 5, 5)  # 5 along an even 20: the middle troffer straddles the centre line
    odd = {"luminaire": {"length_tiles": 2}}
    assert not symmetric_shape(prepare(make_room(21, 15, **odd)), 5, 5)  # an odd count across an odd 21 cannot
    assert symmetric_shape(prepare(make_room(21, 15)), 5, 5)  # ... while 1-tile panels can
    free = np.ones((15, 20), dtype=bool)
    free[7, 9] = False  # a sprinkler under the middle troffer's first tile
    anchors = regular_array(room, 5, 5, free=free)
    tiles = footprint_tiles(anchors, (2, 1))
    assert len(np.unique(tiles, axis=0)) == len(tiles) == 50
    assert free[tiles[:, 1], tiles[:, 0]].all()


def test_gaps_ok_is_fixture_rules_gap_rule_alone() -> None:
    """gaps_ok gives fixture_rules' hard L4 verdict per fixture: a corridor row with one 5.4 m gap fails at the
    two fixtures either side of it and nowhere else."""
    from ceiling_grid.lighting import fixture_rules, gaps_ok

    room = prepare(make_room(40, 3, room_type="corridor"))
    tiles = np.array([(x, 1) for x in (2, 6, 10, 19, 23, 27, 31, 35)])
    ok = gaps_ok(room, tiles)
    assert np.array_equal(ok, fixture_rules(room, tiles).gap_ok)
    assert ok.tolist() == [True, True, False, False, True, True, True, True]


def test_growing_gaps_keep_the_whole_layouts_verdicts() -> None:
    """GrowingGaps re-checks only the fixtures new ones can reach, and its verdicts stay those of gaps_ok on the
    whole layout after every addition (random fixtures on the tiles, one to ten at a time, small and large)."""
    from ceiling_grid.lighting import GrowingGaps, gaps_ok

    rng = np.random.default_rng(4)
    failing_seen = set()
    for w, h in ((12, 9), (40, 30), (60, 14)):
        grid = make_room(w, h)
        room = prepare(grid)
        free = np.argwhere(grid.arrays.free_for_light)[:, ::-1]
        order = rng.permutation(len(free))
        gaps = GrowingGaps(room, free[order[:1]])
        used = 1
        while used < min(len(free), 160):
            step = int(rng.integers(1, 11))
            gaps.add(free[order[used : used + step]])
            used += step
            whole = ~gaps_ok(room, free[order[:used]])
            assert np.array_equal(gaps.bad, whole), (w, h, used)
            failing_seen.add(gaps.failing > 0)
    assert failing_seen == {True, False}
