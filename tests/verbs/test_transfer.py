"""put / ls / get against a real S3 API over HTTP (moto's server), through the CLI and the core."""
from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.aws.sandbox import Sandbox
from generator.verbs.transfer import (
    MiB,
    ObjectEntry,
    S3Location,
    TransferError,
    plan_get,
    plan_put,
    put,
    transfer_config,
)
from generator.workdirs import SANDBOX_STATE
from tests.runtime.conftest import keys
from tests.verbs.conftest import EXAMPLES, write_tree

BUCKET = "verbs-bucket"


@pytest.fixture
def bucket(s3_api):
    endpoint, client = s3_api
    client.create_bucket(Bucket=BUCKET)
    return endpoint, client


# --- addressing and plans (no S3) -------------------------------------------------------------------

@pytest.mark.parametrize("text, bucket, prefix", [
    ("my-bucket", "my-bucket", ""),
    ("my-bucket/input", "my-bucket", "input"),
    ("s3://my-bucket/a/b/", "my-bucket", "a/b"),
])
def test_locations_are_scars_bucket_slash_folder(text, bucket, prefix):
    assert S3Location.parse(text) == S3Location(bucket, prefix)


def test_a_location_needs_a_bucket():
    with pytest.raises(TransferError, match="names no bucket"):
        S3Location.parse("/input")


def test_a_folder_keeps_its_subfolders_and_a_file_its_name(tmp_path):
    tree = write_tree(tmp_path / "clips", {"a.mp4": "a", "day1/b.mp4": "b", "day1/night/c.mp4": "c"})
    single = write_tree(tmp_path, {"one.mp4": "1"}) / "one.mp4"
    plan = plan_put([tree, single], S3Location("b", "input"))
    assert [u.key for u in plan.uploads] == [
        "input/a.mp4", "input/day1/b.mp4", "input/day1/night/c.mp4", "input/one.mp4"]


def test_two_sources_for_one_key_are_refused(tmp_path):
    first = write_tree(tmp_path / "x", {"v.mp4": "1"}) / "v.mp4"
    second = write_tree(tmp_path / "y", {"v.mp4": "2"}) / "v.mp4"
    with pytest.raises(TransferError, match="would both be uploaded"):
        plan_put([first, second], S3Location("b"))


def test_get_writes_localdir_slash_key_and_skips_keys_that_would_escape(tmp_path):
    plan = plan_get([ObjectEntry("out/a.png", 1), ObjectEntry("out/", 0), ObjectEntry("out/../../etc/x", 1)],
                    tmp_path)
    assert [d.path for d in plan.downloads] == [tmp_path / "out" / "a.png"]
    assert [key for key, _ in plan.skipped] == ["out/", "out/../../etc/x"]


def test_put_follows_no_symlink_inside_a_folder_unless_asked(tmp_path):
    outside = write_tree(tmp_path / "outside", {"passwd": "secret", "sub/more.txt": "more"})
    tree = write_tree(tmp_path / "clips", {"a.mp4": "a"})
    os.symlink(outside / "passwd", tree / "passwd")
    os.symlink(outside / "sub", tree / "linked")
    os.symlink(tree, tree / "loop")  # followed, it must not recurse forever
    plan = plan_put([tree], S3Location("b", "in"))
    assert [u.key for u in plan.uploads] == ["in/a.mp4"]
    assert sorted(path.name for path, _ in plan.skipped) == ["linked", "loop", "passwd"]
    followed = plan_put([tree], S3Location("b", "in"), follow_symlinks=True)
    assert sorted(u.key for u in followed.uploads) == ["in/a.mp4", "in/linked/more.txt", "in/passwd"]
    assert [path.name for path, _ in followed.skipped] == ["loop"]


def _entries(*keys):
    return [ObjectEntry(key, 1) for key in keys]


