"""Every Python example in README.md runs against the real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(server, monkeypatch, index, capsys):
    monkeypatch.setenv("DXSIM_URL", server.url)
    code = BLOCKS[index].replace("http://127.0.0.1:8737", server.url)
    exec(compile(code, f"README.md example {index + 1}", "exec"), {})
    if "print(reward" in code:
        reward, *diagnosis = capsys.readouterr().out.split()
        assert float(reward) == 1.0 and diagnosis
