"""cadenza serve: an OpenAI-compatible inference server over a continuous-batching engine
(``engine``)."""
