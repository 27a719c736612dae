"""Historical counts for a date range, written as OpenMetrics for promtool."""
