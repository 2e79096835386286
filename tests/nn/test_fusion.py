"""nn.utils.fuse_conv_bn_eval / fuse_linear_bn_eval (and the *_weights forms) against PyTorch."""
import numpy as np
import pytest
import torch as T

import cadenza as C


def _copy(dst, src):
    dst.load_state_dict({k: C.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


@pytest.mark.parametrize("transpose", [False, True])
def test_conv_bn_fusion_matches_torch(transpose):
    T.manual_seed(0)
    tconv = (T.nn.ConvTranspose2d(3, 4, 3, bias=False) if transpose else
             T.nn.Conv2d(3, 4, 3)).eval()
    tbn = T.nn.BatchNorm2d(4).eval()
    with T.no_grad():
        tbn.running_mean.uniform_(-1, 1)
        tbn.running_var.uniform_(0.5, 2)
        tbn.weight.uniform_(0.5, 1.5)
        tbn.bias.uniform_(-1, 1)
    conv = (C.nn.ConvTranspose2d(3, 4, 3, bias=False) if transpose else
            C.nn.Conv2d(3, 4, 3)).eval()
    bn = C.nn.BatchNorm2d(4).eval()
    _copy(conv, tconv)
    _copy(bn, tbn)
    ref = T.nn.utils.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    got = C.nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    assert got is not conv and isinstance(got.weight, C.nn.Parameter)
    np.testing.assert_allclose(got.weight.detach().numpy(), ref.weight.detach().numpy(),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.bias.detach().numpy(), ref.bias.detach().numpy(),
                               rtol=1e-6, atol=1e-6)
    x = np.random.RandomState(0).randn(2, 3, 6, 6).astype(np.float32)
    np.testing.assert_allclose(got(C.tensor(x)).detach().numpy(),
                               bn(conv(C.tensor(x))).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_linear_bn_fusion_and_errors():
    T.manual_seed(1)
    tlin, tbn = T.nn.Linear(3, 5).eval(), T.nn.BatchNorm1d(5).eval()
    with T.no_grad():
        tbn.running_mean.uniform_(-1, 1)
        tbn.running_var.uniform_(0.5, 2)
        tbn.weight.uniform_(0.5, 1.5)
    lin, bn = C.nn.Linear(3, 5).eval(), C.nn.BatchNorm1d(5).eval()
    _copy(lin, tlin)
    _copy(bn, tbn)
    ref = T.nn.utils.fuse_linear_bn_eval(tlin, tbn)
    got = C.nn.utils.fuse_linear_bn_eval(lin, bn)
    np.testing.assert_allclose(got.weight.detach().numpy(), ref.weight.detach().numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(got.bias.detach().numpy(), ref.bias.detach().numpy(), rtol=1e-6,
                               atol=1e-7)
    w, b = C.nn.utils.fuse_linear_bn_weights(lin.weight, None, bn.running_mean,
                                             bn.running_var, bn.eps, None, None)
    assert w.requires_grad and b.requires_grad and tuple(b.shape) == (5,)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        C.nn.utils.fuse_linear_bn_eval(C.nn.Linear(3, 5), bn)
    with pytest.raises(AssertionError, match="out_features"):
        C.nn.utils.fuse_linear_bn_eval(C.nn.Linear(3, 4).eval(), bn)
