"""Incident updates from Alertmanager webhooks."""
