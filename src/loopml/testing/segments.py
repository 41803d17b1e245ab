"""Contract suite of the SegmentStore port, run unchanged against every adapter.

Subclass :class:`SegmentStoreContract` and provide the ``segment_store`` fixture.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from loopml.domain.logs import Segment, SegmentDraft
from loopml.errors import Conflict, InvalidInput
from loopml.store import SegmentStore

__all__ = ["SegmentStoreContract"]

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
_US = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)


def _stream(name: str = "churn-api") -> str:
    """A stream of a kind no other test writes to."""
    return f"t{uuid.uuid4().hex[:8]}:{name}"


def _digest() -> str:
    return uuid.uuid4().hex * 2


def _draft(
    stream: str, first: datetime = T0, last: datetime | None = None, rows: int = 500
) -> SegmentDraft:
    return SegmentDraft(stream, _digest(), rows, rows * 40, first, last or first + _HOUR)


def _ids(segments: list[Segment]) -> list[int]:
    return [s.id for s in segments]


class SegmentStoreContract:
    """What every SegmentStore adapter must do."""

    # -- adding --------------------------------------------------------------------

    def test_a_segment_is_stored_as_drafted(self, segment_store: SegmentStore) -> None:
        stream = _stream()
        draft = _draft(stream, T0 + 123 * _US, T0 + _HOUR + 456 * _US)
        made = segment_store.add_segment(draft)
        assert (made.stream, made.digest, made.rows, made.size) == (
            stream,
            draft.digest,
            500,
            20_000,
        )
        assert (made.first_time, made.last_time) == (draft.first_time, draft.last_time)
        assert made.created_at.utcoffset() == timedelta(0)
        assert segment_store.list_segments(stream) == [made]

    def test_ids_grow(self, segment_store: SegmentStore) -> None:
        stream = _stream()
        ids = [segment_store.add_segment(_draft(stream)).id for _ in range(3)]
        assert ids == sorted(set(ids))

    def test_times_in_other_zones_are_the_same_moments(self, segment_store: SegmentStore) -> None:
        stream = _stream()
        berlin = timezone(timedelta(hours=1))
        made = segment_store.add_segment(_draft(stream, T0.astimezone(berlin)))
        assert made.first_time == T0 and made.first_time.utcoffset() == timedelta(0)
        assert segment_store.list_segments(stream, since=T0, until=T0) == [made]

    def test_a_segment_of_one_moment_and_no_rows_is_valid(
        self, segment_store: SegmentStore
    ) -> None:
        stream = _stream()
        made = segment_store.add_segment(_draft(stream, T0, T0, rows=0))
        assert (made.rows, made.size, made.first_time, made.last_time) == (0, 0, T0, T0)

    def test_the_same_draft_again_returns_the_stored_segment(
        self, segment_store: SegmentStore
    ) -> None:
        stream = _stream()
        draft = _draft(stream)
        made = segment_store.add_segment(draft)
        assert segment_store.add_segment(draft) == made
        assert segment_store.list_segments(stream) == [made]

    @pytest.mark.parametrize("field", ["rows", "size", "last_time"])
    def test_the_same_file_recorded_otherwise_is_a_conflict(
        self, segment_store: SegmentStore, field: str
    ) -> None:
        stream = _stream()
        draft = _draft(stream)
        made = segment_store.add_segment(draft)
        other = {"rows": draft.rows + 1, "size": draft.size + 1, "last_time": T0 + 2 * _HOUR}
        with pytest.raises(Conflict, match=f"Segment {made.id} of stream '{stream}'"):
            segment_store.add_segment(replace(draft, **{field: other[field]}))  # type: ignore[arg-type]
        assert segment_store.list_segments(stream) == [made]

    def test_the_same_blob_in_another_stream_is_another_segment(
        self, segment_store: SegmentStore
    ) -> None:
        draft = _draft(_stream())
        first = segment_store.add_segment(draft)
        second = segment_store.add_segment(replace(draft, stream=_stream()))
        assert first.id != second.id

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"stream": "predictions"}, "Log stream 'predictions' is invalid"),
            ({"stream": "Predictions:api"}, "Log stream"),
            ({"stream": "predictions:a..b"}, "Log stream"),
            ({"stream": 7}, "Log stream 7"),
            ({"digest": "abc"}, "Segment digest 'abc'"),
            ({"digest": "A" * 64}, "Segment digest"),
            ({"rows": -1}, "Segment rows must be a whole number from 0, got -1"),
            ({"rows": True}, "Segment rows"),
            ({"rows": 1.5}, "Segment rows"),
            ({"rows": 2**63}, "Segment rows"),
            ({"size": -5}, "Segment size must be a whole number from 0, got -5"),
            ({"first_time": datetime(2026, 3, 1)}, "first_time must be a datetime with a"),
            ({"last_time": datetime(2026, 3, 2)}, "last_time must be a datetime with a"),
            ({"first_time": "2026-03-01T10:00:00Z"}, "first_time must be a datetime"),
            ({"first_time": T0 + _HOUR + _US}, "first_time .* is after last_time"),
        ],
        ids=lambda value: str(value)[:28],
    )
    def test_a_malformed_draft_is_refused_naming_the_field(
        self, segment_store: SegmentStore, fields: dict[str, object], message: str
    ) -> None:
        stream = _stream()
        draft = replace(_draft(stream), **fields)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match=message):
            segment_store.add_segment(draft)
        assert segment_store.list_segments(stream) == []

    # -- windows -------------------------------------------------------------------

    def test_segments_are_listed_by_first_time_then_id(self, segment_store: SegmentStore) -> None:
        stream = _stream()
        late = segment_store.add_segment(_draft(stream, T0 + 2 * _HOUR))
        early = segment_store.add_segment(_draft(stream, T0))
        tie_one = segment_store.add_segment(_draft(stream, T0 + _HOUR, T0 + 3 * _HOUR))
        tie_two = segment_store.add_segment(_draft(stream, T0 + _HOUR, T0 + _HOUR))
        segment_store.add_segment(_draft(_stream()))  # another stream: not listed
        listed = segment_store.list_segments(stream)
        assert _ids(listed) == [early.id, tie_one.id, tie_two.id, late.id]

    def test_a_window_keeps_segments_that_touch_its_edges(
        self, segment_store: SegmentStore
    ) -> None:
        stream = _stream()
        seg = segment_store.add_segment(_draft(stream, T0, T0 + _HOUR))
        end = T0 + _HOUR
        cases = [
            (end, None, [seg.id]),  # starts where the segment ends
            (end + _US, None, []),  # starts just after
            (None, T0, [seg.id]),  # ends where the segment starts
            (None, T0 - _US, []),  # ends just before
            (T0 - _HOUR, T0, [seg.id]),
            (end, end + _HOUR, [seg.id]),
            (T0 + _US, end - _US, [seg.id]),  # inside the segment
            (T0 - _HOUR, end + _HOUR, [seg.id]),  # around it
            (T0 - _HOUR, T0 - _US, []),
            (end + _US, end + _HOUR, []),
            (end, end, [seg.id]),  # one moment, at the edge
            (None, None, [seg.id]),
        ]
        for since, until, expected in cases:
            found = segment_store.list_segments(stream, since=since, until=until)
            assert _ids(found) == expected, (since, until)

    def test_a_window_selects_the_overlapping_segments(self, segment_store: SegmentStore) -> None:
        stream = _stream()
        hours = [segment_store.add_segment(_draft(stream, T0 + n * _HOUR)) for n in range(4)]
        # Segment n covers [n h, n+1 h]: neighbours share their edges.
        found = segment_store.list_segments(stream, since=T0 + timedelta(minutes=90))
        assert _ids(found) == [s.id for s in hours[1:]]
        found = segment_store.list_segments(stream, since=T0 + _HOUR, until=T0 + 2 * _HOUR)
        assert _ids(found) == [s.id for s in hours[:3]]
        found = segment_store.list_segments(
            stream, since=T0 + _HOUR + _US, until=T0 + 2 * _HOUR - _US
        )
        assert _ids(found) == [hours[1].id]

    def test_an_unknown_stream_has_no_segments(self, segment_store: SegmentStore) -> None:
        assert segment_store.list_segments(_stream()) == []

    @pytest.mark.parametrize(
        ("window", "message"),
        [
            ({"since": datetime(2026, 3, 1)}, "since must be a datetime with a time zone"),
            ({"until": datetime(2026, 3, 1)}, "until must be a datetime with a time zone"),
            ({"since": "2026-03-01"}, "since must be a datetime"),
            ({"since": T0 + _US, "until": T0}, "time window is empty"),
        ],
        ids=["naive-since", "naive-until", "text", "empty"],
    )
    def test_a_malformed_window_is_refused(
        self, segment_store: SegmentStore, window: dict[str, object], message: str
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            segment_store.list_segments(_stream(), **window)  # type: ignore[arg-type]

    @pytest.mark.parametrize("stream", ["", "nokind", "a:b/c", "Kind:x"], ids=repr)
    def test_a_malformed_stream_is_refused_when_listing(
        self, segment_store: SegmentStore, stream: str
    ) -> None:
        with pytest.raises(InvalidInput, match="Log stream"):
            segment_store.list_segments(stream)

    # -- streams -------------------------------------------------------------------

    def test_streams_are_listed_once_sorted_by_prefix(self, segment_store: SegmentStore) -> None:
        kind = f"t{uuid.uuid4().hex[:8]}"
        names = [f"{kind}:b-api", f"{kind}:a-api", f"{kind}:a.v2"]
        for name in names:
            segment_store.add_segment(_draft(name))
        segment_store.add_segment(_draft(names[0], T0 + _HOUR))
        assert segment_store.list_streams(f"{kind}:") == sorted(names)
        assert segment_store.list_streams(f"{kind}:a") == [f"{kind}:a-api", f"{kind}:a.v2"]
        assert segment_store.list_streams(f"{kind}:c") == []
        everything = segment_store.list_streams()
        assert everything == sorted(set(everything)) and set(names) <= set(everything)

    def test_a_prefix_is_matched_literally(self, segment_store: SegmentStore) -> None:
        kind = f"t{uuid.uuid4().hex[:8]}"
        segment_store.add_segment(_draft(f"{kind}:ab"))
        segment_store.add_segment(_draft(f"{kind}:a_b"))
        assert segment_store.list_streams(f"{kind}:a_") == [f"{kind}:a_b"]
        assert segment_store.list_streams(f"{kind}:%") == []
        assert segment_store.list_streams(kind[:-1] + "_") == []
        assert segment_store.list_streams(f"{kind}:" + "x" * 400) == []

    @pytest.mark.parametrize("prefix", [None, 7, b"t"], ids=repr)
    def test_a_prefix_that_is_not_text_is_refused(
        self, segment_store: SegmentStore, prefix: object
    ) -> None:
        with pytest.raises(InvalidInput, match="A stream prefix must be text"):
            segment_store.list_streams(prefix)  # type: ignore[arg-type]
