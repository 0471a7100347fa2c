"""Outside input (manifest files) to typed rows."""
