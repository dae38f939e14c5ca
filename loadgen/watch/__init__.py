"""Watchers: background samplers of the generator itself and of the target under load."""
