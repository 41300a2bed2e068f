import math

import pytest
import torch

from pinnviz.errors import InvalidSettingError, UnknownNameError
from pinnviz.nets import MLP
from tests.conftest import module_from_vector, sine_distance


def autograd_fields(net, theta, x):
    """Value, gradient and Hessian in x of D(x) * module(x) by torch.autograd, one vector."""
    module = module_from_vector(net, theta)
    x = x.clone().requires_grad_(True)
    u = module(x) * sine_distance(x)
    grads, hessians = [], []
    for o in range(net.outputs):
        (g,) = torch.autograd.grad(u[:, o].sum(), x, create_graph=True)
        rows = [torch.autograd.grad(g[:, a].sum(), x, retain_graph=True)[0] for a in range(net.inputs)]
        grads.append(g)
        hessians.append(torch.stack(rows, dim=1))
    return u.detach(), torch.stack(grads, 1).detach(), torch.stack(hessians, 1).detach()


def distance_with_derivatives(x):
    xx = x.clone().requires_grad_(True)
    D = sine_distance(xx)[:, 0]
    (g,) = torch.autograd.grad(D.sum(), xx, create_graph=True)
    H = torch.stack([torch.autograd.grad(g[:, a].sum(), xx, retain_graph=True)[0] for a in range(x.shape[1])], 1)
    return D.detach(), g.detach(), H.detach()


def test_paper_network_has_480_parameters_in_pytorch_order():
    net = MLP(1, 1, 20, 2)
    assert net.n_params == 480
    layout = net.settings()["layout"]
    assert [e["name"] for e in layout] == ["hidden.0.weight", "hidden.0.bias", "hidden.1.weight",
                                           "hidden.1.bias", "output.weight"]
    assert [e["shape"] for e in layout] == [[20, 1], [20], [20, 20], [20], [1, 20]]
    assert [e["offset"] for e in layout] == [0, 20, 40, 440, 460]


def test_init_is_pytorch_default_times_scale():
    net = MLP(1, 1, 20, 2)
    theta = net.init(2000, scale=3.0, generator=torch.Generator().manual_seed(0))
    for entry in net.layout.entries:
        fan_in = 1 if entry.name.startswith("hidden.0") else 20
        block = theta[:, entry.offset : entry.offset + entry.size]
        bound = 3.0 / math.sqrt(fan_in)
        assert block.abs().max() <= bound
        assert block.abs().max() > 0.99 * bound  # uniform up to the bound
        assert abs(float(block.mean())) < 0.02 * bound


@pytest.mark.parametrize("inputs,outputs,width,depth,activation", [
    (1, 1, 20, 2, "tanh"), (1, 1, 7, 1, "tanh"), (1, 1, 12, 4, "tanh"), (2, 2, 9, 3, "tanh"),
    (1, 1, 10, 2, "x+tanh"), (2, 1, 6, 2, "x+tanh"),
])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_batched_derivatives_match_autograd(inputs, outputs, width, depth, activation, requires_grad):
    torch.manual_seed(1)
    net = MLP(inputs, outputs, width, depth, activation=activation)
    theta = net.init(5, scale=2.0).requires_grad_(requires_grad)
    x = torch.rand(23, inputs, dtype=torch.float64)
    fields = net.fields(theta, x, 2, distance_with_derivatives)
    for g in range(theta.shape[0]):
        u, du, d2u = autograd_fields(net, theta[g].detach(), x)
        torch.testing.assert_close(fields.value[g].detach(), u, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(fields.grad[g].detach(), du, rtol=1e-10, atol=1e-11)
        torch.testing.assert_close(fields.hess[g].detach(), d2u, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("activation,bias", [("tanh", True), ("x+tanh", False), ("tanh", False)])
def test_trainable_first_order_of_a_scalar_output_matches_autograd(activation, bias):
    """d >= 2, one output, order 1 under autograd: the reverse-mode path, values and gradients in theta."""
    torch.manual_seed(2)
    net = MLP(2, 1, 6, 3, activation=activation, output_bias=bias, bc="none" if bias else "hard")
    theta = net.init(3, scale=2.0).requires_grad_(True)
    x = torch.rand(17, 2, dtype=torch.float64)
    fields = net.fields(theta, x, 1, None if bias else distance_with_derivatives)
    loss = (fields.grad**2).sum() + (fields.value**3).sum()
    (grad,) = torch.autograd.grad(loss, theta)
    for g in range(3):
        module = module_from_vector(net, theta[g].detach())
        xx = x.clone().requires_grad_(True)
        u = module(xx) if bias else module(xx) * sine_distance(xx)
        (du,) = torch.autograd.grad(u.sum(), xx, create_graph=True)
        torch.testing.assert_close(fields.value[g].detach(), u.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(fields.grad[g, :, 0].detach(), du.detach(), rtol=1e-10, atol=1e-11)
        ref = torch.cat([p.reshape(-1) for p in torch.autograd.grad((du**2).sum() + (u**3).sum(),
                                                                    list(module.parameters()))])
        torch.testing.assert_close(grad[g], ref, rtol=1e-9, atol=1e-11)


def test_lower_orders_agree_with_order_two():
    net = MLP(2, 1, 8, 2)
    theta = net.init(3)
    x = torch.rand(10, 2, dtype=torch.float64)
    full = net.fields(theta, x, 2, distance_with_derivatives)
    first = net.fields(theta, x, 1, distance_with_derivatives)
    zeroth = net.fields(theta, x, 0, distance_with_derivatives)
    torch.testing.assert_close(first.grad, full.grad, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(zeroth.value, full.value, rtol=1e-14, atol=1e-14)
    assert zeroth.grad is None and first.hess is None


def test_float32_is_close_to_float64():
    net = MLP(1, 1, 20, 2)
    theta = net.init(4)
    x = torch.rand(30, 1, dtype=torch.float64)
    f64 = net.fields(theta, x, 2, distance_with_derivatives)
    f32 = net.fields(theta.float(), x.float(), 2,
                     lambda xx: tuple(t.float() for t in distance_with_derivatives(xx.double())))
    torch.testing.assert_close(f32.hess.double(), f64.hess, rtol=1e-4, atol=1e-4)


def test_no_output_bias_and_bad_settings():
    assert MLP(1, 1, 5, 1, bc="none", output_bias=True).n_params == 5 + 5 + 5 + 1
    with pytest.raises(InvalidSettingError, match="width=-3 must be >= 1"):
        MLP(1, 1, -3, 2)
    with pytest.raises(UnknownNameError, match="unknown activation 'relu'; valid: tanh, x\\+tanh"):
        MLP(1, 1, 5, 1, activation="relu")
