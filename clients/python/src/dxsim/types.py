"""Typed shapes of the JSON the server sends and accepts (``docs/http-api.md``).

They are :class:`typing.TypedDict` classes: at run time every value is a plain ``dict``; the classes
only tell editors and type checkers which keys to expect. Nested structures the API leaves open
(costs, charges, findings, outcomes, episode options) are typed as ``Dict[str, Any]``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict

JSON = Dict[str, Any]


class LibrarySummary(TypedDict):
    """One case library a server holds (``dxsim serve --cases``)."""

    name: str
    cases: int
    sha256: str


class Health(TypedDict):
    """``GET /v1/health``."""

    status: str
    version: str
    cases: int
    libraries: List[LibrarySummary]
    live_episodes: int


class _CaseSummaryBase(TypedDict):
    handle: str
    age_years: int
    sex: str
    setting: str
    summary: str


class CaseSummary(_CaseSummaryBase, total=False):
    """One entry of ``GET /v1/cases``: an opaque handle and the presentation, never the diagnosis.

    The authors' fields (``id``, ``title``, ``specialty``, ``difficulty``, ``split``) and the
    operator's ``library`` are present only when the server runs with ``--case-details``; an agent
    must never see them before an episode ends.
    """

    age_months: int
    library: str
    id: str
    title: str
    specialty: str
    difficulty: str
    split: str


class CatalogueTest(TypedDict):
    """An orderable test."""

    id: str
    name: str
    category: str
    price_usd: float
    synonyms: List[str]


class ExamSystem(TypedDict):
    """An examinable body system."""

    id: str
    name: str


class Catalogue(TypedDict):
    """``GET /v1/catalogue``."""

    tests: List[CatalogueTest]
    exam_systems: List[ExamSystem]


class DiscreteTable(TypedDict):
    """``GET /v1/discrete``: the discrete action table and observation layout."""

    version: str
    action_count: int
    observation_len: int
    actions: List[str]
    blocks: Dict[str, int]


class Observation(TypedDict):
    """What the doctor observes after a reset or a step."""

    text: str
    findings: List[JSON]
    turn: int


class _EpisodeBase(TypedDict):
    episode_id: str
    observation: Observation
    info: JSON


class EpisodeResponse(_EpisodeBase, total=False):
    """``POST /v1/episodes`` and ``POST /v1/episodes/{id}/reset``."""

    mode: str
    seed: int
    discrete_observation: List[float]


class StepResponse(_EpisodeBase, total=False):
    """``POST /v1/episodes/{id}/step`` (and each successful entry of a batch step)."""

    reward: float
    terminated: bool
    truncated: bool
    discrete_observation: List[float]


class BatchError(TypedDict):
    """A failed entry of a batch step."""

    episode_id: str
    error: Dict[str, str]


class _EpisodeStateBase(TypedDict):
    episode_id: str
    mode: str
    seed: int
    options: JSON
    case_handle: str
    turn: int
    status: str
    cost: JSON


class EpisodeState(_EpisodeStateBase, total=False):
    """``GET /v1/episodes/{id}``: ``options`` leave out the case selector, and ``case_id`` is absent,
    until the episode has ended."""

    case_id: str


class TranscriptEntry(TypedDict):
    """One turn of a transcript."""

    turn: int
    action: JSON
    response: str


class Transcript(TypedDict):
    """``GET /v1/episodes/{id}/transcript``."""

    episode_id: str
    entries: List[TranscriptEntry]


class _EpisodeSummaryBase(TypedDict):
    episode_id: str
    mode: str
    case_handle: str
    turn: int
    status: str


class EpisodeSummary(_EpisodeSummaryBase, total=False):
    """One entry of ``GET /v1/episodes``; ``case_id`` only once the episode has ended."""

    case_id: str


class VectorEnvInfo(TypedDict):
    """``POST /v1/vector-envs``."""

    vec_id: str
    count: int
    observation_len: int
    action_count: int
    table_version: str


class VectorUpdates(TypedDict):
    """Observation changes of one vector step, as three parallel lists."""

    episode: List[int]
    position: List[int]
    value: List[float]


class VectorStep(TypedDict):
    """``POST /v1/vector-envs/{id}/step``."""

    rewards: List[float]
    terminated: List[bool]
    truncated: List[bool]
    reset: List[int]
    updates: VectorUpdates


class VectorObservations(TypedDict):
    """``GET /v1/vector-envs/{id}/observations``: the full matrix, row-major."""

    count: int
    observation_len: int
    observations: List[float]


ActionJSON = Dict[str, Any]
"""A structured action: ``{"type": "ask", "text": ...}`` and so on; see :mod:`dxsim.actions`."""

OptionsJSON = Optional[Dict[str, Any]]
"""Episode options as the Rust ``EpisodeOptions`` accepts them (``GET /v1/schemas/options``)."""
