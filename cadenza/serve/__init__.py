"""``cadenza serve``: an OpenAI-compatible HTTP server (:mod:`.server`) over a continuously
batching inference engine (:mod:`.engine`). ``pip install 'cadenza[serve]'`` for the server."""
from .engine import Engine, SamplingParams
from .server import serve

__all__ = ["Engine", "SamplingParams", "serve"]
