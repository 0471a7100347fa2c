"""Persistence of jobs: the Journal interface and its backends."""
