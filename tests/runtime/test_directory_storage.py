"""The core with another storage: buckets as folders, as the local runner uses it."""
import pytest

from lambda_src.config import FunctionConfig
from lambda_src.core import run_invocation
from lambda_src.storage import DirectoryStorage, ObjectMissing, S3Storage, Storage, file_sha256
from tests.runtime.conftest import function_config, output, s3_event


def test_both_storages_satisfy_the_protocol(tmp_path):
    assert isinstance(DirectoryStorage(tmp_path), Storage)
    assert isinstance(S3Storage(client=object()), Storage)


def test_the_core_runs_on_folders(tmp_path, write_script):
    storage = DirectoryStorage(tmp_path / "buckets")
    source = tmp_path / "source.txt"
    source.write_text("ñandú")
    storage.upload(source, "media", "in/sub/ñ.txt", sha256=file_sha256(source))
    script = write_script('mkdir "$TMP_OUTPUT_DIR/d"; cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/d/"\n')
    config = FunctionConfig.from_dict(function_config(outputs=[output("out", bucket="results")]), script=str(script))
    first = run_invocation(config, s3_event("media", "in/sub/ñ.txt"), storage, request_id="r", deadline=None)
    assert first.ok and first.records[0].uploaded == ("s3://results/out/d/ñ.txt",)
    assert (tmp_path / "buckets/results/out/d/ñ.txt").read_text() == "ñandú"
    again = run_invocation(config, s3_event("media", "in/sub/ñ.txt"), storage, request_id="r2", deadline=None)
    assert again.records[0].unchanged == ("s3://results/out/d/ñ.txt",)


def test_directory_storage_edges(tmp_path):
    storage = DirectoryStorage(tmp_path)
    assert storage.head("media", "missing") is None
    assert storage.head("media", "folder/") is None
    with pytest.raises(ObjectMissing, match="s3://media/missing does not exist"):
        storage.download("media", "missing", tmp_path / "x")
    with pytest.raises(ValueError):
        storage.path("media", "../escape")
