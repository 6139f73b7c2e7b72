"""Small IFC building models written with ifcopenshell for the importer tests (no files are downloaded)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api

Point = tuple[float, float]


@dataclass
class SpaceSpec:
    name: str
    long_name: str
    outline: list[Point]  # metres
    height: float = 2.8
    roof_slope_deg: float = 0.0  # > 0: the top is clipped by a plane rising along +x (a roof space)
    geometry: bool = True
    quantity_height: float | None = None


@dataclass
class ModelSpec:
    schema: str = "IFC4"
    unit: str = "mm"  # mm, m or ft
    spaces: list[SpaceSpec] = field(default_factory=list)
    columns: list[list[Point]] = field(default_factory=list)  # footprints, metres, 3.5 m tall


def _owner(ifc: Any) -> None:
    """IFC2X3 needs an owner history on every rooted entity: a person, an organisation, an application."""
    import ifcopenshell.api.owner.settings as owner

    org = ifc.createIfcOrganization(None, "ceiling-grid tests")
    user = ifc.createIfcPersonAndOrganization(ifc.createIfcPerson(None, "Tester"), org)
    app = ifc.createIfcApplication(org, "1", "ceiling-grid tests", "cg-tests")
    def get_user(ifc: ifcopenshell.file) -> Any:
        del ifc  # one owner for every file these tests write
        return user

    def get_application(ifc: ifcopenshell.file) -> Any:
        del ifc
        return app

    owner.get_user = get_user
    owner.get_application = get_application


def write_model(spec: ModelSpec, path: Path) -> Path:
    schema: Any = spec.schema
    ifc = ifcopenshell.file(schema=schema)
    if spec.schema == "IFC2X3":
        _owner(ifc)
    run = ifcopenshell.api.run
    project = run("root.create_entity", ifc, ifc_class="IfcProject", name="Test project")
    if spec.unit == "ft":
        length = run("unit.add_conversion_based_unit", ifc, name="foot")
    else:
        length = run("unit.add_si_unit", ifc, unit_type="LENGTHUNIT", prefix="MILLI" if spec.unit == "mm" else None)
    run("unit.assign_unit", ifc, units=[length])
    k = {"mm": 1000.0, "m": 1.0, "ft": 1 / 0.3048}[spec.unit]
    model = run("context.add_context", ifc, context_type="Model")
    body = run("context.add_context", ifc, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW",
               parent=model)
    site = run("root.create_entity", ifc, ifc_class="IfcSite", name="Site")
    building = run("root.create_entity", ifc, ifc_class="IfcBuilding", name="Building")
    storey = run("root.create_entity", ifc, ifc_class="IfcBuildingStorey", name="Level 1")
    run("aggregate.assign_object", ifc, products=[site], relating_object=project)
    run("aggregate.assign_object", ifc, products=[building], relating_object=site)
    run("aggregate.assign_object", ifc, products=[storey], relating_object=building)

    def origin() -> Any:
        return ifc.createIfcAxis2Placement3D(ifc.createIfcCartesianPoint((0.0, 0.0, 0.0)), None, None)

    def prism(pts: list[Point], height: float, slope: float = 0.0) -> Any:
        ring = [ifc.createIfcCartesianPoint((x * k, y * k)) for x, y in [*pts, pts[0]]]
        profile = ifc.createIfcArbitraryClosedProfileDef("AREA", None, ifc.createIfcPolyline(ring))
        solid = ifc.createIfcExtrudedAreaSolid(profile, origin(), ifc.createIfcDirection((0.0, 0.0, 1.0)), height * k)
        kind = "SweptSolid"
        if slope:
            # remove everything above a plane through (x0, 0, height - rise) rising along +x
            x0 = min(x for x, _ in pts)
            a = math.radians(slope)
            normal = ifc.createIfcDirection((-math.sin(a), 0.0, math.cos(a)))
            at = ifc.createIfcAxis2Placement3D(ifc.createIfcCartesianPoint((x0 * k, 0.0, (height - 1.0) * k)), normal,
                                               None)
            half = ifc.createIfcHalfSpaceSolid(ifc.createIfcPlane(at), False)
            solid = ifc.createIfcBooleanClippingResult("DIFFERENCE", solid, half)
            kind = "Clipping"
        return ifc.createIfcShapeRepresentation(body, "Body", kind, [solid])

    for sp in spec.spaces:
        space = run("root.create_entity", ifc, ifc_class="IfcSpace", name=sp.name)
        space.LongName = sp.long_name
        run("aggregate.assign_object", ifc, products=[space], relating_object=storey)
        if sp.geometry:
            run("geometry.assign_representation", ifc, product=space,
                representation=prism(sp.outline, sp.height, sp.roof_slope_deg))
            run("geometry.edit_object_placement", ifc, product=space)
        if sp.quantity_height is not None:
            qto = run("pset.add_qto", ifc, product=space, name="Qto_SpaceBaseQuantities")
            run("pset.edit_qto", ifc, qto=qto, properties={"FinishCeilingHeight": sp.quantity_height * k})
    for i, footprint in enumerate(spec.columns):
        column = run("root.create_entity", ifc, ifc_class="IfcColumn", name=f"C{i + 1}")
        run("spatial.assign_container", ifc, products=[column], relating_structure=storey)
        run("geometry.assign_representation", ifc, product=column, representation=prism(footprint, 3.5))
        run("geometry.edit_object_placement", ifc, product=column)
    ifc.write(str(path))
    return path
