"""Pure protocol core (no I/O): ranges, headers, signing, URLs, answers, session state.

Layer: protocol; may import: config, errors.
"""
