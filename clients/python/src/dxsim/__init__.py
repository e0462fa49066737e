"""Python client of the dxsim HTTP step API, with Gymnasium environments.

* :class:`Client` — one typed method per endpoint; errors raise :class:`ApiError`.
* :class:`VectorClient` — a server vector environment with its observation matrix in NumPy.
* :class:`dxsim.gym.DxSimEnv` — a Gymnasium environment, registered as ``DxSim-v0`` when this
  package is imported: ``gymnasium.make("DxSim-v0", mode="text", base_url=...)``.
"""

from __future__ import annotations

import gymnasium

from . import actions
from .actions import ask, diagnose, examine, order
from .client import Client
from .errors import ApiError, DxSimError, ServerUnreachable
from .vector import VectorClient

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "Client",
    "DxSimError",
    "ServerUnreachable",
    "VectorClient",
    "actions",
    "ask",
    "diagnose",
    "examine",
    "order",
    "__version__",
]

ENV_ID = "DxSim-v0"
"""The Gymnasium id of :class:`dxsim.gym.DxSimEnv`."""

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="dxsim.gym:DxSimEnv")
