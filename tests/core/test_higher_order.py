"""Higher-order derivatives: Newton's method, n-th derivatives in closed form, grad_outputs."""

import numpy as np

import chainrule as cr
import chainrule.functions as F
from harness import random_array, torch


def test_newtons_method_finds_the_minimum_of_a_quartic():
    # f(x) = x⁴ - 2x², f'(x) = 4x³ - 4x, f''(x) = 12x² - 4: from x = 2 Newton converges to 1
    x = cr.Variable(np.array(2.0))
    for _ in range(10):
        y = x**4 - 2 * x**2
        (gx,) = cr.grad(y, [x], create_graph=True)
        (gx2,) = cr.grad(gx, [x])
        x = cr.Variable(x.data - gx.data / gx2.data)
    np.testing.assert_allclose(x.data, 1.0, rtol=1e-12)


def test_newtons_method_through_backward_with_create_graph():
    x = cr.Variable(np.array(2.0))
    for _ in range(10):
        y = x**4 - 2 * x**2
        x.cleargrad()
        y.backward(create_graph=True)
        gx = x.grad
        x.cleargrad()
        gx.backward()
        x.data = x.data - gx.data / x.grad.data
    np.testing.assert_allclose(x.data, 1.0, rtol=1e-12)


def test_nth_derivatives_of_sin_rotate_by_quarter_turns():
    x = cr.Variable(np.linspace(-3, 3, 7))
    g = F.sin(x)
    for n in range(1, 7):
        (g,) = cr.grad(g.sum(), [x], create_graph=True)
        np.testing.assert_allclose(g.data, np.sin(x.data + n * np.pi / 2), atol=1e-12)


def test_tanh_derivatives_up_to_fourth_order_match_closed_forms():
    x = cr.Variable(np.linspace(-2, 2, 9))
    t = np.tanh(x.data)
    s = 1 - t * t  # tanh' = 1 - t², and d/dx of any polynomial p(t) is p'(t) (1 - t²)
    expected = [s, -2 * t * s, (6 * t * t - 2) * s, (16 * t - 24 * t**3) * s]
    g = F.tanh(x)
    for n, closed_form in enumerate(expected, start=1):
        (g,) = cr.grad(g.sum(), [x], create_graph=True)
        np.testing.assert_allclose(g.data, closed_form, atol=1e-12, err_msg=f"order {n}")


def test_sigmoid_derivatives_up_to_third_order_match_closed_forms():
    x = cr.Variable(np.linspace(-3, 3, 9))
    s = 1 / (1 + np.exp(-x.data))
    d = s * (1 - s)
    expected = [d, d * (1 - 2 * s), d * (1 - 6 * s + 6 * s * s)]
    g = F.sigmoid(x)
    for n, closed_form in enumerate(expected, start=1):
        (g,) = cr.grad(g.sum(), [x], create_graph=True)
        np.testing.assert_allclose(g.data, closed_form, atol=1e-12, err_msg=f"order {n}")


def test_exp_is_its_own_derivative_at_every_order():
    x = cr.Variable(np.array([-1.0, 0.0, 0.5]))
    g = F.exp(x)
    for _ in range(4):
        (g,) = cr.grad(g.sum(), [x], create_graph=True)
        np.testing.assert_allclose(g.data, np.exp(x.data))


def test_grad_outputs_weight_the_output_elements():
    x = cr.Variable(np.array([1.0, 2.0, 3.0]))
    v = np.array([0.5, -1.0, 2.0])
    (gx,) = cr.grad(x**3, [x], grad_outputs=[cr.Variable(v)], create_graph=True)
    np.testing.assert_allclose(gx.data, 3 * x.data**2 * v)
    (ggx,) = cr.grad(gx, [x], grad_outputs=cr.Variable(np.ones(3)))
    np.testing.assert_allclose(ggx.data, 6 * x.data * v)


def test_grad_outputs_for_several_outputs_sum_their_contributions():
    x = cr.Variable(np.array([0.3, -0.4]))
    y0, y1 = F.sin(x), F.square(x)
    v0, v1 = np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    (gx,) = cr.grad([y0, y1], [x], grad_outputs=[v0, v1])
    np.testing.assert_allclose(gx.data, np.cos(x.data) * v0 + 2 * x.data * v1)


def test_gradient_penalty_of_a_small_network_matches_torch():
    # d/dW of ‖∂loss/∂x‖²: double backprop through linear, tanh, relu and the loss
    x0, W0, W1 = random_array(0, (4, 3)), random_array(1, (3, 5)), random_array(2, (5, 3))
    labels = np.array([0, 2, 1, 1])
    x, W, V = cr.Variable(x0), cr.Variable(W0), cr.Variable(W1)
    loss = F.softmax_cross_entropy(F.linear(F.relu(F.tanh(F.linear(x, W))), V), labels)
    (gx,) = cr.grad(loss, [x], create_graph=True)
    gW, gV = cr.grad((gx * gx).sum(), [W, V])
    if torch is None:
        return
    tx, tW, tV = (torch.tensor(a, requires_grad=True) for a in (x0, W0, W1))
    t_loss = torch.nn.functional.cross_entropy(torch.relu(torch.tanh(tx @ tW)) @ tV,
                                               torch.as_tensor(labels))
    (t_gx,) = torch.autograd.grad(t_loss, [tx], create_graph=True)
    t_gW, t_gV = torch.autograd.grad((t_gx * t_gx).sum(), [tW, tV])
    np.testing.assert_allclose(gx.data, t_gx.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gW.data, t_gW.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gV.data, t_gV.numpy(), rtol=1e-10, atol=1e-12)
