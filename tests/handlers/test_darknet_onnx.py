"""darknet → ONNX conversion: exact against OpenCV DNN on YOLOv3-tiny (real weights) and YOLOv3, cached."""
from __future__ import annotations

import cv2
import numpy as np
import onnxruntime
import pytest

from batch_jobs.handlers import darknet_onnx, engines
from batch_jobs.handlers.handler_errors import ModelFileError
from batch_jobs.handlers.yolo import preprocess
from tests.media import make_yolo_model

pytestmark = pytest.mark.media
EXACT = 1e-4  # float32 arithmetic in another order; measured here: ~1e-5


def both_engines(cfg, weights, blob):
    session = onnxruntime.InferenceSession(darknet_onnx.convert_darknet(cfg, weights).SerializeToString(),
                                           providers=[engines.CPU_PROVIDER])
    converted = session.run(None, {darknet_onnx.INPUT_NAME: blob})
    reference = engines.OpenCvEngine(cfg, weights, backend="cpu", threads=0, low_memory=False).run(blob)
    return converted, reference


def test_real_yolov3_tiny_converts_exactly(real_tiny_model, real_photos):
    cfg, weights, _ = real_tiny_model(416)
    for photo in real_photos.values():
        blob, _ = preprocess(cv2.imread(str(photo)), 416, 416, letterbox=True)
        converted, reference = both_engines(cfg, weights, blob)
        assert [c.shape for c in converted] == [(1, 507, 85), (1, 2028, 85)]
        assert any((r[:, 5:] > 0).any() for r in reference)  # real detections among the rows compared
        assert engines.outputs_agree(converted, reference, EXACT, darknet_onnx.DEFAULT_YOLO_THRESHOLD) is None


def test_yolov3_converts_exactly(tmp_path):
    """Darknet-53 with shortcuts, three heads, upsampling; every parameter matters (`varied` weights)."""
    cfg, weights, _ = make_yolo_model(tmp_path, "yolov3", input_size=256, varied=True)
    picture = np.random.default_rng(3).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    blob, _ = preprocess(picture, 256, 256, letterbox=True)
    converted, reference = both_engines(cfg, weights, blob)
    assert [c.shape[1] for c in converted] == [8 * 8 * 3, 16 * 16 * 3, 32 * 32 * 3]
    spread = max(float(np.ptp(r[:, :4])) for r in reference)
    assert spread > 0.1  # the boxes depend on the input: the comparison is not of constants
    assert engines.outputs_agree(converted, reference, EXACT, darknet_onnx.DEFAULT_YOLO_THRESHOLD) is None


def test_a_batch_of_frames_gives_each_frame_its_rows(tiny_model):
    cfg, weights, _ = tiny_model
    session = onnxruntime.InferenceSession(darknet_onnx.convert_darknet(cfg, weights).SerializeToString(),
                                           providers=[engines.CPU_PROVIDER])
    frames = np.random.default_rng(1).random((3, 3, 128, 128), dtype=np.float32)
    together = session.run(None, {darknet_onnx.INPUT_NAME: frames})
    for index in range(3):
        alone = session.run(None, {darknet_onnx.INPUT_NAME: frames[index : index + 1]})
        for batch_rows, single_rows in zip(together, alone, strict=True):
            np.testing.assert_allclose(batch_rows[index], single_rows[0], atol=1e-5)


def copy_of(model, folder):
    """The cfg and weights in a folder of the test's own (the session's model folder may hold a cached model)."""
    folder.mkdir()
    cfg, weights = folder / "tiny.cfg", folder / "tiny.weights"
    cfg.write_bytes(model[0].read_bytes())
    weights.write_bytes(model[1].read_bytes())
    return cfg, weights


def test_converted_model_is_cached_next_to_the_weights_by_content(tiny_model, tmp_path, avgen_log):
    cfg, weights = copy_of(tiny_model, folder := tmp_path / "model")
    checked = []
    first = darknet_onnx.converted_model_path(cfg, weights, verify=checked.append)
    again = darknet_onnx.converted_model_path(cfg, weights, verify=checked.append)
    assert first == again and first.parent == folder and len(checked) == 1
    assert sum("converted" in r.message for r in avgen_log.records) == 1
    changed = bytearray(weights.read_bytes())
    changed[-4:] = np.float32(0.5).tobytes()
    weights.write_bytes(bytes(changed))
    assert darknet_onnx.converted_model_path(cfg, weights) != first  # new weights, new model
    assert not list(folder.glob("*.partial"))


def test_read_only_weights_folder_caches_in_the_model_cache(tiny_model, tmp_path, monkeypatch):
    # A folder baked into an image is read-only for the function's user (root could write anyway).
    monkeypatch.setattr(darknet_onnx.os, "access", lambda path, mode: False)
    monkeypatch.setenv("AVGEN_MODEL_CACHE", str(tmp_path / "cache"))
    model = copy_of(tiny_model, tmp_path / "model")
    path = darknet_onnx.converted_model_path(*model)
    assert path.parent == tmp_path / "cache" / "onnx"
    assert darknet_onnx.converted_model_path(*model) == path


def test_a_conversion_that_fails_its_check_is_not_cached(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(darknet_onnx.os, "access", lambda path, mode: False)
    monkeypatch.setenv("AVGEN_MODEL_CACHE", str(tmp_path / "cache"))

    def disagree(path):
        raise ModelFileError("differs")

    with pytest.raises(ModelFileError, match="differs"):
        darknet_onnx.converted_model_path(*copy_of(tiny_model, tmp_path / "model"), verify=disagree)
    assert list((tmp_path / "cache" / "onnx").iterdir()) == []


def test_the_opencv_cross_check_catches_a_wrong_model(tiny_model, blind_model, tmp_path):
    """The check made at conversion time: another network's model is refused."""
    other = tmp_path / "other.onnx"
    other.write_bytes(darknet_onnx.convert_darknet(*blind_model[:2]).SerializeToString())
    check = engines.opencv_cross_check(*tiny_model[:2], 128, 128)
    with pytest.raises(ModelFileError, match="differs from OpenCV DNN"):
        check(other)
    right = tmp_path / "right.onnx"
    right.write_bytes(darknet_onnx.convert_darknet(*tiny_model[:2]).SerializeToString())
    check(right)


@pytest.mark.parametrize(("section", "problem"), [
    ("[convolutional]\nfilters=8\nsize=3\nactivation=mish\n", "activation 'mish' is not supported"),
    ("[reorg]\nstride=2\n", "cannot be converted to ONNX"),
])
def test_unsupported_layers_are_named(tmp_path, section, problem):
    cfg = tmp_path / "odd.cfg"
    cfg.write_text(f"[net]\nwidth=32\nheight=32\nchannels=3\n{section}")
    weights = tmp_path / "odd.weights"
    weights.write_bytes(np.array([0, 2, 0], np.int32).tobytes() + np.zeros(1, np.int64).tobytes()
                        + np.zeros(8 + 8 * 27, np.float32).tobytes())
    with pytest.raises(ModelFileError, match=problem):
        darknet_onnx.convert_darknet(cfg, weights)
