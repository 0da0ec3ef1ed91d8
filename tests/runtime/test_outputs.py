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
    assert [relative for relative, _ in output_files(output_dir)] == sorted(FILES)


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
    assert [plan.key for plan in plans] == [f"out/{relative}" for relative in expected]


def test_every_matching_output_gets_the_file(output_dir):
    outputs = [OutputConfig("video", "v", filter_suffix=("avi",)), OutputConfig("all", ""),
               OutputConfig("audio", "a/b", filter_suffix=("wav",))]
    plans = {(plan.bucket, plan.key) for plan in plan_uploads(output_dir, outputs)}
    assert ("video", "v/clip.avi") in plans and ("audio", "a/b/clip.wav") in plans
    assert {key for bucket, key in plans if bucket == "all"} == set(FILES)
    assert len(plans) == len(FILES) + 2
