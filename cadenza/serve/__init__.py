"""cadenza serve: an OpenAI-compatible inference server (``server``; ``pip install
'cadenza[serve]'``) over a continuous-batching engine (``engine``)."""
from .engine import Engine, SamplingParams
from .server import serve

__all__ = ["Engine", "SamplingParams", "serve"]
