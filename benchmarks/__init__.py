"""Benchmarks of ceiling-grid: speed and scale, quality against references, orchestration overhead (`make bench`)."""
