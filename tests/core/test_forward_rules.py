"""Every tangent rule in core, against central differences and reverse mode (jvpcheck, order 2).

check_op runs jvpcheck too, so the per-op tests in test_ops.py and test_tensor.py cover
their ops' rules already; this table reaches each Function class of core directly, the
backward's own ops (TanhGrad, GetItemGrad, ...) included, over hypothesis shapes.
"""

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.core import elementwise, indexing, ops, reductions, scalar_ops, shape_ops
from harness import broadcast_shapes, random_array, seeds, shapes

CORE_MODULES = (ops, shape_ops, scalar_ops, indexing, elementwise, reductions)


def core_functions():
    """Every Function subclass defined in core, but the ScalarOp base that is never called."""
    found = []
    for module in CORE_MODULES:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, cr.Function) and cls.__module__ == module.__name__:
                found.append(cls)
    return [cls for cls in found if cls is not scalar_ops.ScalarOp]


@pytest.mark.parametrize("cls", core_functions(), ids=lambda cls: cls.__name__)
def test_every_core_function_defines_a_tangent_rule(cls):
    assert cls.jvp is not cr.Function.jvp, f"{cls.__name__} has no jvp"


UNARY = {  # name: (fn, lowest input): inputs are uniform in (lowest, 2)
    "exp": (lambda x: elementwise.Exp()(x), -2.0),
    "log": (lambda x: ops.Log()(x), 0.5),
    "sqrt": (lambda x: elementwise.Sqrt()(x), 0.5),
    "abs": (lambda x: elementwise.Abs()(x), -2.0),
    "tanh": (lambda x: elementwise.Tanh()(x), -2.0),
    "sigmoid": (lambda x: elementwise.Sigmoid()(x), -2.0),
    "relu": (lambda x: elementwise.ReLU()(x), -2.0),
    "clip": (lambda x: elementwise.Clip(-0.5, 1.0)(x), -2.0),
    "neg": (lambda x: ops.Neg()(x), -2.0),
    "copy": (lambda x: ops.Copy()(x), -2.0),
    "alias": (lambda x: ops.Alias()(x), -2.0),
    "cast": (lambda x: ops.Cast(np.float64)(x), -2.0),
    "to_device_cpu": (lambda x: elementwise.ToDevice("cpu")(x), -2.0),
    "add_scalar": (lambda x: scalar_ops.AddScalar(1.5)(x), -2.0),
    "sub_scalar": (lambda x: scalar_ops.SubScalar(np.array(0.5))(x), -2.0),
    "rsub_scalar": (lambda x: scalar_ops.RSubScalar(1.5)(x), -2.0),
    "mul_scalar": (lambda x: scalar_ops.MulScalar(-3.0)(x), -2.0),
    "div_scalar": (lambda x: scalar_ops.DivScalar(4.0)(x), -2.0),
    "pow_scalar": (lambda x: scalar_ops.PowScalar(2.5)(x), 0.5),
    "pow_scalar_zero": (lambda x: scalar_ops.PowScalar(0)(x) * x, -2.0),
    "sum": (lambda x: ops.Sum(None, False)(x), -2.0),
    "softmax": (lambda x: reductions.Softmax(-1)(x), -2.0),
    "log_softmax": (lambda x: reductions.LogSoftmax(0)(x), -2.0),
    "max": (lambda x: reductions.Extreme("max", None, False)(x), -2.0),
    "min_last_axis": (lambda x: reductions.Extreme("min", -1, True)(x), -2.0),
    "reshape": (lambda x: ops.Reshape((-1,))(x), -2.0),
    "transpose": (lambda x: ops.Transpose(None)(x), -2.0),
    "get_item": (lambda x: indexing.GetItem((Ellipsis, 0))(x), -2.0),
    "broadcast_to": (lambda x: ops.BroadcastTo((2,) + x.shape)(x), -2.0),
    "sum_to": (lambda x: ops.SumTo((1,) * x.ndim)(x), -2.0),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes(min_dims=1), seed=seeds)
def test_unary_rule_matches_differences_and_reverse_mode(name, shape, seed):
    fn, low = UNARY[name]
    cr.jvpcheck(fn, [random_array(seed, shape, low, 2.0)], order=2)


def test_max_splits_the_tangent_among_ties_as_its_gradient():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    cr.jvpcheck(lambda v: reductions.Extreme("max", 1, False)(v) * 1.0, [x], order=1,
                eps=1e-9)  # a tie stays a tie for steps below the gap


BINARY = {
    "add": lambda a, b: ops.Add()(a, b),
    "sub": lambda a, b: ops.Sub()(a, b),
    "mul": lambda a, b: ops.Mul()(a, b),
    "div": lambda a, b: ops.Div()(a, b),
    "pow": lambda a, b: ops.Pow()(a, b),
    "where": lambda a, b: ops.Where(np.arange(a.size).reshape(a.shape) % 2 == 0)(a, b),
    "tanh_grad": lambda a, b: elementwise.TanhGrad()(a, b),
    "sigmoid_grad": lambda a, b: elementwise.SigmoidGrad()(a, b),
    "relu_grad": lambda a, b: elementwise.ReluGrad()(a, elementwise.ReLU()(b)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcast_shapes(), seed=seeds)
def test_binary_rule_broadcasts_and_matches_differences_and_reverse_mode(name, pair, seed):
    a = random_array(seed, pair[0], 0.5, 2.0)
    b = random_array(seed + 1, pair[1], 0.5, 2.0)
    fn = BINARY[name]
    if name in ("where", "tanh_grad", "sigmoid_grad", "relu_grad"):  # same shapes
        b = random_array(seed + 1, pair[0], -2.0, 2.0)
    cr.jvpcheck(fn, [a, b], order=2)


@given(data=st.data(), seed=seeds)
def test_matmul_rule_over_batched_and_vector_cases(data, seed):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    left = data.draw(st.sampled_from([(k,), (n, k), (2, n, k)]))
    right = data.draw(st.sampled_from([(k,), (k, m), (2, k, m)]))
    cr.jvpcheck(lambda a, b: ops.MatMul()(a, b),
                [random_array(seed, left), random_array(seed + 1, right)], order=2)


@given(shape=shapes(min_dims=1), seed=seeds)
def test_get_item_grad_rule_scatters_the_tangent(shape, seed):
    index = ([0, 0, -1],) if shape[0] > 1 else (0,)
    sliced = np.zeros(shape)[index].shape
    cr.jvpcheck(lambda g: indexing.GetItemGrad(index, shape)(g), [random_array(seed, sliced)],
                order=2)
