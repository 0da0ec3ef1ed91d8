"""The core's decisions, with folder storage and a recording submitter (no AWS API needed)."""
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_src.config import FunctionConfig
from lambda_src.core import DELEGATED, SKIPPED, TIMED_OUT, batch_job_name, run_invocation
from lambda_src.storage import DirectoryStorage, file_sha256
from lambda_src.submitter import SubmitError
from tests.runtime.conftest import function_config, s3_event


class RecordingSubmitter:
    def __init__(self, fail=False):
        self.jobs, self.fail = [], fail

    def submit(self, *, job_name, event, parent_request_id):
        if self.fail:
            raise SubmitError("queue disabled")
        self.jobs.append((job_name, event, parent_request_id))
        return f"job-{len(self.jobs)}"


@pytest.fixture
def storage(tmp_path):
    storage = DirectoryStorage(tmp_path / "buckets")
    source = tmp_path / "source"
    source.write_text("data")
    storage.upload(source, "media", "in/a.txt", sha256=file_sha256(source))
    return storage


def config(script, **overrides):
    return FunctionConfig.from_dict(function_config(**overrides), script=str(script))


def test_lambda_batch_with_no_time_left_delegates_without_downloading(storage, write_script, tmp_path):
    ran = tmp_path / "ran"
    submitter = RecordingSubmitter()
    result = run_invocation(config(write_script(f'touch "{ran}"'), execution_mode="lambda-batch", timeout_threshold=5),
                            s3_event("media", "in/a.txt"), storage, request_id="r",
                            deadline=time.monotonic() + 3, submitter=submitter)
    assert result.records[0].status == DELEGATED and result.records[0].reason == "no time left in this invocation"
    assert not ran.exists() and submitter.jobs[0][2] == "r"


def test_lambda_mode_ignores_the_submitter_and_fails_on_timeout(storage, write_script):
    submitter = RecordingSubmitter()
    result = run_invocation(config(write_script("sleep 10"), timeout_threshold=1), s3_event("media", "in/a.txt"),
                            storage, request_id="r", deadline=time.monotonic() + 1.5, submitter=submitter)
    assert result.records[0].status == TIMED_OUT and not result.ok and result.exit_code == 1
    assert submitter.jobs == []


def test_without_a_submitter_batch_mode_runs_here(storage, write_script):
    # That is the Batch job itself (and the local runner).
    result = run_invocation(config(write_script('cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"'), execution_mode="batch"),
                            s3_event("media", "in/a.txt"), storage, request_id="r", deadline=None)
    assert result.ok and result.records[0].uploaded == ("s3://media/out/a.txt",)


def test_a_refused_submission_is_an_error_not_a_crash(storage, write_script):
    result = run_invocation(config(write_script("true"), execution_mode="batch"), s3_event("media", "in/a.txt"),
                            storage, request_id="r", deadline=None, submitter=RecordingSubmitter(fail=True))
    assert not result.ok and result.records[0].reason == "queue disabled"


def test_removal_events_and_test_events_do_nothing(storage, write_script):
    script = write_script("exit 1")
    removed = run_invocation(config(script), s3_event("media", "in/a.txt", event_name="ObjectRemoved:Delete"),
                             storage, request_id="r", deadline=None)
    assert removed.ok and removed.records[0].status == SKIPPED
    test_event = run_invocation(config(script), {"Event": "s3:TestEvent"}, storage, request_id="r", deadline=None)
    assert test_event.ok and test_event.records == ()


def test_eventbridge_events_are_processed(storage, write_script):
    event = {"source": "aws.s3", "detail-type": "Object Created", "time": "2024-01-01T00:00:00Z",
             "detail": {"bucket": {"name": "media"}, "object": {"key": "in/a.txt", "size": 4}}}
    script = write_script('echo "$EVENT_TIME" > "$TMP_OUTPUT_DIR/time"')
    result = run_invocation(config(script), event, storage, request_id="r", deadline=None)
    assert result.ok
    assert (storage.root / "media/out/time").read_text() == "2024-01-01T00:00:00Z\n"


def test_result_is_plain_json():
    from lambda_src.core import InvocationResult, RecordResult

    result = InvocationResult("r", "f", (RecordResult("b", "k", DELEGATED, job_id="j", uploaded=("x",)),))
    assert result.to_dict() == {"request_id": "r", "function": "f", "ok": True, "job_ids": ["j"], "records": [
        {"bucket": "b", "key": "k", "status": DELEGATED, "reason": "", "exit_code": None, "uploaded": ["x"],
         "unchanged": [], "job_id": "j", "output_tail": ""}]}


@given(st.text(max_size=200), st.text(max_size=40), st.text(max_size=100))
def test_batch_job_names_are_always_valid_and_stable(function, request_id, key):
    name = batch_job_name(function, request_id, "media", key)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", name)
    assert name == batch_job_name(function, request_id, "media", key)


def test_an_output_name_that_cannot_be_a_key_fails_before_any_upload(storage, write_script, tmp_path):
    script = write_script('echo ok > "$TMP_OUTPUT_DIR/good.txt"; '
                          'echo bad > "$TMP_OUTPUT_DIR/$(printf \'bad-\\377.txt\')"\n')
    result = run_invocation(config(script), s3_event("media", "in/a.txt"), storage, request_id="r", deadline=None)
    record = result.records[0]
    assert record.status == "error" and "UTF-8" in record.reason and not result.ok
    assert storage.head("media", "out/good.txt") is None  # nothing half-uploaded


def test_a_symlink_left_in_the_output_folder_is_skipped(storage, write_script, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the function's folders")
    script = write_script(f'echo ok > "$TMP_OUTPUT_DIR/good.txt"; ln -s "{secret}" "$TMP_OUTPUT_DIR/link.txt"\n')
    result = run_invocation(config(script), s3_event("media", "in/a.txt"), storage, request_id="r", deadline=None)
    assert result.ok and result.records[0].uploaded == ("s3://media/out/good.txt",)
    assert storage.head("media", "out/link.txt") is None


def test_request_id_folder_outputs_go_under_the_invocations_id(storage, write_script):
    # SCAR 3.x's layout: FOLDER/REQUEST_ID/FILE; a Batch job is given the id of the invocation that submitted it
    outputs = [{"provider": "s3", "bucket": "media", "prefix": "out", "filter_prefix": [], "filter_suffix": [],
                "request_id_folder": True}]
    script = write_script('cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"; mkdir "$TMP_OUTPUT_DIR/sub"; '
                          'echo x > "$TMP_OUTPUT_DIR/sub/b.txt"')
    result = run_invocation(config(script, outputs=outputs), s3_event("media", "in/a.txt"), storage,
                            request_id="c45433a2-e8e4", deadline=None)
    assert result.ok and result.records[0].uploaded == ("s3://media/out/c45433a2-e8e4/a.txt",
                                                        "s3://media/out/c45433a2-e8e4/sub/b.txt")
