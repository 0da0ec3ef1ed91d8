"""write_output: brings a folder up to date, reports staleness, never touches files avgen didn't write."""
from __future__ import annotations

import hashlib
import json

from typer.testing import CliRunner

from generator.cli import app
from generator.render.root import MANIFEST, read_manifest, write_output

from .cases import CASES

FILES = {"main.tf": "# main\n", "modules/x/main.tf": "# module x\n"}


def test_first_write_creates_every_file_and_a_manifest(tmp_path):
    result = write_output(tmp_path, FILES)
    assert [(c.path, c.action) for c in result.changes] == [("main.tf", "create"), ("modules/x/main.tf", "create")]
    assert (tmp_path / "modules/x/main.tf").read_text() == "# module x\n"
    assert set(read_manifest(tmp_path)) == set(FILES)
    assert not write_output(tmp_path, FILES, check=True).stale


def test_check_reports_a_diff_and_writes_nothing(tmp_path):
    write_output(tmp_path, FILES)
    changed = {**FILES, "main.tf": "# main, changed\n"}
    result = write_output(tmp_path, changed, check=True)
    assert result.stale and [(c.path, c.action) for c in result.changes] == [("main.tf", "update")]
    assert "-# main\n+# main, changed\n" in result.diff
    assert (tmp_path / "main.tf").read_text() == "# main\n"


def test_a_file_avgen_did_not_write_is_never_overwritten(tmp_path):
    (tmp_path / "main.tf").write_text("# the user's own main.tf\n")
    result = write_output(tmp_path, FILES)
    assert result.conflicts == ["main.tf"] and result.stale
    assert (tmp_path / "main.tf").read_text() == "# the user's own main.tf\n"
    assert "main.tf" not in read_manifest(tmp_path)


def test_other_files_in_the_folder_are_left_alone(tmp_path):
    write_output(tmp_path, FILES)
    (tmp_path / "avgen_sandbox_override.tf").write_text("# override\n")
    (tmp_path / "modules/x/notes.md").write_text("mine\n")
    (tmp_path / "terraform.tfstate").write_text("{}")
    result = write_output(tmp_path, {"main.tf": "# main\n"})  # module x is no longer generated
    assert [(c.path, c.action) for c in result.changes] == [("modules/x/main.tf", "delete")]
    assert not (tmp_path / "modules/x/main.tf").exists()
    for kept in ("avgen_sandbox_override.tf", "modules/x/notes.md", "terraform.tfstate"):
        assert (tmp_path / kept).exists(), kept
    assert not write_output(tmp_path, {"main.tf": "# main\n"}, check=True).stale


def test_files_no_longer_generated_are_removed_with_their_empty_folders(tmp_path):
    write_output(tmp_path, FILES)
    write_output(tmp_path, {"main.tf": "# main\n"})
    assert not (tmp_path / "modules").exists()


def test_an_edited_file_that_is_no_longer_generated_is_kept(tmp_path):
    write_output(tmp_path, FILES)
    (tmp_path / "modules/x/main.tf").write_text("# edited by hand\n")
    result = write_output(tmp_path, {"main.tf": "# main\n"})
    assert result.conflicts == ["modules/x/main.tf"]
    assert (tmp_path / "modules/x/main.tf").read_text() == "# edited by hand\n"


def test_a_generated_file_edited_by_hand_is_regenerated(tmp_path):
    write_output(tmp_path, FILES)
    (tmp_path / "main.tf").write_text("# edited, although the header says not to\n")
    assert write_output(tmp_path, FILES, check=True).stale
    write_output(tmp_path, FILES)
    assert (tmp_path / "main.tf").read_text() == "# main\n"


def test_the_manifest_is_deterministic(tmp_path):
    write_output(tmp_path / "a", FILES)
    write_output(tmp_path / "b", dict(reversed(list(FILES.items()))))
    assert (tmp_path / "a" / MANIFEST).read_bytes() == (tmp_path / "b" / MANIFEST).read_bytes()
    assert json.loads((tmp_path / "a" / MANIFEST).read_text())["files"].keys() == FILES.keys()


