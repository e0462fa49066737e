"""Fixtures that run the real ``dxsim serve`` binary.

The binary is ``$DXSIM_BIN``, or ``target/debug/dxsim`` under the repository root. Each server gets
``--bind 127.0.0.1:0`` and a store in a temporary directory; its address is read from the first
stdout line (``dxsim serve: listening on http://HOST:PORT``).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

import dxsim

REPO_ROOT = Path(__file__).resolve().parents[3]
LISTENING = re.compile(r"^dxsim serve: listening on (https?://\S+)\s*$")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0

ALICE = "alice-token-7f3a"
BOB = "bob-token-91c2"
TOKEN_EPISODE_LIMIT = 4

# A case with a known work-up (the one the main README plays).
STEMI_CASE = "cardio-chest-pressure-snow"


def case_handle(case_id: str) -> str:
    """The opaque handle the server gives a case: 16 hex digits of a keyed SHA-256 of its id."""
    return hashlib.sha256(b"dxsim case handle v1\0" + case_id.encode()).hexdigest()[:16]


STEMI_HANDLE = case_handle(STEMI_CASE)


def server_binary() -> Path:
    """The dxsim binary the tests run."""
    configured = os.environ.get("DXSIM_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "debug" / "dxsim"
    if not path.is_file():
        pytest.fail(
            f"no dxsim binary at {path}: run `cargo build` in the repository root, "
            "or set DXSIM_BIN to the binary's path"
        )
    return path


class Server:
    """A running ``dxsim serve`` process."""

    def __init__(self, workdir: Path, *, open_mode: bool, tokens: Optional[str] = None,
                 store: Optional[Path] = None, extra_args: Optional[List[str]] = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.store = store or workdir / "dxsim.sqlite"
        args = [str(server_binary()), "serve", "--bind", "127.0.0.1:0", "--store", str(self.store)]
        if open_mode:
            args.append("--open")
        args.extend(extra_args or [])
        env: Dict[str, str] = {
            k: v for k, v in os.environ.items() if k not in ("DXSIM_TOKENS", "DXSIM_TOKEN", "DXSIM_URL")
        }
        if tokens is not None:
            env["DXSIM_TOKENS"] = tokens
        self.stderr_path = workdir / f"stderr-{id(self)}.log"
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=str(workdir)
        )
        first: List[bytes] = []
        reader = threading.Thread(target=lambda: first.append(self.process.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        line = first[0].decode("utf-8", "replace") if first else ""
        match = LISTENING.match(line)
        if not match:
            self.stop()
            pytest.fail(
                f"`{' '.join(args)}` did not announce its address within {START_TIMEOUT_S:.0f} s; "
                f"first stdout line: {line!r}; stderr:\n{self.stderr()}"
            )
        self.url = match.group(1)
        # Keep reading stdout so the server never blocks on a full pipe.
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _drain_stdout(self) -> None:
        for _ in iter(self.process.stdout.readline, b""):
            pass

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far."""
        self._stderr.flush()
        return self.stderr_path.read_text("utf-8", "replace")

    def client(self, token: Optional[str] = None) -> dxsim.Client:
        """A new client of this server (``token=""`` sends none)."""
        return dxsim.Client(self.url, token if token is not None else "")

    def stop(self, sig: int = signal.SIGTERM) -> Optional[int]:
        """Signals the server and waits for it; returns its exit code (killed if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()
        return self.process.returncode


@pytest.fixture(autouse=True, scope="session")
def _no_ambient_settings() -> Iterator[None]:
    """Keeps a developer's DXSIM_URL/DXSIM_TOKEN out of the tests."""
    saved = {k: os.environ.pop(k) for k in ("DXSIM_URL", "DXSIM_TOKEN") if k in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An open-mode server shared by the session."""
    running = Server(tmp_path_factory.mktemp("open"), open_mode=True)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that requires tokens: alice and bob."""
    running = Server(
        tmp_path_factory.mktemp("tokens"),
        open_mode=False,
        tokens=f"alice={ALICE},bob={BOB}",
        extra_args=["--max-episodes-per-token", str(TOKEN_EPISODE_LIMIT)],
    )
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[dxsim.Client]:
    """A client of the open server."""
    with server.client() as c:
        yield c
