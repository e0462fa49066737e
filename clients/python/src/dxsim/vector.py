"""A server vector environment (``/v1/vector-envs``) with its observation matrix kept locally.

The server sends observations as changes (``reset`` rows and ``updates``), not whole matrices;
:class:`VectorClient` applies them to a NumPy ``float32`` matrix of shape ``(count,
observation_len)`` so a training loop always holds the full observation, at the cost of one small
JSON body per step.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .client import Client
from .types import OptionsJSON, VectorStep

__all__ = ["VectorClient", "apply_updates"]


def apply_updates(observations: np.ndarray, step: VectorStep) -> None:
    """Applies one vector step's changes to ``observations`` in place.

    The rows listed in ``step["reset"]`` are zeroed, then ``observations[episode[k], position[k]] =
    value[k]`` for every ``k``; when a cell appears more than once, the last value wins, as if the
    updates were applied in order.
    """
    count, length = observations.shape
    reset = np.asarray(step.get("reset", []), dtype=np.int64)
    updates = step.get("updates") or {}
    episode = np.asarray(updates.get("episode", []), dtype=np.int64)
    position = np.asarray(updates.get("position", []), dtype=np.int64)
    value = np.asarray(updates.get("value", []), dtype=np.float32)
    if not (episode.shape == position.shape == value.shape) or episode.ndim != 1:
        raise ValueError(
            "the step's updates are malformed: episode, position and value have lengths "
            f"{episode.size}, {position.size} and {value.size}"
        )
    if reset.size and (reset.min() < 0 or reset.max() >= count):
        raise ValueError(f"a reset row is outside 0..{count - 1}: {reset.tolist()}")
    if episode.size and (
        episode.min() < 0
        or episode.max() >= count
        or position.min() < 0
        or position.max() >= length
    ):
        raise ValueError(
            f"an update falls outside the {count}×{length} observation matrix"
        )
    observations[reset] = 0.0
    if episode.size:
        flat = episode * length + position
        # NumPy does not promise an order for repeated indices in one assignment, so keep the last
        # update of each cell explicitly.
        last_first = flat[::-1]
        cells, first = np.unique(last_first, return_index=True)
        observations.reshape(-1)[cells] = value[::-1][first]


class VectorClient:
    """``count`` discrete-mode episodes stepped together on the server.

    Args:
        client: the :class:`dxsim.Client` to talk through.
        count: number of episodes; episode ``i`` starts on seed ``seed + i``.
        seed: the first episode's seed.
        options: episode options for all of them.

    Attributes:
        observations: the ``(count, observation_len)`` ``float32`` matrix, updated by :meth:`step`.
        vec_id, count, observation_len, action_count, table_version: as the server reported them.

    An episode that ended is reset by the server on the next step (its action is ignored), as
    Gymnasium's next-step autoreset does.
    """

    def __init__(
        self,
        client: Client,
        count: int,
        seed: int = 0,
        options: OptionsJSON = None,
    ) -> None:
        created = client.create_vector_env(count, seed, options)
        self.client = client
        self.vec_id: Optional[str] = created["vec_id"]
        self.count = int(created["count"])
        self.observation_len = int(created["observation_len"])
        self.action_count = int(created["action_count"])
        self.table_version: str = created["table_version"]
        self.observations = np.zeros((self.count, self.observation_len), dtype=np.float32)

    def __enter__(self) -> "VectorClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _id(self) -> str:
        if self.vec_id is None:
            raise RuntimeError("this vector environment is closed")
        return self.vec_id

    def step(
        self, actions: Sequence[int]
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
        """Steps every episode with one action index each.

        Returns ``(observations, rewards, terminated, truncated, info)`` as NumPy arrays;
        ``observations`` is :attr:`observations` itself (copy it to keep a snapshot) and
        ``info["reset"]`` holds the indices of the episodes reset this step.
        """
        indices = np.asarray(actions).reshape(-1)
        if indices.size != self.count:
            raise ValueError(f"expected {self.count} actions, got {indices.size}")
        answer = self.client.step_vector_env(self._id(), indices.tolist())
        apply_updates(self.observations, answer)
        rewards = np.asarray(answer["rewards"], dtype=np.float64)
        terminated = np.asarray(answer["terminated"], dtype=np.bool_)
        truncated = np.asarray(answer["truncated"], dtype=np.bool_)
        reset = np.asarray(answer.get("reset", []), dtype=np.int64)
        return self.observations, rewards, terminated, truncated, {"reset": reset}

    def fetch_observations(self) -> np.ndarray:
        """The server's full observation matrix (``GET .../observations``), without touching
        :attr:`observations`."""
        answer = self.client.vector_env_observations(self._id())
        shape = (int(answer["count"]), int(answer["observation_len"]))
        return np.asarray(answer["observations"], dtype=np.float32).reshape(shape)

    def sync(self) -> np.ndarray:
        """Replaces :attr:`observations` with the server's full matrix and returns it."""
        self.observations[...] = self.fetch_observations()
        return self.observations

    def close(self) -> None:
        """Deletes the server vector environment (safe to call twice)."""
        vec_id, self.vec_id = self.vec_id, None
        if vec_id is not None:
            self.client.close_vector_env(vec_id)
