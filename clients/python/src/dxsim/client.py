"""A thin, typed client of the dxsim HTTP step API (``docs/http-api.md``).

HTTP goes through the standard library's :mod:`http.client` over one keep-alive connection per
:class:`Client`, so the package needs no HTTP dependency. Requests on one client are serialised by a
lock; give each thread its own client for parallel requests.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote, urlencode, urlsplit

from .errors import ApiError, ServerUnreachable
from .types import (
    JSON,
    ActionJSON,
    BatchError,
    CaseSummary,
    Catalogue,
    DiscreteTable,
    EpisodeResponse,
    EpisodeState,
    EpisodeSummary,
    Health,
    OptionsJSON,
    StepResponse,
    Transcript,
    VectorEnvInfo,
    VectorObservations,
    VectorStep,
)

__all__ = ["Client"]

DEFAULT_URL = "http://127.0.0.1:8737"
"""Where ``dxsim serve`` listens unless told otherwise."""

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_MODES = ("text", "discrete")


def _user_agent() -> str:
    from . import __version__

    return f"dxsim-python/{__version__}"


class Client:
    """One connection to a dxsim server.

    Args:
        base_url: the server's address, e.g. ``"http://127.0.0.1:8737"`` (a trailing ``/v1`` is
            accepted). Defaults to the ``DXSIM_URL`` environment variable, else to
            :data:`DEFAULT_URL`, the server's own default.
        token: the bearer token; defaults to ``DXSIM_TOKEN``. Not needed for a server in ``--open``
            mode, nor for :meth:`health`.
        timeout: seconds to wait for the server on each request.

    Every method returns the decoded JSON (see :mod:`dxsim.types`), raises :class:`dxsim.ApiError`
    for an error answer and :class:`dxsim.ServerUnreachable` when the server cannot be reached.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 60.0,
    ) -> None:
        if base_url is None:
            base_url = os.environ.get("DXSIM_URL") or DEFAULT_URL
        if token is None:
            token = os.environ.get("DXSIM_TOKEN") or None
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"base_url {base_url!r} is not an http:// or https:// address with a host"
            )
        prefix = parts.path.rstrip("/")
        if prefix.endswith("/v1"):
            prefix = prefix[: -len("/v1")]
        self.base_url = base_url
        self.token = token
        self.timeout = timeout
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = prefix + "/v1"
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, token={'***' if self.token else None})"

    # -- connection handling -------------------------------------------------------------------

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the keep-alive connection (a later request opens a new one)."""
        with self._lock:
            self._drop()

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_conn"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and conn.sock is not None:
            # An idle keep-alive socket that is readable has been closed by the server (or holds
            # bytes nobody asked for): either way it cannot carry the next request.
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if readable:
                self._drop()
                conn = None
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._conn = conn
        return conn

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """Sends one request to ``/v1{path}`` and returns the decoded JSON (``None`` for 204).

        The typed methods below all go through here; use it directly for endpoints they do not
        cover.
        """
        url = self._prefix + path
        if query:
            present = {k: v for k, v in query.items() if v is not None}
            if present:
                url += "?" + urlencode(present)
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        with self._lock:
            for attempt in (0, 1):
                conn = self._connection()
                sent = False
                try:
                    conn.request(method, url, body=data, headers=headers)
                    sent = True
                    response = conn.getresponse()
                    raw = response.read()
                except (
                    http.client.RemoteDisconnected,
                    ConnectionResetError,
                    BrokenPipeError,
                ) as err:
                    self._drop()
                    # A request that never left, or one that is safe to repeat, gets one more try
                    # on a fresh connection; a step might have been taken, so it is not repeated.
                    if attempt == 0 and (not sent or method in _IDEMPOTENT):
                        continue
                    raise ServerUnreachable(
                        f"{method} {self.base_url}{url}: connection lost ({err})"
                    ) from err
                except (OSError, http.client.HTTPException) as err:
                    self._drop()
                    raise ServerUnreachable(
                        f"{method} {self.base_url}{url}: {err}"
                    ) from err
                if response.will_close:
                    self._drop()
                break
        return _decode(response.status, raw)

    # -- service -------------------------------------------------------------------------------

    def health(self) -> Health:
        """``GET /v1/health`` (needs no token)."""
        return self.request("GET", "/health")

    def openapi(self) -> JSON:
        """``GET /v1/openapi.json``: the machine-readable API description."""
        return self.request("GET", "/openapi.json")

    def schema(self, name: str) -> JSON:
        """``GET /v1/schemas/{name}``: the JSON Schema of ``action``, ``options``, ``observation``
        or ``step``."""
        return self.request("GET", f"/schemas/{_segment(name)}")

    def cases(
        self,
        split: Optional[str] = None,
        specialty: Optional[str] = None,
        difficulty: Optional[str] = None,
    ) -> List[CaseSummary]:
        """``GET /v1/cases``: every case's opaque handle and presentation.

        The filters (and the authors' fields in the answer) need a server started with
        ``--case-details``; any other server refuses them with 400, so that no agent can map a
        presentation to a specialty. To play a specialty or split, select it in the reset options.
        """
        query = {"split": split, "specialty": specialty, "difficulty": difficulty}
        return self.request("GET", "/cases", query=query)["cases"]

    def catalogue(self) -> Catalogue:
        """``GET /v1/catalogue``: orderable tests with prices, and examinable systems."""
        return self.request("GET", "/catalogue")

    def discrete_table(self) -> DiscreteTable:
        """``GET /v1/discrete``: the discrete action table and observation length."""
        return self.request("GET", "/discrete")

    # -- episodes ------------------------------------------------------------------------------

    def create_episode(
        self,
        seed: Optional[int] = None,
        options: OptionsJSON = None,
        mode: Optional[str] = None,
    ) -> EpisodeResponse:
        """``POST /v1/episodes``: creates and resets an episode (mode ``"text"`` or ``"discrete"``)."""
        return self.request("POST", "/episodes", _episode_body(seed, options, mode))

    def reset_episode(
        self,
        episode_id: str,
        seed: Optional[int] = None,
        options: OptionsJSON = None,
        mode: Optional[str] = None,
    ) -> EpisodeResponse:
        """``POST /v1/episodes/{id}/reset``: a new episode in the same slot (mode kept if omitted)."""
        return self.request(
            "POST",
            f"/episodes/{_segment(episode_id)}/reset",
            _episode_body(seed, options, mode),
        )

    def step(
        self,
        episode_id: str,
        action: Optional[ActionJSON] = None,
        *,
        text: Optional[str] = None,
        index: Optional[int] = None,
    ) -> StepResponse:
        """``POST /v1/episodes/{id}/step`` with exactly one of a structured ``action`` (see
        :mod:`dxsim.actions`), a ``text`` in the text protocol, or a discrete ``index``."""
        return self.request(
            "POST",
            f"/episodes/{_segment(episode_id)}/step",
            _step_body(action, text, index),
        )

    def step_batch(
        self, steps: Sequence[Mapping[str, Any]]
    ) -> List[Union[StepResponse, BatchError]]:
        """``POST /v1/episodes/step``: steps many episodes at once.

        Each entry is ``{"episode_id": ..., "action" | "text" | "index": ...}``. The results come back
        in request order; a failed entry is ``{"episode_id", "error": {"code", "message"}}`` and is
        not raised, so one bad entry does not hide the others.
        """
        return self.request("POST", "/episodes/step", {"steps": list(steps)})["results"]

    def episode(self, episode_id: str) -> EpisodeState:
        """``GET /v1/episodes/{id}``: mode, seed, options, case, turn, status and cost."""
        return self.request("GET", f"/episodes/{_segment(episode_id)}")

    def transcript(self, episode_id: str) -> Transcript:
        """``GET /v1/episodes/{id}/transcript``."""
        return self.request("GET", f"/episodes/{_segment(episode_id)}/transcript")

    def close_episode(self, episode_id: str) -> None:
        """``DELETE /v1/episodes/{id}``."""
        self.request("DELETE", f"/episodes/{_segment(episode_id)}")

    def episodes(self) -> List[EpisodeSummary]:
        """``GET /v1/episodes``: the caller's live episodes."""
        return self.request("GET", "/episodes")["episodes"]

    # -- vector environments -------------------------------------------------------------------

    def create_vector_env(
        self, count: int, seed: int = 0, options: OptionsJSON = None
    ) -> VectorEnvInfo:
        """``POST /v1/vector-envs``: ``count`` discrete episodes, episode ``i`` on seed ``seed + i``.

        :class:`dxsim.VectorClient` keeps the observation matrix up to date for you.
        """
        body: Dict[str, Any] = {"count": count, "seed": seed}
        if options is not None:
            body["options"] = options
        return self.request("POST", "/vector-envs", body)

    def step_vector_env(self, vec_id: str, actions: Sequence[int]) -> VectorStep:
        """``POST /v1/vector-envs/{id}/step`` with one action index per episode."""
        return self.request(
            "POST",
            f"/vector-envs/{_segment(vec_id)}/step",
            {"actions": [int(a) for a in actions]},
        )

    def vector_env_observations(self, vec_id: str) -> VectorObservations:
        """``GET /v1/vector-envs/{id}/observations``: the full matrix, row-major."""
        return self.request("GET", f"/vector-envs/{_segment(vec_id)}/observations")

    def close_vector_env(self, vec_id: str) -> None:
        """``DELETE /v1/vector-envs/{id}``."""
        self.request("DELETE", f"/vector-envs/{_segment(vec_id)}")


def _segment(value: str) -> str:
    """One path segment, escaped so an id cannot reach another route."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty id string, got {value!r}")
    return quote(value, safe="")


def _episode_body(
    seed: Optional[int], options: OptionsJSON, mode: Optional[str]
) -> Dict[str, Any]:
    body: Dict[str, Any] = {}
    if seed is not None:
        body["seed"] = int(seed)
    if options is not None:
        body["options"] = options
    if mode is not None:
        if mode not in _MODES:
            raise ValueError(f"mode must be 'text' or 'discrete', got {mode!r}")
        body["mode"] = mode
    return body


def _step_body(
    action: Optional[ActionJSON], text: Optional[str], index: Optional[int]
) -> Dict[str, Any]:
    given = [
        key
        for key, value in (("action", action), ("text", text), ("index", index))
        if value is not None
    ]
    if len(given) != 1:
        raise ValueError("give exactly one of action=, text= or index=")
    if index is not None:
        return {"index": int(index)}
    return {"action": action} if action is not None else {"text": text}


def _decode(status: int, raw: bytes) -> Any:
    if 200 <= status < 300:
        if status == 204 or not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as err:
            raise ApiError(
                status, "bad_response", f"the server sent a body that is not JSON: {err}"
            ) from None
    try:
        error = json.loads(raw)["error"]
        return_code = str(error["code"])
        message = str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace").strip()
        raise ApiError(status, f"http_{status}", text[:500] or "(empty body)") from None
    raise ApiError(status, return_code, message)
