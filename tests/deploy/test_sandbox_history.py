"""The sandbox's history (generator/aws/recording.py): what one command stores, the next one finds — large
multipart uploads and odd keys included — and a history cut short by a kill is read up to the cut."""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from generator.aws.recording import BODY_INLINE_LIMIT, History, Request
from generator.aws.sandbox import Sandbox

ODD_KEYS = ["a/./b.txt", "a/../c.txt", "d/%2e%2e/e.txt", "f%2Fg.txt", "h/ i+j.txt", "k/..", "l/./"]


def s3_of(sandbox: Sandbox):
    return boto3.client("s3", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                        **sandbox.credentials, config=Config(s3={"addressing_style": "path"}))


@pytest.mark.sandbox
def test_large_uploads_and_odd_keys_survive_into_the_next_command(tmp_path):
    big = bytes(range(256)) * (40 * 4096)  # 40 MiB: boto3 sends it as a multipart upload
    with Sandbox(tmp_path) as sandbox:
        s3 = s3_of(sandbox)
        s3.create_bucket(Bucket="odd-keys")
        (tmp_path / "big.bin").write_bytes(big)
        s3.upload_file(str(tmp_path / "big.bin"), "odd-keys", "big.bin")
        for key in ODD_KEYS:
            s3.put_object(Bucket="odd-keys", Key=key, Body=key.encode())
        s3.list_objects_v2(Bucket="odd-keys")  # reads are not history
    stored = list(History(tmp_path).read())
    assert not any(r.method == "GET" for r in stored)
    assert sum(len(r.body) for r in stored) >= len(big)
    # the five 8 MiB parts have the same bytes: stored once, by content, not inline in the history
    assert [p.stat().st_size for p in (tmp_path / "bodies").iterdir()] == [8 * 2**20]
    with Sandbox(tmp_path) as sandbox:
        s3 = s3_of(sandbox)
        assert s3.get_object(Bucket="odd-keys", Key="big.bin")["Body"].read() == big
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="odd-keys")["Contents"]}
        assert set(ODD_KEYS) <= keys
        for key in ODD_KEYS:
            assert s3.get_object(Bucket="odd-keys", Key=key)["Body"].read() == key.encode()


def test_a_line_cut_short_by_a_kill_is_dropped_and_the_rest_read(tmp_path):
    history = History(tmp_path)
    history.append(Request("PUT", "/b", {"X-Amz-Date": "1"}, b""))
    history.append(Request("PUT", "/b/k", {}, b"x" * (BODY_INLINE_LIMIT + 1)))
    whole = history.path.read_bytes()
    history.path.write_bytes(whole + b'{"m":"PUT","u":"/b/cut')  # the writer died half-way
    assert [r.uri for r in history.read()] == ["/b", "/b/k"]
    assert history.path.read_bytes() == whole  # the cut-off line is gone for good
    assert [r.body for r in history.read()][1] == b"x" * (BODY_INLINE_LIMIT + 1)


def test_a_multipart_upload_id_is_carried_over_on_replay():
    from generator.aws.recording import Replay

    replay = Replay()
    start = Request("POST", "/b/k?uploads", {}, b"", upload_id="OLD")
    replay.answered(start, b"<InitiateMultipartUploadResult><UploadId>NEW</UploadId></InitiateMultipartUploadResult>")
    part = Request("PUT", "/b/k?uploadId=OLD&partNumber=1", {}, b"x")
    assert replay.uri(part) == "/b/k?uploadId=NEW&partNumber=1"
