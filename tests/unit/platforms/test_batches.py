"""BatchBook: which verification batch each created video belongs to."""

from __future__ import annotations

import pytest

from vidlift.platforms.base import VerifyBatch
from vidlift.platforms.batches import BatchBook


def test_consecutive_creates_share_a_batch_until_it_is_full() -> None:
    book = BatchBook(2, token="t")
    first, second, third = book.next_name(), book.next_name(), book.next_name()
    assert (first, second, third) == ("t.0", "t.0", "t.1")
    book.created("k1", first)
    assert book.batch_of("k1") == VerifyBatch("t.0", 1, True)  # 2 handed out: closed
    book.created("k2", second)
    book.created("k3", third)
    assert book.batch_of("k2") == VerifyBatch("t.0", 2, True)
    assert book.batch_of("k3") == VerifyBatch("t.1", 1, False)
    assert book.batch_of("unknown") is None


def test_two_books_never_share_a_batch_name() -> None:
    assert BatchBook(5).next_name() != BatchBook(5).next_name()


@pytest.mark.parametrize("size", [0, 1001])
def test_a_batch_holds_what_one_listing_call_answers(size: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.1000"):
        BatchBook(size)
