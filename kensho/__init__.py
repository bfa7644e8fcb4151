"""Kenshō: an actor-model backend for an anime streaming front end."""

__version__ = "0.1.0"
__all__ = ["__version__"]
