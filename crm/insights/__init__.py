"""Measuring the experience: metrics, and later the dashboard, journey map and reports."""
