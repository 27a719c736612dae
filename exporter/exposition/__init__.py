"""Snapshots rendered as metrics, the exporter's own metrics, and what scrapes read."""
