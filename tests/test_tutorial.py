"""docs/tutorial.md and README.md run: every ```python block, in order, in one namespace each."""

import pathlib
import re

import pytest

TUTORIAL = pathlib.Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks():
    return BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))


def test_the_tutorial_has_a_block_per_step():
    assert len(blocks()) >= 10


def test_every_tutorial_block_runs_in_order(tmp_path, monkeypatch, capsys):
    pytest.importorskip("safetensors")  # the tutorial saves a checkpoint
    monkeypatch.chdir(tmp_path)  # files the tutorial writes land here
    namespace = {"__name__": "tutorial"}
    for number, code in enumerate(blocks(), 1):
        try:
            exec(compile(code, f"{TUTORIAL.name} block {number}", "exec"), namespace)  # noqa: S102 - our own docs
        except Exception as error:
            raise AssertionError(f"tutorial block {number} failed: {error!r}\n{code}") from error
    out = capsys.readouterr().out
    assert "715.0000000000001" in out and "test accuracy" in out
    assert "transformer test accuracy" in out


def test_every_readme_block_runs_in_order(tmp_path, monkeypatch, capsys):
    readme = TUTORIAL.parents[1] / "README.md"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for number, code in enumerate(BLOCK.findall(readme.read_text(encoding="utf-8")), 1):
        exec(compile(code, f"README.md block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "variable(3.29744254)" in out
    accuracy = float(re.search(r"held-out accuracy ([\d.]+)", out).group(1))
    assert accuracy >= 0.9  # the PyTorch-style GRU learns its task

