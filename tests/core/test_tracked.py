"""The version counter: writes through chainrule's API are counted, and backward refuses to
use an input (or kept output) written since its forward pass."""

import copy

import numpy as np
import pytest

import chainrule as cr
import chainrule.functions as F
from chainrule import nn, optim


def test_every_write_through_data_bumps_the_version():
    x = cr.Variable(np.zeros(4))
    writes = [
        lambda: x.data.__setitem__(0, 1.0),
        lambda: x.data.__setitem__(slice(None), 2.0),
        lambda: x.data.__iadd__(1.0),
        lambda: np.multiply(x.data, 2.0, out=x.data),
        lambda: x.data.fill(3.0),
        lambda: np.copyto(x.data, np.ones(4)),
        lambda: np.add.at(x.data, [0, 0], 1.0),
        lambda: x.data[1:].__setitem__(0, 5.0),  # a view of data counts too
        lambda: setattr(x, "data", np.arange(4.0)),
    ]
    for i, write in enumerate(writes, 1):
        write()
        assert x._version == i


def test_augmented_assignment_on_data_counts_once():
    x = cr.Variable(np.zeros(3))
    x.data += 1
    assert x._version == 1 and x.data.tolist() == [1.0, 1.0, 1.0]


def test_reading_and_computing_with_data_counts_nothing_and_returns_plain_arrays():
    x = cr.Variable(np.arange(4.0))
    results = [x.data + 1, np.exp(x.data), x.data.sum(), x.data.copy(), x.data * x.data,
               np.concatenate([x.data, x.data]), x.data[[0, 1]] + 0, x.data.astype(np.float32)]
    for r in results:
        assert type(r) in (np.ndarray, np.float64)
    assert x._version == 0
    assert repr(x.data) == "array([0., 1., 2., 3.])"


def test_backward_refuses_an_input_written_after_the_forward_pass():
    w = cr.Variable(np.ones(3), name="w")
    x = cr.Variable(np.arange(3.0))
    y = (w * x).sum()
    w.data[0] = 5.0
    with pytest.raises(RuntimeError, match=r"mul: its input 'w' was modified in place .*"
                                           r"version 0 then, 1 now"):
        y.backward()


def test_backward_refuses_a_kept_output_written_after_the_forward_pass():
    x = cr.Variable(np.array([0.5, 1.0]))
    h = F.tanh(x)  # tanh's backward reads its output
    y = h.sum()
    h.data[:] = 0.0
    with pytest.raises(RuntimeError, match=r"tanh: its output of shape \(2,\) was modified"):
        y.backward()


def test_an_optimizer_step_between_forward_and_backward_is_caught():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = model(np.ones((1, 3), np.float32)).sum()
    loss.backward()
    opt.step()
    loss2 = model(np.ones((1, 3), np.float32)).sum()
    opt.step()  # the weights change under loss2's graph
    with pytest.raises(RuntimeError, match="modified in place"):
        loss2.backward()


def test_ops_that_read_only_shapes_do_not_mind_a_write():
    x = cr.Variable(np.ones(3))
    y = (x + 1).sum()
    x.data[0] = 7.0
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1, 1, 1])


def test_writes_through_a_detached_variable_count_for_the_original():
    x = cr.Variable(np.array([1.0, 2.0]))
    y = (x * x).sum()
    x.detach().data[0] = 9.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_writes_through_an_unseen_numpy_view_are_the_users_responsibility():
    x = cr.Variable(np.array([1.0, 2.0]))
    raw = np.asarray(x.data)
    raw[0] = 3.0
    assert x._version == 0 and x.data[0] == 3.0


def test_a_deep_copy_tracks_writes_into_its_own_data():
    x = cr.Variable(np.array([1.0, 2.0]))
    assert x.data[0] == 1.0  # the view is made and cached
    twin = copy.deepcopy(x)
    twin.data[0] = 5.0
    assert twin._version == 1 and x._version == 0
    assert twin.data[0] == 5.0 and x.data[0] == 1.0
