"""Exporters (adapters): the laid-out ceiling back into the formats of the source drawings."""

from __future__ import annotations

from .dxf import DXF_LAYERS, dxf_text, source_frame

__all__ = ["DXF_LAYERS", "dxf_text", "source_frame"]
