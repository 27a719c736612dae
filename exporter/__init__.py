"""Prometheus exporter for Soda Cloud incidents."""

__version__ = "0.1.0"
