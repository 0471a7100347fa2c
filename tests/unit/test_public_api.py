"""The public names of ``vidlift``: sorted, all importable, secrets kept out of reprs."""

from __future__ import annotations

import vidlift
from vidlift.config import Credentials


def test_all_is_sorted_and_complete() -> None:
    assert vidlift.__all__ == sorted(vidlift.__all__)
    missing = [name for name in vidlift.__all__ if not hasattr(vidlift, name)]
    assert missing == []


def test_client_and_credentials_reprs_hide_the_secret() -> None:
    secret = "repr-secret-93ab"
    client = vidlift.Client(endpoint="http://127.0.0.1:1", api_key="k", api_secret=secret)
    assert secret not in repr(client)
    assert secret not in repr(client.api)
    assert secret not in repr(Credentials("k", secret))
