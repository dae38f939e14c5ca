"""Run history and what reads it: the SQLite store (`--history`), `loadgen compare`, the trend
gate (`loadgen trend`), the webhook and the Markdown job summary. One job per module."""
