"""Darknet model files: cfg parsing, the weights size check, names, and where the files come from."""
from __future__ import annotations

from pathlib import Path

import pytest

from batch_jobs.handlers.darknet import check_weights, describe_network, parse_cfg, read_names, weights_header_bytes
from batch_jobs.handlers.handler_errors import ModelFileError
from batch_jobs.handlers.model_files import BUNDLED_DIR, resolve_model_file
from tests.media import make_yolo_model

# Sizes of the published weights files (pjreddie.com), which these cfgs must predict to the byte.
PUBLISHED_WEIGHTS_BYTES = {"yolov3.cfg": 248_007_048, "yolov3-tiny.cfg": 35_434_956}


@pytest.mark.parametrize(("cfg", "published_bytes"), PUBLISHED_WEIGHTS_BYTES.items())
def test_bundled_cfgs_predict_the_published_weights_sizes(cfg, published_bytes):
    network = describe_network(BUNDLED_DIR / cfg)
    assert weights_header_bytes(0, 2) + 4 * network.parameter_count == published_bytes
    assert (network.classes, network.input_width, network.input_height) == (80, 416, 416)
    assert sum(layer.feeds_detection for layer in network.conv_layers) == (3 if cfg == "yolov3.cfg" else 2)


def test_bundled_names_are_the_80_coco_classes():
    names = read_names(BUNDLED_DIR / "coco.names", 80)
    assert names[0] == "person" and names[16] == "dog" and names[-1] == "toothbrush"


def test_header_width_follows_darknet_versions():
    assert weights_header_bytes(0, 1) == 16  # old files: int32 "seen"
    assert weights_header_bytes(0, 2) == weights_header_bytes(1, 0) == 20


def test_generated_weights_pass_the_size_check(tmp_path):
    cfg, weights, _ = make_yolo_model(tmp_path, "yolov3-tiny", input_size=64)
    check_weights(describe_network(cfg), weights)


@pytest.mark.parametrize("delta", [-4, 4, -1000])
def test_weights_of_the_wrong_size_name_file_and_both_sizes(tmp_path, delta):
    cfg, weights, _ = make_yolo_model(tmp_path, "yolov3-tiny", input_size=64)
    expected = weights.stat().st_size
    data = weights.read_bytes()
    weights.write_bytes(data[:delta] if delta < 0 else data + b"\0" * delta)
    with pytest.raises(ModelFileError) as error:
        check_weights(describe_network(cfg), weights)
    message = str(error.value)
    assert str(weights) in message and f"{expected + delta} bytes" in message and f"needs {expected} bytes" in message


def test_weights_of_another_network_are_rejected(tmp_path):
    _, tiny_weights, _ = make_yolo_model(tmp_path, "yolov3-tiny", input_size=64)
    with pytest.raises(ModelFileError, match=r"35434956 bytes but cfg yolov3.cfg needs 248007048 bytes"):
        check_weights(describe_network(BUNDLED_DIR / "yolov3.cfg"), tiny_weights)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[convolutional]\nfilters=3\n", "does not start with a \\[net\\]"),
        ("[net]\nwidth=64\nheight=64\n[convolutional]\nfilters=three\n[yolo]\n", "not an integer"),
        ("[net]\nwidth=64\nheight=64\n[lstm]\n", "not supported"),
        ("[net]\nwidth=64\nheight=64\n[convolutional]\nfilters=3\n", "no \\[yolo\\]"),
        ("[net]\nwidth=64\nheight=64\n[route]\nlayers=-3\n[yolo]\n", "does not precede it"),
        ("[net]\nwidth=64\nheight=64\nthis is not a cfg line\n", "line 4"),
        ("[net]\nheight=64\n[yolo]\n", "lacks 'width'"),
    ],
)
def test_malformed_cfgs_are_explained(tmp_path, text, problem):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(text)
    with pytest.raises(ModelFileError, match=problem):
        describe_network(cfg)


def test_cfg_comments_and_spacing_are_tolerated(tmp_path):
    cfg = tmp_path / "c.cfg"
    cfg.write_text("# model\n[net]\n width = 32 # input\nheight=32\n\n"
                   "[convolutional]\nfilters = 18\nsize=1\n[yolo]\nclasses=1\n")
    sections = parse_cfg(cfg)
    assert [s.kind for s in sections] == ["net", "convolutional", "yolo"]
    network = describe_network(cfg)
    assert network.parameter_count == 18 + 18 * 3 and network.classes == 1


def test_names_must_match_the_class_count(tmp_path):
    names = tmp_path / "my.names"
    names.write_text("cat\ndog\n\n")
    assert read_names(names, 2) == ["cat", "dog"]
    with pytest.raises(ModelFileError, match="has 2 labels but the network has 80 classes"):
        read_names(names, 80)


def test_model_file_locations(tmp_path, monkeypatch):
    local = tmp_path / "w.weights"
    local.write_bytes(b"x")
    assert resolve_model_file(str(local), what="weights", env_var="YOLO_WEIGHTS", option="--weights") == local
    monkeypatch.setenv("YOLO_WEIGHTS", str(local))
    assert resolve_model_file(None, what="weights", env_var="YOLO_WEIGHTS", option="--weights") == local
    monkeypatch.delenv("YOLO_WEIGHTS")
    with pytest.raises(ModelFileError, match="no weights given: pass --weights or set YOLO_WEIGHTS"):
        resolve_model_file(None, what="weights", env_var="YOLO_WEIGHTS", option="--weights")
    with pytest.raises(ModelFileError, match=r"weights not found: .*absent.weights"):
        resolve_model_file(str(tmp_path / "absent.weights"), what="weights", env_var="YOLO_WEIGHTS", option="--weights")
    monkeypatch.chdir(tmp_path)
    bundled = resolve_model_file("yolov3-tiny.cfg", what="cfg", env_var="YOLO_CFG", option="--cfg")
    assert bundled == BUNDLED_DIR / "yolov3-tiny.cfg"
    assert resolve_model_file(None, what="cfg", env_var="YOLO_CFG", option="--cfg", bundled="yolov3.cfg") == Path(
        BUNDLED_DIR / "yolov3.cfg")


@pytest.mark.parametrize("name", ["yolov3", "yolov3.cfg", "yolov3-tiny", "yolov3-tiny.cfg"])
def test_cfg_names_the_examples_use_mean_the_bundled_cfgs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YOLO_CFG", name)
    found = resolve_model_file(None, what="YOLO cfg", env_var="YOLO_CFG", option="--cfg", bundled_suffix=".cfg")
    assert found == BUNDLED_DIR / f"{name.removesuffix('.cfg')}.cfg"
    with pytest.raises(ModelFileError, match="YOLO cfg not found: yolov3-huge"):
        resolve_model_file("yolov3-huge", what="YOLO cfg", env_var="YOLO_CFG", option="--cfg", bundled_suffix=".cfg")
