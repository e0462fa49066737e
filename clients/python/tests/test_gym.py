"""The Gymnasium environments against the real server."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dxsim
from conftest import STEMI_CASE, STEMI_HANDLE
from dxsim.gym import DxSimEnv, DxSimVectorEnv


def make(server, **kwargs):
    return gymnasium.make("DxSim-v0", base_url=server.url, **kwargs)


@pytest.mark.parametrize("mode", ["text", "discrete"])
def test_check_env(server, mode):
    env = make(server, mode=mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    messages = [str(w.message) for w in caught]
    # The one expected warning: the discrete observation's cost entry has no upper bound.
    unexpected = [m for m in messages if "maximum value is infinity" not in m]
    assert not unexpected, unexpected


@pytest.mark.parametrize("mode", ["text", "discrete"])
def test_reset_seed_is_deterministic(server, mode):
    env = make(server, mode=mode)
    try:
        obs_a, info_a = env.reset(seed=123)
        follow_a = [env.reset() for _ in range(3)]
        obs_b, info_b = env.reset(seed=123)
        follow_b = [env.reset() for _ in range(3)]
        assert info_a == info_b
        assert np.array_equal(obs_a, obs_b) if mode == "discrete" else obs_a == obs_b
        assert [i["case_handle"] for _, i in follow_a] == [i["case_handle"] for _, i in follow_b]
        # Different seeds pick different cases (over a handful of seeds, at least once).
        cases = {env.reset(seed=s)[1]["case_handle"] for s in range(8)}
        assert len(cases) > 1
        # The server seed is the given one.
        env.reset(seed=77)
        assert env.unwrapped.state()["seed"] == 77
    finally:
        env.close()


def test_text_env_plays_to_a_diagnosis(server):
    env = make(server, mode="text", options={"case": {"id": STEMI_CASE}})
    obs, info = env.reset(seed=42)
    assert "61-year-old" in obs and obs in env.observation_space
    assert info["case_handle"] == STEMI_HANDLE and "outcome" not in info and "case_id" not in info
    obs, reward, terminated, truncated, info = env.step("<test>ECG</test><test>troponin</test>")
    assert "ST-segment elevation" in obs and obs in env.observation_space
    assert (reward, terminated, truncated) == (0.0, False, False)
    obs, reward, terminated, truncated, info = env.step("DIAGNOSIS READY: inferior STEMI")
    assert terminated and not truncated and reward == 1.0
    assert info["outcome"]["verdict"]
    assert len(env.unwrapped.transcript()["entries"]) == 2
    episode = env.unwrapped.episode_id
    env.close()
    with pytest.raises(dxsim.ApiError) as caught:
        dxsim.Client(server.url).episode(episode)
    assert caught.value.status == 404
    env.close()  # twice is fine


def test_options_pass_through_and_truncation(server):
    env = make(server, mode="text")
    try:
        _, info = env.reset(seed=4, options={"case": {"id": STEMI_CASE}, "turn_limit": 2})
        assert info["case_handle"] == STEMI_HANDLE and info["turn_limit"] == 2
        _, _, terminated, truncated, _ = env.step("Any fever?")
        assert not terminated and not truncated
        _, _, terminated, truncated, info = env.step("Any cough?")
        assert truncated and not terminated and "outcome" in info
        with pytest.raises(dxsim.ApiError) as caught:
            env.step("One more question?")
        assert caught.value.code == "episode_over"
    finally:
        env.close()


def test_invalid_text_action_is_observed_or_raised(server):
    env = make(server, mode="text", options={"case": {"id": STEMI_CASE}})
    try:
        first, first_info = env.reset(seed=1)
        obs, reward, terminated, truncated, info = env.step("<test>CBC")
        assert obs.startswith("Invalid action:") and "<test>" in obs
        assert (reward, terminated, truncated) == (0.0, False, False)
        assert info["invalid_action"]["code"] == "invalid_action"
        assert info["turn"] == first_info["turn"] == 0
        assert env.unwrapped.state()["turn"] == 0
    finally:
        env.close()
    strict = make(server, mode="text", invalid_action="raise")
    try:
        strict.reset(seed=1)
        with pytest.raises(dxsim.ApiError) as caught:
            strict.step("   ")
        assert (caught.value.status, caught.value.code) == (422, "invalid_action")
    finally:
        strict.close()


def test_discrete_env(server):
    env = make(server, mode="discrete", options={"case": {"id": STEMI_CASE}})
    try:
        table = env.unwrapped.table
        assert env.action_space == gymnasium.spaces.Discrete(table["action_count"])
        assert env.observation_space.shape == (table["observation_len"],)
        obs, info = env.reset(seed=8)
        assert obs.dtype == np.float32 and obs in env.observation_space
        assert not obs.any()
        ask_onset = 0
        obs, reward, terminated, truncated, info = env.step(np.int64(ask_onset))
        assert obs in env.observation_space and obs[-1] > 0
        diagnose = table["action_count"] - table["blocks"]["diagnose"]
        obs, reward, terminated, truncated, info = env.step(diagnose)
        assert terminated and "outcome" in info and isinstance(reward, float)
    finally:
        env.close()


def test_episode_slot_is_reused_across_resets(server):
    env = DxSimEnv(mode="text", base_url=server.url)
    try:
        env.reset(seed=1)
        episode = env.episode_id
        env.reset(seed=2)
        assert env.episode_id == episode
        # An episode closed behind the env's back is recreated on the next reset.
        env.client.close_episode(episode)
        env.reset(seed=3)
        assert env.episode_id != episode
    finally:
        env.close()


def test_render_ansi(server):
    env = make(server, mode="text", render_mode="ansi", options={"case": {"id": STEMI_CASE}})
    try:
        env.reset(seed=42)
        env.step("<test>ECG</test>")
        text = env.render()
        assert "61-year-old" in text and "ST-segment elevation" in text
    finally:
        env.close()


def test_vector_env_matches_single_semantics(server):
    envs = DxSimVectorEnv(4, options={"case": {"id": STEMI_CASE}}, base_url=server.url)
    try:
        obs, _ = envs.reset(seed=10)
        assert obs.shape == (4, envs.single_observation_space.shape[0]) and not obs.any()
        rng = np.random.default_rng(0)
        saw_reset = False
        for _ in range(30):
            actions = rng.integers(0, envs.single_action_space.n, size=4)
            obs, rewards, terminated, truncated, info = envs.step(actions)
            assert obs in envs.observation_space
            saw_reset |= len(info["reset"]) > 0
            np.testing.assert_array_equal(obs, envs.vector.fetch_observations())
        assert saw_reset
        # An unseeded reset draws the server seed from np_random: a fresh, all-zero start.
        first_id = envs.vector.vec_id
        obs, _ = envs.reset()
        assert envs.vector.vec_id != first_id and not obs.any()
        with pytest.raises(dxsim.ApiError):
            envs.client.vector_env_observations(first_id)
    finally:
        envs.close()


@pytest.mark.parametrize("vectorization_mode", ["sync", "async"])
def test_make_vec(server, vectorization_mode):
    client = server.client()
    before = {e["episode_id"] for e in client.episodes()}
    envs = gymnasium.make_vec(
        "DxSim-v0",
        num_envs=2,
        vectorization_mode=vectorization_mode,
        mode="discrete",
        base_url=server.url,
        # The test process runs threads (the server's output readers): fork is unsafe there.
        vector_kwargs={"context": "spawn"} if vectorization_mode == "async" else {},
    )
    try:
        obs, _ = envs.reset(seed=3)
        assert obs.shape == (2, envs.single_observation_space.shape[0])
        assert len({e["episode_id"] for e in client.episodes()} - before) == 2
        envs.action_space.seed(0)
        for _ in range(3):
            obs, rewards, terminated, truncated, _ = envs.step(envs.action_space.sample())
            assert obs in envs.observation_space and rewards.shape == (2,)
    finally:
        envs.close()
    # Closing the vector env closed its episodes on the server.
    assert {e["episode_id"] for e in client.episodes()} == before
