"""Flask glue for the static assets of ``HEADY_PUBLIC_DIR``."""

from __future__ import annotations

from flask import Blueprint


def create_static_blueprint() -> Blueprint:
    return Blueprint("heady_edge_static", __name__)
