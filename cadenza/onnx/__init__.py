"""cadenza.onnx: export of captured graphs to ONNX arrives with compiled mode. Importable now;
``export`` raises a clear "not available yet" error."""
from __future__ import annotations


def export(model, args=None, f=None, *a, **kw):
    raise RuntimeError("cadenza.onnx.export: ONNX export is not available yet in this version of "
                       "Cadenza (it arrives with compiled mode, cadenza.compile)")


def is_in_onnx_export() -> bool:
    return False
