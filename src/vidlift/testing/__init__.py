"""Public test kit: the platform emulator and fakes."""
