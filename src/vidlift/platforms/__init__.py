"""Video platforms behind the ``Platform`` seam (platforms layer: imports client, protocol,
config and errors only; never jobs, sources, journal or manifest)."""
