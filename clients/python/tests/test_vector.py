"""VectorClient: the locally rebuilt observation matrix equals the server's."""

from __future__ import annotations

import numpy as np
import pytest

import dxsim
from conftest import STEMI_CASE

# Vector envs learn a lookup table per case on first use, which takes seconds in a debug build:
# one case keeps the suite quick while still exercising deltas, resets and seeds.
ONE_CASE = {"case": {"id": STEMI_CASE}}


def test_deltas_rebuild_the_server_matrix(client):
    table = client.discrete_table()
    with dxsim.VectorClient(client, 16, seed=100, options=ONE_CASE) as vec:
        assert (vec.count, vec.observation_len, vec.action_count) == (
            16,
            table["observation_len"],
            table["action_count"],
        )
        assert vec.table_version == table["version"]
        np.testing.assert_array_equal(vec.observations, vec.fetch_observations())
        assert not vec.observations.any()
        rng = np.random.default_rng(7)
        playable = table["action_count"] - table["blocks"]["diagnose"]
        resets = 0
        ended = np.zeros(16, dtype=bool)
        for step in range(60):
            # Mostly work-up actions, sometimes a diagnosis, so episodes end and get reset.
            actions = rng.integers(0, playable, size=16)
            diagnosing = rng.random(16) < 0.1
            actions[diagnosing] = rng.integers(playable, table["action_count"], size=diagnosing.sum())
            obs, rewards, terminated, truncated, info = vec.step(actions)
            assert obs.shape == (16, table["observation_len"]) and obs.dtype == np.float32
            assert rewards.shape == terminated.shape == truncated.shape == (16,)
            # Next-step autoreset: exactly the episodes that ended last step are reset now.
            np.testing.assert_array_equal(np.sort(info["reset"]), np.flatnonzero(ended))
            ended = terminated | truncated
            resets += len(info["reset"])
            np.testing.assert_array_equal(vec.observations, vec.fetch_observations(), f"step {step}")
        assert resets > 0
        vec_id = vec.vec_id
    with pytest.raises(dxsim.ApiError) as caught:
        client.vector_env_observations(vec_id)
    assert caught.value.status == 404


def test_vector_seeds_match_single_episodes(client):
    """Episode i of a vector env plays seed + i: its first step equals a discrete episode's."""
    with dxsim.VectorClient(client, 3, seed=500, options=ONE_CASE) as vec:
        obs, rewards, *_ = vec.step([0, 0, 0])
        for i in range(3):
            single = client.create_episode(seed=500 + i, options=ONE_CASE, mode="discrete")
            step = client.step(single["episode_id"], index=0)
            client.close_episode(single["episode_id"])
            np.testing.assert_allclose(obs[i], np.asarray(step["discrete_observation"], np.float32))
            assert rewards[i] == step["reward"]


def test_wrong_action_count_is_refused_locally_and_by_the_server(client):
    with dxsim.VectorClient(client, 2, options=ONE_CASE) as vec:
        with pytest.raises(ValueError, match="expected 2 actions"):
            vec.step([0])
        with pytest.raises(dxsim.ApiError) as caught:
            client.step_vector_env(vec.vec_id, [0, 0, 0])
        assert caught.value.status in (400, 422)
        with pytest.raises(dxsim.ApiError) as caught:
            client.step_vector_env(vec.vec_id, [0, vec.action_count])
        assert caught.value.status == 422
