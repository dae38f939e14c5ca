"""Metrics: the model, the registry and hot-path recorder, sinks, ingest and time series."""
