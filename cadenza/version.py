"""``torch.version``: what this build is (a CPU build; CUDA goes through CuPy, not a linked
toolkit, so ``cuda`` is None as in PyTorch's CPU wheels)."""
from ._version import __version__

__all__ = ["__version__", "cuda", "hip", "debug", "git_version", "TorchVersion"]

cuda = None
hip = None
debug = False
git_version = "unknown"


_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "rc": 2, "c": 2}


def _parts(v):
    """(release numbers, pre-release key, local label) of a version string or tuple, ordered
    as PEP 440 orders them (a pre-release before its release, a local label after it)."""
    if isinstance(v, (tuple, list)):
        return tuple(int(x) for x in v), (1,), ()
    text, _, local = str(v).strip().lower().lstrip("v").partition("+")
    release, rest = [], ""
    for i, part in enumerate(text.split(".")):
        digits = len(part) - len(part.lstrip("0123456789"))
        if digits == 0:
            rest = ".".join(text.split(".")[i:])
            break
        release.append(int(part[:digits]))
        if digits < len(part):
            rest = part[digits:]
            break
    phase = rest.lstrip("._-").rstrip("0123456789")
    num = rest[len(rest.rstrip("0123456789")):]
    pre = (0, _PRE[phase], int(num or 0)) if phase in _PRE else (1,)
    loc = tuple((1, int(x), "") if x.isdigit() else (0, 0, x) for x in local.split(".")) \
        if local else ()
    return tuple(release), pre, loc


def _cmp(a, b):
    (ra, pa, la), (rb, pb, lb) = _parts(a), _parts(b)
    n = max(len(ra), len(rb))
    ka = (ra + (0,) * (n - len(ra)), pa, la)
    kb = (rb + (0,) * (n - len(rb)), pb, lb)
    return (ka > kb) - (ka < kb)


class TorchVersion(str):
    """A version string that compares by its release numbers with strings and tuples
    (``torch.__version__ >= "2.1"``, ``>= (1, 10)``), as torch's ``TorchVersion``."""

    def __lt__(self, other):
        return _cmp(self, other) < 0

    def __le__(self, other):
        return _cmp(self, other) <= 0

    def __gt__(self, other):
        return _cmp(self, other) > 0

    def __ge__(self, other):
        return _cmp(self, other) >= 0

    def __eq__(self, other):
        if isinstance(other, (tuple, list)):
            return _cmp(self, other) == 0
        return str.__eq__(self, other)

    __hash__ = str.__hash__
