"""Messaging features on top of the transports: delivery tracking of message ids across HTTP
and WebSocket (`vu.track`) and payloads with embedded integrity checks."""
