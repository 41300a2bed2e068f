import torch

from pinnviz.probes import hessian_spectrum, loss_gradient, loss_hessian


def test_hessian_matches_finite_differences_of_the_gradient(poisson_physics):
    theta = poisson_physics.net.init(1, generator=torch.Generator().manual_seed(2))[0]
    for name in ("drm", "pinn"):
        H = loss_hessian(poisson_physics, theta, name)
        eps = 1e-6
        for index in (0, 33, 250, 479):
            bump = torch.zeros_like(theta)
            bump[index] = eps
            g_plus = loss_gradient(poisson_physics, (theta + bump)[None], name)[0]
            g_minus = loss_gradient(poisson_physics, (theta - bump)[None], name)[0]
            column = (g_plus - g_minus) / (2 * eps)
            torch.testing.assert_close(H[:, index], column, rtol=1e-5, atol=1e-6 * column.abs().max().item())


def test_gradient_matches_autograd_through_the_batched_path(poisson_physics):
    theta = poisson_physics.net.init(3).requires_grad_(True)
    values = poisson_physics(theta, ["pinn"])["pinn"]
    (expected,) = torch.autograd.grad(values.sum(), theta)
    torch.testing.assert_close(loss_gradient(poisson_physics, theta.detach(), "pinn"), expected, rtol=1e-10, atol=1e-12)


def test_spectrum_is_of_a_symmetric_matrix(poisson_physics):
    theta = poisson_physics.net.init(1)[0]
    values, vectors = hessian_spectrum(poisson_physics, theta, "drm")
    H = loss_hessian(poisson_physics, theta, "drm")
    torch.testing.assert_close(vectors @ torch.diag(values) @ vectors.T, H, rtol=1e-8, atol=1e-8)
