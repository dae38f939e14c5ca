"""Metrics: the model, the registry and hot-path recorder, sinks (with k6's percentile maths
in percentiles.py), ingest and time series."""
