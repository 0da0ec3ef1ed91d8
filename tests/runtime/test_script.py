import os
import time

from lambda_src.script import TAIL_BYTES, read_tail, run_script

from ..processes import wait_dead


def test_exit_code_and_output_are_reported(write_script, tmp_path):
    script = write_script('echo "to stdout"; echo "to stderr" >&2; exit 3\n')
    outcome = run_script(str(script), env={"PATH": os.environ["PATH"]}, timeout=10, output_path=tmp_path / "out")
    assert outcome.exit_code == 3 and not outcome.timed_out
    assert outcome.output_tail == "to stdout\nto stderr\n"
    assert outcome.output_bytes == len(outcome.output_tail)


def test_the_script_runs_with_bin_sh_and_the_given_environment(write_script, tmp_path):
    # No shebang and no execute bit: SCAR runs `/bin/sh script`, so must we.
    script = write_script('printf "%s" "$GREETING"\n')
    outcome = run_script(str(script), env={"GREETING": "hola ñ"}, timeout=10, output_path=tmp_path / "out")
    assert outcome.exit_code == 0 and outcome.output_tail == "hola ñ"


def test_timeout_kills_the_whole_process_group(write_script, tmp_path):
    pid_file = tmp_path / "background.pid"
    script = write_script(f'sleep 30 & echo $! > "{pid_file}"; sleep 30\n')
    started = time.monotonic()
    outcome = run_script(str(script), env={"PATH": os.environ["PATH"]}, timeout=0.5, output_path=tmp_path / "out")
    assert outcome.timed_out and outcome.exit_code is None
    assert time.monotonic() - started < 25  # not the 30 s of the script: however loaded the machine, far less
    assert wait_dead(int(pid_file.read_text()))


def test_background_jobs_do_not_outlive_a_finished_script(write_script, tmp_path):
    pid_file = tmp_path / "background.pid"
    script = write_script(f'sleep 30 & echo $! > "{pid_file}"; exit 0\n')
    outcome = run_script(str(script), env={"PATH": os.environ["PATH"]}, timeout=10, output_path=tmp_path / "out")
    assert outcome.exit_code == 0
    assert wait_dead(int(pid_file.read_text()))


def test_death_by_signal_is_reported_like_a_shell_does(write_script, tmp_path):
    outcome = run_script(str(write_script("kill -9 $$\n")), env={}, timeout=10, output_path=tmp_path / "out")
    assert outcome.exit_code == 137


def test_only_the_tail_of_a_long_output_is_kept(write_script, tmp_path):
    script = write_script('i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done\n')
    outcome = run_script(str(script), env={}, timeout=30, output_path=tmp_path / "out")
    assert outcome.output_bytes > TAIL_BYTES
    assert len(outcome.output_tail.encode()) <= TAIL_BYTES
    assert outcome.output_tail.endswith("line 2999\n")
    assert outcome.output_tail.startswith("line ")  # the cut-off first line is dropped


def test_read_tail_of_short_and_non_utf8_files(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"ok \xff\n")
    assert read_tail(path) == "ok \ufffd\n"


def test_a_child_in_a_session_of_its_own_does_not_outlive_the_script(write_script, tmp_path):
    pid_file = tmp_path / "escaped.pid"
    script = write_script(f'setsid sh -c \'echo $$ > "{pid_file}"; exec sleep 30\' &\n'
                          f'while [ ! -s "{pid_file}" ]; do sleep 0.05; done\n')
    outcome = run_script(str(script), env={"PATH": os.environ["PATH"]}, timeout=10, output_path=tmp_path / "out")
    assert outcome.exit_code == 0
    assert wait_dead(int(pid_file.read_text()))
