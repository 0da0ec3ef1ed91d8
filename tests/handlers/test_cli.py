"""The `avgen-handler` command line: help, exit codes, lazy imports, and no tracebacks."""
from __future__ import annotations

import subprocess
import sys

import pytest

from batch_jobs.handlers import cli
from batch_jobs.handlers.handler_errors import EXIT_CODES

from .conftest import REPO_ROOT, run_handler_process


def test_help_lists_the_tools_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "{ffmpeg,yolo,audio2srt}" in text and "exit codes:" in text
    assert all(meaning in text for meaning in EXIT_CODES.values())


@pytest.mark.parametrize("command", [["ffmpeg", "split", "-h"], ["ffmpeg", "audio", "-h"], ["ffmpeg", "avi", "-h"],
                                     ["yolo", "image", "-h"], ["yolo", "video", "-h"], ["audio2srt", "-h"]])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    assert exit_info.value.code == 0 and "usage: avgen-handler" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["ffmpeg"], ["ffmpeg", "split", "only-input"], ["yolo", "image", "x.jpg"],
                                  ["yolo", "image", "x.jpg", "out", "--conf", "2"], ["nonsense"]])
def test_bad_command_lines_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2


def test_ffmpeg_commands_do_not_import_opencv_or_pocketsphinx(tmp_path):
    probe_script = (
        "import sys; from batch_jobs.handlers import cli; "
        f"code = cli.main(['ffmpeg', 'audio', {str(tmp_path / 'absent.mp4')!r}, 'x.wav']); "
        "heavy = sorted(m for m in ('cv2', 'numpy', 'pocketsphinx', 'boto3') if m in sys.modules); "
        "print(code, heavy)"
    )
    result = subprocess.run([sys.executable, "-c", probe_script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "3 []", result.stderr


def test_unexpected_failures_are_one_line_unless_debugging(handler, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("batch_jobs.handlers.ffmpeg.split_frames", broken)
    result = handler("ffmpeg", "split", tmp_path / "in.mp4", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == ("avgen-handler: internal error: ZeroDivisionError: division by zero "
                             "(AVGEN_DEBUG=1 shows the traceback)\n")
    monkeypatch.setenv("AVGEN_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        handler("ffmpeg", "split", tmp_path / "in.mp4", tmp_path)


def test_a_missing_media_package_says_which_extra_brings_it(handler, monkeypatch, tmp_path):
    def without_opencv(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'cv2'", name="cv2")  # as `import cv2` raises it

    monkeypatch.setattr("batch_jobs.handlers.ffmpeg.split_frames", without_opencv)
    result = handler("ffmpeg", "split", tmp_path / "in.mp4", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == ("avgen-handler: error: the media handlers need cv2, which is not installed here: "
                             "pip install 'avgen[media]' (function images have it)\n")


def test_quiet_keeps_stderr_for_errors_and_module_entry_point_works(tmp_path):
    result = run_handler_process("-q", "audio2srt", tmp_path / "absent.wav", tmp_path / "a.srt")
    assert result.returncode == 3
    assert result.stderr == f"avgen-handler: error: input file not found: {tmp_path / 'absent.wav'}\n"