def test_get_never_writes_through_a_symlink_in_the_target_folder(tmp_path):
    target, outside = tmp_path / "target", tmp_path / "outside"
    outside.mkdir()
    (target / "out").mkdir(parents=True)
    os.symlink(outside, target / "out" / "linked")
    os.symlink(outside / "file.txt", target / "out" / "file.txt")
    plan = plan_get(_entries("out/linked/a.png", "out/file.txt", "out/ok.png"), target, overwrite=True)
    assert [d.key for d in plan.downloads] == ["out/ok.png"]
    assert [key for key, _ in plan.problems] == ["out/linked/a.png", "out/file.txt"]
    assert all("symlink" in why for _, why in plan.problems)


def test_get_keeps_existing_files_unless_overwrite_and_skips_identical_ones(tmp_path):
    import hashlib

    write_tree(tmp_path, {"out/same.txt": "same", "out/mine.txt": "mine"})
    same = ObjectEntry("out/same.txt", 4, etag=f'"{hashlib.md5(b"same").hexdigest()}"')
    theirs = ObjectEntry("out/mine.txt", 6, etag=f'"{hashlib.md5(b"theirs").hexdigest()}"')
    plan = plan_get([same, theirs], tmp_path)
    assert plan.downloads == [] and [key for key, _ in plan.skipped] == ["out/same.txt"]
    assert [key for key, _ in plan.problems] == ["out/mine.txt"] and "--overwrite" in plan.problems[0][1]
    assert [d.key for d in plan_get([same, theirs], tmp_path, overwrite=True).downloads] == ["out/mine.txt"]


def test_keys_that_cannot_be_local_file_names_get_a_reason_each(tmp_path):
    long = "in/" + "x" * 256
    plan = plan_get(_entries("in/.", "in/..", "in//twice", long, "in/" + "é" * 128, "in/ok"), tmp_path)
    assert [d.key for d in plan.downloads] == ["in/ok"]  # `in/.` is not taken for the file `in`
    assert [key for key, _ in plan.skipped] == ["in/.."]
    reasons = dict(plan.problems)
    assert set(reasons) == {"in/.", "in//twice", long, "in/" + "é" * 128}
    assert "names no file" in reasons["in/."] and "names no file" in reasons["in//twice"]
    assert "is 256 bytes long, and a file name here may have at most 255" in reasons[long]
    assert "is 256 bytes long" in reasons["in/" + "é" * 128]  # bytes, not characters
    deep = "/".join(["d" * 200] * 25)
    assert "over the 4095 a path may have here" in dict(plan_get(_entries(deep), tmp_path).problems)[deep]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.one_of(st.sampled_from([".", "..", "", "x" * 256, "é" * 128, "a\0b", "a\nb", " "]),
                                   st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)),
                         min_size=1, max_size=6).map("/".join)
                .filter(lambda key: 0 < len(key.encode()) <= 1024), max_size=8))
def test_any_keys_get_a_place_or_a_reason_never_an_os_error(tmp_path, keys):
    """S3 takes any UTF-8 key up to 1,024 bytes: each is downloaded inside the folder, or skipped or not
    written with a reason; planning never raises."""
    plan = plan_get(_entries(*dict.fromkeys(keys)), tmp_path)
    placed = [d.key for d in plan.downloads] + [k for k, _ in plan.skipped] + [k for k, _ in plan.problems]
    assert sorted(placed) == sorted(dict.fromkeys(keys))
    for download in plan.downloads:
        relative = download.path.relative_to(tmp_path)  # inside the folder
        assert all(0 < len(os.fsencode(part)) <= 255 and part not in (".", "..") for part in relative.parts)
        assert relative.as_posix() == download.key
    assert all(why and "Errno" not in why for _, why in plan.skipped + plan.problems)


def test_get_a_key_and_a_key_under_it_do_not_collide(tmp_path):
    plan = plan_get(_entries("a", "a/b", "c/d", "c"), tmp_path)
    assert [d.key for d in plan.downloads] == ["a", "c/d"]
    assert [key for key, _ in plan.problems] == ["a/b", "c"]


