"""Public test kit: the platform emulator and fakes.

Layer: testing; may import: journal, manifest, platforms, sources, client, protocol,
config, errors.
"""
