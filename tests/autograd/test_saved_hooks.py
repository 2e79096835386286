"""torch.autograd.graph against torch: saved_tensors_hooks (what is packed and unpacked, when,
with which values; nesting, disabling, errors), save_on_cpu, the Node surface (name,
next_functions, metadata, pre- and post-hooks and their order), increment_version,
GradientEdge and register_multi_grad_hook. Each program runs once with torch and once with
cadenza and the logs and gradients are compared."""
import numpy as np
import pytest
import torch as T

import cadenza as C
from cadenza.utils.checkpoint import checkpoint


def _both(program):
    return program(T), program(C)


def _np(t):
    return t.detach().numpy()


def _logging_hooks(log):
    def pack(x):
        log.append(("pack", tuple(x.shape), x.requires_grad, x.grad_fn is not None))
        return x

    def unpack(x):
        log.append(("unpack", tuple(x.shape)))
        return x
    return pack, unpack


def test_pack_and_unpack_calls_match_torch():
    def program(lib):
        log = []
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(*_logging_hooks(log)):
            y = a * b          # saves both inputs (both require grad)
            z = y.exp()        # saves its output
            w = z + 1          # saves nothing
            s = w.sum()
            log.append("forward done")
        s.backward(retain_graph=True)
        log.append("second")
        s.backward()
        return log, _np(a.grad), _np(b.grad)
    (lt, gat, gbt), (lc, gac, gbc) = _both(program)
    assert lc == lt
    np.testing.assert_allclose(gac, gat, rtol=1e-6)
    np.testing.assert_allclose(gbc, gbt, rtol=1e-6)


def test_only_inputs_backward_reads_are_packed():
    def program(lib):
        log = []
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        with lib.autograd.graph.saved_tensors_hooks(*_logging_hooks(log)):
            y = (a * c).sum()   # only c is needed (the gradient of a)
            with lib.no_grad():
                a.sin()         # nothing recorded, nothing packed
        y.backward()
        return log
    lt, lc = _both(program)
    assert lc == lt


def test_compressing_hooks_give_torchs_gradients():
    """Pack to float16 and back: the gradients see the rounded activations, as torch's."""
    def program(lib):
        lib.manual_seed(0)
        rng = np.random.default_rng(1)
        w1 = lib.tensor(rng.standard_normal((6, 5)).astype(np.float32), requires_grad=True)
        w2 = lib.tensor(rng.standard_normal((3, 6)).astype(np.float32), requires_grad=True)
        x = lib.tensor(rng.standard_normal((4, 5)).astype(np.float32))
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach().half(),
                                                    lambda t: t.float()):
            h = lib.tanh(x @ w1.T)
            loss = ((h @ w2.T) ** 2).mean()
        loss.backward()
        return _np(w1.grad), _np(w2.grad)
    (t1, t2), (c1, c2) = _both(program)
    np.testing.assert_allclose(c1, t1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c2, t2, rtol=1e-5, atol=1e-6)


def test_save_on_cpu_same_gradients_as_without():
    T.manual_seed(0)
    ref = T.nn.Sequential(T.nn.Conv2d(2, 3, 3), T.nn.ReLU(), T.nn.Flatten(), T.nn.Linear(12, 2))
    weights = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    xn = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)

    def program(lib, hooks):
        net = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3), lib.nn.ReLU(), lib.nn.Flatten(),
                                lib.nn.Linear(12, 2))
        net.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
        x = lib.tensor(xn)
        if hooks:
            with lib.autograd.graph.save_on_cpu(pin_memory=True):
                loss = net(x).pow(2).sum()
        else:
            loss = net(x).pow(2).sum()
        loss.backward()
        return [_np(p.grad) for p in net.parameters()]
    for g, h in zip(program(C, False), program(C, True)):
        np.testing.assert_array_equal(g, h)
    for g, h in zip(program(T, True), program(C, True)):
        np.testing.assert_allclose(h, g, rtol=1e-4, atol=1e-5)


def test_innermost_hooks_win_and_nesting_restores():
    def program(lib):
        log = []
        a = lib.tensor([0.3, 0.7], requires_grad=True)
        G = lib.autograd.graph
        with G.saved_tensors_hooks(lambda x: ("outer", x), lambda p: (log.append(p[0]), p[1])[1]):
            with G.saved_tensors_hooks(lambda x: ("inner", x),
                                       lambda p: (log.append(p[0]), p[1])[1]):
                y = a.sin()
            z = a.cos()
        (y + z).sum().backward()
        return sorted(log), _np(a.grad)
    (lt, gt), (lc, gc) = _both(program)
    assert lc == lt == ["inner", "outer"]
    np.testing.assert_allclose(gc, gt, rtol=1e-6)