# --- the CLI over HTTP --------------------------------------------------------------------------------

def test_put_ls_get_round_trip_with_a_folder(cli, bucket, tmp_path):
    endpoint, client = bucket
    tree = write_tree(tmp_path / "clips", {"a.mp4": "aaa", "day1/b.mp4": "bb", "day1/night/c.mp4": "c"})
    result = cli("put", tree, "-b", f"{BUCKET}/input", "--endpoint-url", endpoint)
    assert result.exit_code == 0, result.output
    assert "uploaded 3 files" in result.stdout
    assert keys(client, BUCKET) == ["input/a.mp4", "input/day1/b.mp4", "input/day1/night/c.mp4"]

    listing = cli("ls", "-b", f"{BUCKET}/input/day1", "--endpoint-url", endpoint)
    assert listing.exit_code == 0, listing.output
    assert "input/day1/b.mp4" in listing.stdout and "input/day1/night/c.mp4" in listing.stdout
    assert "input/a.mp4" not in listing.stdout
    assert "2 B" in listing.stdout and "2 objects" in listing.stdout

    fetched = cli("get", "-b", f"{BUCKET}/input", "-p", tmp_path / "back", "--endpoint-url", endpoint)
    assert fetched.exit_code == 0, fetched.output
    back = tmp_path / "back"
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*") if p.is_file()) == [
        "input/a.mp4", "input/day1/b.mp4", "input/day1/night/c.mp4"]
    assert (back / "input/day1/night/c.mp4").read_text() == "c"


def test_put_ls_get_speak_json_for_tools(cli, bucket, tmp_path):
    import json

    endpoint, _ = bucket
    tree = write_tree(tmp_path / "clips", {"a.mp4": "aaa", "day1/b.mp4": "bb"})
    put = json.loads(cli("put", tree, "-b", f"{BUCKET}/in", "--endpoint-url", endpoint, "--format", "json").stdout)
    assert put["version"] == 2 and put["error"] is None
    put = put["put"]
    assert put["uploaded"] == ["in/a.mp4", "in/day1/b.mp4"] and put["bytes"] == 5
    listing = json.loads(cli("ls", "-b", f"{BUCKET}/in", "--endpoint-url", endpoint, "--format", "json").stdout)
    assert [(o["key"], o["size"]) for o in listing["ls"]["objects"]] == [("in/a.mp4", 3), ("in/day1/b.mp4", 2)]
    got = cli("get", "-b", f"{BUCKET}/in", "-p", tmp_path / "back", "--endpoint-url", endpoint, "--format", "json")
    fetched = json.loads(got.stdout)["get"]
    assert got.exit_code == 0 and sorted(d["key"] for d in fetched["downloaded"]) == ["in/a.mp4", "in/day1/b.mp4"]
    again = json.loads(cli("get", "-b", f"{BUCKET}/in", "-p", tmp_path / "back", "--endpoint-url", endpoint,
                           "--format", "json").stdout)["get"]
    assert again["downloaded"] == [] and len(again["skipped"]) == 2  # identical files are not written again


def test_scars_options_and_a_single_key(cli, bucket, tmp_path):
    endpoint, client = bucket
    video = write_tree(tmp_path, {"v.mp4": "v"}) / "v.mp4"
    assert cli("put", "-b", BUCKET, "-p", video, "--endpoint-url", endpoint).exit_code == 0
    assert keys(client, BUCKET) == ["v.mp4"]
    result = cli("get", "-b", f"{BUCKET}/v.mp4", "-p", tmp_path / "out", "--endpoint-url", endpoint)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "v.mp4").read_text() == "v"


