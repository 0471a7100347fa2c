"""Command line: the only reader of flags, environment variables and config files."""
