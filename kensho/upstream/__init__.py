"""Kenshō."""