def test_a_big_file_goes_up_in_parts(cli, bucket, tmp_path):
    endpoint, client = bucket
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * MiB))  # 5 + 5 + 1 MiB with 5 MiB parts
    result = cli("put", big, "-b", f"{BUCKET}/input", "--endpoint-url", endpoint,
                 "--multipart-threshold", "1", "--multipart-chunk", "5")
    assert result.exit_code == 0, result.output
    head = client.head_object(Bucket=BUCKET, Key="input/big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # S3's ETag of a 3-part multipart upload
    assert head["ContentLength"] == 11 * MiB
    back = tmp_path / "back"
    assert cli("get", "-b", f"{BUCKET}/input", "-p", back, "--endpoint-url", endpoint,
               "--multipart-threshold", "1", "--multipart-chunk", "5").exit_code == 0
    assert (back / "input" / "big.bin").read_bytes() == big.read_bytes()


def test_get_reports_what_it_cannot_write_and_goes_on(cli, bucket, tmp_path):
    endpoint, client = bucket
    for key in ("out/a", "out/a/b", "out/" + "n" * 300, "out/z.txt"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"data")
    (tmp_path / "back" / "out").mkdir(parents=True)
    (tmp_path / "back" / "out" / "z.txt").write_text("local edits")
    result = cli("get", "-b", f"{BUCKET}/out", "-p", tmp_path / "back", "--endpoint-url", endpoint)
    assert result.exit_code == 1, result.output
    assert (tmp_path / "back" / "out" / "a").read_bytes() == b"data"
    assert (tmp_path / "back" / "out" / "z.txt").read_text() == "local edits"
    for reported in ("out/a/b", "nnnn", "out/z.txt", "--overwrite"):
        assert reported in result.output, reported
    again = cli("get", "-b", f"{BUCKET}/out/z.txt", "-p", tmp_path / "back", "--endpoint-url", endpoint,
                "--overwrite")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "back" / "out" / "z.txt").read_bytes() == b"data"


def test_get_says_why_each_key_that_cannot_be_a_file_name_was_not_written(cli, bucket, tmp_path):
    endpoint, client = bucket
    long = "in/" + "x" * 256
    for key in ("in/.", "in/..", long, "in/ok"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"data")
    result = cli("get", "-b", f"{BUCKET}/in", "-p", tmp_path / "back", "--endpoint-url", endpoint)
    assert result.exit_code == 1, result.output  # some keys not written
    assert (tmp_path / "back" / "in" / "ok").read_bytes() == b"data"
    said = " ".join(result.output.split())
    assert f"not written s3://{BUCKET}/in/.: its key has a '.' or an empty part" in said
    assert f"skipped s3://{BUCKET}/in/..: its key cannot be a local path safely" in said
    assert "a file name here may have at most 255" in said
    assert "Errno" not in said and "File name too long" not in said and "2 objects not written" in said


def test_put_says_which_symlinks_it_skipped(cli, bucket, tmp_path):
    endpoint, client = bucket
    tree = write_tree(tmp_path / "clips", {"a.mp4": "a"})
    write_tree(tmp_path, {"secret.txt": "secret"})
    os.symlink(tmp_path / "secret.txt", tree / "secret.txt")
    result = cli("put", tree, "-b", f"{BUCKET}/in", "--endpoint-url", endpoint)
    assert result.exit_code == 0, result.output
    assert keys(client, BUCKET) == ["in/a.mp4"] and "secret.txt" in result.output and "symlink" in result.output
    followed = cli("put", tree, "-b", f"{BUCKET}/in", "--endpoint-url", endpoint, "--follow-symlinks")
    assert followed.exit_code == 0, followed.output
    assert keys(client, BUCKET) == ["in/a.mp4", "in/secret.txt"]


