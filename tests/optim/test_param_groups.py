"""Parameter groups as in PyTorch: defaults per group, add_param_group, state keyed by
parameter, and checkpoints of grouped optimizers (through a real file)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from harness import torch

NAMES = ["SGD", "AdaGrad", "RMSprop", "AdaDelta", "Adam", "AdamW"]
TORCH_NAMES = {"AdaGrad": "Adagrad", "AdaDelta": "Adadelta"}
SHAPES = [(3, 2), (2,), (4,)]


def arrays():
    rng = np.random.default_rng(3)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient(p, step, index):
    return np.cos(2 * p) + np.random.default_rng(10 * step + index).standard_normal(p.shape)


def run(make_opt, add_group, wrap, data, set_grad, steps=6, added_at=2):
    """Train the first two parameters; the third joins in its own group at ``added_at``."""
    params = [wrap(a) for a in arrays()]
    opt = make_opt([{"params": params[:1]}, {"params": params[1:2], "lr": 0.05}])
    for step in range(steps):
        if step == added_at:
            add_group(opt, {"params": [params[2]], "lr": 0.2, "weight_decay": 0.1})
        for i, p in enumerate(params):
            set_grad(p, gradient(data(p), step, i))
        opt.step()
    return [data(p) for p in params], opt


def run_chainrule(name, **kwargs):
    return run(lambda groups: getattr(optim, name)(groups, lr=0.01, **kwargs),
               lambda opt, g: opt.add_param_group(g), cr.Variable, lambda p: p.data,
               lambda p, g: setattr(p, "grad", cr.Variable(g)))


def run_torch(name, **kwargs):
    maker = getattr(torch.optim, TORCH_NAMES.get(name, name))
    return run(lambda groups: maker(groups, lr=0.01, **kwargs),
               lambda opt, g: opt.add_param_group(g),
               lambda a: torch.tensor(a, requires_grad=True), lambda p: p.detach().numpy(),
               lambda p, g: setattr(p, "grad", torch.from_numpy(g)))


def needs_torch():
    if torch is None:
        pytest.skip("torch is not installed")


@pytest.mark.parametrize("name", NAMES)
def test_groups_and_a_group_added_midway_match_torch(name):
    needs_torch()
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    ours, opt = run_chainrule(name, **kwargs)
    theirs, torch_opt = run_torch(name, **kwargs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.05, 0.2]
    for group, torch_group in zip(opt.param_groups, torch_opt.param_groups):
        for key in opt.defaults:  # every default filled in, to torch's values
            assert group[key] == torch_group[key], key


def test_state_is_keyed_by_parameter_as_in_torch():
    needs_torch()
    (_, opt), (_, torch_opt) = run_chainrule("SGD", momentum=0.9), run_torch("SGD", momentum=0.9)
    params = [p for g in opt.param_groups for p in g["params"]]
    torch_params = [p for g in torch_opt.param_groups for p in g["params"]]
    for p, tp in zip(params, torch_params):
        np.testing.assert_allclose(opt.state[p]["momentum_buffer"],
                                   torch_opt.state[tp]["momentum_buffer"].numpy(), rtol=1e-10)


def test_state_dict_numbers_parameters_through_the_groups_as_torch():
    _, opt = run_chainrule("Adam")
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1], [2]]
    assert sorted(saved["state"]) == ["0", "1", "2"]
    assert [g["lr"] for g in saved["param_groups"]] == [0.01, 0.05, 0.2]
    if torch is not None:
        _, torch_opt = run_torch("Adam")
        expected = [g["params"] for g in torch_opt.state_dict()["param_groups"]]
        assert [g["params"] for g in saved["param_groups"]] == expected


@pytest.mark.parametrize("name", NAMES)
def test_grouped_checkpoint_through_a_file_resumes_bit_for_bit(name, tmp_path):
    pytest.importorskip("safetensors")
    kwargs = {"momentum": 0.9, "nesterov": True} if name == "SGD" else {}
    make = getattr(optim, name)

    def build(values, lr):
        params = [cr.Variable(v.copy()) for v in values]
        opt = make([{"params": params[:2], "lr": lr}, {"params": params[2:], "lr": 0.1}],
                   lr=lr, **kwargs)
        return params, opt

    def train(params, opt, steps, start):
        for step in range(start, start + steps):
            for i, p in enumerate(params):
                p.grad = cr.Variable(gradient(p.data, step, i))
            opt.step()

    straight, opt = build(arrays(), 0.01)
    train(straight, opt, 7, 0)
    first, opt = build(arrays(), 0.01)
    train(first, opt, 4, 0)
    cr.save(opt.state_dict(), tmp_path / "opt.safetensors")
    resumed, opt = build([p.data for p in first], 0.5)  # the file's lrs replace 0.5
    opt.load_state_dict(cr.load(tmp_path / "opt.safetensors"))
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    train(resumed, opt, 3, 4)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def two_by_one():
    a, b, c = (cr.Variable(v) for v in arrays())
    return optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.1}])


@pytest.mark.parametrize("groups, sizes", [
    (lambda a, b, c: [a, b, c], r"\[3\]"),
    (lambda a, b, c: [{"params": [a]}, {"params": [b, c]}], r"\[1, 2\]"),
    (lambda a, b, c: [{"params": [a]}, {"params": [b]}, {"params": [c]}], r"\[1, 1, 1\]"),
])
def test_loading_into_other_groups_is_one_error_naming_both_layouts(groups, sizes):
    saved = two_by_one().state_dict()
    params = [cr.Variable(v) for v in arrays()]
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the checkpoint has parameter "
                                         rf"groups of sizes \[2, 1\], this optimizer {sizes}"):
        optim.Adam(groups(*params)).load_state_dict(saved)


def test_loading_another_optimizers_state_names_what_is_missing():
    saved = optim.SGD([cr.Variable(np.zeros(2))], lr=0.1).state_dict()
    with pytest.raises(ValueError, match=r"lack \['amsgrad', 'betas', 'eps'\]; is it the state "
                                         "of another optimizer than Adam"):
        optim.Adam([cr.Variable(np.zeros(2))]).load_state_dict(saved)


def test_a_parameter_in_two_groups_is_refused_also_when_added_later():
    opt = two_by_one()
    taken = opt.param_groups[1]["params"][0]
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [cr.Variable(np.ones(1)), taken]})
    assert len(opt.param_groups) == 2  # nothing half-added


def test_a_set_of_parameters_is_refused_for_its_order():
    with pytest.raises(TypeError, match="ordered collection"):
        optim.SGD([{"params": {cr.Variable(np.ones(1))}}], lr=0.1)


def test_a_misspelled_hyperparameter_names_the_right_ones():
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['momentun'\].*"
                                         r"'momentum'"):
        optim.SGD([{"params": [cr.Variable(np.ones(1))], "momentun": 0.9}], lr=0.1)


def test_zero_grad_can_keep_zero_gradients_as_torch_set_to_none_false():
    p, q = cr.Variable(np.ones(3)), cr.Variable(np.ones(2))
    opt = optim.SGD([p, q], lr=0.1)
    p.grad = cr.Variable(np.full(3, 2.0))
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and q.grad is None
    np.testing.assert_array_equal(p.grad.data, np.zeros(3))
    opt.step()  # a zero gradient moves nothing
    np.testing.assert_array_equal(p.data, np.ones(3))
    opt.zero_grad()
    assert p.grad is None


def test_step_updates_the_parameter_array_in_place():
    p = cr.Variable(np.ones(3))
    array = p.data
    opt = optim.Adam([p], lr=0.1)
    p.grad = cr.Variable(np.ones(3))
    opt.step()
    assert p.data is array and not np.allclose(array, 1.0)


def test_a_computed_variable_is_refused_as_torch_refuses_a_non_leaf():
    w = cr.Variable(np.ones(2))
    with pytest.raises(ValueError, match="only optimize leaf Variables, got one computed by Mul"):
        optim.SGD([w * 2], lr=0.1)
