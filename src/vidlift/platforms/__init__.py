"""Video platforms behind one seam, :class:`~vidlift.platforms.base.Platform` (platforms layer).

Layer: beside ``sources``, ``journal`` and ``manifest``; imports only ``client``,
``protocol``, ``config`` and ``errors`` (the reader role is ``client.reading``).
``v1`` is JW Platform's v1 API with the seed's resumable upload protocol.
"""
