"""Graph passes, one per file, each ``run(graph) -> Graph``; their order is in pipeline.py."""
