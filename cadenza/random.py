"""Random number generators: ``cadenza.Generator`` (PCG64 under the hood) and the default
generator behind ``manual_seed``. States are plain uint8 tensors (JSON of the bit generator's
state), so they go into safetensors checkpoints without pickle."""
from __future__ import annotations

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