def test_disable_saved_tensors_hooks():
    for lib in (T, C):
        G = lib.autograd.graph
        with G.disable_saved_tensors_hooks("no hooks here"):
            with pytest.raises(RuntimeError, match="no hooks here"):
                with G.saved_tensors_hooks(lambda x: x, lambda x: x):
                    pass
        with G.saved_tensors_hooks(lambda x: x, lambda x: x):
            with pytest.raises(RuntimeError, match="nor here"):
                with G.disable_saved_tensors_hooks("nor here"):
                    pass
        with G.saved_tensors_hooks(lambda x: x, lambda x: x):   # usable again afterwards
            a = lib.ones(2, requires_grad=True)
            (a * a).sum().backward()


def test_hook_errors_and_grad_mode():
    for lib in (T, C):
        G = lib.autograd.graph
        a = lib.ones(3, requires_grad=True)

        def bad_pack(x):
            x.add_(1)
            return x
        b = a * 1
        with G.saved_tensors_hooks(bad_pack, lambda x: x):
            with pytest.raises(RuntimeError, match="pack hook is modifying its input in place"):
                b.sin()
        with G.saved_tensors_hooks(lambda x: x, lambda x: 5):
            y = a.sin()
        with pytest.raises(TypeError, match="unpack_hook expected to be a Tensor"):
            y.sum().backward()
        modes = []
        with G.saved_tensors_hooks(lambda x: (modes.append(lib.is_grad_enabled()), x)[1],
                                   lambda x: (modes.append(lib.is_grad_enabled()), x)[1]):
            y = a.sin()
        y.sum().backward()
        assert modes == [False, False]


