from sentinel.search_query import parse_search
from sentinel.store.base import FieldFilter


def test_fields_words_prefix_negation_exists() -> None:
    q = parse_search(
        'source.ip:10.0.0.1 "invalid user" -user.name:root url.path:/admin* host.hostname:* event.dataset:system.auth x:404'
    )
    assert q.text == "invalid user"
    assert q.datasets == ("system.auth",)
    assert FieldFilter("source.ip", "eq", "10.0.0.1") in q.filters
    assert FieldFilter("user.name", "neq", "root") in q.filters
    assert FieldFilter("url.path", "prefix", "/admin") in q.filters
    assert FieldFilter("host.hostname", "exists") in q.filters
    assert FieldFilter("x", "eq", 404) in q.filters


def test_empty_query_and_unbalanced_quote() -> None:
    assert parse_search("").text is None
    try:
        parse_search('"open')
    except ValueError as exc:
        assert "cannot read" in str(exc)
    else:
        raise AssertionError("an unbalanced quote must be refused")
