"""The fleet's shared API bucket is named for what the platform counts calls against."""

from __future__ import annotations

from vidlift.cli.fleet import budget_name


def test_v1_budget_is_the_keys_and_v2_the_secrets() -> None:
    assert budget_name("v1", "key-a", "s1") == budget_name("v1", "key-a", "s2")
    assert budget_name("v1", "key-a", "s1") != budget_name("v1", "key-b", "s1")
    # v2 has no key: two secrets (tokens) are two budgets, one secret is one
    assert budget_name("v2", "", "s1") != budget_name("v2", "", "s2")
    assert budget_name("v2", "", "s1") == budget_name("v2", "other", "s1")
    assert budget_name("v2", "", "s1") != budget_name("v1", "", "s1")


def test_the_name_holds_neither_key_nor_secret() -> None:
    name = budget_name("v2", "", "very-secret-token")
    assert "secret" not in name and len(name) == 16
