"""The explorer page, read as text: one self-contained file, its steps, its numbers."""

import json
import pathlib
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn, viz
from chainrule.app import cli
from chainrule.viz import expr

APPLE = "(apple*apple_num + orange*orange_num)*tax"
SETTINGS = ["apple=100", "apple_num=2", "orange=150", "orange_num=3", "tax=1.1"]


def apple_page(title=None):
    with viz.record() as t:
        y, inputs = expr.evaluate(APPLE, {"apple": 100, "apple_num": 2, "orange": 150,
                                          "orange_num": 3, "tax": 1.1})
        y.backward()
    return viz.explore(y, trace=t, title=title), y, inputs


def steps_of(page):
    text = re.search(r'<script type="application/json" id="steps">(.*?)</script>', page.html,
                     re.S).group(1)
    return json.loads(text.replace("<\\/", "</"))


def test_the_page_is_one_file_that_fetches_nothing():
    page, _, _ = apple_page()
    assert "Content-Security-Policy" in page.html and "default-src 'none'" in page.html
    for fetching in (" src=", " href=", "url(http", "fetch(", "XMLHttpRequest", "@import"):
        assert fetching not in page.html
    assert re.findall(r"https?://[^\s\"']+", page.html) == ["http://www.w3.org/2000/svg"]


def test_the_steps_are_start_then_each_forward_then_each_backward_call():
    page, _, _ = apple_page()
    labels = [s["label"] for s in steps_of(page)["steps"]]
    assert labels == ["start", "forward 1 / 4: mul", "forward 2 / 4: mul", "forward 3 / 4: add",
                      "forward 4 / 4: mul", "backward 1 / 4: mul", "backward 2 / 4: add",
                      "backward 3 / 4: mul", "backward 4 / 4: mul"]


def test_each_backward_panel_writes_the_chain_rule_with_numbers():
    page, _, _ = apple_page()
    panel = steps_of(page)["steps"][7]["panel"]  # backward 3 / 4: the apple's mul
    assert "upstream ∂L/∂(apple·apple_num) = <span class=\"num\">1.1</span>" in panel
    assert "1.1</span> · <span class=\"num\">2</span> = <span class=\"product\">" in panel
    assert re.search(r'data-var="apple">.*?class="product"><span class="num">2.2<', panel)


def test_without_a_trace_explore_records_one_backward_and_leaves_grads_alone(tmp_path):
    y, inputs = expr.evaluate(APPLE, {"apple": 100, "apple_num": 2, "orange": 150,
                                      "orange_num": 3, "tax": 1.1})
    path = tmp_path / "apple.html"
    page = viz.explore(y, path=path)
    assert path.read_text(encoding="utf-8") == page.html
    assert all(x.grad is None for x in inputs.values())
    assert len(steps_of(page)["steps"]) == 9
    assert page._repr_html_().startswith("<iframe srcdoc=")


def test_big_arrays_show_their_summary_and_keep_the_full_array_for_a_click():
    x = cr.Variable(np.arange(40.0).reshape(5, 8), name="x")
    page = viz.explore(F.tanh(x * 0.01).sum())
    data = steps_of(page)
    assert "(5, 8) float64 mean" in page.html
    assert any(full.count(",") == 39 for full in data["arrays"])


def test_a_model_folds_into_one_node_per_module():
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    x = cr.Variable(np.random.rand(4, 8).astype(np.float32), requires_grad=False, name="x")
    loss = F.softmax_cross_entropy(model(x), np.array([0, 1, 2, 1]))
    page = viz.explore(loss, collapse=True, model=model)
    assert page.html.count('class="node module"') == 2
    nodes = {s["node"] for s in steps_of(page)["steps"][1:]}
    assert {"m0", "m1"} <= nodes


def test_explore_refuses_what_is_not_a_variable():
    with pytest.raises(TypeError, match="explore: y must be a chainrule Variable"):
        viz.explore(np.ones(3))


def test_the_drawing_labels_every_node_with_its_gradient_unless_asked_not_to():
    y, _ = expr.evaluate(APPLE, {"apple": 100, "apple_num": 2, "orange": 150,
                                 "orange_num": 3, "tax": 1.1})
    y.backward()
    dot = viz.draw(y).dot
    assert '"200\\ngrad 1.1"' in dot and '"650\\ngrad 1.1"' in dot  # intermediates
    assert '"715.0000000000001\\ngrad 1"' in dot
    leaves_only = viz.draw(y, grads="leaves").dot
    assert '"200"' in leaves_only and "tax\\n1.1\\ngrad 650" in leaves_only
    with pytest.raises(ValueError, match="grads='all'"):
        viz.draw(y, grads="all")


def test_graph_command_prints_the_trace_and_writes_the_explorer(tmp_path, capsys):
    out = tmp_path / "apple.html"
    assert cli.main(["graph", APPLE, "--set", *SETTINGS, "--trace", "--html", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    steps = [line for line in printed if line.startswith("backward ")]
    assert len(steps) == 4
    assert "∂L/∂tax = ∂L/∂L · ∂L/∂tax = 1 · 650 = 650" in steps[0]
    assert "1.1 · 150 = 165" in steps[3]
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert printed[-1] == f"wrote {out}"


def test_graph_command_refuses_to_trace_without_gradients(capsys):
    assert cli.main(["graph", "x*2", "--set", "x=1", "--no-grads", "--trace"]) == 2
    assert "--no-grads leaves nothing to trace" in capsys.readouterr().err


def test_the_tutorials_explorer_page_is_the_one_chainrule_writes_today():
    page, _, _ = apple_page(title=f"chainrule explorer: {APPLE}")
    written = pathlib.Path(__file__).resolve().parent.parent / "docs" / "explorer-apple.html"
    assert written.read_text(encoding="utf-8") == page.html, (
        "docs/explorer-apple.html is out of date: CHAINRULE_UPDATE_DOCS=1 python -m pytest "
        "tests/test_explorer_browser.py rewrites it (and the README's screenshot)")


def test_a_graph_beyond_the_fold_limit_folds_per_module_by_itself(monkeypatch):
    from chainrule.viz import explorer

    np.random.seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    x = cr.Variable(np.random.rand(4, 8).astype(np.float32), requires_grad=False, name="x")
    loss = F.softmax_cross_entropy(model(x), np.array([0, 1, 2, 1]))
    assert 'class="node module"' not in viz.explore(loss, model=model).html
    monkeypatch.setattr(explorer, "FOLD_AT", 10)
    assert viz.explore(loss, model=model).html.count('class="node module"') == 2
    assert 'class="node module"' not in viz.explore(loss, model=model, collapse=False).html
