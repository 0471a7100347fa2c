"""Pure protocol core (no I/O): ranges, headers, signing, URLs, answers, session state."""