def test_put_into_a_workflow_says_which_functions_start(cli, s3_api, tmp_path):
    endpoint, client = s3_api
    client.create_bucket(Bucket="change-me-av-workflow")
    video = write_tree(tmp_path, {"my_video.mp4": "v"}) / "my_video.mp4"
    result = cli("put", EXAMPLES / "av-workflow" / "workflow.yaml", video, "--endpoint-url", endpoint)
    assert result.exit_code == 0, result.output
    assert keys(client, "change-me-av-workflow") == ["start/my_video.mp4"]  # its start folder, without -b
    assert "starts av-workflow-ffmpeg for 1 file" in result.stdout

    elsewhere = cli("put", EXAMPLES / "av-workflow" / "workflow.yaml", video, "-b", "change-me-av-workflow/misc",
                    "--endpoint-url", endpoint)
    assert elsewhere.exit_code == 0
    assert "no function of the workflow is triggered" in elsewhere.stdout


def test_get_a_workflows_results(cli, s3_api, tmp_path):
    endpoint, client = s3_api
    client.create_bucket(Bucket="change-me-av-workflow")
    for key in ("start/v.mp4", "audio/v.wav", "result/v.srt", "result/v.avi"):
        client.put_object(Bucket="change-me-av-workflow", Key=key, Body=b"x")
    result = cli("get", EXAMPLES / "av-workflow" / "workflow.yaml", "-p", tmp_path, "--endpoint-url", endpoint)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "result/v.avi", "result/v.srt"]


# --- errors: a message and exit code 1, never a traceback --------------------------------------------

def assert_clean_failure(result, *phrases):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_missing_bucket(cli, s3_api, tmp_path):
    endpoint, _ = s3_api
    video = write_tree(tmp_path, {"v.mp4": "v"}) / "v.mp4"
    assert_clean_failure(cli("put", video, "-b", "no-such-bucket/in", "--endpoint-url", endpoint),
                         "bucket 'no-such-bucket' does not exist")
    assert_clean_failure(cli("ls", "-b", "no-such-bucket", "--endpoint-url", endpoint), "does not exist")
    assert_clean_failure(cli("get", "-b", "no-such-bucket", "-p", tmp_path, "--endpoint-url", endpoint),
                         "does not exist")


def test_no_credentials(cli, s3_api, tmp_path, monkeypatch):
    endpoint, _ = s3_api
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    video = write_tree(tmp_path, {"v.mp4": "v"}) / "v.mp4"
    assert_clean_failure(cli("put", video, "-b", f"{BUCKET}/in", "--endpoint-url", endpoint),
                         "no AWS credentials found")
    assert_clean_failure(cli("ls", "--endpoint-url", endpoint), "no AWS credentials found")


def test_unreachable_endpoint(cli, aws_env, tmp_path):
    from tests.conftest import free_loopback_port

    closed = f"http://127.0.0.1:{free_loopback_port()}"
    assert_clean_failure(cli("ls", "-b", BUCKET, "--endpoint-url", closed), f"cannot reach the AWS API at {closed}")


def test_access_denied_and_a_partial_folder_is_reported(cli, iam_moto, tmp_path, monkeypatch):
    """moto checks the user's IAM policy: it may write under in/a/ only, and never read secret/."""
    endpoint, key_id, secret = iam_moto
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    tree = write_tree(tmp_path / "batch", {"a/1.mp4": "1", "a/2.mp4": "2", "b/3.mp4": "3"})
    result = cli("put", tree, "-b", "guarded-bucket/in", "--endpoint-url", endpoint)
    assert_clean_failure(result, "access denied", "s3://guarded-bucket/in/b/3.mp4",
                         "2 of 3 files were uploaded before the failure: in/a/1.mp4, in/a/2.mp4")
    # (the whole bucket: moto miscomputes signatures of listings with a prefix when IAM is on)
    denied = cli("get", "-b", "guarded-bucket", "-p", tmp_path / "out", "--endpoint-url", endpoint)
    assert_clean_failure(denied, "access denied", "s3://guarded-bucket/secret/plans.txt")


