"""Turn an invocation event into the S3 objects it names.

Two shapes arrive: S3's own notification (`{"Records": [...]}`, possibly several records) and the
EventBridge "Object Created" event. Both carry the key URL-encoded with `+` for a space; S3 APIs want the
real key, so it is decoded here once.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus, unquote_plus


class EventError(ValueError):
    """The event is not one this runtime knows how to handle."""


def s3_notification(bucket: str, key: str, size: int, when: datetime | None = None, *, region: str = "local",
                    configuration_id: str = "avgen-local", event_name: str = "ObjectCreated:Put") -> dict:
    """The S3 event notification for one created object, as S3 sends it to Lambda (key URL-encoded).

    Built here, next to its parser, for the local runner and the sandbox, which deliver what S3 would."""
    when = when or datetime.now(timezone.utc)
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size}},
    }]}


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str                      # decoded
    size: int | None              # as announced by the event; None when it does not say
    event_time: str
    created: bool                 # an object-creation event (others are skipped)
    # The event narrowed to this one object: what the script sees as $EVENT and what a Batch job carries,
    # so that a Lambda attempt and its Batch re-run see the same thing.
    event: Mapping[str, Any] = field(compare=False, repr=False)


def parse_event(event: Any) -> list[S3Object]:
    if not isinstance(event, Mapping):
        raise EventError(f"the event must be a JSON object, not {type(event).__name__}")
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list):
            raise EventError("the event's Records must be a list")
        return [_from_record(record, i) for i, record in enumerate(records)]
    if event.get("source") == "aws.s3" and isinstance(event.get("detail"), Mapping):
        return [_from_eventbridge(event)]
    if event.get("Event") == "s3:TestEvent":
        # S3 sends this once when a notification is configured; there is no object to process.
        return []
    raise EventError("not an S3 event: expected S3 notification Records or an EventBridge aws.s3 event "
                     f"(keys: {', '.join(sorted(map(str, event))) or 'none'})")


def _from_record(record: Any, index: int) -> S3Object:
    where = f"Records[{index}]"
    if not isinstance(record, Mapping) or not isinstance(record.get("s3"), Mapping):
        raise EventError(f"{where} is not an S3 record (no s3.bucket.name / s3.object.key)")
    bucket, key, size = _object_fields(record["s3"], where, "s3.")
    name = str(record.get("eventName", "ObjectCreated:"))
    return S3Object(
        bucket=bucket,
        key=key,
        size=size,
        event_time=str(record.get("eventTime", "")),
        created=name.startswith(("ObjectCreated:", "s3:ObjectCreated:")),
        event={"Records": [record]},
    )


def _from_eventbridge(event: Mapping[str, Any]) -> S3Object:
    # EventBridge encodes keys the way S3 notifications do.
    bucket, key, size = _object_fields(event["detail"], "the EventBridge event", "detail.")
    return S3Object(
        bucket=bucket,
        key=key,
        size=size,
        event_time=str(event.get("time", "")),
        created=event.get("detail-type") == "Object Created",
        event=dict(event),
    )


def _object_fields(container: Mapping[str, Any], where: str, path: str) -> tuple[str, str, int | None]:
    """(bucket, decoded key, size) from the `bucket` / `object` members both event shapes share."""
    bucket_info, object_info = container.get("bucket"), container.get("object")
    if not isinstance(bucket_info, Mapping) or not isinstance(object_info, Mapping):
        raise EventError(f"{where} has no {path}bucket.name / {path}object.key")
    bucket, raw_key = bucket_info.get("name"), object_info.get("key")
    if bucket is None or raw_key is None:
        raise EventError(f"{where} has no {path}bucket.name / {path}object.key")
    if not isinstance(bucket, str) or not isinstance(raw_key, str):
        raise EventError(f"{where}: {path}bucket.name and {path}object.key must be strings, not "
                         f"{type(bucket).__name__} and {type(raw_key).__name__}")
    return bucket, unquote_plus(raw_key), _size(object_info.get("size"))


def _size(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return None
