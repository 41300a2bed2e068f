"""The MLP's fields with a hand-written reverse pass in theta: training steps without autograd's graph.

A training step of a small PINN spends most of its time in autograd's bookkeeping: the forward-mode
channels (value, d/dx_a, d2/dx_a dx_b) of every layer become hundreds of graph nodes, each with its
dispatch and buffers, for tensors of a few thousand numbers. `fields_and_pullback` evaluates the same
channels without a graph, keeps what the reverse pass needs, and returns `pullback(cotangents) ->
d/dtheta`, the chain rule through the layers written out (formulas below). Plain math (not the
doubled pre-activations of `_mlp.py`); tanh is computed as 2 sigmoid(2z) - 1, which is faster on CPU.

Per hidden layer, with s the activation and channels v (value), J_a, H_ab:
    z = W v + b,  Jz_a = W J_a,  Hz_ab = W H_ab          (first layer: v = x, Jz_a = W[:, a], Hz = 0)
    s(z),  Js_a = s' Jz_a,  Hs_ab = s' Hz_ab + s'' Jz_a Jz_b
and backwards, from the cotangents of s, Js, Hs:
    z_bar   = s_bar s' + sum_a Js_bar_a s'' Jz_a + sum_ab Hs_bar_ab (s'' Hz_ab + s''' Jz_a Jz_b)
    Jz_bar_a = Js_bar_a s' + sum_b (Hs_bar_ab + Hs_bar_ba) s'' Jz_b,   Hz_bar_ab = Hs_bar_ab s'
then W_bar = sum over channels and points of z_bar_c in_c^T, b_bar = sum of z_bar_v, in_bar_c = W^T z_bar_c.
`tests/test_pullback.py` checks the fields against `MLP.fields` and the gradient against autograd.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from pinnviz.nets._mlp import MLP, DistanceFn, Fields

Pullback = Callable[[Fields], torch.Tensor]


def _pairs(d: int, order: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(d) for b in range(d)] if order >= 2 else []


def _activate(z, Jz, Hz, kind: str, order: int, pairs):
    """s(z) and its channels, and what the reverse pass needs: (s', s'', s''')."""
    t = torch.sigmoid(2.0 * z).mul_(2.0).sub_(1.0)  # tanh z
    sech2 = torch.addcmul(t.new_ones(()), t, t, value=-1.0)  # 1 - tanh^2
    s = t + z if kind == "x+tanh" else t
    s1 = sech2 + 1.0 if kind == "x+tanh" else sech2
    s2 = -2.0 * t * sech2 if order >= 1 else None
    s3 = sech2 * (6.0 * t * t - 2.0) if order >= 2 else None
    J = [s1 * jz for jz in Jz]
    H = []
    for i, (a, b) in enumerate(pairs):
        h = s2 * Jz[a] * Jz[b]
        H.append(h if Hz[i] is None else torch.addcmul(h, s1, Hz[i]))
    return s, J, H, (s1, s2, s3, Jz, Hz)


def _activate_back(s_bar, J_bar, H_bar, saved, pairs):
    """Cotangents of (z, Jz, Hz) from those of (s, Js, Hs)."""
    s1, s2, s3, Jz, Hz = saved
    z_bar = s_bar * s1
    Jz_bar = [jb * s1 for jb in J_bar]
    for a, jb in enumerate(J_bar):
        z_bar.addcmul_(jb * s2, Jz[a])
    index = {pair: i for i, pair in enumerate(pairs)}
    for i, (a, b) in enumerate(pairs):
        hb = H_bar[i]
        curvature = s3 * Jz[a] * Jz[b] if Hz[i] is None else torch.addcmul(s3 * Jz[a] * Jz[b], s2, Hz[i])
        z_bar.addcmul_(hb, curvature)
        Jz_bar[a] = Jz_bar[a] + (hb + H_bar[index[(b, a)]]) * s2 * Jz[b]
    Hz_bar = [hb * s1 for hb in H_bar]
    return z_bar, Jz_bar, Hz_bar


def _linear(W, b, channels):
    """W c (+ b on the value channel) for every channel c (G, fan_in, N), as one bmm."""
    n = channels[0].shape[2]
    out = torch.bmm(W, torch.cat(channels, dim=2)) if len(channels) > 1 else torch.bmm(W, channels[0])
    parts = list(out.split(n, dim=2))
    if b is not None:
        parts[0] = parts[0] + b[:, :, None]
    return parts


def _linear_back(W, channels, bars, need_input: bool):
    """(W_bar, b_bar, input cotangents) of `_linear`."""
    n = channels[0].shape[2]
    bar = torch.cat(bars, dim=2) if len(bars) > 1 else bars[0]
    inputs = torch.cat(channels, dim=2) if len(channels) > 1 else channels[0]
    W_bar = torch.bmm(bar, inputs.transpose(1, 2))
    b_bar = bars[0].sum(dim=2)
    in_bar = list(torch.bmm(W.transpose(1, 2), bar).split(n, dim=2)) if need_input else None
    return W_bar, b_bar, in_bar


def fields_and_pullback(net: MLP, theta: torch.Tensor, x: torch.Tensor, order: int,
                        distance: DistanceFn | None = None) -> tuple[Fields, Pullback]:
    """`net.fields(theta, x, order, distance)` (no autograd) and `pullback(cotangents) -> (G, n_params)`.

    `cotangents` is a `Fields` of d loss / d value, d loss / d grad, d loss / d hess (None for a part
    the loss does not read); the result is d loss / d theta, laid out as `net.layout`.
    """
    with torch.no_grad():
        return _forward(net, theta.detach(), x, order, distance)


def _forward(net: MLP, theta, x, order, distance):
    G, N, d = theta.shape[0], x.shape[0], net.inputs
    pairs = _pairs(d, order)
    params = net.layout.split(theta)
    W, b = params["hidden.0.weight"], params["hidden.0.bias"]
    xT = x.T.expand(G, d, N)
    z = torch.baddbmm(b[:, :, None], W, xT)
    Jz = [W[:, :, a, None] for a in range(d)] if order >= 1 else []
    v, J, H, saved = _activate(z, Jz, [None] * len(pairs), net.activation, order, pairs)
    layers = [(None, saved)]  # (input channels, activation state) per hidden layer
    for k in range(1, net.depth):
        channels = [v, *J, *H]
        zs = _linear(params[f"hidden.{k}.weight"], params[f"hidden.{k}.bias"], channels)
        v, J, H, saved = _activate(zs[0], zs[1 : 1 + len(J)], zs[1 + len(J) :], net.activation, order, pairs)
        layers.append((channels, saved))
    hidden = [v, *J, *H]
    Wo = params["output.weight"]
    ys = _linear(Wo, None, hidden)  # each (G, outputs, N)
    dist = distance(x) if net.bc == "hard" else None
    us = _times_distance(ys, dist, d, order, pairs) if dist is not None else ys
    fields = _as_fields(us, d, order, params.get("output.bias"))

    def pullback(cot: Fields) -> torch.Tensor:
        with torch.no_grad():
            return _backward(net, params, x, layers, hidden, dist, cot, d, order, pairs)

    return fields, pullback


def _times_distance(ys, dist, d, order, pairs):
    """u = D y by the product rule, on channels [y, y_a, y_ab]."""
    D, dD, d2D = dist
    y = ys[0]
    us = [D * y]
    us += [torch.addcmul(D * ys[1 + a], dD[:, a], y) for a in range(d if order >= 1 else 0)]
    for i, (a, b) in enumerate(pairs):
        us.append(D * ys[1 + d + i] + dD[:, a] * ys[1 + b] + dD[:, b] * ys[1 + a] + d2D[:, a, b] * y)
    return us


def _times_distance_back(u_bar, dist, d, order, pairs):
    D, dD, d2D = dist
    y_bar = [D * u_bar[0]]
    y_bar += [D * u_bar[1 + a] for a in range(d if order >= 1 else 0)]
    y_bar += [D * u_bar[1 + d + i] for i in range(len(pairs))]
    for a in range(d if order >= 1 else 0):
        y_bar[0] = y_bar[0] + dD[:, a] * u_bar[1 + a]
    for i, (a, b) in enumerate(pairs):
        hb = u_bar[1 + d + i]
        y_bar[0] = y_bar[0] + d2D[:, a, b] * hb
        y_bar[1 + b] = y_bar[1 + b] + dD[:, a] * hb
        y_bar[1 + a] = y_bar[1 + a] + dD[:, b] * hb
    return y_bar


def _as_fields(us, d, order, bias) -> Fields:
    """Channels (G, outputs, N) as `Fields` (value (G, N, outputs), grad (G, N, outputs, d), hess ...)."""
    value = us[0].transpose(1, 2)
    if bias is not None:
        value = value + bias[:, None, :]
    grad = torch.stack(us[1 : 1 + d], dim=-1).transpose(1, 2) if order >= 1 else None
    hess = None
    if order >= 2:
        G, outputs, N = us[0].shape
        hess = torch.stack(us[1 + d :], dim=-1).transpose(1, 2).reshape(G, N, outputs, d, d)
    return Fields(value, grad, hess)


def _cotangent_channels(cot: Fields, d, order, pairs, like):
    """The cotangents of `Fields` as channels (G, outputs, N); zeros where the loss reads nothing."""
    def channel(t):
        return like if t is None else t.transpose(1, 2)

    bars = [channel(cot.value)]
    for a in range(d if order >= 1 else 0):
        bars.append(channel(None if cot.grad is None else cot.grad[..., a]))
    for a, b in pairs:
        bars.append(channel(None if cot.hess is None else cot.hess[..., a, b]))
    return bars


def _backward(net, params, x, layers, hidden, dist, cot, d, order, pairs):
    grads: dict[str, torch.Tensor] = {}
    like = hidden[0].new_zeros(hidden[0].shape[0], net.outputs, hidden[0].shape[2])
    bars = _cotangent_channels(cot, d, order, pairs, like)
    if net.output_bias:
        grads["output.bias"] = bars[0].sum(dim=2) if cot.value is not None else torch.zeros_like(
            params["output.bias"])
    if dist is not None:
        bars = _times_distance_back(bars, dist, d, order, pairs)
    grads["output.weight"], _, bars = _linear_back(params["output.weight"], hidden, bars, True)
    nJ = d if order >= 1 else 0
    for k in range(net.depth - 1, -1, -1):
        channels, saved = layers[k]
        z_bar, Jz_bar, Hz_bar = _activate_back(bars[0], bars[1 : 1 + nJ], bars[1 + nJ :], saved, pairs)
        if k == 0:
            W_bar = torch.bmm(z_bar, x.expand(z_bar.shape[0], *x.shape))  # z = W x + b
            if nJ:  # Jz_a = W[:, a] at every point
                W_bar = W_bar + torch.stack([jb.sum(dim=2) for jb in Jz_bar], dim=2)
            grads["hidden.0.weight"], grads["hidden.0.bias"] = W_bar, z_bar.sum(dim=2)
        else:
            W_bar, b_bar, bars = _linear_back(params[f"hidden.{k}.weight"], channels, [z_bar, *Jz_bar, *Hz_bar],
                                              True)
            grads[f"hidden.{k}.weight"], grads[f"hidden.{k}.bias"] = W_bar, b_bar
    return torch.cat([grads[e.name].reshape(grads[e.name].shape[0], -1) for e in net.layout.entries], dim=1)
