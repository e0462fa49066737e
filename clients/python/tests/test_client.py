"""dxsim.Client against the real server in open mode."""

from __future__ import annotations

import http.client
import json

import pytest

import dxsim
from conftest import STEMI_CASE, STEMI_HANDLE, Server

PUBLIC_CASE_FIELDS = {"handle", "age_years", "age_months", "sex", "setting", "summary"}
AUTHORS_FIELDS = {"id", "title", "specialty", "difficulty", "split"}
HIDDEN_CASE_FIELDS = {"diagnosis", "title", "history", "exam", "tests", "differential", "key_findings"}


def stemi_options(**extra):
    return {"case": {"id": STEMI_CASE}, **extra}


def test_health(client):
    health = client.health()
    assert health["status"] == "ok"
    assert isinstance(health["version"], str) and health["version"]
    assert isinstance(health["cases"], int) and health["cases"] > 100
    assert isinstance(health["live_episodes"], int) and health["live_episodes"] >= 0
    assert [library["name"] for library in health["libraries"]] == ["builtin"]
    assert health["libraries"][0]["cases"] == health["cases"]
    assert len(health["libraries"][0]["sha256"]) == 64


def test_cases_are_public_fields_only(client):
    cases = client.cases()
    assert len(cases) == client.health()["cases"]
    for case in cases:
        assert set(case) <= PUBLIC_CASE_FIELDS, case["handle"]
        assert not set(case) & (HIDDEN_CASE_FIELDS | AUTHORS_FIELDS)
        assert len(case["handle"]) == 16 and int(case["handle"], 16) >= 0
    assert STEMI_HANDLE in {case["handle"] for case in cases}


def test_cases_filters_need_the_authors_view(client, tmp_path):
    for query in ({"split": "test"}, {"specialty": "cardiology"}, {"difficulty": "rare"}):
        with pytest.raises(dxsim.ApiError) as refused:
            client.cases(**query)
        assert refused.value.status == 400 and "case-details" in str(refused.value)
    authors = Server(tmp_path / "authors", open_mode=True, extra_args=["--case-details"])
    try:
        details = authors.client()
        cardio = details.cases(specialty="cardiology")
        assert cardio and all(case["specialty"] == "cardiology" for case in cardio)
        rare = details.cases(difficulty="rare", split="test")
        assert all(c["difficulty"] == "rare" and c["split"] == "test" for c in rare)
        stemi = [case for case in details.cases() if case["id"] == STEMI_CASE]
        assert stemi and stemi[0]["handle"] == STEMI_HANDLE
    finally:
        authors.stop()


def test_catalogue_and_discrete_table(client):
    catalogue = client.catalogue()
    assert len(catalogue["tests"]) > 100 and catalogue["exam_systems"]
    ecg = [t for t in catalogue["tests"] if t["id"] == "ecg" or t["name"].upper().startswith("ECG")]
    assert ecg and ecg[0]["price_usd"] > 0
    table = client.discrete_table()
    blocks = table["blocks"]
    assert table["version"].startswith("dxsim-discrete-v1+")
    assert table["action_count"] == len(table["actions"]) == sum(blocks.values())
    assert blocks["examine"] == len(catalogue["exam_systems"])
    assert blocks["order"] == len(catalogue["tests"])
    assert table["observation_len"] == blocks["ask"] + blocks["examine"] + blocks["order"] + 2


