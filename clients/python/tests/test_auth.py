"""Tokens and ownership against a server started with DXSIM_TOKENS."""

from __future__ import annotations

import pytest

import dxsim
from conftest import ALICE, BOB, STEMI_CASE, TOKEN_EPISODE_LIMIT


def test_health_needs_no_token(token_server):
    assert token_server.client().health()["status"] == "ok"


@pytest.mark.parametrize("token", ["", "not-a-known-token", ALICE + "x"])
def test_missing_or_unknown_token_is_401(token_server, token):
    client = token_server.client(token)
    for call in (lambda: client.cases(), lambda: client.create_episode(), lambda: client.episodes()):
        with pytest.raises(dxsim.ApiError) as caught:
            call()
        assert (caught.value.status, caught.value.code) == (401, "unauthorized")


def test_episodes_belong_to_their_token(token_server):
    alice = token_server.client(ALICE)
    bob = token_server.client(BOB)
    episode = alice.create_episode(seed=11)["episode_id"]
    try:
        assert alice.episode(episode)["episode_id"] == episode
        for call in (
            lambda: bob.episode(episode),
            lambda: bob.step(episode, text="Any fever?"),
            lambda: bob.transcript(episode),
            lambda: bob.reset_episode(episode),
            lambda: bob.close_episode(episode),
        ):
            with pytest.raises(dxsim.ApiError) as caught:
                call()
            assert (caught.value.status, caught.value.code) == (404, "not_found")
        assert episode not in {e["episode_id"] for e in bob.episodes()}
        assert episode in {e["episode_id"] for e in alice.episodes()}
        # Bob's batch step cannot reach it either.
        [result] = bob.step_batch([{"episode_id": episode, "text": "Any fever?"}])
        assert result["error"]["code"] == "not_found"
        assert alice.episode(episode)["turn"] == 0
    finally:
        alice.close_episode(episode)


def test_vector_envs_belong_to_their_token(token_server):
    alice = token_server.client(ALICE)
    bob = token_server.client(BOB)
    with dxsim.VectorClient(alice, 2, seed=0, options={"case": {"id": STEMI_CASE}}) as vec:
        with pytest.raises(dxsim.ApiError) as caught:
            bob.step_vector_env(vec.vec_id, [0, 0])
        assert caught.value.status == 404
        vec.step([0, 0])


def test_token_from_environment(token_server, monkeypatch):
    monkeypatch.setenv("DXSIM_URL", token_server.url)
    monkeypatch.setenv("DXSIM_TOKEN", ALICE)
    with dxsim.Client() as client:
        assert client.cases()


def test_episode_limit_per_token_is_429(token_server):
    alice = token_server.client(ALICE)
    bob = token_server.client(BOB)
    created = []
    try:
        while len(created) <= TOKEN_EPISODE_LIMIT:
            try:
                created.append(alice.create_episode(seed=len(created))["episode_id"])
            except dxsim.ApiError as err:
                assert (err.status, err.code) == (429, "too_many_episodes")
                break
        assert len(created) == TOKEN_EPISODE_LIMIT
        # The limit is per token: bob is not affected, and closing one frees a slot for alice.
        bob.close_episode(bob.create_episode()["episode_id"])
        alice.close_episode(created.pop())
        created.append(alice.create_episode()["episode_id"])
    finally:
        for episode in created:
            alice.close_episode(episode)
