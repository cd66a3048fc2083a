"""Graph drawings: one walk over creator links, DOT labels, SVG and PNG with or without graphviz."""

import shutil
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn, viz
from chainrule.viz import drawing, expr

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_SHAPES = {"ellipse", "rect", "polygon", "path", "line"}


def apple_graph(backward=True):
    y, inputs = expr.evaluate("(apple*apple_num + orange*orange_num)*tax",
                              {"apple": 100, "apple_num": 2, "orange": 150, "orange_num": 3,
                               "tax": 1.1})
    if backward:
        y.backward()
    return y, inputs


def small_model_loss():
    np.random.seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    x = cr.Variable(np.random.rand(4, 8).astype(np.float32), requires_grad=False, name="x")
    loss = F.softmax_cross_entropy(model(x), np.array([0, 1, 2, 1]))
    loss.backward()
    return model, loss


@pytest.fixture
def no_dot(monkeypatch):
    """Pretend graphviz's dot program is not installed."""
    monkeypatch.setattr(drawing.shutil, "which", lambda name: None)


def svg_shapes(text):
    root = ET.fromstring(text)
    return [el.tag.rpartition("}")[2] for el in root.iter()
            if el.tag.rpartition("}")[2] in SVG_SHAPES]


def test_walk_finds_each_function_once_and_repeats_edges_of_a_reused_input():
    x = cr.Variable(np.array(3.0), name="x")
    y = x * x + x
    variables, functions, edges = viz.walk([y])
    assert [f.name for f in functions] == ["mul", "add"]
    assert len(variables) == 3
    assert sum(1 for a, b in edges if a is x) == 3  # twice into mul, once into add


def test_walk_of_a_long_chain_needs_no_recursion():
    x = cr.Variable(np.array(1.0))
    y = x
    for _ in range(20000):
        y = y + 1.0
    variables, functions, _ = viz.walk([y])
    assert len(variables) == 20000 + 1  # a Python number is kept by its op, not a Variable
    assert len(functions) == 20000
    assert {f.name for f in functions} == {"add 1.0"}
    assert viz.draw(y, values=False).dot.count("->") == 2 * 20000


def test_dot_labels_show_names_values_gradients_and_operations():
    y, _ = apple_graph()
    dot = viz.draw(y).dot
    assert dot.startswith("digraph chainrule {")
    for text in ["715.0000000000001", "tax\\n1.1\\ngrad 650", "apple\\n100\\ngrad 2.2",
                 "apple_num\\n2\\ngrad 110.00000000000001",
                 "orange\\n150\\ngrad 3.3000000000000003",
                 "orange_num\\n3\\ngrad 165", 'label="mul"', 'label="add"']:
        assert text in dot
    assert dot.count('label="mul"') == 3


def test_gradients_appear_only_after_backward_and_only_when_asked():
    y, _ = apple_graph(backward=False)
    assert "grad" not in viz.draw(y).dot
    y.backward()
    assert "grad" not in viz.draw(y, grads=False).dot
    assert "715" not in viz.draw(y, values=False).dot


def test_labels_name_the_function_that_made_each_value():
    x = cr.Variable(np.array(0.5), name="x")
    y = F.square(F.exp(F.square(x)))
    dot = viz.draw(y).dot
    assert dot.count('label="square"') == 2 and 'label="exp"' in dot


@pytest.mark.parametrize("value, text", [
    (np.array(715.0000000000001), "715.0000000000001"),
    (np.array(650.0), "650"),
    (np.array(2), "2"),
    (np.array(0.1, dtype=np.float32), "0.1"),
    (np.array([1.0, 2.5]), "[1. , 2.5]"),
    (np.zeros((64, 100), np.float32), "(64, 100) float32"),
])
def test_values_print_in_full_when_small_and_as_shapes_when_big(value, text):
    assert viz.format_array(value) == text


def test_big_gradients_show_their_norm():
    assert viz.format_grad(np.full((10, 10), 0.3)) == "grad norm 3"


def test_quotes_and_backslashes_in_names_are_escaped_in_dot():
    x = cr.Variable(np.array(1.0), name='say "hi" \\')
    assert 'say \\"hi\\" \\\\' in viz.draw(x * 2).dot


