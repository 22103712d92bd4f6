"""Sentinel: security monitoring and incident response for e-Government institutions."""

__version__ = "0.1.0"
