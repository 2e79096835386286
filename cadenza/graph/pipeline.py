"""The ordered list of graph passes compiled mode runs; each is ``run(graph) -> Graph`` in its
own file under ``passes/``.

Now:
1. eliminate_dead_code              drop nodes no output needs (random draws are kept), so the
                                    later passes never spend time on dead values
2. eliminate_common_subexpressions  one node per identical (op, inputs, attrs); before folding,
                                    so a repeated constant expression is folded once
3. fold_constants                   evaluate nodes whose inputs are all constants; before
                                    simplification, so ``x * (ones * 2 - 1)`` shows its ``1``
4. simplify_algebra                 x*1, x+0 (where exact), no-op casts, double permutes,
                                    reshape chains; leaves the nodes it bypassed dead
5. combine_padded_sums              pad(a) + pad(b) + pad(c) tiling one dim -> cat + 0 (the
                                    gradient of a split: one write instead of four)
6. gate_before_pool_gradient        relu's gradient mask applied to a max pool's incoming
                                    gradient instead of to its (larger) result
7. fuse_conv_relu                   a conv2d read only by a relu: one node applying the ReLU in
                                    the convolution's per-image output pass
8. fuse_pool_weight_grad            float32: a one-channel conv2d's weight gradient through
                                    2x2 max pooling as one node (the full-size gradient never
                                    written); its bias gradient summed over the pooled one
9. eliminate_dead_code              again: removes the constants whose last use was folded and
                                    the producers simplification bypassed (neither pass deletes
                                    what may still have other uses; DCE decides that globally)
10. fuse_elementwise                chains and broadcasts of elementwise ops into one kernel
                                    node (last: the earlier passes see only primitives)
11. fuse_reductions                an elementwise kernel (or node) feeding a sum/amax/amin
                                    is computed inside the reduction's loop
12. fuse_gemm_epilogue             a matmul/linear whose only reader is an elementwise kernel
                                    over its shape runs with it as one node (the activation
                                    or its gradient mask applied while the product is in cache)
13. plan_memory                    liveness: arena slots shared by kernel outputs, each value
                                    released after its last use; ``graph.plan.report()``
                                    compares the planned peak bytes with the unplanned peak
Codegen (C kernels for fused nodes, BLAS calls for matmul/conv) then consumes the result.
The runner (``Interpreter``, and codegen's ``KernelRunner`` built on it) also asks
``passes/write_in_place.py`` which ``index_put`` nodes may write into their destination's buffer
(a KV cache argument written back after the call): an analysis of the final graph, not a pass.

CADENZA_DEBUG=2 prints the graph after each pass.
"""
from __future__ import annotations

from .._config import debug_level
from .ir import Graph
from .passes import (combine_padded_sums, eliminate_common_subexpressions, eliminate_dead_code,
                     fold_constants, fuse_conv_relu, fuse_pool_weight_grad,
                     gate_before_pool_gradient,
                     fuse_elementwise, fuse_gemm_epilogue, fuse_reductions, plan_memory,
                     simplify_algebra)
from .verify import verify

PASSES = [
    ("eliminate_dead_code", eliminate_dead_code.run),
    ("eliminate_common_subexpressions", eliminate_common_subexpressions.run),
    ("fold_constants", fold_constants.run),
    ("simplify_algebra", simplify_algebra.run),
    ("combine_padded_sums", combine_padded_sums.run),
    ("gate_before_pool_gradient", gate_before_pool_gradient.run),
    ("fuse_conv_relu", fuse_conv_relu.run),
    ("fuse_pool_weight_grad", fuse_pool_weight_grad.run),
    ("eliminate_dead_code", eliminate_dead_code.run),
    ("fuse_elementwise", fuse_elementwise.run),
    ("fuse_reductions", fuse_reductions.run),
    ("fuse_gemm_epilogue", fuse_gemm_epilogue.run),
    ("plan_memory", plan_memory.run),
]


def optimize(graph: Graph, check: bool = False) -> Graph:
    """Run every pass in order; ``check`` verifies the graph after each one."""
    debug = debug_level() >= 2
    if debug:
        print(f"[cadenza] traced graph:\n{graph}")
    for name, fn in PASSES:
        graph = fn(graph)
        if check:
            verify(graph)
        if debug:
            print(f"[cadenza] after {name}:\n{graph}")
    if debug and getattr(graph, "plan", None) is not None:
        print(f"[cadenza] {graph.plan.report()}")
    return graph
