"""The inference proxy: ``POST {prefix}/hf/<path>`` to Hugging Face, cached."""

from __future__ import annotations

from flask import Blueprint


def create_hf_blueprint() -> Blueprint:
    return Blueprint("heady_edge_hf", __name__)
