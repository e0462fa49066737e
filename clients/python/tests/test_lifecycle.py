"""A server restarted on the same store gives back its live episodes; SIGTERM stops it cleanly."""

from __future__ import annotations

import signal

from conftest import STEMI_CASE, STEMI_HANDLE, Server


def test_restart_rebuilds_live_episodes(tmp_path):
    store = tmp_path / "dxsim.sqlite"
    first = Server(tmp_path / "first", open_mode=True, store=store)
    try:
        client = first.client()
        episode = client.create_episode(seed=42, options={"case": {"id": STEMI_CASE}})["episode_id"]
        client.step(episode, text="When did the pain start?")
        ordered = client.step(episode, text="<test>ECG</test>")
        transcript = client.transcript(episode)
        client.close()
    finally:
        code = first.stop(signal.SIGTERM)
    assert code == 0, first.stderr()

    second = Server(tmp_path / "second", open_mode=True, store=store)
    try:
        client = second.client()
        state = client.episode(episode)
        assert (state["turn"], state["status"], state["case_handle"]) == (2, "running", STEMI_HANDLE)
        assert client.transcript(episode) == transcript
        assert client.episode(episode)["cost"] == ordered["info"]["cost"]
        end = client.step(episode, text="DIAGNOSIS READY: inferior STEMI")
        assert end["terminated"] and end["reward"] == 1.0
        client.close_episode(episode)
    finally:
        code = second.stop(signal.SIGINT)
    assert code == 0, second.stderr()
