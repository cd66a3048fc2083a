"""docs/from-pytorch.md runs: every ```python block, in order, in one namespace."""

import importlib.util
import pathlib

import pytest

from test_tutorial import BLOCK

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "from-pytorch.md"


def test_every_from_pytorch_block_runs_in_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "from_pytorch"}
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert blocks
    for number, code in enumerate(blocks, 1):
        if "import torch" in code and importlib.util.find_spec("torch") is None:
            pytest.skip("the blocks from here on load a PyTorch twin's weights: torch needed")
        exec(compile(code, f"{DOC.name} block {number}", "exec"), namespace)  # noqa: S102
    assert "['0.weight', '0.bias', '1.weight', '1.bias']" in capsys.readouterr().out


def test_the_differences_are_one_table():
    lines = DOC.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith("| PyTorch |")] == [
        "| PyTorch | chainrule | Why |"]
    start = lines.index("| PyTorch | chainrule | Why |")
    rows = lines[start + 2 : lines.index("", start)]
    assert len(rows) > 20 and all(line.count(" | ") >= 2 for line in rows)
