"""The poll cycle against the Reporting API."""