def test_without_graphviz_svg_is_drawn_by_hand_and_says_how_to_install(no_dot, tmp_path):
    y, _ = apple_graph()
    with pytest.warns(UserWarning, match="apt-get install graphviz"):
        viz.draw(y, path=tmp_path / "apple.svg")
    text = (tmp_path / "apple.svg").read_text()
    shapes = svg_shapes(text)
    assert shapes.count("ellipse") == 9 and shapes.count("rect") == 4
    assert "715.0000000000001" in text and "grad 110.00000000000001" in text


def test_without_graphviz_png_is_drawn_with_matplotlib(no_dot, tmp_path):
    pytest.importorskip("matplotlib")
    y, _ = apple_graph()
    with pytest.warns(UserWarning, match="brew install graphviz"):
        viz.draw(y, path=tmp_path / "apple.png")
    data = (tmp_path / "apple.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_with_graphviz_dot_renders_svg_and_png_without_warning(tmp_path):
    y, _ = apple_graph()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drawing = viz.draw(y, path=tmp_path / "apple.svg")
        png = drawing.png()
    assert "ellipse" in svg_shapes((tmp_path / "apple.svg").read_text())
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5000


def test_dot_file_is_written_without_any_renderer(no_dot, tmp_path):
    y, _ = apple_graph()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # DOT text needs neither graphviz nor matplotlib
        viz.draw(y, path=tmp_path / "apple.gv")
    assert (tmp_path / "apple.gv").read_text() == viz.draw(y).dot


def test_jupyter_gets_svg(no_dot):
    y, _ = apple_graph()
    with pytest.warns(UserWarning):
        svg = viz.draw(y)._repr_svg_()
    assert svg.lstrip().startswith("<svg") and svg_shapes(svg)


def test_bad_formats_and_arguments_are_refused(tmp_path):
    y, _ = apple_graph()
    with pytest.raises(ValueError, match="cannot tell the format"):
        viz.draw(y, path=tmp_path / "apple.pdf")
    with pytest.raises(ValueError, match="unknown format 'jpg'"):
        viz.draw(y, path=tmp_path / "apple.svg", format="jpg")
    with pytest.raises(TypeError, match="chainrule Variable"):
        viz.draw(np.zeros(3))


def test_explicit_format_overrides_the_suffix(tmp_path):
    y, _ = apple_graph()
    viz.draw(y, path=tmp_path / "graph.txt", format="dot")
    assert (tmp_path / "graph.txt").read_text().startswith("digraph")


def test_model_parameters_are_labelled_with_their_dotted_names():
    model, loss = small_model_loss()
    dot = viz.draw(loss, model=model).dot
    for name in ("0.W", "0.b", "2.W", "2.b"):
        assert f'label="{name}\\n' in dot
    assert "(8, 6) float32\\ngrad norm" in dot


def test_collapse_folds_each_module_into_one_node(no_dot):
    model, loss = small_model_loss()
    drawing = viz.draw(loss, collapse=True, model=model)
    kinds = [node.kind for node in drawing.nodes.values()]
    assert kinds.count("module") == 2
    labels = [node.lines[0] for node in drawing.nodes.values() if node.kind == "module"]
    assert labels == ["0: Linear", "2: Linear"]
    assert 'label="relu"' in drawing.dot and 'label="linear"' not in drawing.dot
    assert "0.W" not in drawing.dot  # parameters disappear inside their module
    with pytest.warns(UserWarning):
        assert svg_shapes(drawing.svg()).count("rect") == 4  # 2 modules, relu, loss


def test_collapse_without_a_model_uses_dotted_variable_names():
    x = cr.Variable(np.ones((2, 3)), requires_grad=False, name="x")
    W = cr.Variable(np.ones((3, 4)), name="fc1.W")
    b = cr.Variable(np.zeros(4), name="fc1.b")
    y = F.relu(x @ W + b)
    drawing = viz.draw(y, collapse=True)
    assert [n.lines for n in drawing.nodes.values() if n.kind == "module"] == [
        ["fc1", "W (3, 4)", "b (4,)"]]
    assert drawing.dot.count("->") == 4  # x -> fc1 -> (2, 4) -> relu -> y


def test_fallback_layout_puts_every_node_after_its_inputs():
    from chainrule.viz import layout

    y, _ = apple_graph()
    drawing = viz.draw(y)
    place, size, curves, (width, height) = layout.layout(drawing.nodes, drawing.edges)
    for a, b in drawing.edges:
        assert place[a][0] < place[b][0]
    for key, (x, y_) in place.items():
        w, h = size[key]
        assert 0 <= x - w / 2 and x + w / 2 <= width and 0 <= y_ - h / 2 <= height - h
    assert len(curves) == len(drawing.edges)
