"""Autograd nodes show torch's names: ``type(y.grad_fn).__name__``, ``repr``, ``name()`` and
the names along ``next_functions`` (as tools that draw the graph read them), against torch on
the same small expressions."""
import re

import pytest
import torch as T

import cadenza as C


def _leaf(m, *shape, rg=True):
    m.manual_seed(0)
    return m.randn(*shape, dtype=m.float64, requires_grad=rg)


def _module(m, make):
    m.manual_seed(0)
    return make(m).double()



CASES = {
    "add": lambda m: _leaf(m, 3) + _leaf(m, 3),
    "add_number": lambda m: _leaf(m, 3) + 1,
    "sub": lambda m: _leaf(m, 3) - _leaf(m, 3, rg=False),
    "rsub": lambda m: 1 - _leaf(m, 3),
    "mul": lambda m: _leaf(m, 3) * _leaf(m, 3, rg=False),
    "div": lambda m: _leaf(m, 3) / 2,
    "pow_number": lambda m: _leaf(m, 3) ** 2,
    "pow_tensor": lambda m: _leaf(m, 3).abs() ** _leaf(m, 3),
    "rpow": lambda m: 2 ** _leaf(m, 3),
    "mean": lambda m: _leaf(m, 3).mean(),
    "mean_dim": lambda m: _leaf(m, 3, 2).mean(1),
    "sum": lambda m: _leaf(m, 3).sum(),
    "sum_dim": lambda m: _leaf(m, 3, 2).sum(1),
    "mm": lambda m: _leaf(m, 3, 2) @ _leaf(m, 2, 4),
    "mv": lambda m: _leaf(m, 3, 2) @ _leaf(m, 2),
    "dot": lambda m: _leaf(m, 2) @ _leaf(m, 2),
    "bmm": lambda m: m.bmm(_leaf(m, 2, 3, 2), _leaf(m, 2, 2, 4)),
    "addmm": lambda m: m.addmm(_leaf(m, 2), _leaf(m, 2, 3), _leaf(m, 3, 2)),
    "linear": lambda m: _module(m, lambda m: m.nn.Linear(2, 3))(_leaf(m, 4, 2)),
    "linear_3d": lambda m: _module(m, lambda m: m.nn.Linear(2, 3))(_leaf(m, 5, 4, 2)),
    "linear_no_bias": lambda m: _module(m, lambda m: m.nn.Linear(2, 3, bias=False))(
        _leaf(m, 4, 2)),
    "relu_sigmoid_tanh": lambda m: _leaf(m, 3).relu().sigmoid().tanh(),
    "exp_log": lambda m: _leaf(m, 3).exp().log(),
    "view": lambda m: _leaf(m, 2, 3).view(6),
    "t": lambda m: _leaf(m, 2, 3).t(),
    "transpose": lambda m: _leaf(m, 2, 3).transpose(0, 1),
    "permute": lambda m: _leaf(m, 2, 3).permute(1, 0),
    "slice": lambda m: _leaf(m, 4)[1:3],
    "select": lambda m: _leaf(m, 4, 2)[1],
    "index": lambda m: _leaf(m, 4)[m.tensor([0, 2])],
    "unsqueeze_squeeze": lambda m: _leaf(m, 2).unsqueeze(0).squeeze(0),
    "cat": lambda m: m.cat([_leaf(m, 2), _leaf(m, 2)]),
    "stack": lambda m: m.stack([_leaf(m, 2), _leaf(m, 2)]),
    "var_std_repeat": lambda m: _leaf(m, 3, 2).repeat(2, 1).var(0).std(),
    "gather": lambda m: _leaf(m, 3).gather(0, m.tensor([0, 2])),
    "max": lambda m: _leaf(m, 3).max(),
    "conv2d": lambda m: _module(m, lambda m: m.nn.Conv2d(1, 2, 3))(_leaf(m, 1, 1, 4, 4)),
    "layer_norm": lambda m: _module(m, lambda m: m.nn.LayerNorm(3))(_leaf(m, 2, 3)),
    "nll_loss": lambda m: m.nn.functional.nll_loss(_leaf(m, 2, 3), m.tensor([0, 1])),
    "cross_entropy": lambda m: m.nn.functional.cross_entropy(_leaf(m, 2, 3), m.tensor([0, 1])),
    "mse_loss": lambda m: m.nn.functional.mse_loss(_leaf(m, 2, 3), _leaf(m, 2, 3, rg=False)),
    "log_softmax": lambda m: _leaf(m, 2, 3).log_softmax(1),
    "softmax": lambda m: _leaf(m, 2, 3).softmax(1),
    "max_pool2d": lambda m: m.nn.functional.max_pool2d(_leaf(m, 1, 1, 4, 4), 2),
    "embedding": lambda m: _module(m, lambda m: m.nn.Embedding(5, 3))(m.tensor([1, 2])),
    "clone": lambda m: _leaf(m, 3).clone(),
    "to_dtype": lambda m: _leaf(m, 3).float(),
    "silu_softplus_leaky": lambda m: m.nn.functional.leaky_relu(
        m.nn.functional.softplus(m.nn.functional.silu(_leaf(m, 3)))),
    # composites shown as torch's nodes (relabel, with the nodes torch has between)
    "linear_1d": lambda m: _module(m, lambda m: m.nn.Linear(2, 3))(_leaf(m, 2)),
    "linear_1d_no_bias": lambda m: _module(m, lambda m: m.nn.Linear(2, 3, bias=False))(
        _leaf(m, 2)),
    "conv1d": lambda m: _module(m, lambda m: m.nn.Conv1d(1, 2, 3))(_leaf(m, 1, 1, 6)),
    "conv1d_unbatched": lambda m: _module(m, lambda m: m.nn.Conv1d(1, 2, 3, bias=False))(
        _leaf(m, 1, 6)),
    "conv3d": lambda m: _module(m, lambda m: m.nn.Conv3d(1, 2, 2))(_leaf(m, 1, 1, 3, 3, 3)),
    "conv_transpose1d": lambda m: _module(m, lambda m: m.nn.ConvTranspose1d(1, 2, 2))(
        _leaf(m, 1, 1, 4)),
    "select_select": lambda m: _leaf(m, 3, 4)[1, 2],
    "select_slice": lambda m: _leaf(m, 3, 4)[1, 1:3],
    "select_full_select": lambda m: _leaf(m, 3, 4, 5)[1, :, 2],
    "unsqueeze_select": lambda m: _leaf(m, 3, 4)[None, 1],
    "split": lambda m: _leaf(m, 4, 2).split(2)[1],
    "split_sizes": lambda m: _leaf(m, 4, 2).split([1, 3])[1],
    "chunk": lambda m: _leaf(m, 4, 2).chunk(2, 1)[0],
    "unbind": lambda m: _leaf(m, 4, 2).unbind(1)[1],
    "max_dim": lambda m: _leaf(m, 4, 2).max(1)[0],
    "min_dim_keepdim": lambda m: _leaf(m, 4, 3, 2).min(1, keepdim=True)[0],
    "avg_pool2d": lambda m: m.nn.functional.avg_pool2d(_leaf(m, 1, 1, 4, 4), 2),
    "avg_pool1d": lambda m: m.nn.functional.avg_pool1d(_leaf(m, 1, 1, 4), 2),
    "avg_pool3d": lambda m: m.nn.functional.avg_pool3d(_leaf(m, 1, 1, 2, 2, 2), 2),
    "adaptive_avg_pool2d": lambda m: m.nn.functional.adaptive_avg_pool2d(
        _leaf(m, 1, 1, 4, 4), 2),
    "adaptive_avg_pool2d_1": lambda m: m.nn.functional.adaptive_avg_pool2d(
        _leaf(m, 1, 1, 4, 4), 1),
    "norm": lambda m: _leaf(m, 4, 2).norm(),
    "norm_dim_p1": lambda m: _leaf(m, 4, 2).norm(p=1, dim=1),
    "vector_norm_inf": lambda m: m.linalg.vector_norm(_leaf(m, 4, 2), float("inf")),
    "matrix_norm_fro": lambda m: m.linalg.matrix_norm(_leaf(m, 4, 2)),
    "sdpa": lambda m: m.nn.functional.scaled_dot_product_attention(
        _leaf(m, 1, 2, 3, 4), _leaf(m, 1, 2, 3, 4), _leaf(m, 1, 2, 3, 4), is_causal=True),
    "sdpa_mask": lambda m: m.nn.functional.scaled_dot_product_attention(
        _leaf(m, 1, 2, 3, 4), _leaf(m, 1, 2, 3, 4) * 2, _leaf(m, 1, 2, 3, 4, rg=False),
        attn_mask=m.zeros(3, 3, dtype=m.float64)),
}


