"""CPU autocast on composites, against torch: a function standing for one aten op follows
that op's policy (losses, prod, cdist, reflection padding compute in float32; interpolation
and adaptive pooling are on no list, so their inner GEMMs are not lowered), bfloat16 inputs
are eligible for the float32 casts, a linear of mixed-dtype operands is one lowered op, and a
half input with float32 norm parameters keeps its dtype (ops/_registry.py autocast_policy)."""
import numpy as np
import pytest

import cadenza as C

T = pytest.importorskip("torch")

FNS = {
    "layer_norm": lambda L, x, F: F.layer_norm(x, (6,)),
    "softmax": lambda L, x, F: F.softmax(x, -1),
    "gelu": lambda L, x, F: F.gelu(x),
    "sum": lambda L, x, F: x.sum(),
    "prod": lambda L, x, F: x.prod(),
    "mse": lambda L, x, F: F.mse_loss(x, x * 0.5),
    "l1": lambda L, x, F: F.l1_loss(x, x * 0.5),
    "smooth_l1": lambda L, x, F: F.smooth_l1_loss(x, x * 0.5),
    "bce_logits": lambda L, x, F: F.binary_cross_entropy_with_logits(x, x.sigmoid()),
    "kl_div": lambda L, x, F: F.kl_div(x, x.softmax(-1), reduction="batchmean"),
    "nll": lambda L, x, F: F.nll_loss(x.reshape(4, -1), L.tensor([0, 1, 2, 3])),
    "ce": lambda L, x, F: F.cross_entropy(x.reshape(4, -1), L.tensor([0, 1, 2, 3])),
    "adaptive_avg": lambda L, x, F: F.adaptive_avg_pool2d(x, 1),
    "interpolate": lambda L, x, F: F.interpolate(x, scale_factor=2, mode="bilinear"),
    "pad_reflect": lambda L, x, F: F.pad(x, (1, 1, 1, 1), mode="reflect"),
    "cdist": lambda L, x, F: L.cdist(x[0], x[1]),
    "matmul": lambda L, x, F: x @ x,
    "conv2d": lambda L, x, F: F.conv2d(x, x[:, :, :3, :3]),
}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_autocast_output_dtypes_as_torch(dtype):
    x = np.random.default_rng(0).standard_normal((4, 8, 6, 6)).astype(np.float32)
    wrong = []
    for name, f in FNS.items():
        got = []
        for lib in (C, T):
            with lib.autocast("cpu", dtype=lib.bfloat16):
                got.append(str(f(lib, lib.tensor(x).to(getattr(lib, dtype)),
                                 lib.nn.functional).dtype).split(".")[1])
        if got[0] != got[1]:
            wrong.append((name, got))
    assert not wrong


def test_autocast_mlp_layers_keep_torch_dtypes_and_values():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 12)).astype(np.float32)
    w1, w2 = (rng.standard_normal(s).astype(np.float32) * 0.3 for s in ((24, 12), (5, 24)))
    outs = []
    for lib in (C, T):
        m = lib.nn.Sequential(lib.nn.Linear(12, 24), lib.nn.GELU(), lib.nn.LayerNorm(24),
                              lib.nn.Linear(24, 5))
        with lib.no_grad():
            m[0].weight.copy_(lib.tensor(w1))
            m[3].weight.copy_(lib.tensor(w2))
            m[0].bias.zero_()
            m[3].bias.zero_()
        h, layers = lib.tensor(x), []
        with lib.autocast("cpu", dtype=lib.bfloat16):
            for layer in m:
                h = layer(h)
                layers.append((str(h.dtype).split(".")[1], h.detach().float().numpy()))
        outs.append(layers)
    for (cd, c), (td, t) in zip(*outs):
        assert cd == td == "bfloat16"
        np.testing.assert_allclose(c, t, rtol=0, atol=2 ** -6)


def test_autocast_conv_stack_stays_bfloat16_as_torch():
    """Mixed-dtype inputs met inside the region (a bfloat16 activation, float32 weights and
    biases) stay one lowered op: grouped and transposed convolutions and group norm too."""
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32)
    seen = []
    for lib in (C, T):
        nn = lib.nn
        m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, groups=2), nn.ConvTranspose2d(4, 2, 2),
                          nn.GroupNorm(1, 2))
        h, dtypes = lib.tensor(x), []
        with lib.autocast("cpu", dtype=lib.bfloat16):
            for layer in m:
                h = layer(h)
                dtypes.append(str(h.dtype).split(".")[1])
        seen.append(dtypes)
    assert seen[0] == seen[1] == ["bfloat16"] * 6
