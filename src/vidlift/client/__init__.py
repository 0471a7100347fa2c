"""Network and file I/O: the transport seam, the API client and the upload client.

Layer: client; may import: protocol, config, errors.
"""
