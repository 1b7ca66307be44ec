"""Origin-side gateway for Flask: the Heady edge protocol at the origin."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConfigError
from .extension import HeadyEdge

__all__ = ["ConfigError", "HeadyEdge", "__version__"]
