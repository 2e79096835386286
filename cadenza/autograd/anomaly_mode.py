"""``torch.autograd.anomaly_mode``'s names (implemented in ``cadenza.autograd.anomaly``)."""
from .anomaly import detect_anomaly, set_detect_anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly"]
