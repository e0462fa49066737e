"""Tests that need no server: delta application, the charset, error decoding, argument checks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from gymnasium import spaces

import dxsim
from dxsim.charset import CHARSET, REPLACEMENT, normalise
from dxsim.client import _decode, _step_body
from dxsim.gym import discrete_observation_space
from dxsim.vector import apply_updates


def test_apply_updates_zeroes_reset_rows_then_sets_cells():
    obs = np.ones((3, 4), dtype=np.float32)
    step = {
        "reset": [1],
        "updates": {"episode": [1, 0, 2], "position": [3, 0, 1], "value": [0.5, 2.0, 1.0]},
    }
    apply_updates(obs, step)
    expected = np.array(
        [[2, 1, 1, 1], [0, 0, 0, 0.5], [1, 1, 1, 1]], dtype=np.float32
    )
    np.testing.assert_array_equal(obs, expected)


def test_apply_updates_last_update_of_a_cell_wins():
    obs = np.zeros((2, 3), dtype=np.float32)
    step = {
        "reset": [],
        "updates": {"episode": [0, 1, 0, 0], "position": [2, 2, 2, 1], "value": [1, 7, 2, 4]},
    }
    apply_updates(obs, step)
    np.testing.assert_array_equal(obs, [[0, 4, 2], [0, 0, 7]])


def test_apply_updates_rejects_cells_outside_the_matrix():
    obs = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="outside"):
        apply_updates(obs, {"reset": [], "updates": {"episode": [2], "position": [0], "value": [1]}})
    with pytest.raises(ValueError, match="outside"):
        apply_updates(obs, {"reset": [5], "updates": {"episode": [], "position": [], "value": []}})
    with pytest.raises(ValueError, match="lengths"):
        apply_updates(obs, {"reset": [], "updates": {"episode": [0], "position": [], "value": [1]}})
    np.testing.assert_array_equal(obs, np.zeros((2, 3)))


def test_charset_covers_clinical_text_and_normalise_maps_the_rest():
    clinical = "Temp 38.4 °C, WBC 14.2 ×10⁹/L, Na 131 mmol/L — ‘café’ ≥ 2 µg → −1 …"
    assert normalise(clinical) == clinical
    space = spaces.Text(1000, min_length=0, charset=CHARSET)
    assert clinical in space
    # Compatibility forms decompose, a decomposed accent recombines, the rest is replaced.
    assert normalise("\ufb01ne") == "fine"
    assert normalise("cafe\u0301") == "café"
    assert normalise("a\r\nb") == "a\nb"
    assert normalise("心电图 ok") == REPLACEMENT * 3 + " ok"
    assert normalise("emoji 🙂") in space


def test_errors_decode_to_api_error():
    with pytest.raises(dxsim.ApiError) as caught:
        _decode(404, b'{"error": {"code": "not_found", "message": "no episode ep_x"}}')
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        404,
        "not_found",
        "no episode ep_x",
    )
    with pytest.raises(dxsim.ApiError) as caught:
        _decode(502, b"<html>Bad gateway</html>")
    assert caught.value.code == "http_502" and "Bad gateway" in caught.value.message
    assert _decode(204, b"") is None
    assert _decode(200, b'{"a": 1}') == {"a": 1}
    again = pickle.loads(pickle.dumps(dxsim.ApiError(409, "episode_over", "reset it")))
    assert (again.status, again.code, again.message) == (409, "episode_over", "reset it")


def test_step_body_takes_exactly_one_kind_of_action():
    assert _step_body(None, "<test>CBC</test>", None) == {"text": "<test>CBC</test>"}
    assert _step_body(None, None, np.int64(3)) == {"index": 3}
    assert _step_body(dxsim.ask("Any fever?"), None, None) == {
        "action": {"type": "ask", "text": "Any fever?"}
    }
    with pytest.raises(ValueError, match="exactly one"):
        _step_body(None, "x", 1)
    with pytest.raises(ValueError, match="exactly one"):
        _step_body(None, None, None)


def test_action_builders():
    assert dxsim.examine("heart and lungs") == {"type": "examine", "system": "heart and lungs"}
    assert dxsim.order("CBC", "lipase") == {"type": "order", "tests": ["CBC", "lipase"]}
    assert dxsim.diagnose("Gout", icd10="M10.9") == {
        "type": "diagnose",
        "diagnosis": "Gout",
        "icd10": "M10.9",
    }
    assert dxsim.diagnose("Gout") == {"type": "diagnose", "diagnosis": "Gout"}
    with pytest.raises(ValueError):
        dxsim.order()


def test_client_settings_from_arguments_and_environment(monkeypatch):
    monkeypatch.delenv("DXSIM_URL", raising=False)
    monkeypatch.delenv("DXSIM_TOKEN", raising=False)
    default = dxsim.Client()
    assert (default._host, default._port, default.token) == ("127.0.0.1", 8737, None)
    with pytest.raises(ValueError, match="http"):
        dxsim.Client("ftp://example.invalid")
    monkeypatch.setenv("DXSIM_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("DXSIM_TOKEN", "from-env")
    client = dxsim.Client()
    assert client._prefix == "/v1" and client.token == "from-env"
    assert dxsim.Client("http://h:1/proxy", token="given")._prefix == "/proxy/v1"
    assert dxsim.Client("http://h:1", token="given").token == "given"
    restored = pickle.loads(pickle.dumps(client))
    assert restored.token == "from-env"


def test_unreachable_server_raises_server_unreachable():
    # Port 9 (discard) on loopback: nothing listens there in the test environment.
    client = dxsim.Client("http://127.0.0.1:9", timeout=5)
    with pytest.raises(dxsim.ServerUnreachable):
        client.health()


def test_discrete_observation_space_bounds_follow_the_layout():
    table = {"observation_len": 7, "blocks": {"ask": 2, "examine": 1, "order": 2, "diagnose": 4}}
    space = discrete_observation_space(table)
    np.testing.assert_array_equal(space.high, [1, 1, 2, 2, 2, np.inf, 1])
    assert space.dtype == np.float32 and space.shape == (7,)
    odd = discrete_observation_space({"observation_len": 3, "blocks": {}})
    assert np.all(np.isinf(odd.high))


def test_env_is_registered():
    import gymnasium

    assert gymnasium.spec("DxSim-v0").entry_point == "dxsim.gym:DxSimEnv"


def test_a_connection_the_server_closed_is_replaced_before_a_post():
    """A keep-alive connection the server dropped while idle must not fail the next step."""
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    connections = []

    class ClosingHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            connections.append(self.client_address)

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"results": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True  # as an idle timeout would, without saying so

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ClosingHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        client = dxsim.Client(f"http://127.0.0.1:{httpd.server_address[1]}", timeout=5)
        for _ in range(3):
            assert client.step_batch([]) == []
            time.sleep(0.05)  # let the server's close arrive
        assert len(connections) == 3
    finally:
        httpd.shutdown()
        httpd.server_close()