def test_text_episode_ends_in_a_diagnosis(client):
    created = client.create_episode(seed=42, options=stemi_options())
    episode = created["episode_id"]
    assert created["mode"] == "text" and created["seed"] == 42
    assert "discrete_observation" not in created
    assert "61-year-old" in created["observation"]["text"]
    assert created["info"]["case_handle"] == STEMI_HANDLE and created["info"]["turn"] == 0
    assert "case_id" not in created["info"]
    assert "outcome" not in created["info"]
    presentation = [f for f in created["observation"]["findings"] if f.get("kind") == "presentation"]
    assert presentation and not set(presentation[0]["case"]) & HIDDEN_CASE_FIELDS

    asked = client.step(episode, dxsim.ask("When did the pain start?"))
    assert asked["reward"] == 0.0 and not asked["terminated"] and not asked["truncated"]
    assert asked["info"]["turn"] == 1 and "outcome" not in asked["info"]
    answers = [f for f in asked["observation"]["findings"] if f.get("kind") == "answer"]
    assert answers and answers[0]["items"] == ["onset"], answers

    tests = client.step(episode, text="<test>ECG</test><test>troponin</test>")
    assert "ST-segment elevation" in tests["observation"]["text"]
    assert "outcome" not in tests["info"]

    state = client.episode(episode)
    assert state["status"] == "running" and state["turn"] == 2
    assert state["case_handle"] == STEMI_HANDLE and "case_id" not in state
    assert state["seed"] == 42 and state["mode"] == "text"

    end = client.step(episode, text="DIAGNOSIS READY: inferior STEMI")
    assert end["terminated"] and not end["truncated"] and end["reward"] == 1.0
    outcome = end["info"]["outcome"]
    reference = outcome["reference"]["name"]
    assert "infarction" in reference.lower() or "stemi" in reference.lower()
    # The hidden diagnosis was not in anything shown before the end.
    assert reference.lower() not in json.dumps([created, asked, tests]).lower()

    assert outcome["case"]["id"] == STEMI_CASE and outcome["case"]["specialty"] == "cardiology"
    ended = client.episode(episode)
    assert ended["status"] == "terminated" and ended["case_id"] == STEMI_CASE
    entries = client.transcript(episode)["entries"]
    assert [e["turn"] for e in entries] == [1, 2, 3]
    assert entries[0]["action"] == {"type": "ask", "text": "When did the pain start?"}
    assert entries[2]["action"]["type"] == "diagnose"
    assert all(isinstance(e["response"], str) and e["response"] for e in entries)

    with pytest.raises(dxsim.ApiError) as over:
        client.step(episode, text="Any fever?")
    assert (over.value.status, over.value.code) == (409, "episode_over")

    again = client.reset_episode(episode, seed=42, options=stemi_options())
    assert again["episode_id"] == episode and again["mode"] == "text"
    assert again["observation"] == created["observation"]
    client.close_episode(episode)
    with pytest.raises(dxsim.ApiError) as gone:
        client.episode(episode)
    assert (gone.value.status, gone.value.code) == (404, "not_found")


def test_structured_actions(client):
    episode = client.create_episode(seed=1, options=stemi_options())["episode_id"]
    try:
        examined = client.step(episode, dxsim.examine("cardiovascular"))
        assert examined["observation"]["text"]
        ordered = client.step(episode, dxsim.order("ECG"))
        assert "ST-segment elevation" in ordered["observation"]["text"]
        assert ordered["info"]["charges"]
        end = client.step(episode, dxsim.diagnose("Inferior ST-elevation myocardial infarction", "I21.19"))
        assert end["terminated"] and end["info"]["outcome"]["diagnosis_given"]
    finally:
        client.close_episode(episode)


def test_discrete_episode(client):
    table = client.discrete_table()
    blocks = table["blocks"]
    created = client.create_episode(seed=3, options=stemi_options(), mode="discrete")
    episode = created["episode_id"]
    try:
        assert created["mode"] == "discrete"
        obs = created["discrete_observation"]
        assert len(obs) == table["observation_len"] and all(v == 0 for v in obs[:-2])
        order_start = blocks["ask"] + blocks["examine"]
        ecg = next(
            i
            for i in range(order_start, order_start + blocks["order"])
            if "ecg" in table["actions"][i].lower()
        )
        stepped = client.step(episode, index=ecg)
        after = stepped["discrete_observation"]
        # A test's observation position is its action index: the ECG is done and abnormal.
        assert after[ecg] == 2.0
        assert after[-2] > 0  # cost so far, in $1000s
        assert 0 < after[-1] <= 1  # share of the turn limit used
        assert "ST-segment elevation" in stepped["observation"]["text"]
        diagnose = table["action_count"] - blocks["diagnose"]
        end = client.step(episode, index=diagnose)
        assert end["terminated"] and "outcome" in end["info"]
        # A reset without a mode keeps the episode's.
        again = client.reset_episode(episode, seed=3, options=stemi_options())
        assert again["mode"] == "discrete" and again["discrete_observation"] == obs
        with pytest.raises(dxsim.ApiError) as bad:
            client.step(episode, index=table["action_count"])
        assert (bad.value.status, bad.value.code) == (422, "invalid_action")
    finally:
        client.close_episode(episode)


def test_batch_step(client):
    first = client.create_episode(seed=5, options=stemi_options())["episode_id"]
    second = client.create_episode(seed=6, mode="discrete")["episode_id"]
    try:
        results = client.step_batch(
            [
                {"episode_id": first, "text": "<test>ECG</test>"},
                {"episode_id": "ep_does_not_exist", "text": "Any fever?"},
                {"episode_id": second, "index": 0},
            ]
        )
        assert [r["episode_id"] for r in results] == [first, "ep_does_not_exist", second]
        assert "ST-segment elevation" in results[0]["observation"]["text"]
        assert results[1]["error"]["code"] == "not_found"
        assert len(results[2]["discrete_observation"]) == client.discrete_table()["observation_len"]
        assert client.episode(first)["turn"] == 1 and client.episode(second)["turn"] == 1
        # One entry per episode: a second one is refused in place, the first still taken.
        twice = client.step_batch(
            [{"episode_id": second, "index": 1}, {"episode_id": second, "index": 2}]
        )
        assert "observation" in twice[0] and twice[1]["error"]["code"] == "invalid_request"
        assert client.episode(second)["turn"] == 2
        # The same transition as a single step on a twin episode.
        twin = client.create_episode(seed=5, options=stemi_options())["episode_id"]
        single = client.step(twin, text="<test>ECG</test>")
        client.close_episode(twin)
        assert single["observation"] == results[0]["observation"]
        assert single["info"] == results[0]["info"]
    finally:
        client.close_episode(first)
        client.close_episode(second)


