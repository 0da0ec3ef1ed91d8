"""YOLO post-processing on synthetic network outputs whose right answer is known: thresholds, per-class
NMS, mapping boxes back through letterbox or stretch, clipping, drawing and the darknet-style text."""
from __future__ import annotations

import numpy as np
import pytest

from batch_jobs.handlers.handler_errors import UsageError
from batch_jobs.handlers.yolo import (
    Detection,
    DetectionSettings,
    class_colour,
    darknet_text,
    draw_detections,
    letterbox_geometry,
    postprocess,
    preprocess,
    stretch_geometry,
)

NAMES = ["person", "bicycle", "car"]


def row(cx, cy, w, h, scores):
    """One output row: box relative to the network input, objectness, per-class scores."""
    return [cx, cy, w, h, max(scores), *scores]


def outputs(*rows):
    return [np.array(rows, dtype=np.float32)]


SQUARE = stretch_geometry(100, 100, 100, 100)  # image = network input: relative × 100 = pixels


def test_overlapping_boxes_of_one_class_keep_only_the_best():
    result = postprocess(outputs(
        row(0.50, 0.50, 0.40, 0.40, [0.9, 0, 0]),
        row(0.52, 0.50, 0.40, 0.40, [0.8, 0, 0]),  # IoU ≈ 0.9 with the first: suppressed
        row(0.10, 0.10, 0.10, 0.10, [0.7, 0, 0]),  # elsewhere: kept
    ), SQUARE, NAMES, confidence=0.25, nms=0.45)
    assert [(d.label, round(d.confidence, 2), d.left, d.top) for d in result] == [
        ("person", 0.9, 30, 30), ("person", 0.7, 5, 5)]


def test_nms_is_per_class_and_a_box_can_carry_several_classes():
    result = postprocess(outputs(
        row(0.5, 0.5, 0.4, 0.4, [0.9, 0, 0]),
        row(0.5, 0.5, 0.4, 0.4, [0, 0, 0.6]),  # same place, other class: kept
        row(0.8, 0.8, 0.2, 0.2, [0.5, 0.4, 0]),  # above threshold for two classes: two detections
    ), SQUARE, NAMES, confidence=0.3, nms=0.45)
    assert [(d.label, round(d.confidence, 2)) for d in result] == [
        ("person", 0.9), ("car", 0.6), ("person", 0.5), ("bicycle", 0.4)]


def test_nms_threshold_decides_what_overlap_suppresses():
    rows = outputs(row(0.40, 0.5, 0.4, 0.4, [0.9, 0, 0]), row(0.60, 0.5, 0.4, 0.4, [0.8, 0, 0]))  # IoU = 1/3
    assert len(postprocess(rows, SQUARE, NAMES, confidence=0.25, nms=0.45)) == 2
    assert len(postprocess(rows, SQUARE, NAMES, confidence=0.25, nms=0.30)) == 1


def test_confidence_threshold_is_strict_and_empty_outputs_are_fine():
    rows = outputs(row(0.5, 0.5, 0.2, 0.2, [0.25, 0, 0]), row(0.2, 0.2, 0.1, 0.1, [0.2501, 0, 0]))
    assert [round(d.confidence, 4) for d in postprocess(rows, SQUARE, NAMES, 0.25, 0.45)] == [0.2501]
    assert postprocess([np.zeros((0, 8), np.float32)], SQUARE, NAMES, 0.25, 0.45) == []
    assert postprocess([], SQUARE, NAMES, 0.25, 0.45) == []


def test_boxes_map_back_through_the_letterbox():
    # 200×100 image into a 100×100 input: scaled by 0.5 to 100×50, placed 25 px from the top.
    geometry = letterbox_geometry(200, 100, 100, 100)
    assert (geometry.content_left, geometry.content_top, geometry.content_width, geometry.content_height) == (
        0, 25, 100, 50)
    # A box centred on the input, 20×10 input pixels → centred on the image, 40×20 image pixels.
    [d] = postprocess(outputs(row(0.5, 0.5, 0.2, 0.1, [0.9, 0, 0])), geometry, NAMES, 0.25, 0.45)
    assert (d.left, d.top, d.width, d.height) == (80, 40, 40, 20)


def test_boxes_map_back_through_a_stretch():
    geometry = stretch_geometry(200, 100, 100, 100)
    [d] = postprocess(outputs(row(0.5, 0.5, 0.2, 0.1, [0.9, 0, 0])), geometry, NAMES, 0.25, 0.45)
    assert (d.left, d.top, d.width, d.height) == (80, 45, 40, 10)


def test_boxes_are_clipped_to_the_image():
    [d] = postprocess(outputs(row(0.05, 0.95, 0.3, 0.3, [0.9, 0, 0])), SQUARE, NAMES, 0.25, 0.45)
    assert (d.left, d.top, d.left + d.width, d.top + d.height) == (0, 80, 20, 99)


def test_class_ids_beyond_the_names_are_labelled_by_number():
    [d] = postprocess(outputs(row(0.5, 0.5, 0.2, 0.2, [0, 0, 0, 0.9])), SQUARE, NAMES, 0.25, 0.45)
    assert (d.class_id, d.label) == (3, "3")


def test_letterbox_preprocessing_pads_with_grey_like_darknet():
    image = np.full((50, 200, 3), 255, np.uint8)  # white, 4:1
    blob, geometry = preprocess(image, 64, 64, letterbox=True)
    assert blob.shape == (1, 3, 64, 64) and (geometry.content_width, geometry.content_height) == (64, 16)
    assert blob[0, :, 0, 0] == pytest.approx([0.5, 0.5, 0.5])  # padding
    assert blob[0, :, 32, 32] == pytest.approx([1.0, 1.0, 1.0])  # image
    stretched, _ = preprocess(image, 64, 64, letterbox=False)
    assert stretched.min() == pytest.approx(1.0)


def test_preprocessing_feeds_rgb():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :, 0] = 255  # blue in OpenCV's BGR
    blob, _ = preprocess(image, 32, 32, letterbox=False)
    assert blob[0, :, 16, 16] == pytest.approx([0.0, 0.0, 1.0])


def test_drawing_outlines_each_box_in_its_class_colour_and_leaves_the_input_alone():
    image = np.zeros((120, 160, 3), np.uint8)
    detection = Detection(2, "car", 0.87, left=40, top=50, width=60, height=40)
    annotated = draw_detections(image, [detection])
    assert image.max() == 0
    assert tuple(annotated[70, 40]) == class_colour(2)  # left edge of the box
    assert tuple(annotated[70, 70]) == (0, 0, 0)  # inside stays untouched
    assert annotated[40:50, 40:100].any()  # caption above the box
    assert class_colour(0) != class_colour(1) != class_colour(2)


def test_darknet_text_lists_label_percentage_and_box():
    text = darknet_text("dog.jpg", [Detection(16, "dog", 0.994, 128, 224, 186, 319)], 0.0523)
    assert text == (
        "dog.jpg: Predicted in 52.3 milliseconds.\n"
        "dog: 99%\n"
        "\t(left_x:  128   top_y:  224   width:  186   height:  319)\n"
    )
    assert darknet_text("empty.jpg", [], 0.01) == "empty.jpg: Predicted in 10.0 milliseconds.\n"


@pytest.mark.parametrize("settings", [{"confidence": 1.5}, {"nms": -0.1}])
def test_thresholds_outside_0_1_are_refused(settings):
    with pytest.raises(UsageError):
        DetectionSettings(**settings)
