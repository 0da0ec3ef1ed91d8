from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_src.events import EventError, parse_event
from tests.runtime.conftest import s3_event


def test_every_record_is_an_object_with_its_own_narrowed_event():
    event = s3_event("media", "in/a.mp4", "in/b.mp4", sizes={"in/a.mp4": 10, "in/b.mp4": 20})
    objects = parse_event(event)
    assert [(o.bucket, o.key, o.size) for o in objects] == [("media", "in/a.mp4", 10), ("media", "in/b.mp4", 20)]
    assert all(o.created and o.event_time == "2024-05-01T12:00:00.000Z" for o in objects)
    assert objects[1].event == {"Records": [event["Records"][1]]}


def test_keys_are_url_decoded_with_plus_as_space():
    event = s3_event("media", "x")
    event["Records"][0]["s3"]["object"]["key"] = "in/my+video+%2B+%C3%A9t%C3%A9%3A1.mp4"
    assert parse_event(event)[0].key == "in/my video + été:1.mp4"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60))
def test_any_key_survives_s3s_encoding(key):
    assert parse_event(s3_event("media", key))[0].key == key


def test_eventbridge_object_created():
    event = {
        "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3", "account": "1",
        "time": "2024-05-01T12:00:00Z", "region": "us-east-1", "resources": ["arn:aws:s3:::media"],
        "detail": {"version": "0", "bucket": {"name": "media"},
                   "object": {"key": "in/" + quote("señal 1.wav"), "size": 5}, "reason": "PutObject"},
    }
    [obj] = parse_event(event)
    assert (obj.bucket, obj.key, obj.size, obj.event_time) == ("media", "in/señal 1.wav", 5, "2024-05-01T12:00:00Z")
    assert obj.created and obj.event == event


def test_other_event_types_are_marked_not_created():
    removed = s3_event("media", "in/a", event_name="ObjectRemoved:Delete")
    assert not parse_event(removed)[0].created
    deleted = {"source": "aws.s3", "detail-type": "Object Deleted",
               "detail": {"bucket": {"name": "m"}, "object": {"key": "k"}}}
    assert not parse_event(deleted)[0].created


def test_s3_test_event_names_nothing():
    assert parse_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "media"}) == []


@pytest.mark.parametrize("event, message", [
    ([], "must be a JSON object"),
    ({"hello": "world"}, "not an S3 event"),
    ({"Records": {}}, "must be a list"),
    ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, "Records[0] is not an S3 record"),
    ({"source": "aws.s3", "detail": {"bucket": {}}}, "no detail.bucket.name"),
])
def test_unknown_events_are_refused_clearly(event, message):
    with pytest.raises(EventError) as raised:
        parse_event(event)
    assert message in str(raised.value)


def _record(bucket, key, size=1):
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}}}


@pytest.mark.parametrize("bad_record", [
    _record("media", 42), _record("media", None), _record("media", ["a"]), _record(["media"], "in/a.txt"),
    {"s3": {"bucket": {"name": "media"}, "object": ["key"]}},
    {"s3": "not a mapping"}, "a string", None,
])
def test_a_malformed_record_is_an_event_error_naming_its_index(bad_record):
    with pytest.raises(EventError) as raised:
        parse_event({"Records": [_record("media", "in/ok.txt"), bad_record]})
    assert "Records[1]" in str(raised.value)


@pytest.mark.parametrize("detail", [
    {"bucket": {"name": "media"}, "object": {"key": 7}}, {"bucket": {"name": 1}, "object": {"key": "k"}},
])
def test_a_malformed_eventbridge_event_is_an_event_error(detail):
    with pytest.raises(EventError):
        parse_event({"source": "aws.s3", "detail-type": "Object Created", "detail": detail})


def test_a_size_that_is_not_a_number_is_unknown():
    assert parse_event({"Records": [_record("media", "in/a.txt", size=float("inf"))]})[0].size is None
