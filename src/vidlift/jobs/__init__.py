"""Scheduling and the one retry policy.

Layer: jobs; may import: journal, manifest, platforms, sources, client, protocol, config,
errors.
"""
