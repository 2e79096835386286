"""cadenza.autograd: reverse-mode automatic differentiation on the dynamic graph."""
from .engine import backward, grad  # noqa: F401
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: F401
                        is_grad_enabled, is_inference_mode_enabled)
from .anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled  # noqa: F401
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck, GradcheckError  # noqa: F401
from . import functional  # noqa: F401


def Variable(data, requires_grad=False, volatile=False):
    """Legacy ``torch.autograd.Variable``: since PyTorch 0.4 it is just the tensor itself."""
    if requires_grad:
        data.requires_grad_(True)
    return data
