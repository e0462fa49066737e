"""Gymnasium environments backed by a dxsim server: :class:`DxSimEnv` (``DxSim-v0``) and
:class:`DxSimVectorEnv`.

``DxSimEnv`` plays one server episode. Two modes:

* ``mode="text"`` — for LLM agents. Observation: :class:`gymnasium.spaces.Text`, the server's
  observation text (:func:`dxsim.charset.normalise`-d into :data:`dxsim.charset.CHARSET`). Action:
  ``Text`` in the same charset, read by the server's text protocol (SDBench tags such as
  ``<test>CBC</test>``, AgentClinic lines such as ``DIAGNOSIS READY: ...``, anything else is a
  question to the patient).
* ``mode="discrete"`` — for classic RL. Action: ``Discrete(action_count)`` over the server's
  versioned action table (``GET /v1/discrete``). Observation: ``Box(0, high, (observation_len,),
  float32)``: per history topic 0/1 (heard), per exam system and test 0/1/2 (not done, normal,
  abnormal), then the cost so far in $1000s (unbounded) and the share of the turn limit used (0-1).

``reward``, ``terminated``, ``truncated`` and ``info`` are the server's. An action the server refuses
as ``invalid_action`` (say, an unclosed tag) does not raise by default: the step returns the last
observation in discrete mode, or the server's explanation as the text observation, reward 0, the
episode unchanged and ``info["invalid_action"] = {"code", "message"}``, so an agent can correct
itself. Pass ``invalid_action="raise"`` to get :class:`dxsim.ApiError` instead.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from .charset import CHARSET, normalise
from .client import Client
from .errors import ApiError
from .types import DiscreteTable, EpisodeResponse, EpisodeState, OptionsJSON, Transcript
from .vector import VectorClient

try:  # Gymnasium 1.1 and later name the autoreset mode; 1.0 always autoresets on the next step
    from gymnasium.vector import AutoresetMode

    _VECTOR_METADATA: Dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP}
except ImportError:  # pragma: no cover - Gymnasium 1.0
    _VECTOR_METADATA = {}

__all__ = ["DxSimEnv", "DxSimVectorEnv", "discrete_observation_space"]

_SEED_BOUND = 2**63


def _client(
    client: Optional[Client], base_url: Optional[str], token: Optional[str]
) -> Client:
    if client is not None:
        if base_url is not None or token is not None:
            raise ValueError("pass either client= or base_url=/token=, not both")
        return client
    return Client(base_url, token)


def discrete_observation_space(table: Mapping[str, Any]) -> spaces.Box:
    """The observation :class:`~gymnasium.spaces.Box` of a discrete table (``GET /v1/discrete``).

    Its upper bounds are tight where the layout is known — 1 for history topics, 2 for exam systems
    and tests, infinity for the cost, 1 for the turn share — and infinity throughout otherwise.
    """
    length = int(table["observation_len"])
    blocks = table.get("blocks", {})
    high = np.full(length, np.inf, dtype=np.float32)
    topics = int(blocks.get("ask", -1))
    flags = int(blocks.get("examine", -1)) + int(blocks.get("order", -1))
    if topics >= 0 and flags >= 0 and topics + flags + 2 == length:
        high[:topics] = 1.0
        high[topics : topics + flags] = 2.0
        high[-1] = 1.0
    return spaces.Box(low=0.0, high=high, shape=(length,), dtype=np.float32)


class DxSimEnv(gymnasium.Env):
    """One dxsim episode over HTTP, as a Gymnasium environment (registered as ``DxSim-v0``).

    Args:
        mode: ``"text"`` or ``"discrete"``.
        options: default episode options for every reset (``reset(options=...)`` replaces them
            for that reset), e.g. ``{"case": {"id": "cardio-chest-pressure-snow"}, "turn_limit": 20}``.
        base_url, token: the server (default: ``DXSIM_URL`` and ``DXSIM_TOKEN``).
        client: an existing :class:`dxsim.Client` instead of ``base_url``/``token``.
        render_mode: ``"ansi"`` (``render()`` returns the transcript so far) or ``"human"``
            (prints each new observation).
        invalid_action: ``"observe"`` (default) or ``"raise"``; see the module documentation.
        max_action_chars: the ``Text`` action space's length bound; keep it at the server's
            ``--max-action-chars`` (8192 by default).
        max_observation_chars: the ``Text`` observation space's length bound; longer texts are cut
            and end with ``[…]``.

    Without a seed, ``reset()`` draws the server seed from ``self.np_random``, so a seeded
    ``reset(seed=s)`` followed by unseeded resets replays the same episodes.
    """

    # Text has no frame rate; the figure only tells recorders and checkers how often to sample.
    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        mode: str = "text",
        options: OptionsJSON = None,
        *,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        client: Optional[Client] = None,
        render_mode: Optional[str] = None,
        invalid_action: str = "observe",
        max_action_chars: int = 8192,
        max_observation_chars: int = 1 << 20,
    ) -> None:
        if mode not in ("text", "discrete"):
            raise ValueError(f"mode must be 'text' or 'discrete', got {mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        if invalid_action not in ("observe", "raise"):
            raise ValueError(
                f"invalid_action must be 'observe' or 'raise', got {invalid_action!r}"
            )
        self.mode = mode
        self.options = copy.deepcopy(options)
        self.render_mode = render_mode
        self.invalid_action = invalid_action
        self.client = _client(client, base_url, token)
        self._owns_client = client is None
        self.max_observation_chars = max_observation_chars
        self.episode_id: Optional[str] = None
        self.table: Optional[DiscreteTable] = None
        """The discrete action table (discrete mode only)."""
        self.last_response: Optional[Mapping[str, Any]] = None
        """The server's last reset or step answer, as sent (structured findings and all)."""
        self._last_obs: Any = None
        self._last_info: Dict[str, Any] = {}
        self._rendered: List[str] = []
        if mode == "text":
            self.observation_space = spaces.Text(
                max_observation_chars, min_length=0, charset=CHARSET
            )
            self.action_space = spaces.Text(
                max_action_chars, min_length=1, charset=CHARSET
            )
        else:
            table = self.client.discrete_table()
            self.table = table
            self.observation_space = discrete_observation_space(table)
            self.action_space = spaces.Discrete(int(table["action_count"]))

    # -- Gymnasium API ---------------------------------------------------------------------------

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None
    ) -> Tuple[Any, Dict[str, Any]]:
        """Starts an episode: ``seed`` goes to the server (drawn from ``np_random`` if omitted);
        ``options`` replaces the constructor's options for this episode."""
        super().reset(seed=seed)
        server_seed = (
            int(seed)
            if seed is not None
            else int(self.np_random.integers(0, _SEED_BOUND, dtype=np.int64))
        )
        chosen = self.options if options is None else options
        response: Optional[EpisodeResponse] = None
        if self.episode_id is not None:
            try:
                response = self.client.reset_episode(
                    self.episode_id, server_seed, chosen, self.mode
                )
            except ApiError as err:
                if err.status != 404:
                    raise
                self.episode_id = None  # expired or closed on the server: start afresh
        if response is None:
            response = self.client.create_episode(server_seed, chosen, self.mode)
        self.episode_id = response["episode_id"]
        self._rendered = []
        return self._accept(response)

    def step(
        self, action: Union[str, int, np.integer]
    ) -> Tuple[Any, float, bool, bool, Dict[str, Any]]:
        """Takes one action: a text in text mode, an action-table index in discrete mode."""
        if self.episode_id is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        try:
            if self.mode == "text":
                if not isinstance(action, str):
                    raise TypeError(
                        f"a text-mode action is a str, got {type(action).__name__}"
                    )
                response = self.client.step(self.episode_id, text=action)
            else:
                response = self.client.step(self.episode_id, index=_index(action))
        except ApiError as err:
            if err.code != "invalid_action" or self.invalid_action == "raise":
                raise
            return self._refused(err)
        obs, info = self._accept(response)
        return (
            obs,
            float(response["reward"]) + 0.0,  # + 0.0 turns the server's -0.0 into 0.0
            bool(response["terminated"]),
            bool(response["truncated"]),
            info,
        )

    def render(self) -> Optional[str]:
        """``"ansi"``: the observations so far as one text; ``"human"`` prints as it goes."""
        if self.render_mode == "ansi":
            return "\n\n".join(self._rendered)
        return None

    def close(self) -> None:
        """Deletes the server episode (safe to call twice, or before any reset)."""
        episode_id, self.episode_id = self.episode_id, None
        try:
            if episode_id is not None:
                try:
                    self.client.close_episode(episode_id)
                except ApiError as err:
                    if err.status != 404:
                        raise
        finally:
            if self._owns_client:
                self.client.close()
        super().close()

    # -- helpers ---------------------------------------------------------------------------------

    def state(self) -> EpisodeState:
        """The server's view of the episode (``GET /v1/episodes/{id}``)."""
        if self.episode_id is None:
            raise gymnasium.error.ResetNeeded("no episode yet: call reset()")
        return self.client.episode(self.episode_id)

    def transcript(self) -> Transcript:
        """The episode's transcript so far (``GET /v1/episodes/{id}/transcript``)."""
        if self.episode_id is None:
            raise gymnasium.error.ResetNeeded("no episode yet: call reset()")
        return self.client.transcript(self.episode_id)

    def _text(self, text: str) -> str:
        text = normalise(text)
        limit = self.max_observation_chars
        if len(text) > limit:
            marker = "[…]"
            text = (text[: max(limit - len(marker), 0)] + marker)[:limit]
        return text

    def _accept(self, response: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
        self.last_response = response
        text = response["observation"]["text"]
        if self.mode == "text":
            obs: Any = self._text(text)
        else:
            obs = np.asarray(response["discrete_observation"], dtype=np.float32)
        self._last_obs = obs
        self._last_info = response.get("info") or {}
        self._show(text)
        return self._copy(obs), copy.deepcopy(self._last_info)

    def _refused(self, err: ApiError) -> Tuple[Any, float, bool, bool, Dict[str, Any]]:
        message = f"Invalid action: {err.message}"
        obs = self._text(message) if self.mode == "text" else self._copy(self._last_obs)
        info = copy.deepcopy(self._last_info)
        info["invalid_action"] = {"code": err.code, "message": err.message}
        self._show(message)
        return obs, 0.0, False, False, info

    def _show(self, text: str) -> None:
        if self.render_mode is None:
            return
        self._rendered.append(text)
        if self.render_mode == "human":
            print(text, file=sys.stdout, flush=True)

    @staticmethod
    def _copy(obs: Any) -> Any:
        return obs.copy() if isinstance(obs, np.ndarray) else obs


def _index(action: Any) -> int:
    if isinstance(action, np.ndarray):
        if action.shape != ():
            raise TypeError(f"a discrete action is one index, got shape {action.shape}")
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise TypeError(f"a discrete action is an int, got {type(action).__name__}")
    return int(action)


class DxSimVectorEnv(VectorEnv):
    """A server vector environment (``/v1/vector-envs``) as a :class:`gymnasium.vector.VectorEnv`.

    Discrete mode only; sub-environment ``i`` plays seed ``seed + i``. Autoreset is Gymnasium's
    next-step mode: after an episode ends, the next ``step`` resets it, ignores its action and returns
    its fresh observation with reward 0. ``reset(seed=...)`` replaces the server vector environment
    with a new one on that seed (without a seed, one is drawn from ``np_random``).
    """

    metadata = _VECTOR_METADATA

    def __init__(
        self,
        num_envs: int,
        options: OptionsJSON = None,
        *,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        client: Optional[Client] = None,
    ) -> None:
        self.client = _client(client, base_url, token)
        self._owns_client = client is None
        self.num_envs = int(num_envs)
        self.options = copy.deepcopy(options)
        table = self.client.discrete_table()
        self.table = table
        self.single_observation_space = discrete_observation_space(table)
        self.single_action_space = spaces.Discrete(int(table["action_count"]))
        self.observation_space = gymnasium.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = gymnasium.vector.utils.batch_space(
            self.single_action_space, self.num_envs
        )
        self.vector: Optional[VectorClient] = None

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None
    ) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Replaces the server vector environment with a fresh one."""
        super().reset(seed=seed)
        server_seed = (
            int(seed)
            if seed is not None
            else int(self.np_random.integers(0, _SEED_BOUND - self.num_envs, dtype=np.int64))
        )
        if self.vector is not None:
            self.vector.close()
            self.vector = None
        chosen = self.options if options is None else options
        self.vector = VectorClient(self.client, self.num_envs, server_seed, chosen)
        if self.vector.table_version != self.table["version"]:
            raise RuntimeError(
                f"the server's vector envs use table {self.vector.table_version}, "
                f"but GET /v1/discrete gave {self.table['version']}"
            )
        return self.vector.observations.copy(), {}

    def step(
        self, actions: Any
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
        """Steps every sub-environment; ``info["reset"]`` lists the ones reset this step."""
        if self.vector is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        obs, rewards, terminated, truncated, info = self.vector.step(actions)
        return obs.copy(), rewards, terminated, truncated, info

    def close_extras(self, **kwargs: Any) -> None:
        """Deletes the server vector environment."""
        if self.vector is not None:
            try:
                self.vector.close()
            finally:
                self.vector = None
        if self._owns_client:
            self.client.close()
