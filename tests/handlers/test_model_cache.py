"""The models a process keeps (batch_jobs/handlers/model_cache.py): one per kind and configuration, at most
AVGEN_WARM_MAX_MODELS of them, and none while memory is short."""
from __future__ import annotations

import pytest

from batch_jobs.handlers import model_cache, warm_handler


@pytest.fixture(autouse=True)
def empty_cache():
    model_cache.clear()
    yield
    model_cache.clear()


def test_one_model_per_kind_and_configuration_least_recently_used_dropped(monkeypatch):
    monkeypatch.setenv(model_cache.MAX_MODELS_VARIABLE, "2")
    monkeypatch.setattr(model_cache, "under_pressure", lambda: False)
    loads = []

    def loader(name):
        return lambda: loads.append(name) or object()

    first = model_cache.cached("yolo", ("a",), loader("a"))
    assert model_cache.cached("yolo", ("a",), loader("a")) is first  # loaded once
    model_cache.cached("whisper", ("a",), loader("whisper a"))        # same configuration, other kind
    model_cache.cached("yolo", ("a",), loader("a"))                   # a is now the most recently used
    model_cache.cached("yolo", ("b",), loader("b"))                   # over the bound: whisper a goes
    assert loads == ["a", "whisper a", "b"]
    assert model_cache.loaded() == [("yolo", "a"), ("yolo", "b")]


def test_models_are_dropped_while_memory_is_short(monkeypatch):
    monkeypatch.setattr(model_cache, "under_pressure", lambda: False)
    model_cache.cached("yolo", ("a",), object)
    model_cache.cached("yolo", ("b",), object)
    short = iter([True, False])  # short of memory until one model is dropped
    monkeypatch.setattr(model_cache, "under_pressure", lambda: next(short))
    assert model_cache.relieve_memory_pressure() == 1
    assert model_cache.loaded() == [("yolo", "b")]


def test_lambda_memory_size_is_the_limit(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1")  # 1 MB: any Python process is above 80 %
    assert model_cache.under_pressure()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1000000")
    monkeypatch.setattr(model_cache, "_machine_memory", lambda: (100, 50))
    assert not model_cache.under_pressure()


@pytest.mark.parametrize("argv, served", [
    (["yolo", "image", "a.jpg", "out"], True),
    (["-q", "audio2srt", "a.wav", "a.srt"], True),
    (["ffmpeg", "split", "v.mp4", "out"], False),   # no model to keep
    (["yolo", "image", "--help"], False),
    ([], False),
])
def test_model_loading_commands_go_to_the_warm_handler(argv, served):
    assert warm_handler.wants_warm(argv) is served


def test_without_a_container_or_with_warm_off_the_call_runs_here(monkeypatch, tmp_path):
    monkeypatch.delenv(warm_handler.SOCKET_VARIABLE, raising=False)
    assert warm_handler.call_warm(["yolo", "image", "a.jpg", "out"]) is None
    monkeypatch.setenv(warm_handler.SOCKET_VARIABLE, str(tmp_path / "handler.sock"))
    monkeypatch.setenv("AVGEN_WARM", "0")
    assert warm_handler.call_warm(["yolo", "image", "a.jpg", "out"]) is None
    assert not (tmp_path / "handler.sock").exists()  # no server was started
