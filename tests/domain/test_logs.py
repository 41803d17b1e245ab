"""Log stream names, segment drafts and query windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from loopml.domain.logs import (
    SegmentDraft,
    check_segment_draft,
    check_stream_name,
    check_stream_prefix,
    check_window,
)
from loopml.errors import InvalidInput

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DRAFT = SegmentDraft("predictions:churn-api", "0f" * 32, 10, 400, T0, T0 + timedelta(hours=1))


@pytest.mark.parametrize(
    "stream",
    [
        "predictions:churn-api",
        "labels:churn_api.v2",
        "p:x",
        "metric_stream2:A1",
        "k" * 32 + ":" + "n" * 250,
    ],
    ids=lambda s: s[:24],
)
def test_stream_names_of_kind_and_name_are_accepted(stream: str) -> None:
    assert check_stream_name(stream) == stream


@pytest.mark.parametrize(
    "stream",
    [
        "",
        "predictions",
        ":churn",
        "predictions:",
        "Predictions:churn",
        "2predictions:churn",
        "predictions:-churn",
        "predictions:churn/api",
        "predictions:a..b",
        "predictions:churn api",
        "a:b:c",
        "k" * 33 + ":x",
        "k:" + "n" * 251,
        7,
        None,
    ],
    ids=lambda s: repr(s)[:24],
)
def test_bad_stream_names_are_refused_naming_the_form(stream: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_stream_name(stream)
    assert str(caught.value) == (
        f"Log stream {stream!r} is invalid: use KIND:NAME, a lowercase kind and a name of "
        "letters, digits, '_', '.' or '-' (e.g. 'predictions:churn-api')."
    )


def test_a_draft_that_can_be_stored_is_returned() -> None:
    assert check_segment_draft(DRAFT) is DRAFT
    one_moment = replace(DRAFT, rows=0, size=0, last_time=T0)
    assert check_segment_draft(one_moment) is one_moment
    other_zone = replace(DRAFT, first_time=T0.astimezone(timezone(timedelta(hours=-5))))
    assert check_segment_draft(other_zone) is other_zone


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"stream": "nokind"}, "Log stream 'nokind' is invalid"),
        ({"digest": "0F" * 32}, "Segment digest '0F"),
        ({"digest": "0f" * 31}, "Segment digest"),
        ({"digest": None}, "Segment digest None is invalid: expected the 64 lowercase"),
        ({"rows": -1}, "Segment rows must be a whole number from 0, got -1."),
        ({"rows": False}, "Segment rows must be a whole number from 0, got False."),
        ({"rows": 2**63}, "Segment rows must be a whole number from 0"),
        ({"size": 1.0}, "Segment size must be a whole number from 0, got 1.0."),
        ({"first_time": datetime(2026, 3, 1)}, "first_time must be a datetime with a time zone"),
        ({"last_time": None}, "last_time must be a datetime with a time zone"),
        ({"first_time": 1_772_359_200}, "first_time must be a datetime"),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_a_bad_draft_is_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_segment_draft(replace(DRAFT, **fields))  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_times_that_run_backwards_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_segment_draft(replace(DRAFT, first_time=T0 + timedelta(hours=2)))
    assert str(caught.value) == (
        "Segment first_time 2026-03-01T12:00:00+00:00 is after last_time "
        "2026-03-01T11:00:00+00:00: the times must span the segment's rows."
    )


@pytest.mark.parametrize(
    ("since", "until"),
    [(None, None), (T0, None), (None, T0), (T0, T0), (T0, T0 + timedelta(microseconds=1))],
)
def test_a_window_may_be_open_at_either_end(since: datetime | None, until: datetime | None) -> None:
    check_window(since, until)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (datetime(2026, 3, 1), None, "since must be a datetime with a time zone"),
        (None, datetime(2026, 3, 1), "until must be a datetime with a time zone"),
        ("2026-03-01", None, "since must be a datetime"),
        (
            T0 + timedelta(microseconds=1),
            T0,
            "The time window is empty: since 2026-03-01T10:00:00.000001+00:00 is after "
            "until 2026-03-01T10:00:00+00:00.",
        ),
    ],
    ids=["naive-since", "naive-until", "text", "empty"],
)
def test_a_bad_window_is_refused(since: object, until: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_window(since, until)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_a_stream_prefix_is_any_text() -> None:
    assert check_stream_prefix("") == ""
    assert check_stream_prefix("predictions:ch") == "predictions:ch"
    with pytest.raises(InvalidInput) as caught:
        check_stream_prefix(b"p")
    assert str(caught.value) == "A stream prefix must be text, got b'p'."