def _names(node, depth=3):
    """The node's class name with those of its next_functions, ``depth`` levels deep."""
    if node is None:
        return None
    nxt = [_names(n, depth - 1) for n, _ in node.next_functions] if depth else []
    return (type(node).__name__, nxt)


DEPTH: dict = {}


@pytest.mark.parametrize("case", list(CASES))
def test_node_names_match_torch(case):
    f = CASES[case]
    got, want = f(C), f(T)
    depth = DEPTH.get(case, 3)
    assert _names(got.grad_fn, depth) == _names(want.grad_fn, depth)
    assert got.grad_fn.name() == type(got.grad_fn).__name__ == want.grad_fn.name()


def test_repr_and_accumulate_grad():
    x = C.randn(3, requires_grad=True)
    y = x * 2
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert re.fullmatch(r"<MeanBackward0 object at 0x[0-9a-f]+>", repr(y.mean().grad_fn))
    (acc, i), (none, j) = y.grad_fn.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x and i == j == 0
    assert none is None
    assert "grad_fn=<MulBackward0>" in repr(y)
    # one class per name, shared by nodes: isinstance and the class name agree
    assert type(y.grad_fn) is type((x * 3).grad_fn)
    assert isinstance(y.grad_fn, C.autograd.graph.Node)


def test_relabelled_node_keeps_hooks_metadata_and_math():
    # mean is sum / n in Cadenza: its output node shows as torch's one node, and still runs
    x = C.tensor([1.0, 2.0, 3.0, 6.0], requires_grad=True)
    m = x.mean()
    node = m.grad_fn
    assert node.name() == "MeanBackward0"
    assert [type(n).__name__ for n, _ in node.next_functions] == ["AccumulateGrad"]
    node.metadata["k"] = 1
    seen = []
    node.register_prehook(lambda go: seen.append("pre"))
    node.register_hook(lambda gi, go: seen.append("post"))
    m.backward()
    assert node.metadata == {"k": 1} and seen == ["pre", "post"]
    assert x.grad.tolist() == [0.25] * 4


def test_custom_function_node_name():
    class Twice(C.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Twice.apply(C.ones(2, requires_grad=True))
    assert type(y.grad_fn).__name__ == "TwiceBackward" == y.grad_fn.name()
