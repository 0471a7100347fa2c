"""Video platforms behind the ``Platform`` seam: JW Platform's v2 API in :mod:`.v2`
(platforms layer; never imports jobs, sources, journal or manifest).

Layer: platforms; may import: client, protocol, config, errors.
"""
