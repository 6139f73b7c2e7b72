"""The room grid: the JSON schema (Pydantic v2), loading with clear errors, and O(1) tile arrays."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydantic
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_serializer, model_validator

from .config import (
    DEFAULT_CEILING_HEIGHT_M,
    DEFAULT_DETECTOR_STANDARD,
    DEFAULT_LIMITS,
    DEFAULT_ROOM_TYPE,
    DEFAULT_TILE_SIZE_M,
    DETECTOR_STANDARDS,
    ROOM_TYPES,
    DetectorStandard,
    DetectorStandardSpec,
    DiffuserSpec,
    Limits,
    LuminaireSpec,
    RoomTypeSpec,
)
from .errors import InputError, Issue, LimitExceededError, RoomValidationError, did_you_mean
from .photometric_files import Distribution

__all__ = [
    "Cell",
    "Component",
    "DiffuserParams",
    "LuminaireParams",
    "RoomGrid",
    "TileArrays",
    "TileState",
    "dump_room",
    "footprint_tiles",
    "load_room",
    "parse_room",
]

GRID_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_GRID_ID_RE = re.compile(GRID_ID_PATTERN)


class Component(StrEnum):
    """What sits in a tile. ``invalid`` is the legacy "blocked tile that is still ceiling"."""

    EMPTY = "empty"
    INVALID = "invalid"
    LIGHT = "light"
    AIR_SUPPLY = "air_supply"
    AIR_RETURN = "air_return"
    SMOKE_DETECTOR = "smoke_detector"


class TileState(StrEnum):
    """Why a tile may be unavailable (§1.4). ``ceiling`` is an ordinary free tile."""

    CEILING = "ceiling"
    OUTSIDE = "outside"  # not part of the room (L-shapes); not ceiling
    COLUMN = "column"  # structural column: no ceiling there, a hole for points, not a wall
    BEAM = "beam"  # tile under a downstand beam
    SPRINKLER = "sprinkler"
    ACCESS_PANEL = "access_panel"
    EQUIPMENT = "equipment"  # speaker, camera, exit sign ...
    CUT_TILE = "cut_tile"  # perimeter tile cut below 50 %: detectors only


MAX_BEAM_DEPTH_M = 5.0  # a downstand beam's depth below the ceiling, metres (deeper is a wall, not a beam)
STATE_ALIASES = {"outside_room": "outside", "beam_under": "beam", "existing_equipment": "equipment"}
_STATE_NAMES = {s.value for s in TileState} | set(STATE_ALIASES)

COMPONENT_CODES = {c: np.int8(i) for i, c in enumerate(Component)}
STATE_CODES = {s: np.int8(i) for i, s in enumerate(TileState)}
COMPONENTS = list(Component)
STATES = list(TileState)


class Cell(BaseModel):
    """One tile: its position, what sits in it, and its state (default: free ceiling)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: int = Field(strict=True)
    y: int = Field(strict=True)
    component: Component = Component.EMPTY
    state: TileState = TileState.CEILING
    beam_depth_m: float | None = Field(None, gt=0.0, le=MAX_BEAM_DEPTH_M, allow_inf_nan=False)

    @model_validator(mode="after")
    def _depth_on_beams_only(self) -> Cell:
        if self.beam_depth_m is not None and self.state is not TileState.BEAM:
            raise ValueError(f"beam_depth_m is given on a {self.state.value!r} tile; only a tile under a "
                             "downstand beam has a depth: set \"state\": \"beam\" or remove beam_depth_m")
        return self

    @model_validator(mode="before")
    @classmethod
    def _state_names_in_component(cls, data: Any) -> Any:
        # Accept a tile state written in "component" ({"component": "column"}) and state aliases.
        if isinstance(data, dict):
            comp = data.get("component")
            if isinstance(comp, str) and comp in _STATE_NAMES and "state" not in data:
                data = {**data, "component": "empty", "state": comp}
            state = data.get("state")
            if isinstance(state, str) and state in STATE_ALIASES:
                data = {**data, "state": STATE_ALIASES[state]}
        return data

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if self.state is TileState.CEILING:
            out.pop("state", None)
        if self.beam_depth_m is None:
            out.pop("beam_depth_m", None)
        return out