def test_cli_generate_check_gates_on_stale_output(tmp_path):
    runner = CliRunner()
    workflow = str(CASES["video-process"])
    out = tmp_path / "tf"
    assert runner.invoke(app, ["generate", workflow, "-o", str(out), "--check"]).exit_code == 1  # nothing yet
    written = runner.invoke(app, ["generate", workflow, "-o", str(out)])
    assert written.exit_code == 0, written.output
    current = runner.invoke(app, ["generate", workflow, "-o", str(out), "--check"])
    assert current.exit_code == 0 and "current" in current.output
    (out / "main.tf").write_text((out / "main.tf").read_text().replace("memory_size            = 3008",
                                                                        "memory_size            = 1024"))
    stale = runner.invoke(app, ["generate", workflow, "-o", str(out), "--check"])
    assert stale.exit_code == 1
    assert "-      memory_size            = 1024" in stale.output
    assert "+      memory_size            = 3008" in stale.output


def test_cli_generate_reports_files_in_the_way(tmp_path):
    out = tmp_path / "tf"
    out.mkdir()
    (out / "main.tf").write_text("# someone else's\n")
    result = CliRunner().invoke(app, ["generate", str(CASES["video-process"]), "-o", str(out)])
    assert result.exit_code == 1
    assert (out / "main.tf").read_text() == "# someone else's\n"


def _craft_manifest(folder, paths):
    (folder / MANIFEST).write_text(json.dumps({"files": {path: "0" * 64 for path in paths}}))


def test_a_crafted_manifest_never_deletes_outside_the_folder(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    victim, absolute_victim = tmp_path / "victim.txt", tmp_path / "absolute.txt"
    for file in (victim, absolute_victim):
        file.write_text("keep me\n")
    # the sha256 matches, so only the path check stands between the manifest and the files
    (folder / MANIFEST).write_text(json.dumps({"files": {
        "../victim.txt": hashlib.sha256(b"keep me\n").hexdigest(),
        str(absolute_victim): hashlib.sha256(b"keep me\n").hexdigest()}}))
    result = write_output(folder, FILES)
    assert victim.read_text() == "keep me\n" and absolute_victim.read_text() == "keep me\n"
    assert set(result.skipped) == {"../victim.txt", str(absolute_victim)}
    assert set(read_manifest(folder)) == set(FILES)


def test_a_symlinked_subfolder_never_receives_generated_files(tmp_path):
    folder, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "modules").symlink_to(elsewhere, target_is_directory=True)
    result = write_output(folder, FILES)
    assert list(elsewhere.iterdir()) == []
    assert result.skipped == ["modules/x/main.tf"] and result.stale
    assert (folder / "main.tf").read_text() == "# main\n"


def test_a_symlinked_file_is_neither_overwritten_nor_deleted(tmp_path):
    folder, outside = tmp_path / "out", tmp_path / "outside.tf"
    folder.mkdir()
    outside.write_text("# main\n")
    for files in ({"main.tf": "# changed\n"}, {}):  # overwrite, then delete as no longer generated
        write_output(folder, {"main.tf": "# main\n"})
        (folder / "main.tf").unlink()
        (folder / "main.tf").symlink_to(outside)
        assert write_output(folder, files).skipped == ["main.tf"]
        (folder / "main.tf").unlink()
        assert outside.read_text() == "# main\n"


def test_cli_generate_reports_skipped_manifest_entries_without_a_traceback(tmp_path):
    out = tmp_path / "tf"
    out.mkdir()
    (tmp_path / "victim.txt").write_text("keep me\n")
    _craft_manifest(out, ["../victim.txt", "modules"])
    result = CliRunner().invoke(app, ["generate", str(CASES["video-process"]), "-o", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert (tmp_path / "victim.txt").read_text() == "keep me\n"
    assert "victim.txt" in result.output and "skipped" in result.output
