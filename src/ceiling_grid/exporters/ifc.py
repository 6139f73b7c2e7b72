"""The laid-out ceilings back into the building model: a copy of the IFC with the new elements in their spaces."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..evaluator.report import ComplianceReport
from ..footprint import grid_to_source
from ..grid import Component, RoomGrid
from ..prepared import prepare

__all__ = ["CEILING_IFC_SUFFIX", "PSET_NAME", "ceiling_ifc_name", "ceiling_ifc_text"]

CEILING_IFC_SUFFIX = ".ceiling.ifc"
PSET_NAME = "Pset_CeilingGridLayout"
_OWNER = threading.Lock()  # ifcopenshell's owner-history hooks are process-wide
_GUID_NAMESPACE = uuid.UUID("5d3f3a52-0b7e-4c35-9a6e-3d2c1a0f9b17")

# (IFC4 occurrence, predefined type, IFC2X3 occurrence, IFC2X3 type class) per component
_CLASSES = {
    Component.LIGHT: ("IfcLightFixture", "NOTDEFINED", "IfcFlowTerminal", "IfcLightFixtureType"),
    Component.AIR_SUPPLY: ("IfcAirTerminal", "DIFFUSER", "IfcFlowTerminal", "IfcAirTerminalType"),
    Component.SMOKE_DETECTOR: ("IfcSensor", "SMOKESENSOR", "IfcDistributionControlElement", "IfcSensorType"),
}


def ceiling_ifc_name(source_file: str) -> str:
    """``model.ifc`` -> ``model.ceiling.ifc``."""
    return f"{Path(source_file).stem}{CEILING_IFC_SUFFIX}"


def _guid(*parts: object) -> str:
    import ifcopenshell.guid

    return str(ifcopenshell.guid.compress(uuid.uuid5(_GUID_NAMESPACE, "/".join(map(str, parts))).hex))


def _points(grid: RoomGrid) -> dict[Component, list[tuple[float, float]]]:
    """Grid-metre centres of every luminaire, supply diffuser and smoke detector of ``grid``."""
    t = grid.tile_size_m
    out: dict[Component, list[tuple[float, float]]] = {
        Component.LIGHT: [tuple(p) for p in prepare(grid).light_centres(grid.light_anchors()[0]).tolist()]}
    for comp in (Component.AIR_SUPPLY, Component.SMOKE_DETECTOR):
        out[comp] = [((x + 0.5) * t, (y + 0.5) * t) for x, y in grid.positions(comp).tolist()]
    return out


def _properties(comp: Component, grid: RoomGrid, report: ComplianceReport) -> dict[str, Any]:
    base: dict[str, Any] = {"GridId": grid.grid_id, "Compliant": bool(report.compliant)}
    if comp is Component.LIGHT:
        lum = grid.luminaire
        lights = report.stages.get("lights")
        em = float(lights.metrics["em_lx"]) if lights else 0.0
        return {**base, "LuminousFluxLm": float(lum.flux_lm), "PowerW": float(lum.power_w),
                "Photometry": lum.photometry or "built-in", "RoomEmLx": round(em, 1)}
    if comp is Component.AIR_SUPPLY:
        air = report.stages.get("air_supply")
        n = max(1, grid.count(Component.AIR_SUPPLY))
        q = float(air.metrics.get("q_supply_l_s", 0.0)) / n if air else 0.0
        return {**base, "AirflowLps": round(q, 2)}
    return {**base, "Standard": str(grid.detector_standard), "CoverageRadiusM": float(grid.detector_spec.r_cover_m)}


def _hooks(model: Any) -> tuple[Any, Any]:
    """Let ifcopenshell stamp new IFC2X3 entities with the model's own owner (created once if it has none)."""
    import ifcopenshell.api.owner.settings as owner

    saved = (owner.get_user, owner.get_application)
    users = model.by_type("IfcPersonAndOrganization")
    apps = model.by_type("IfcApplication")
    org = model.createIfcOrganization(None, "ceiling-grid") if not users or not apps else None
    user = users[0] if users else model.createIfcPersonAndOrganization(model.createIfcPerson(None, "ceiling-grid"), org)
    app = apps[0] if apps else model.createIfcApplication(org, "1", "ceiling-grid", "ceiling-grid")

    def get_user(ifc: Any) -> Any:
        del ifc
        return user

    def get_application(ifc: Any) -> Any:
        del ifc
        return app

    owner.get_user, owner.get_application = get_user, get_application
    return saved


