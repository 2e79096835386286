"""Tensor's shape, indexing and linear-algebra methods (``x.view(2, 3)``, ``x.gather(1, i)``,
``x.mm(y)``): each is the op-layer function itself."""
from __future__ import annotations

from .. import ops as O
from .._tensor_base import _norm_dim


class ShapeMethods:
    __slots__ = ()

    # shape
    reshape = O.reshape
    view = O.view
    view_as = O.view_as
    reshape_as = O.reshape_as
    flatten = O.flatten
    unflatten = O.unflatten
    squeeze = O.squeeze
    unsqueeze = O.unsqueeze
    permute = O.permute
    transpose = swapaxes = swapdims = O.transpose
    t = O.t
    movedim = moveaxis = O.movedim
    expand = O.expand
    expand_as = O.expand_as
    broadcast_to = O.broadcast_to
    contiguous = O.contiguous
    clone = O.clone
    narrow = O.narrow
    split = O.split
    tensor_split = O.tensor_split
    chunk = O.chunk
    unbind = O.unbind
    select = O.select
    flip = O.flip
    fliplr = O.fliplr
    flipud = O.flipud
    roll = O.roll
    repeat = O.repeat
    tile = O.tile
    repeat_interleave = O.repeat_interleave
    tril = O.tril
    triu = O.triu
    diagonal = O.diagonal
    diag = O.diag
    trace = O.trace

    @property
    def T(self):
        return O.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    H = T

    @property
    def mT(self):
        return O.transpose(self, -2, -1)

    mH = mT

    def dim_order(self):
        return tuple(range(self.ndim))

    def unfold(self, dimension, size, step):
        """All slices of ``size`` along ``dimension``, stepping by ``step``, as a new last dim."""
        d = _norm_dim(dimension, self.ndim, "unfold")
        n = self.shape[d]
        parts = [O.narrow(self, d, s, size).unsqueeze(d) for s in range(0, n - size + 1, step)]
        return O.movedim(O.cat(parts, d), d + 1, -1)

    # indexing
    __getitem__ = O.getitem
    __setitem__ = O.setitem
    gather = O.gather
    scatter = O.scatter
    scatter_add = O.scatter_add
    index_select = O.index_select
    index_add = O.index_add
    index_copy = O.index_copy
    index_fill = O.index_fill
    index_put = O.index_put
    masked_fill = O.masked_fill
    masked_select = O.masked_select
    masked_scatter = O.masked_scatter
    nonzero = O.nonzero
    argwhere = O.argwhere
    take = O.take
    take_along_dim = O.take_along_dim
    bincount = O.bincount
    unique = O.unique

    # linear algebra
    matmul = O.matmul
    mm = O.mm
    bmm = O.bmm
    mv = O.mv
    dot = inner = O.dot
    outer = ger = O.outer
    addmm = O.addmm
    baddbmm = O.baddbmm
