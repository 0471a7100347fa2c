"""Scheduling and the one retry policy."""
