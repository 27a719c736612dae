"""Soda Cloud API clients and models; nothing here knows about Prometheus."""
