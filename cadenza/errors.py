"""Cadenza's exceptions. Each also subclasses the built-in exception PyTorch raises for the same
mistake, so ``except RuntimeError`` / ``except ValueError`` clauses in ported code still work.

Message format: ``<op or layer>: expected <condition>, got <actual>``.
"""


class ShapeError(RuntimeError, ValueError):
    """Shapes that do not fit the op (broadcasting, matmul, reshape, layer inputs)."""


class DTypeError(RuntimeError, TypeError):
    """A dtype the op does not accept, or operands whose dtypes must match and do not."""


class DeviceError(RuntimeError):
    """Operands on different devices, or a device that is not available."""


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input: a singular matrix (inv, solve), one that
    is not positive-definite (cholesky), no convergence (svd, eigh). PyTorch's
    ``torch.linalg.LinAlgError``."""


class TraceError(RuntimeError):
    """Python that cannot be captured into a static graph by cadenza.compile."""


def fmt_shape(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def read_only_write_error(arr) -> RuntimeError:
    """The error for writing into a tensor whose buffer NumPy marks read-only: an expanded
    (broadcast) view, as PyTorch words it, or memory shared with a read-only array."""
    if 0 in getattr(arr, "strides", ()):
        return RuntimeError("unsupported operation: more than one element of the written-to "
                            "tensor refers to a single memory location. Please clone() the "
                            "tensor before performing the operation.")
    return RuntimeError("unsupported operation: the written-to tensor's memory is read-only (it "
                        "shares a read-only NumPy array, such as an np.memmap opened with "
                        "mode='r', given to from_numpy/as_tensor). Please clone() the tensor "
                        "before performing the operation.")