def _pin_new_entities(model: Any, last_old: int, file_name: str) -> None:
    """Make what this export added reproducible: GlobalIds from the entity's position in the added sequence, owner
    histories dated 2000-01-01 (ifcopenshell draws random ids and stamps the clock)."""
    for rel in model.by_type("IfcRelationship"):  # ifcopenshell fills these in set order; an unordered set in IFC
        for attr in ("RelatedElements", "RelatedObjects"):
            if hasattr(rel, attr) and getattr(rel, attr):
                setattr(rel, attr, sorted(getattr(rel, attr), key=lambda e: e.id()))
    for entity in model:
        if entity.id() <= last_old:
            continue
        placed = any(entity.is_a(c) for c in ("IfcDistributionElement", "IfcTypeObject"))  # named by their room
        if entity.is_a("IfcRoot") and not placed:
            entity.GlobalId = _guid("added", file_name, entity.id() - last_old)
        if entity.is_a("IfcOwnerHistory"):
            entity.CreationDate = 946684800
            if entity.LastModifiedDate is not None:
                entity.LastModifiedDate = 946684800


def ceiling_ifc_text(source: str | Path, rooms: Sequence[tuple[RoomGrid, ComplianceReport]]) -> str:
    """The source model with every room's luminaires, supply diffusers and smoke detectors added at ceiling height,
    contained in the room's IfcSpace, each with a property set of the figures; GlobalIds derive from the room and
    the tile, so a rerun gives the same file."""
    import ifcopenshell
    import ifcopenshell.api
    import ifcopenshell.api.owner.settings as owner

    model = ifcopenshell.open(str(source))
    last_old = max((e.id() for e in model), default=0)
    run = ifcopenshell.api.run
    ifc2x3 = model.schema == "IFC2X3"
    with _OWNER:
        saved = _hooks(model)
        try:
            types: dict[Component, Any] = {}
            for grid, report in rooms:
                src = grid.metadata.get("source") or {}
                placement = grid.metadata.get("placement") or {}
                space = next((s for s in model.by_type("IfcSpace") if s.GlobalId == src.get("global_id")), None)
                if space is None or not placement:
                    continue
                ox, oy = (float(v) for v in placement["origin_m"])
                z = float(src.get("floor_z_m", 0.0)) + grid.ceiling_height_m
                for comp, points in _points(grid).items():
                    ifc4_class, predefined, old_class, type_class = _CLASSES[comp]
                    for gx, gy in points:
                        x, y = grid_to_source((ox, oy), float(placement["angle_deg"]), gx, gy)
                        name = f"{grid.grid_id} {comp.value} ({gx:.2f}, {gy:.2f})"
                        if ifc2x3:
                            element = run("root.create_entity", model, ifc_class=old_class, name=name)
                            if comp not in types:
                                types[comp] = run("root.create_entity", model, ifc_class=type_class,
                                                  predefined_type=predefined, name=f"ceiling-grid {comp.value}")
                                types[comp].GlobalId = _guid("type", comp.value)
                            run("type.assign_type", model, related_objects=[element], relating_type=types[comp])
                        else:
                            element = run("root.create_entity", model, ifc_class=ifc4_class,
                                          predefined_type=predefined, name=name)
                        element.GlobalId = _guid(src.get("global_id"), comp.value, round(gx, 4), round(gy, 4))
                        matrix = np.eye(4)
                        matrix[:3, 3] = (x, y, z)
                        run("geometry.edit_object_placement", model, product=element, matrix=matrix, is_si=True)
                        run("spatial.assign_container", model, products=[element], relating_structure=space)
                        pset = run("pset.add_pset", model, product=element, name=PSET_NAME)
                        run("pset.edit_pset", model, pset=pset, properties=_properties(comp, grid, report))
            _pin_new_entities(model, last_old, Path(source).name)
        finally:
            owner.get_user, owner.get_application = saved
    header: Any = model.header
    header.file_name.time_stamp = "2000-01-01T00:00:00"
    return str(model.to_string())
