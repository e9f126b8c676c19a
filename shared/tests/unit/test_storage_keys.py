"""Object-key validation, shared by every object-store adapter."""

import pytest

from labelmesh.core.storage import MAX_KEY_BYTES, validate_key

VALID_SHA = "a" * 64


@pytest.mark.parametrize(
    "key",
    [
        f"projects/p1/items/i1/{VALID_SHA}",
        "x",
        "a/b-c_d.e/f",
        "projects/ünïcode/items/1/" + VALID_SHA,
        "k" * MAX_KEY_BYTES,
    ],
)
def test_valid_keys_are_returned_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("/projects/p1", "start with '/'"),
        ("projects/../secrets", "'..' segment"),
        ("..", "'..' segment"),
        ("projects/p1/..", "'..' segment"),
        ("projects\\p1", "backslash"),
        ("k" * (MAX_KEY_BYTES + 1), "longer than 1024 bytes"),
        ("é" * (MAX_KEY_BYTES // 2 + 1), "longer than 1024 bytes"),
        ("projects//p1", "empty segment"),
        ("projects/p1/", "empty segment"),
        ("projects/./p1", "'.' segment"),
        ("projects/p1\x00", "control characters"),
        ("projects/p1\n", "control characters"),
    ],
)
def test_invalid_keys_raise_naming_key_and_reason(key: str, reason: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_key(key)
    message = str(excinfo.value)
    assert repr(key) in message
    assert reason in message


def test_dots_inside_a_segment_are_allowed() -> None:
    assert validate_key("projects/p..1/a.b..c") == "projects/p..1/a.b..c"
