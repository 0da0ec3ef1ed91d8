import os

import pytest

from lambda_src.config import OutputConfig
from lambda_src.outputs import output_files, plan_uploads

FILES = ["clip.avi", "clip.wav", "img-001.jpg", "img-002.png", "sub/deep/img-003.jpg", "notes ü.txt"]


@pytest.fixture
def output_dir(tmp_path):
    for relative in FILES:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
    (tmp_path / "empty-folder").mkdir()
    os.symlink(tmp_path / "missing", tmp_path / "broken-link")
    return tmp_path


def test_every_regular_file_is_found_recursively_and_sorted(output_dir):
    assert [relative for relative, _ in output_files(output_dir).files] == sorted(FILES)


@pytest.mark.parametrize("prefixes, suffixes, expected", [
    ((), (), sorted(FILES)),
    ((), ("avi",), ["clip.avi"]),
    ((), ("jpg", "png"), ["img-001.jpg", "img-002.png", "sub/deep/img-003.jpg"]),
    (("img",), (), ["img-001.jpg", "img-002.png"]),
    (("img", "sub/"), ("jpg",), ["img-001.jpg", "sub/deep/img-003.jpg"]),
    (("clip",), ("srt",), []),
])
def test_filter_combinations(output_dir, prefixes, suffixes, expected):
    plans = plan_uploads(output_dir, [OutputConfig("b", "out", prefixes, suffixes)])
    assert [plan.key for plan in plans.uploads] == [f"out/{relative}" for relative in expected]


def test_every_matching_output_gets_the_file(output_dir):
    outputs = [OutputConfig("video", "v", filter_suffix=("avi",)), OutputConfig("all", ""),
               OutputConfig("audio", "a/b", filter_suffix=("wav",))]
    plans = {(plan.bucket, plan.key) for plan in plan_uploads(output_dir, outputs).uploads}
    assert ("video", "v/clip.avi") in plans and ("audio", "a/b/clip.wav") in plans
    assert {key for bucket, key in plans if bucket == "all"} == set(FILES)
    assert len(plans) == len(FILES) + 2


def test_symlinks_are_reported_and_never_followed(output_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("not an output")
    os.symlink(outside / "secret.txt", output_dir / "linked-file.txt")
    os.symlink(outside, output_dir / "linked-folder")
    plan = plan_uploads(output_dir, [OutputConfig("b", "out")])
    assert [upload.relative_path for upload in plan.uploads] == sorted(FILES)
    assert plan.symlinks == ["broken-link", "linked-file.txt", "linked-folder"]


def test_names_that_cannot_be_keys_are_reported(output_dir):
    (output_dir / os.fsdecode(b"bad-\xff.txt")).write_text("x")
    deep = output_dir.joinpath(*["d" * 200] * 6, "too-long.txt")  # a key of more than 1024 bytes
    deep.parent.mkdir(parents=True)
    deep.write_text("x")
    plan = plan_uploads(output_dir, [OutputConfig("b", "out")])
    assert len(plan.problems) == 2
    assert "bad-\\xff.txt" in plan.problems[0] and "UTF-8" in plan.problems[0]
    assert "1024" in plan.problems[1]