def test_the_core_reports_what_was_done_before_a_failure(iam_moto, tmp_path):
    import boto3

    endpoint, key_id, secret = iam_moto
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                          aws_secret_access_key=secret)
    tree = write_tree(tmp_path / "t", {"a/x.txt": "x", "b/y.txt": "y"})
    with pytest.raises(TransferError) as caught:
        put(client, "guarded-bucket", plan_put([tree], S3Location("guarded-bucket", "in")).uploads,
            config=transfer_config(concurrency=1))
    assert caught.value.done == ("in/a/x.txt",)


# --- the sandbox of `avgen apply --sandbox`: objects persist between commands ---------------------------

@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX system")
def test_put_and_ls_in_the_sandbox_share_its_state(cli, tmp_path, monkeypatch):
    workdir = tmp_path / "work"
    with Sandbox(workdir / SANDBOX_STATE) as sandbox:  # as `avgen apply --sandbox` would leave it
        from generator.aws.clients import s3_client

        s3_client(env=sandbox.env).create_bucket(Bucket=BUCKET)
    video = write_tree(tmp_path, {"v.mp4": "v"}) / "v.mp4"
    assert cli("put", video, "-b", f"{BUCKET}/in", "--sandbox", "--workdir", workdir).exit_code == 0
    listing = cli("ls", "-b", BUCKET, "--sandbox", "--workdir", workdir)
    assert listing.exit_code == 0, listing.output
    assert "in/v.mp4" in listing.stdout
    usage = cli("ls", "-b", BUCKET, "--sandbox")
    assert usage.exit_code == 64 and "--workdir" in usage.stderr


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX system")
def test_keys_with_a_line_feed_work_in_the_sandbox_as_on_s3(cli, tmp_path):
    from generator.aws.clients import s3_client

    workdir = tmp_path / "work"
    with Sandbox(workdir / SANDBOX_STATE) as sandbox:
        s3_client(env=sandbox.env).create_bucket(Bucket=BUCKET)
    name = "two\nlines.txt"
    video = write_tree(tmp_path / "src", {name: "v"}) / name
    uploaded = cli("put", video, "-b", f"{BUCKET}/in", "--sandbox", "--workdir", workdir)
    assert uploaded.exit_code == 0, uploaded.output
    # kept in the history: the next command's sandbox (a replay) has it, and get writes it back
    fetched = cli("get", "-b", f"{BUCKET}/in", "-p", tmp_path / "back", "--sandbox", "--workdir", workdir)
    assert fetched.exit_code == 0, fetched.output
    assert (tmp_path / "back" / "in" / name).read_text() == "v"
    with Sandbox(workdir / SANDBOX_STATE) as sandbox:
        s3 = s3_client(env=sandbox.env)
        assert s3.get_object(Bucket=BUCKET, Key="in/" + name)["Body"].read() == b"v"
        assert s3.head_object(Bucket=BUCKET, Key="in/" + name)["ContentLength"] == 1
        s3.delete_object(Bucket=BUCKET, Key="in/" + name)
        assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB file system (tmpfs) for the sandbox's folder; needs root, skipped elsewhere."""
    import subprocess

    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small file system needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_sandbox_folder_says_no_space_left_and_the_next_upload_after_freeing_space_works(cli, tmp_path,
                                                                                                small_disk):
    import subprocess

    from generator.aws.clients import s3_client

    workdir = small_disk / "work"
    with Sandbox(workdir / SANDBOX_STATE) as sandbox:
        s3_client(env=sandbox.env).create_bucket(Bucket=BUCKET)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * MiB))
    result = cli("put", big, "-b", f"{BUCKET}/in", "--sandbox", "--workdir", workdir)
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f"no space left in {workdir / SANDBOX_STATE}" in said
    assert "<" not in said and "Internal Server Error" not in said
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    again = cli("put", big, "-b", f"{BUCKET}/in", "--sandbox", "--workdir", workdir)
    assert again.exit_code == 0, again.output
    listing = cli("ls", "-b", BUCKET, "--sandbox", "--workdir", workdir)
    assert "in/big.bin" in listing.stdout