class LuminaireParams(BaseModel):
    """Luminaire parameters of the room (defaults: 600x600 Lambertian LED panel, §1.3).

    With ``photometry`` (an IES or LDT file, relative to the room file's folder or the data folder)
    the file's candela table replaces the cos^m model: ``flux_lm`` becomes the file's integrated
    lumens and ``power_w`` its input watts unless the room gives one. ``distribution`` holds the
    table once read, so a room travels (XCom, worker pool) without its file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    flux_lm: float = Field(LuminaireSpec.flux_lm, gt=0, le=200_000, allow_inf_nan=False)
    power_w: float = Field(LuminaireSpec.power_w, gt=0, le=2_000, allow_inf_nan=False)
    cos_exponent: float = Field(LuminaireSpec.cos_exponent, ge=1, le=50, allow_inf_nan=False)
    photometry: str | None = Field(None, min_length=1, max_length=1024)
    rotation_deg: Literal[0, 90] = 0  # C0 (the long axis) along the room's x axis (0) or its y axis (90)
    length_tiles: Literal[1, 2] = 1  # tiles along C0: 2 for a 600x1200 / 2x4 ft troffer on a 600 / 2 ft grid
    distribution: Distribution | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("distribution") is None:
            if isinstance(data, dict) and data.get("photometry") is not None:
                raise _CellIssuesError([Issue(
                    "luminaire.photometry", f"luminaire.photometry = {data['photometry']!r} was not read",
                    "load the room from its file (ceiling-grid run/validate, the DAG) so the file can be found")])
            return data
        try:
            dist = Distribution.model_validate(data["distribution"])
        except pydantic.ValidationError as err:
            first = err.errors(include_url=False)[0]
            raise _CellIssuesError([Issue("luminaire.distribution", f"luminaire.distribution: {first['msg']}",
                                          "read the table from its file again")]) from None
        if data.get("photometry") is None:
            raise _CellIssuesError([Issue("luminaire.distribution", "a distribution needs its photometry file name",
                                          "name the file in luminaire.photometry")])
        lumens = dist.lumens()
        issues: list[Issue] = []
        given = data.get("flux_lm")
        if isinstance(given, (int, float)) and abs(given - lumens) > 1e-6 * lumens:
            issues.append(Issue("luminaire.flux_lm", f"luminaire.flux_lm = {given} but {dist.file} integrates to "
                                f"{lumens:.1f} lm", "drop flux_lm: the photometry file fixes the flux"))
        exponent = data.get("cos_exponent")
        if isinstance(exponent, (int, float)) and exponent != LuminaireSpec.cos_exponent:
            issues.append(Issue("luminaire.cos_exponent", "luminaire.cos_exponent does not apply with a photometry "
                                "file", "drop cos_exponent: the file's candela table sets the distribution"))
        if data.get("power_w") is None and dist.input_watts is None:
            issues.append(Issue("luminaire.power_w", f"{dist.file} gives no input watts",
                                "give the luminaire's power in luminaire.power_w"))
        if issues:
            raise _CellIssuesError(issues)
        out = {**data, "distribution": dist, "flux_lm": lumens}
        out.setdefault("power_w", dist.input_watts)
        return out

    def spec(self) -> LuminaireSpec:
        return LuminaireSpec(self.flux_lm, self.power_w, self.cos_exponent)

    def description(self) -> dict[str, Any]:
        """What a report says about the luminaire: the file (if any) and the figures used."""
        out: dict[str, Any] = {"flux_lm": round(self.flux_lm, 1), "power_w": round(self.power_w, 2)}
        if self.distribution is None:
            out["distribution"] = f"cos^{self.cos_exponent:g} (built-in)"
            if self.length_tiles != 1:
                out.update(length_tiles=self.length_tiles, rotation_deg=self.rotation_deg)
            return out
        d = self.distribution
        return {"photometry": self.photometry, "format": d.format, "manufacturer": d.manufacturer,
                "catalogue": d.catalogue, "symmetry": d.symmetry.value, "rotation_deg": self.rotation_deg,
                "length_tiles": self.length_tiles, **out}

    @property
    def size_tiles(self) -> tuple[int, int]:
        """(tiles along x, tiles along y) one luminaire covers."""
        return (self.length_tiles, 1) if self.rotation_deg == 0 else (1, self.length_tiles)


class DiffuserParams(BaseModel):
    """Supply-diffuser parameters of the room (defaults: 600x600 4-way, §3.2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity_l_s: float = Field(DiffuserSpec.capacity_l_s, gt=0, le=5_000, allow_inf_nan=False)
    t50_at_capacity_m: float = Field(DiffuserSpec.t50_at_capacity_m, gt=0, le=50, allow_inf_nan=False)

    def spec(self) -> DiffuserSpec:
        return DiffuserSpec(self.capacity_l_s, self.t50_at_capacity_m)


@dataclass(frozen=True)
class TileArrays:
    """The grid as (height, width) numpy arrays for O(1) tile lookups.

    ``state`` and ``component`` hold int8 codes (``STATE_CODES`` / ``COMPONENT_CODES``);
    ``index[y, x]`` is the position of that tile's cell in ``RoomGrid.cells``; ``beam_depth[y, x]`` is the
    depth in metres of the downstand beam over that tile (0 where none is given).
    """

    state: np.ndarray
    component: np.ndarray
    index: np.ndarray
    beam_depth: np.ndarray

    def is_state(self, *states: TileState) -> np.ndarray:
        return np.isin(self.state, [STATE_CODES[s] for s in states])

    def is_component(self, *components: Component) -> np.ndarray:
        return np.isin(self.component, [COMPONENT_CODES[c] for c in components])

    @property
    def in_room(self) -> np.ndarray:
        """Tiles inside the room polygon (columns included: they are holes, not walls)."""
        return np.asarray(self.state != STATE_CODES[TileState.OUTSIDE])

    @property
    def ceiling_area(self) -> np.ndarray:
        """Tiles that count as ceiling for coverage and illuminance (not outside, not columns)."""
        return np.asarray(self.in_room & (self.state != STATE_CODES[TileState.COLUMN]))

    @property
    def free_for_light(self) -> np.ndarray:
        empty = self.component == COMPONENT_CODES[Component.EMPTY]
        return np.asarray((self.state == STATE_CODES[TileState.CEILING]) & empty)

    @property
    def free_for_diffuser(self) -> np.ndarray:
        return self.free_for_light

    @property
    def free_for_detector(self) -> np.ndarray:
        empty = self.component == COMPONENT_CODES[Component.EMPTY]
        return np.asarray(self.is_state(TileState.CEILING, TileState.CUT_TILE) & empty)

    def positions(self, component: Component) -> np.ndarray:
        """(n, 2) int array of (x, y) of every tile holding ``component``, in row-major order."""
        ys, xs = np.nonzero(self.component == COMPONENT_CODES[component])
        return np.stack([xs, ys], axis=1)


def footprint_tiles(anchors: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(n * sx * sy, 2) every tile the luminaires at ``anchors`` cover (anchor first, then along the long axis)."""
    xy = np.asarray(anchors, dtype=np.int64).reshape(-1, 2)
    sx, sy = size
    offs = np.array([(dx, dy) for dy in range(sy) for dx in range(sx)], dtype=np.int64)
    return (xy[:, None, :] + offs[None, :, :]).reshape(-1, 2)


def _finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")


class RoomGrid(BaseModel):
    """One room's ceiling: tile grid, tile states, placed components and design parameters.

    The legacy format ``{"grid_id", "width", "height", "cells": [{"x", "y", "component"}]}`` is
    accepted as-is; every other field is optional with the defaults of ``config``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    grid_id: str = Field(min_length=1, max_length=128)
    width: int = Field(strict=True, ge=1)
    height: int = Field(strict=True, ge=1)
    tile_size_m: float = Field(DEFAULT_TILE_SIZE_M, gt=0.2, le=2.0, allow_inf_nan=False)
    ceiling_height_m: float = Field(DEFAULT_CEILING_HEIGHT_M, ge=2.0, le=12.0, allow_inf_nan=False)
    work_plane_m: float | None = Field(None, ge=0.0, le=2.0, allow_inf_nan=False)
    room_type: str = DEFAULT_ROOM_TYPE
    detector_standard: DetectorStandard = DEFAULT_DETECTOR_STANDARD
    occupants: int | None = Field(None, ge=0, le=100_000)
    luminaire: LuminaireParams = Field(default_factory=LuminaireParams)
    diffuser: DiffuserParams = Field(default_factory=DiffuserParams)
    metadata: dict[str, Any] = Field(default_factory=dict)
    cells: list[Cell]

    _arrays: TileArrays | None = PrivateAttr(default=None)

    @field_validator("grid_id")
    @classmethod
    def _safe_grid_id(cls, value: str) -> str:
        if not _GRID_ID_RE.match(value):
            raise ValueError(
                f"grid_id {value!r} may only use letters, digits, '.', '_' and '-' and must start with a "
                "letter or digit (it names the output files, so no path separators or '..')"
            )
        return value

    @field_validator("room_type")
    @classmethod
    def _known_room_type(cls, value: str) -> str:
        if value not in ROOM_TYPES:
            raise ValueError(f"unknown room_type {value!r}; {did_you_mean(value, ROOM_TYPES)}"
                             f"use one of {', '.join(sorted(ROOM_TYPES))}")
        return value

    @model_validator(mode="after")
    def _check_cells(self) -> RoomGrid:
        width, height = self.width, self.height
        issues: list[Issue] = []
        if len(self.cells) != width * height:
            issues.append(
                Issue(
                    "cells",
                    f"cells has {len(self.cells)} entries but width x height = {width} x {height} = "
                    f"{width * height}",
                    "give exactly one cell per tile",
                )
            )
        seen = np.full((height, width), -1, dtype=np.int64)
        for i, cell in enumerate(self.cells):
            if not 0 <= cell.x < width:
                issues.append(Issue(f"cells[{i}].x", f"cells[{i}].x = {cell.x} is outside width {width}",
                                    f"use 0 <= x < {width}"))
                continue
            if not 0 <= cell.y < height:
                issues.append(Issue(f"cells[{i}].y", f"cells[{i}].y = {cell.y} is outside height {height}",
                                    f"use 0 <= y < {height}"))
                continue
            first = seen[cell.y, cell.x]
            if first >= 0:
                issues.append(Issue(f"cells[{i}]", f"cells[{i}] repeats tile ({cell.x}, {cell.y}) of cells[{first}]",
                                    "remove the duplicate"))
            else:
                seen[cell.y, cell.x] = i
            if len(issues) > 50:
                break
        if not issues:
            ok = np.array([c.state is not TileState.OUTSIDE and c.state is not TileState.COLUMN for c in self.cells])
            if not ok.any():
                issues.append(Issue("cells", "no tile is ceiling: every tile is outside or a column",
                                    "mark the room's tiles as ceiling"))
            wp = self.effective_work_plane_m
            if wp >= self.ceiling_height_m - 0.5:
                issues.append(Issue("work_plane_m", f"work_plane_m = {wp} is not at least 0.5 m below "
                                    f"ceiling_height_m = {self.ceiling_height_m}", "lower the work plane"))
            issues.extend(self._beam_issues())
        if issues:
            raise _CellIssuesError(issues)
        return self

    def _beam_issues(self) -> list[Issue]:
        for i, cell in enumerate(self.cells):
            if cell.beam_depth_m is not None and cell.beam_depth_m >= self.ceiling_height_m:
                return [Issue(f"cells[{i}].beam_depth_m",
                              f"cells[{i}].beam_depth_m = {cell.beam_depth_m} reaches the floor "
                              f"(ceiling_height_m = {self.ceiling_height_m})",
                              "give the beam's depth below the ceiling, or mark the tile as a column")]
        return []

    # ----- derived parameters -------------------------------------------------------------
    @property
    def room_spec(self) -> RoomTypeSpec:
        return ROOM_TYPES[self.room_type]

    @property
    def detector_spec(self) -> DetectorStandardSpec:
        return DETECTOR_STANDARDS[self.detector_standard]

    @property
    def effective_work_plane_m(self) -> float:
        return self.room_spec.work_plane_m if self.work_plane_m is None else self.work_plane_m

    @property
    def mounting_height_m(self) -> float:
        """Hm: luminaire (ceiling) height above the reference plane."""
        return self.ceiling_height_m - self.effective_work_plane_m

    def luminaire_spec(self) -> LuminaireSpec:
        return self.luminaire.spec()

    def diffuser_spec(self) -> DiffuserSpec:
        return self.diffuser.spec()

    # ----- tile arrays (O(1) lookups) -----------------------------------------------------
    @property
    def arrays(self) -> TileArrays:
        if self._arrays is None:
            state = np.full((self.height, self.width), STATE_CODES[TileState.OUTSIDE], dtype=np.int8)
            comp = np.zeros((self.height, self.width), dtype=np.int8)
            index = np.zeros((self.height, self.width), dtype=np.int64)
            depth = np.zeros((self.height, self.width), dtype=float)
            if self.cells:
                xs = np.fromiter((c.x for c in self.cells), dtype=np.int64, count=len(self.cells))
                ys = np.fromiter((c.y for c in self.cells), dtype=np.int64, count=len(self.cells))
                state[ys, xs] = np.fromiter((STATE_CODES[c.state] for c in self.cells), dtype=np.int8)
                comp[ys, xs] = np.fromiter((COMPONENT_CODES[c.component] for c in self.cells), dtype=np.int8)
                index[ys, xs] = np.arange(len(self.cells))
                depth[ys, xs] = np.fromiter((c.beam_depth_m or 0.0 for c in self.cells), dtype=float,
                                            count=len(self.cells))
            for arr in (state, comp, index, depth):
                arr.setflags(write=False)
            self._arrays = TileArrays(state, comp, index, depth)
        return self._arrays

    def cell(self, x: int, y: int) -> Cell:
        """The cell of tile (x, y), in O(1)."""
        return self.cells[int(self.arrays.index[y, x])]

    def tile_centres(self, xy: np.ndarray) -> np.ndarray:
        """Centres in metres of the (n, 2) tiles ``xy``."""
        return (np.asarray(xy, dtype=float) + 0.5) * self.tile_size_m

    def positions(self, component: Component) -> np.ndarray:
        return self.arrays.positions(component)

    def count(self, component: Component) -> int:
        return int(np.count_nonzero(self.arrays.component == COMPONENT_CODES[component]))

    def light_anchors(self) -> tuple[np.ndarray, np.ndarray]:
        """(anchors, stray tiles): each luminaire's first tile (lowest x, then y), and light tiles that form no
        whole luminaire. A luminaire of ``size_tiles`` (2, 1) covers its anchor and the tile to its right;
        runs of light tiles along the long axis pair up from their start, so an odd run leaves one stray."""
        tiles = self.positions(Component.LIGHT)
        size = self.luminaire.size_tiles
        if size == (1, 1) or len(tiles) == 0:
            return tiles, np.zeros((0, 2), dtype=np.int64)
        axis = 0 if size[0] > 1 else 1
        length = size[axis]
        lit = self.arrays.is_component(Component.LIGHT)
        along = lit if axis == 0 else lit.T  # rows of ``along`` run along the long axis
        anchors: list[tuple[int, int]] = []
        stray: list[tuple[int, int]] = []
        for r in range(along.shape[0]):
            padded = np.concatenate([[False], along[r], [False]]).astype(np.int8)
            d = np.diff(padded)
            for start, stop in zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True):
                whole = (stop - start) // length * length
                anchors.extend((a, r) if axis == 0 else (r, a) for a in range(start, start + whole, length))
                stray.extend((a, r) if axis == 0 else (r, a) for a in range(start + whole, stop))
        order = sorted(anchors, key=lambda t: (t[1], t[0]))
        return (np.array(order, dtype=np.int64).reshape(-1, 2),
                np.array(sorted(stray, key=lambda t: (t[1], t[0])), dtype=np.int64).reshape(-1, 2))

    def with_components(self, component: Component, tiles: Iterable[tuple[int, int]]) -> RoomGrid:
        """A new grid with ``component`` placed on ``tiles`` (each must be empty and in the room)."""
        arrays = self.arrays
        codes = arrays.component.copy()
        empty, code = COMPONENT_CODES[Component.EMPTY], COMPONENT_CODES[component]
        outside = STATE_CODES[TileState.OUTSIDE]
        for x, y in tiles:
            x, y = int(x), int(y)
            if codes[y, x] != empty or arrays.state[y, x] == outside:
                raise ValueError(f"{self.grid_id}: tile ({x}, {y}) is not free for {component.value}")
            codes[y, x] = code
        return self.with_component_codes(codes)

    def with_component_codes(self, codes: np.ndarray) -> RoomGrid:
        """A new grid whose (height, width) component codes are ``codes`` (``COMPONENT_CODES``): only the
        tiles that differ get new cells, so a worker can send a layout as 1 byte a tile against a room both
        sides hold (rebuilding every cell of a 200 x 200 room costs 0.2 s)."""
        arrays = self.arrays
        codes = np.array(codes, dtype=np.int8).reshape(arrays.component.shape)
        if ((codes < 0) | (codes >= len(COMPONENTS))).any():
            raise ValueError(f"{self.grid_id}: component codes must be 0..{len(COMPONENTS) - 1}")
        differ = codes != arrays.component
        # a tile outside the room may keep what the room file put there, or be cleared, never get a component
        outside = arrays.state == STATE_CODES[TileState.OUTSIDE]
        if (differ & outside & (codes != COMPONENT_CODES[Component.EMPTY])).any():
            raise ValueError(f"{self.grid_id}: a component code on a tile outside the room")
        changed = np.nonzero(differ)
        cells = list(self.cells)
        for y, x in zip(*(a.tolist() for a in changed), strict=True):
            i = int(arrays.index[y, x])
            old = cells[i]
            cells[i] = Cell.model_construct(x=x, y=y, component=COMPONENTS[codes[y, x]], state=old.state,
                                            beam_depth_m=old.beam_depth_m)
        return self._same_states(cells, codes)

    def _same_states(self, cells: list[Cell], component: np.ndarray) -> RoomGrid:
        """A copy with ``cells`` whose component codes are ``component``: its tile arrays are this grid's
        (the states, cell order and beams are unchanged) with that component array, not rebuilt from cells."""
        new = self.model_copy(update={"cells": cells})
        arrays = self.arrays
        component.setflags(write=False)
        new._arrays = TileArrays(arrays.state, component, arrays.index, arrays.beam_depth)
        return new

    def without_components(self, component: Component) -> RoomGrid:
        """A new grid with every ``component`` removed (tiles become empty)."""
        codes = self.arrays.component.copy()
        codes[codes == COMPONENT_CODES[component]] = COMPONENT_CODES[Component.EMPTY]
        return self.with_component_codes(codes)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> RoomGrid:
        new = super().model_copy(update=update, deep=deep)
        if update and "cells" in update:
            new._arrays = None
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RoomGrid):
            return NotImplemented
        return self.model_dump(mode="json", exclude={"cells"}) == other.model_dump(
            mode="json", exclude={"cells"}
        ) and (
            np.array_equal(self.arrays.state, other.arrays.state)
            and np.array_equal(self.arrays.component, other.arrays.component)
            and np.array_equal(self.arrays.beam_depth, other.arrays.beam_depth)
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle compactly (tile codes as bytes): grids cross process boundaries in the light stage."""
        fields = {name: getattr(self, name) for name in type(self).model_fields if name != "cells"}
        arrays = self.arrays
        depth = arrays.beam_depth.tobytes() if arrays.beam_depth.any() else None
        return (_rebuild_grid, (fields, arrays.state.tobytes(), arrays.component.tobytes(), depth))

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict in the input schema (cells in row-major order, compact)."""
        data = self.model_dump(mode="json", exclude={"cells", "metadata"})
        lum = data["luminaire"]
        for key, default in (("photometry", None), ("distribution", None), ("rotation_deg", 0), ("length_tiles", 1)):
            if lum.get(key) == default:
                lum.pop(key)
        if self.metadata:
            data["metadata"] = self.metadata
        arrays = self.arrays
        cells = []
        for y in range(self.height):
            for x in range(self.width):
                cell: dict[str, Any] = {"x": x, "y": y, "component": COMPONENTS[arrays.component[y, x]].value}
                state = STATES[arrays.state[y, x]]
                if state is not TileState.CEILING:
                    cell["state"] = state.value
                if arrays.beam_depth[y, x] > 0:
                    cell["beam_depth_m"] = float(arrays.beam_depth[y, x])
                cells.append(cell)
        data["cells"] = cells
        return data


def _rebuild_grid(fields: dict[str, Any], state_bytes: bytes, component_bytes: bytes,
                  depth_bytes: bytes | None = None) -> RoomGrid:
    """Inverse of ``RoomGrid.__reduce__``: cells in row-major order, tile arrays restored without a rescan."""
    width, height = fields["width"], fields["height"]
    state = np.frombuffer(state_bytes, dtype=np.int8).reshape(height, width).copy()
    comp = np.frombuffer(component_bytes, dtype=np.int8).reshape(height, width).copy()
    depth = (np.frombuffer(depth_bytes, dtype=float).reshape(height, width).copy() if depth_bytes is not None
             else np.zeros((height, width), dtype=float))
    cells = [
        Cell.model_construct(x=x, y=y, component=COMPONENTS[comp[y, x]], state=STATES[state[y, x]],
                             beam_depth_m=float(depth[y, x]) if depth[y, x] > 0 else None)
        for y in range(height)
        for x in range(width)
    ]
    grid = RoomGrid.model_construct(**fields, cells=cells)
    index = np.arange(width * height, dtype=np.int64).reshape(height, width)
    for arr in (state, comp, index, depth):
        arr.setflags(write=False)
    grid._arrays = TileArrays(state, comp, index, depth)
    return grid


class _CellIssuesError(ValueError):
    """Carries structured issues out of a model validator (pydantic wraps it)."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(i.message for i in issues))


# ----- loading ----------------------------------------------------------------------------

_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove the field or check its spelling",
    "int_type": "use a whole number",
    "float_type": "use a number",
    "finite_number": "use a finite number (no NaN or Infinity)",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
    "enum": "use one of the listed values",
    "string_type": "use a string",
    "list_type": "use a JSON array",
    "model_type": "use a JSON object",
    "dict_type": "use a JSON object",
}


def json_path(loc: Iterable[Any]) -> str:
    """``("cells", 17, "x")`` -> ``"cells[17].x"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "$"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _issues_from_pydantic(err: pydantic.ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for e in err.errors(include_url=False):
        ctx_error = (e.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _CellIssuesError):
            issues.extend(ctx_error.issues)
            continue
        loc = [p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = json_path(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            issues.append(Issue(path, f"{path} is missing", _FIXES["missing"]))
        elif e["type"] == "extra_forbidden":
            issues.append(Issue(path, f"{path} is not a known field", _FIXES["extra_forbidden"]))
        elif e["type"] in ("enum", "literal_error"):
            options = re.findall(r"'([^']*)'", str((e.get("ctx") or {}).get("expected", "")))
            hint = did_you_mean(e.get("input"), options)
            issues.append(Issue(path, f"{path} = {_short(e.get('input'))}: {msg}", hint + _FIXES["enum"]))
        else:
            issues.append(Issue(path, f"{path} = {_short(e.get('input'))}: {msg}", _FIXES.get(e["type"], "")))
    return issues


def _precheck_size(data: Any, source: str, limits: Limits) -> None:
    """Reject oversized rooms from the raw JSON, before any per-cell allocation."""
    if not isinstance(data, dict):
        raise RoomValidationError(
            source, [Issue("$", f"the top level is a JSON {type(data).__name__}, not an object",
                           'write {"grid_id": ..., "width": ..., "height": ..., "cells": [...]}')]
        )
    w, h = data.get("width"), data.get("height")
    if isinstance(w, int) and isinstance(h, int) and not isinstance(w, bool) and not isinstance(h, bool):
        if w > limits.max_side or h > limits.max_side:
            raise LimitExceededError(
                f"{source}: width x height = {w} x {h} exceeds the side limit of {limits.max_side} tiles "
                "(split the floor into rooms, or raise CEILING_GRID_MAX_SIDE)"
            )
        if w > 0 and h > 0 and w * h > limits.max_cells:
            raise LimitExceededError(
                f"{source}: width x height = {w} x {h} = {w * h} cells exceeds the limit of "
                f"{limits.max_cells} (split the floor into rooms, or raise CEILING_GRID_MAX_CELLS)"
            )
    cells = data.get("cells")
    if isinstance(cells, list) and len(cells) > limits.max_cells:
        raise LimitExceededError(
            f"{source}: cells has {len(cells)} entries, over the limit of {limits.max_cells} "
            "(split the floor into rooms, or raise CEILING_GRID_MAX_CELLS)"
        )


def parse_room(data: Any, source: str = "<room>", limits: Limits = DEFAULT_LIMITS) -> RoomGrid:
    """Validate an already-decoded JSON value as a room; errors name ``source`` and the JSON path."""
    _precheck_size(data, source, limits)
    try:
        return RoomGrid.model_validate(data)
    except pydantic.ValidationError as err:
        raise RoomValidationError(source, _issues_from_pydantic(err)) from None


def room_key(grid: RoomGrid) -> str:
    """A digest of everything that fixes a room's photometric geometry (tile states and parameters, not components)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(grid.arrays.state).tobytes())
    if grid.arrays.beam_depth.any():
        h.update(np.ascontiguousarray(grid.arrays.beam_depth).tobytes())
    h.update(
        repr(
            (
                grid.width,
                grid.height,
                grid.tile_size_m,
                grid.ceiling_height_m,
                grid.effective_work_plane_m,
                grid.room_type,
                grid.luminaire.flux_lm,
                grid.luminaire.power_w,
                grid.luminaire.cos_exponent,
                grid.luminaire.rotation_deg,
                grid.luminaire.length_tiles,
                grid.luminaire.distribution.digest() if grid.luminaire.distribution is not None else None,
            )
        ).encode()
    )
    return h.hexdigest()


def _attach_photometry(data: Any, room_file: Path, source: str, data_dir: Path | None) -> None:
    """Read the file ``luminaire.photometry`` names into ``luminaire.distribution`` (in place)."""
    from .errors import PhotometryFileError
    from .photometric_files import read_photometry, resolve_reference

    lum = data.get("luminaire") if isinstance(data, dict) else None
    if not isinstance(lum, dict) or not isinstance(lum.get("photometry"), str) or "distribution" in lum:
        return
    roots = [room_file.parent] + ([data_dir] if data_dir is not None else [])
    try:
        lum["distribution"] = read_photometry(resolve_reference(lum["photometry"], roots, "luminaire.photometry"))
    except PhotometryFileError as exc:
        raise RoomValidationError(source, [Issue("luminaire.photometry", str(exc),
                                                 "fix the photometric file or the name")]) from None
    except InputError as exc:
        raise RoomValidationError(source, [Issue("luminaire.photometry", str(exc).removeprefix(
            "luminaire.photometry: "))]) from None


def load_room(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS,
              data_dir: Path | None = None) -> RoomGrid:
    """Read and validate one room file. Raises ``InputError`` subclasses with actionable messages.

    A ``luminaire.photometry`` file is looked up beside the room file, then under ``data_dir``.
    """
    from .errors import NotRegularFileError
    from .fsio import read_regular_file

    p = Path(path)
    source = str(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise RoomValidationError(source, [Issue("", "file not found", "check the path")]) from None
    except OSError as exc:
        issue = Issue("", f"cannot read file: {exc.strerror}", "check permissions")
        raise RoomValidationError(source, [issue]) from None
    if p.is_dir():
        raise RoomValidationError(source, [Issue("", "is a folder, not a room file", "pass a .json file")])
    if size > limits.max_file_bytes:
        raise LimitExceededError(
            f"{source}: file is {size} bytes, over the limit of {limits.max_file_bytes} bytes "
            "(split the floor into rooms, or raise CEILING_GRID_MAX_FILE_BYTES)"
        )
    try:  # regular files only, and never more than the limit + 1 bytes whatever stat said
        raw = read_regular_file(p, limits.max_file_bytes)
    except NotRegularFileError as exc:
        raise RoomValidationError(source, [Issue("", exc.what, exc.fix)]) from None
    except OSError as exc:
        issue = Issue("", f"cannot read file: {exc.strerror or exc}", "check permissions")
        raise RoomValidationError(source, [issue]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issue = Issue("", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8 JSON")
        raise RoomValidationError(source, [issue]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RoomValidationError(
            source, [Issue("", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           "fix the JSON syntax (a linter such as `python -m json.tool` shows where)")]
        ) from None
    except RecursionError:
        raise RoomValidationError(source, [Issue("", "JSON nested too deeply", "flatten the file")]) from None
    from .footprint import is_polygon_room, polygon_room_payload

    if is_polygon_room(data):  # the metric polygon format: the grid is laid over the outline here
        data = polygon_room_payload(data, source)
    _attach_photometry(data, p, source, data_dir)
    return parse_room(data, source, limits)


def dump_room(grid: RoomGrid) -> str:
    """The room as JSON text in the input schema (stable key and cell order)."""
    return json.dumps(grid.to_payload(), separators=(",", ":"))
