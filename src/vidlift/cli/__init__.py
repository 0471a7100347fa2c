"""Command line: the only reader of flags, environment variables and config files.

Layer: cli; may import: jobs, testing, journal, manifest, platforms, sources, client,
protocol, config, errors.
"""
