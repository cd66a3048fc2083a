"""scaled_dot_product_attention against a NumPy reference and PyTorch: masks, causal, scale."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functions as F
from harness import check_op, random_array, seeds, torch


def np_attention(q, k, v, mask=None, causal=False, scale=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        mask = np.tril(np.ones(scores.shape[-2:], dtype=bool))
    if mask is not None and mask.dtype == bool:
        scores = np.where(mask, scores, -np.inf)
    elif mask is not None:
        scores = scores + mask
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True) @ v


def torch_attention(**options):
    def run(q, k, v):
        if "attn_mask" in options and options["attn_mask"] is not None:
            options["attn_mask"] = torch.as_tensor(options["attn_mask"])
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, **options)
    return run


geometry = st.tuples(st.sampled_from([(), (2,), (2, 3)]), st.integers(1, 4), st.integers(1, 4),
                     st.integers(1, 3), st.integers(1, 3))


@pytest.mark.parametrize("scale", [None, 0.3])
@settings(max_examples=8)  # many variants: fewer shapes each
@given(geometry=geometry, seed=seeds)
def test_attention_without_a_mask(scale, geometry, seed):
    batch, length, source, e, ev = geometry
    q, k, v = (random_array(seed + i, batch + s) for i, s in
               enumerate([(length, e), (source, e), (source, ev)]))
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, scale=scale), [q, k, v],
             lambda a, b, c: np_attention(a, b, c, scale=scale),
             torch_fn=torch_attention(scale=scale))


@pytest.mark.parametrize("kind", ["bool", "float", "causal"])
@settings(max_examples=8)  # many variants: fewer shapes each
@given(geometry=geometry, seed=seeds)
def test_attention_with_a_mask_or_causal(kind, geometry, seed):
    batch, length, source, e, ev = geometry
    q, k, v = (random_array(seed + i, batch + s) for i, s in
               enumerate([(length, e), (source, e), (source, ev)]))
    rng = np.random.default_rng(seed)
    mask = None
    if kind == "bool":
        mask = rng.random((length, source)) < 0.7
        mask[:, 0] = True  # every query sees something (an empty row is tested below)
    elif kind == "float":
        mask = rng.uniform(-2, 1, size=(1, source))
    options = dict(attn_mask=mask, is_causal=kind == "causal")
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **options), [q, k, v],
             lambda a, b, c: np_attention(a, b, c, mask, kind == "causal"),
             torch_fn=torch_attention(**options))


def test_a_float_mask_variable_gets_its_gradient_as_a_learned_bias():
    q, k, v = random_array(0, (2, 3, 2)), random_array(1, (2, 4, 2)), random_array(2, (2, 4, 3))
    bias = random_array(3, (3, 4))
    check_op(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
             [q, k, v, bias], lambda a, b, c, m: np_attention(a, b, c, m),
             torch_fn=lambda a, b, c, m: torch.nn.functional.scaled_dot_product_attention(
                 a, b, c, attn_mask=m))


def test_a_query_that_sees_nothing_gets_zeros_and_zero_gradients_as_torch():
    q = cr.Variable(random_array(0, (3, 2)))
    k, v = cr.Variable(random_array(1, (4, 2))), cr.Variable(random_array(2, (4, 5)))
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False
    float_mask = np.where(mask, 0.0, -np.inf)
    for m in (mask, float_mask):
        with np.errstate(invalid="raise"):
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
            y.sum().backward()
        np.testing.assert_array_equal(y.data[1], np.zeros(5))
        np.testing.assert_array_equal(q.grad.data[1], np.zeros(2))
        assert np.all(np.isfinite(k.grad.data)) and np.all(np.isfinite(v.grad.data))
        np.testing.assert_allclose(y.data[[0, 2]], np_attention(q.data, k.data, v.data)[[0, 2]])
        q.cleargrad()


def test_attention_dropout_drops_weights_and_keeps_the_expectation():
    q = np.zeros((1, 4000, 1))
    v = np.ones((1, 5, 3))
    np.random.seed(0)
    y = F.scaled_dot_product_attention(q, np.zeros((1, 5, 1)), v, dropout_p=0.5)
    assert np.any(y.data == 0.0)  # some rows lost every weight they had
    assert abs(y.data.mean() - 1.0) < 0.05  # inverted dropout keeps the mean


def test_attention_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"query \(2, 3\), key \(2, 4\) and value \(2, 3\)"):
        F.scaled_dot_product_attention(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3,\) does not broadcast"):
        F.scaled_dot_product_attention(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                                       attn_mask=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="pass attn_mask or is_causal, not both"):
        F.scaled_dot_product_attention(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                                       attn_mask=np.ones((2, 2), dtype=bool), is_causal=True)