def test_episode_list(client):
    created = client.create_episode(seed=9)["episode_id"]
    try:
        listed = {e["episode_id"]: e for e in client.episodes()}
        assert listed[created]["status"] == "running" and listed[created]["turn"] == 0
        assert listed[created]["mode"] == "text"
    finally:
        client.close_episode(created)
    assert created not in {e["episode_id"] for e in client.episodes()}


@pytest.mark.parametrize(
    "call, status, code",
    [
        (lambda c: c.episode("ep_unknown"), 404, "not_found"),
        (lambda c: c.step("ep_unknown", text="hello"), 404, "not_found"),
        (lambda c: c.close_episode("ep_unknown"), 404, "not_found"),
        (lambda c: c.vector_env_observations("vec_unknown"), 404, "not_found"),
        (lambda c: c.request("GET", "/no-such-route"), 404, "not_found"),
        (lambda c: c.create_episode(options={"turn_limit": 0}), 422, "invalid_options"),
        (lambda c: c.create_episode(options={"no_such_option": 1}), 422, "invalid_request"),
        (lambda c: c.request("POST", "/episodes", {"seed": "forty-two"}), 422, "invalid_request"),
        (lambda c: c.create_episode(options={"case": {"id": "no-such-case"}}), 404, "not_found"),
        (lambda c: c.cases(difficulty="legendary"), 400, "bad_request"),
        (lambda c: c.create_vector_env(0), 422, "invalid_request"),
    ],
    ids=[
        "unknown-episode", "step-unknown", "delete-unknown", "unknown-vector-env",
        "unknown-route", "option-out-of-range", "unknown-option", "wrong-type", "unknown-case",
        "bad-query-parameter", "empty-vector-env",
    ],
)
def test_errors_map_to_api_error(client, call, status, code):
    with pytest.raises(dxsim.ApiError) as caught:
        call(client)
    assert (caught.value.status, caught.value.code) == (status, code), caught.value
    assert caught.value.message


@pytest.mark.parametrize(
    "body", [{"text": "   "}, {"text": "<test>CBC"}, {"text": "<foo>x</foo>"}, {"index": -1}]
)
def test_invalid_actions_are_422(client, body):
    episode = client.create_episode(seed=2)["episode_id"]
    try:
        with pytest.raises(dxsim.ApiError) as caught:
            client.request("POST", f"/episodes/{episode}/step", body)
        assert caught.value.status == 422
        assert caught.value.code in ("invalid_action", "invalid_request")
        assert client.episode(episode)["turn"] == 0
    finally:
        client.close_episode(episode)


def test_bad_json_is_400(server):
    host, port = server.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/v1/episodes", body=b"{not json", headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 400 and body["error"]["code"] == "bad_json"


def test_keep_alive_connection_is_reused(client):
    client.health()
    first = client._conn
    for _ in range(5):
        client.health()
    assert client._conn is first


def test_payload_too_large_is_413(client):
    episode = client.create_episode(seed=2)["episode_id"]
    try:
        with pytest.raises(dxsim.ApiError) as caught:
            client.step(episode, text="why " * (300 * 1024))  # 1.2 MB, over the 1 MiB default
        assert (caught.value.status, caught.value.code) == (413, "payload_too_large")
        with pytest.raises(dxsim.ApiError) as caught:
            client.step(episode, text="x" * 8193)  # under the body limit, over --max-action-chars
        assert (caught.value.status, caught.value.code) == (422, "invalid_action")
        assert client.step(episode, text="y" * 8192)["info"]["turn"] == 1
    finally:
        client.close_episode(episode)


def test_openapi_and_schemas(client):
    spec = client.openapi()
    assert spec["openapi"].startswith("3.") and "/v1/episodes" in json.dumps(spec["paths"])
    for name in ("action", "options", "observation", "step"):
        schema = client.schema(name)
        assert isinstance(schema, dict) and schema
    assert "turn_limit" in json.dumps(client.schema("options"))
    with pytest.raises(dxsim.ApiError) as caught:
        client.schema("no-such-schema")
    assert caught.value.status == 404
