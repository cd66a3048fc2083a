"""docs/from-pytorch.md runs: every ```python block, in order, in one namespace."""

import pathlib

from test_tutorial import BLOCK

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "from-pytorch.md"


def test_every_from_pytorch_block_runs_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "from_pytorch"}
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert blocks
    for number, code in enumerate(blocks, 1):
        exec(compile(code, f"{DOC.name} block {number}", "exec"), namespace)  # noqa: S102
