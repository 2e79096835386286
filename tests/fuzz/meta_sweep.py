"""Meta-device sweep over the op table: every entry of tests/ops/opinfo.py (opinfo_nn.py's
too) run on CPU tensors and on the same inputs moved to ``device='meta'``; the meta results
must be meta tensors of the CPU results' shapes and dtypes.

    python tests/fuzz/meta_sweep.py [--samples 4] [--verbose]

Classes: ok; data-dependent (NotImplementedError: the output's shape depends on values, as
torch's meta kernels refuse); bad (anything else), listed with the first reason per op. Exits
1 when an op outside KNOWN is bad. About 8 s of CPU on this machine (too slow for the suite).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "ops"))
sys.path.insert(0, os.path.join(_HERE, "..", ".."))

import cadenza  # noqa: E402
from opinfo import OPS  # noqa: E402
from opinfo_base import DT, Maker  # noqa: E402

# bad on meta for a known reason: reading values as torch does too (allclose, equal, quantile
# read .item()), creation functions without a tensor input (the sweep passes no device), a
# second output made on the host (lu pivots, lstsq's empty residuals)
KNOWN = {"allclose", "equal", "quantile", "nanquantile", "tril_indices", "triu_indices", "lu",
         "linalg.lstsq"}


def _conv(v, meta):
    if isinstance(v, np.ndarray):
        t = cadenza.tensor(np.asarray(v))
        return t.to("meta") if meta else t
    if isinstance(v, DT):
        return getattr(cadenza, v.name) if hasattr(v, "name") else v
    if isinstance(v, (list, tuple)):
        return type(v)(_conv(x, meta) for x in v)
    return v


def _leaves(o):
    if isinstance(o, cadenza.Tensor):
        return [o]
    if isinstance(o, (tuple, list)):
        return [x for e in o for x in _leaves(e)]
    return [o]


def _call(info, s, meta):
    return info.cd(*_conv(s.args, meta), **{k: _conv(v, meta) for k, v in s.kwargs.items()})


def _compare(ref, got):
    lr, lg = _leaves(ref), _leaves(got)
    if len(lr) != len(lg):
        return f"{len(lr)} outputs on cpu, {len(lg)} on meta"
    for a, b in zip(lr, lg):
        if isinstance(a, cadenza.Tensor) and not (
                isinstance(b, cadenza.Tensor) and b.is_meta and
                tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype):
            return (f"cpu {tuple(a.shape)} {a.dtype}, meta gave {getattr(b, 'shape', b)} "
                    f"{getattr(b, 'dtype', '')} on {getattr(b, 'device', '?')}")
    return None


def sweep(samples: int = 4):
    counts = {"ok": 0, "data-dependent": 0}
    bad = {}
    for info in OPS:
        try:
            cases = info.samples(Maker(info.dtypes[0]))[:samples]
        except Exception:
            continue
        for s in cases:
            try:
                ref = _call(info, s, False)
            except Exception:
                continue       # an error sample: nothing to compare
            try:
                got = _call(info, s, True)
            except NotImplementedError:
                counts["data-dependent"] += 1
                continue
            except Exception as e:
                bad.setdefault(info.name, f"raised {type(e).__name__}: {str(e)[:120]}")
                continue
            why = _compare(ref, got)
            if why:
                bad.setdefault(info.name, why)
            else:
                counts["ok"] += 1
    return counts, bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=4, help="samples per op-table entry")
    ap.add_argument("--verbose", action="store_true", help="list the known bad ops too")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    counts, bad = sweep(args.samples)
    print(f"ok {counts['ok']}  data-dependent {counts['data-dependent']}  bad {len(bad)} "
          f"(known {len(set(bad) & KNOWN)})")
    for name, why in sorted(bad.items()):
        if args.verbose or name not in KNOWN:
            print(f"  {name}: {why}")
    return 1 if set(bad) - KNOWN else 0


if __name__ == "__main__":
    sys.exit(main())
