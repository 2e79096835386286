"""Random number generators: ``cadenza.Generator`` (PCG64 under the hood) and the default
generator behind ``manual_seed``. States are plain uint8 tensors (JSON of the bit generator's
state), so they go into safetensors checkpoints without pickle.

Streams: one seed gives one sequence of draws. Float64 tensors draw NumPy's float64 streams
(``Generator.random``/``uniform``/``standard_normal``, bit for bit); float32, float16 and
bfloat16 ones draw float32 directly (``draw_dtype``): ``fill_uniform`` from 24-bit float32
uniforms, ``fill_normal`` by Box-Muller on them (NumPy's float32 ziggurat is ~2.5x slower and
its float64 draws plus a cast ~3.5x). ``torch.rand``/``randn``, ``Tensor.uniform_``/``normal_``
and ``nn.init`` all draw through these, so one seed gives the same numbers through each."""
from __future__ import annotations

import math

import numpy as np
from ._tensor_base import TensorBase as Tensor, _make
from .device import as_device

_DEFAULT_SEED = 67280421310721  # torch's documented default seed


class Generator:
    """A random stream: ``g = cadenza.Generator().manual_seed(0)``; pass ``generator=g``."""

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self._seed = _DEFAULT_SEED
        self._np_rng = None  # made on first draw: numpy.random costs ~15 ms of import time

    @property
    def _rng(self):
        if self._np_rng is None:
            self._np_rng = np.random.Generator(np.random.PCG64(self._seed))
        return self._np_rng

    @_rng.setter
    def _rng(self, value):
        self._np_rng = value

    def manual_seed(self, seed) -> "Generator":
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._np_rng = None
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        import json  # lazily: only saving/restoring RNG state needs it (import time)
        blob = json.dumps({"seed": self._seed, "state": self._rng.bit_generator.state})
        return _make(np.frombuffer(blob.encode(), dtype=np.uint8).copy())

    def set_state(self, new_state) -> "Generator":
        import json  # lazily: only saving/restoring RNG state needs it (import time)
        raw = new_state._data if isinstance(new_state, Tensor) else np.asarray(new_state)
        try:
            obj = json.loads(bytes(np.asarray(raw, dtype=np.uint8)).decode())
            bg = np.random.PCG64()
            bg.state = obj["state"]
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(f"Generator.set_state: not a state from get_state(): {e}") from None
        self._seed = int(obj["seed"])
        self._rng = np.random.Generator(bg)
        return self

    def clone_state(self):
        return self.get_state()

    def __repr__(self) -> str:
        return f"<cadenza.Generator object (seed={self._seed})>"


default_generator = Generator()


def _rng(generator):
    return (generator or default_generator)._rng


def manual_seed(seed) -> Generator:
    """Seed the default generator (and the CUDA generators, when present)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)


class fork_rng:
    """Save the default generator's state on entry and restore it on exit."""

    def __init__(self, devices=None, enabled=True, **_):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            self.state = get_rng_state()

    def __exit__(self, *exc):
        if self.enabled:
            set_rng_state(self.state)
        return False


# ----------------------------------------------------------------------------- samplers
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_BLOCK = 1 << 16   # elements per block of the float32 samplers: a block's passes stay in cache
_TWO_PI = 2 * math.pi
_FINE = 2.0 ** -8   # Box-Muller u below this is redrawn in float64 (see fill_normal)


def draw_dtype(dt):
    """The dtype the samplers draw in for a tensor of NumPy dtype ``dt``: float32 for
    float32/float16/bfloat16 (NumPy's float32 generators: half the random bits and no float64
    temporary), float64 otherwise (float64 tensors keep the exact float64 stream)."""
    dt = np.dtype(dt)
    return _F32 if dt.kind == "f" and dt.itemsize <= 4 or dt.name == "bfloat16" else _F64


def fill_uniform(g, out, a=0.0, b=1.0):
    """``out`` (C-contiguous float32/float64) filled with U(a, b) from the NumPy Generator
    ``g``: float64 exactly as ``Generator.uniform`` (the same stream), float32 from 24-bit
    float32 draws, block by block."""
    flat = out.reshape(-1)
    scale = b - a
    step = _BLOCK if out.dtype == _F32 else flat.size or 1
    for i in range(0, flat.size, step):
        blk = flat[i:i + step]
        g.random(out=blk, dtype=out.dtype)
        if scale != 1:
            blk *= scale
        if a != 0:
            blk += a


def fill_normal(g, out, mean=0.0, std=1.0):
    """``out`` (C-contiguous float32/float64) filled with N(mean, std^2) from ``g``: float64
    as ``Generator.normal`` (its stream and maths); float32 by Box-Muller on float32 uniforms,
    block by block: z = r cos(t), r sin(t) with r = std sqrt(-2 ln u), u in (0, 1],
    t in [0, 2 pi). A u below 2^-8 (it sets |z| > 3.33 std) is redrawn uniformly below 2^-8
    in float64, which keeps the distribution and extends the tail past 9 std (24-bit u alone
    would stop at 5.8)."""
    if out.dtype != _F32:
        g.standard_normal(out=out)
        if std != 1:
            out *= std
        if mean != 0:
            out += mean
        return
    flat = out.reshape(-1)
    n = flat.size
    half = _BLOCK // 2
    u = np.empty(min(half, (n + 1) // 2), _F32)
    t = np.empty_like(u)
    c = np.empty_like(u)
    for i in range(0, n, _BLOCK):
        size = min(_BLOCK, n - i)
        m = (size + 1) // 2
        uu, tt, cc = u[:m], t[:m], c[:m]
        g.random(out=uu, dtype=_F32)
        g.random(out=tt, dtype=_F32)
        np.subtract(1, uu, out=uu)                       # (0, 1]
        tiny = np.flatnonzero(uu < _FINE)
        if tiny.size:
            uu[tiny] = (1.0 - g.random(tiny.size)) * _FINE
        np.log(uu, out=uu)
        uu *= -2.0 * std * std
        np.sqrt(uu, out=uu)
        tt *= _TWO_PI
        np.cos(tt, out=cc)
        np.multiply(uu, cc, out=flat[i:i + m])
        rest = size - m
        np.sin(tt[:rest], out=cc[:rest])
        np.multiply(uu[:rest], cc[:rest], out=flat[i + m:i + size])
        if mean != 0:
            flat[i:i + size] += mean


def sample(fill, g, shape, dt):
    """A new array of ``shape`` in the draw dtype of ``dt`` filled by ``fill(g, out)``
    (``fill_uniform``/``fill_normal``) from the NumPy Generator ``g``."""
    out = np.empty(shape, draw_dtype(dt))
    fill(g, out)
    return out