def test_custom_function_save_for_backward_is_packed():
    def program(lib):
        log = []

        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                log.append("forward")
                return x * x

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                x, = ctx.saved_tensors   # each read unpacks again
                return 2 * g * x
        a = lib.tensor([1.0, -2.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(*_logging_hooks(log)):
            y = Square.apply(a)
        y.sum().backward()
        return log, _np(a.grad)
    (lt, gt), (lc, gc) = _both(program)
    assert lc == lt
    np.testing.assert_allclose(gc, gt)


@pytest.mark.parametrize("copy", [False, True])
def test_in_place_after_packing_no_version_check(copy):
    """With hooks torch skips the saved-version check: an identity hook sees the new value,
    a copying one the old; both as torch."""
    def program(lib):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        pack = (lambda x: x.detach().clone()) if copy else (lambda x: x)
        with lib.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            y = a * 2
            z = y * y
        with lib.no_grad():
            y.add_(1)
        z.sum().backward()
        return _np(a.grad)
    gt, gc = _both(program)
    np.testing.assert_allclose(gc, gt)


def test_in_place_op_on_packed_input():
    def program(lib):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = lib.tensor([0.5, 1.5, -1.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda x: x.detach().clone(), lambda x: x):
            y = a * 1
            y.mul_(b)
            y.relu_()
            y.sin().sum().backward()
        return _np(a.grad), _np(b.grad)
    (at, bt), (ac, bc) = _both(program)
    np.testing.assert_allclose(ac, at, rtol=1e-6)
    np.testing.assert_allclose(bc, bt, rtol=1e-6)


def test_double_backward_through_identity_hooks():
    def program(lib):
        a = lib.tensor([0.2, 0.9, -0.4], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda x: x, lambda x: x):
            y = (a.sin() * a).sum()
        g, = lib.autograd.grad(y, a, create_graph=True)
        g.sum().backward()
        return _np(g), _np(a.grad)
    (gt, at), (gc, ac) = _both(program)
    np.testing.assert_allclose(gc, gt, rtol=1e-6)
    np.testing.assert_allclose(ac, at, rtol=1e-6)


def test_checkpoint_inside_hooks():
    """Non-reentrant checkpointing keeps its region's tensors itself; the result and the
    gradients stay torch's, and the user's hooks still see the ops outside the region."""
    T.manual_seed(0)
    weights = {k: v.detach().numpy() for k, v in T.nn.Linear(3, 3).state_dict().items()}

    def program(lib, ckpt):
        lin = lib.nn.Linear(3, 3)
        lin.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
        x = lib.tensor(np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32),
                       requires_grad=True)
        log = []
        with lib.autograd.graph.saved_tensors_hooks(*_logging_hooks(log)):
            y = ckpt(lambda v: lin(v).tanh(), x, use_reentrant=False)
            z = (y * y).sum()
        z.backward()
        return log, _np(x.grad), [_np(p.grad) for p in lin.parameters()]
    lt, xt, pt = program(T, T.utils.checkpoint.checkpoint)
    lc, xc, pc = program(C, checkpoint)
    np.testing.assert_allclose(xc, xt, rtol=1e-5, atol=1e-6)
    for g, h in zip(pt, pc):
        np.testing.assert_allclose(h, g, rtol=1e-5, atol=1e-6)
    assert lc[:2] == [("pack", (2, 3), True, True)] * 2    # y * y saves y twice
    assert lc.count(("unpack", (2, 3))) == lc.count(("pack", (2, 3), True, True))


def test_node_surface():
    def program(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = a * 2
        y = b.sin()
        n = y.grad_fn
        n.metadata["k"] = 1
        (mul, _), = n.next_functions
        acc = mul.next_functions[0][0]
        return (n.name(), n.metadata, mul.name(), mul.next_functions[1], acc.variable is a,
                isinstance(n, lib.autograd.graph.Node), isinstance(acc, lib.autograd.graph.Node))
    t, c = _both(program)
    assert c[1:] == t[1:]
    assert c[0] == t[0] == "SinBackward0"


def test_node_hooks_semantics_and_order():
    def program(lib):
        order = []
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = a * 2
        b.grad_fn.register_prehook(lambda go: order.append(("node_pre1", len(go))))
        b.register_hook(lambda g: order.append("tensor1"))
        b.retain_grad()
        b.register_hook(lambda g: (order.append("tensor2"), g * 3)[1])
        b.grad_fn.register_prehook(lambda go: (order.append("node_pre2"), (go[0] * 10,))[1])
        b.grad_fn.register_hook(lambda gi, go: (order.append(("post", len(gi), len(go))),
                                                (gi[0] + 1, gi[1]))[1])
        b.sum().backward()
        return order, _np(a.grad), _np(b.grad)
    (ot, at, bt), (oc, ac, bc) = _both(program)
    assert oc == ot
    np.testing.assert_allclose(ac, at)
    np.testing.assert_allclose(bc, bt)


def test_handles_remove_node_hooks():
    for lib in (T, C):
        a = lib.ones(2, requires_grad=True)
        b = a * 2
        h = b.grad_fn.register_prehook(lambda go: (go[0] * 0,))
        h.remove()
        h2 = b.grad_fn.register_hook(lambda gi, go: (gi[0] * 0,))
        h2.remove()
        b.sum().backward()
        assert a.grad.tolist() == [2.0, 2.0]


def test_increment_version_fails_backward():
    for lib in (T, C):
        a = lib.ones(2, requires_grad=True)
        b = a * 1
        y = b.sin()
        v = b._version
        lib.autograd.graph.increment_version(b)
        lib.autograd.graph.increment_version([b, b])
        assert b._version == v + 3
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_gradient_edge_and_multi_grad_hook():
    def program(lib):
        G = lib.autograd.graph
        a = lib.tensor([0.1, 0.2, 0.3], requires_grad=True)
        b = a * 2
        c = b.sin()
        e = G.get_gradient_edge(b)
        g, = lib.autograd.grad(c.sum(), e)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.tensor([3.0, 4.0], requires_grad=True)
        out = []
        h = G.register_multi_grad_hook(
            (x, y), lambda gs: out.append([None if v is None else v.tolist() for v in gs]))
        (x * 3).sum().backward()
        (x * 3 + y * 2).sum().backward()
        h.remove()
        (x * 3).sum().backward()
        h = G.register_multi_grad_hook((x, y), lambda v: out.append(("any", v.tolist())),
                                       mode="any")
        (x * 3 + y * 2).sum().backward()
        h.remove()
        return e.output_nr, e.node.name(), _np(g), out
    t, c = _both(program)
    assert c[:2] == t[:2]
    np.testing.assert_allclose(c[2], t[2], rtol=1e-6)
    assert c[3][:2] == t[3][:2]
    assert c[3][2][0] == "any"
