"""`avgen run --local`: the whole workflow on this machine, under the same runtime code as Lambda and Batch.

Storage is any `lambda_src.storage.Storage`: a folder per bucket by default, or an S3 API. Every object
created (the user's inputs, then every output a function uploads) is an event; the functions whose S3
triggers match its key run on it, as S3 notifications would start them, through
`lambda_src.core.run_invocation`. Lambda-side runs get the function's timeout as Lambda would give it; a
`lambda-batch` function that runs out of it hands the object over to a Batch-side run (no time limit, the
job's environment), as on AWS, and `batch` functions run Batch-side directly. At most `workers` invocations
run at once. Like Lambda, each function has up to `containers` warm containers (lambda_src/warm_containers.py), each
running one invocation at a time, whose warm handler keeps the models loaded between invocations; a
Batch-side run is a container of its own, as a job is. A chain of invocations that grows past `max_depth`, or a
function run more than `max_per_function` times, stops the run with the functions involved named. SIGINT,
SIGTERM or SIGHUP kills the scripts running (with everything they started) and ends the run; the report
says which invocations were cut short and which never started.

Nothing here prints: the caller gets `RunEvent`s while it runs and a `RunReport` at the end.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from generator.aws.executor import HANDLER_COMMAND, handler_shim
from generator.interrupts import interrupts_as_exceptions, interrupts_held, signal_name
from generator.workdirs import make_workdir
from generator.workflow.model import Function, Workflow
from lambda_src import scar_layout
from lambda_src.config import FunctionConfig
from lambda_src.core import InvocationResult, run_invocation
from lambda_src.events import s3_notification
from lambda_src.logs import LOGGER_NAME, JsonFormatter
from lambda_src.script import end_running_scripts
from lambda_src.storage import Storage, file_sha256
from lambda_src.warm_containers import Container, ContainerPool

DEFAULT_MAX_DEPTH = 20
DEFAULT_MAX_PER_FUNCTION = 1000
MEDIA_EXTRA = "pip install 'avgen[media]'"
# What each avgen-handler command needs besides avgen itself: executables and Python modules.
HANDLER_NEEDS = {
    "ffmpeg": ("ffmpeg",),
    "probe": ("ffmpeg",),
    "yolo": ("ffmpeg", "cv2", "numpy", "onnxruntime"),
    "audio2srt": ("ffmpeg", "faster_whisper"),
}
# the avgen-handler command behind each SCAR tool stand-in (lambda_src/scar_layout.py)
STANDIN_HANDLERS = {"darknet": f"{HANDLER_COMMAND} yolo", "audio2srt.py": f"{HANDLER_COMMAND} audio2srt"}
# audio2srt's engine as the function's environment chooses it (the handler's default is whisper)
AUDIO2SRT_ENGINE_MODULES = {"whisper": "faster_whisper", "pocketsphinx": "pocketsphinx"}
PYTHON_MODULES = {"cv2", "numpy", "pocketsphinx", "faster_whisper", "onnxruntime"}
INSTALL_HINTS = {
    "ffmpeg": "apt-get install ffmpeg  (macOS: brew install ffmpeg)",
    "ffprobe": "apt-get install ffmpeg  (macOS: brew install ffmpeg)",
    "espeak-ng": "apt-get install espeak-ng",
    "sox": "apt-get install sox",
    "darknet": "apt-get install darknet, or call it as SCAR's scripts do (`cd /opt/darknet; ./darknet detect …`), "
               "which runs avgen's stand-in (docs/runtime.md)",
    "cv2": MEDIA_EXTRA, "numpy": MEDIA_EXTRA, "pocketsphinx": MEDIA_EXTRA, "faster_whisper": MEDIA_EXTRA,
    "onnxruntime": MEDIA_EXTRA,
}
SHELL_WORDS = frozenset("""
    ! { } [ [[ ]] : . alias bg break case cd command continue do done echo elif else esac eval exec exit export
    false fg fi for function getopts hash if in jobs kill local printf pwd read readonly return set shift source
    test then times trap true type ulimit umask unalias unset until wait while
""".split())
_COMMAND_START = re.compile(r"(?:^|;|&&|\|\||(?<![<>])&(?!>)|(?<!>)\||\$\(|`|\bthen\b|\bdo\b|\belse\b)\s*")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# a here-document's start, `<<WORD`, `<<-'WORD'`, `<< "WORD"`, `<<\WORD` (not a here-string, `<<<`)
_HEREDOC = re.compile(r"(?<![<\w)])<<(?!<)(-?)\s*\\?([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


# --- what the scripts need ------------------------------------------------------------------------


@dataclass(frozen=True)
class MissingTool:
    tool: str
    functions: tuple[str, ...]
    images: tuple[str, ...]

    @property
    def install(self) -> str:
        if self.tool in INSTALL_HINTS:
            return INSTALL_HINTS[self.tool]
        # the sandbox runs scripts with this machine's tools too (it does not run images), so it is no way out
        return (f"it comes with the image {', '.join(self.images)}: install it here (the sandbox, too, runs the "
                "scripts with this machine's tools), or run the workflow on AWS (avgen apply)")

    @property
    def message(self) -> str:
        kind = "Python module" if self.tool in PYTHON_MODULES else "command"
        return f"{kind} {self.tool!r}, used by {', '.join(self.functions)}, is not installed here: {self.install}"


def script_commands(text: str) -> list[str]:
    """The commands a shell script runs (first words of its simple commands), in order, without repeats.
    A heuristic: words built from variables or quotes are left out; for `avgen-handler` the subcommand
    is kept (`avgen-handler yolo`)."""
    found: dict[str, None] = {}
    # the delimiters of the here-documents still open: their bodies are data (a Python program for
    # `python3 - <<'PY'`), not commands
    open_docs: list[tuple[str, str]] = []
    for raw in text.splitlines():
        if open_docs:
            dash, delimiter = open_docs[0]
            if (raw.lstrip("\t") if dash else raw) == delimiter:
                open_docs.pop(0)
            continue
        line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
        open_docs = [(m.group(1), m.group(3)) for m in _HEREDOC.finditer(line)]
        found.update(dict.fromkeys(filter(None, map(_command_of, _COMMAND_START.split(line)))))
    return list(found)


def _command_of(piece: str) -> str | None:
    """The command a simple command runs (after its variable assignments); None for none, or one built from
    variables, quotes or shell syntax."""
    words = piece.split()
    while words and _ASSIGNMENT.match(words[0]):
        words.pop(0)
    if not words:
        return None
    word = words[0]
    if word in SHELL_WORDS or any(c in word for c in "$\"'`()<>=") or word.startswith("-"):
        return None
    if word == HANDLER_COMMAND and len(words) > 1:
        return f"{HANDLER_COMMAND} {words[1]}"
    return word


def function_needs(function: Function) -> list[str]:
    """Executables and Python modules the function's script needs on this machine."""
    if function.script is None or not Path(function.script).is_file():
        return []
    needs: dict[str, None] = {}
    for command in script_commands(Path(function.script).read_text(encoding="utf-8", errors="replace")):
        # SCAR's tools (`./darknet`, `./audio2srt.py`) are the runtime's stand-ins on avgen's handlers
        command = STANDIN_HANDLERS.get(scar_layout.COMMANDS.get(command, ""), command)
        if command.startswith(HANDLER_COMMAND):
            sub = command[len(HANDLER_COMMAND):].strip()
            wanted = list(HANDLER_NEEDS.get(sub, ()))
            if sub == "audio2srt":
                engine = function.environment.get("AUDIO2SRT_ENGINE", "whisper")
                wanted = [AUDIO2SRT_ENGINE_MODULES.get(engine, "faster_whisper") if w == "faster_whisper" else w
                          for w in wanted]
            needs.update(dict.fromkeys(wanted))
        else:
            needs[command] = None
    return list(needs)


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def check_tools(workflow: Workflow, functions: Sequence[Function] | None = None, *,
                which: Callable[[str], str | None] | None = None,
                module_exists: Callable[[str], bool] | None = None) -> list[MissingTool]:
    """What the functions' scripts use that this machine lacks, with how to install it."""
    which, module_exists = which or shutil.which, module_exists or has_module
    missing: dict[str, tuple[list[str], list[str]]] = {}
    for function in functions or workflow.functions:
        for need in function_needs(function):
            present = module_exists(need) if need in PYTHON_MODULES else (
                which(need) is not None or (need.startswith(("./", "/")) and Path(need).is_file()))
            if not present:
                users, images = missing.setdefault(need, ([], []))
                users.append(function.name)
                if function.image not in images:
                    images.append(function.image)
    return [MissingTool(tool, tuple(users), tuple(images)) for tool, (users, images) in missing.items()]


# --- events and results ---------------------------------------------------------------------------


@dataclass
class Invocation:
    number: int
    function: str
    bucket: str
    key: str
    chain: tuple[str, ...]  # the functions whose outputs led here, this one last
    runs_on: str = "lambda"  # or "batch": a batch-mode function, or a lambda-batch one handed over
    status: str = "pending"  # then: running, and one of lambda_src.core's statuses (succeeded, failed, ...)
    seconds: float = 0.0
    outputs: tuple[str, ...] = ()  # s3://bucket/key written
    unchanged: tuple[str, ...] = ()  # outputs already there with the same content: not written, no trigger
    reason: str = ""
    output_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "skipped", "delegated")

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class RunEvent:
    """What the live view shows: kind is `input` (a file stored), `start`, `finish`, or `stop` (loop guard)."""

    kind: str
    invocation: Invocation | None = None
    message: str = ""
    queued: int = 0


@dataclass(frozen=True)
class OutputObject:
    bucket: str
    key: str
    size: int
    function: str
    source: str  # s3://bucket/key of the object it was made from

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass
class RunReport:
    inputs: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    outputs: list[OutputObject] = field(default_factory=list)
    stopped: str = ""  # the loop guard's message when it stopped the run
    interrupted: str = ""  # the signal that ended the run (SIGINT, SIGTERM, SIGHUP), if one did
    seconds: float = 0.0

    @property
    def failures(self) -> list[Invocation]:
        return [i for i in self.invocations if not i.ok]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.stopped and not self.interrupted

    @property
    def unchanged(self) -> list[str]:
        return [uri for i in self.invocations for uri in i.unchanged]


@dataclass(frozen=True)
class Limits:
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    containers: int = field(default_factory=lambda: os.cpu_count() or 1)  # warm containers per function
    max_depth: int = DEFAULT_MAX_DEPTH
    max_per_function: int = DEFAULT_MAX_PER_FUNCTION
    # Give Lambda-side runs the function's timeout, as Lambda would (a lambda-batch function that runs out
    # of it is handed to a local "Batch" run with no limit, as on AWS).
    lambda_time_limit: bool = True


def loop_message(chain: Sequence[str], why: str) -> str:
    repeated = [name for name, count in Counter(chain).items() if count > 1]
    involved = repeated or list(dict.fromkeys(chain))
    shown = " → ".join(chain if len(chain) <= 8 else [*chain[:3], "…", *chain[-4:]])
    return (f"stopped a runaway loop ({why}): {shown}. Functions involved: {', '.join(involved)}. "
            "Their outputs trigger one another; send one of them to a folder none of them reads")


def absolute_paths(environment: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """`environment` with each value that is a relative path to an existing file or folder under `cwd` made
    absolute: the scripts run in a temporary folder of their own, where a relative path names nothing."""
    resolved = {}
    for name, value in environment.items():
        path = Path(value)
        if value and not path.is_absolute() and (cwd / path).exists():
            value = str((cwd / path).resolve())
        resolved[name] = value
    return resolved


# --- the runner -----------------------------------------------------------------------------------


class HandOver:
    """The local stand-in for Batch's SubmitJob: the runner queues a Batch-side run of the same object."""

    def submit(self, *, job_name: str, event: Mapping, parent_request_id: str) -> str:
        return f"local-batch-{parent_request_id}"


class LocalRunner:
    def __init__(self, workflow: Workflow, storage: Storage, *, environment: Mapping[str, str] | None = None,
                 limits: Limits = Limits(), on_event: Callable[[RunEvent], None] | None = None,
                 log_stream: TextIO | None = None, workdir: Path | None = None):
        self.workflow = workflow
        self.storage = storage
        self.overrides = dict(environment or {})
        self.limits = limits
        self.on_event = on_event or (lambda event: None)
        self.log_stream = log_stream
        self.workdir = workdir
        self.report = RunReport()
        self._counts: Counter[str] = Counter()
        self._pending: deque[Invocation] = deque()
        self.containers = ContainerPool(limits.containers)

    # -- configuration of one function, as Terraform would give it ---------------------------------------
    def environment_of(self, function: Function, bin_dir: Path, runs_on: str = "lambda") -> dict[str, str]:
        env = dict(function.environment)
        if runs_on == "batch" and function.batch:  # what its job definition adds
            env.update(function.batch.environment)
        env.update(self.overrides)
        env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH") or os.environ.get("PATH", "")])
        return env

    def run(self, uploads: Sequence[tuple[Path, str, str]]) -> RunReport:
        """Store each (local file, bucket, key), then run every function the new objects trigger, and so on."""
        began = time.monotonic()
        with interrupts_as_exceptions():
            self._run(uploads)
        self.report.seconds = time.monotonic() - began
        return self.report

    def _run(self, uploads: Sequence[tuple[Path, str, str]]) -> None:
        logger, saved = self._capture_logs()
        bin_dir = Path(tempfile.mkdtemp(prefix="avgen-bin-"))
        try:
            handler_shim(bin_dir)
            configs = {(f.name, side): self._config(f, bin_dir, side)
                       for f in self.workflow.functions for side in ("lambda", "batch")}
            for path, bucket, key in uploads:
                self.storage.upload(Path(path), bucket, key, sha256=file_sha256(Path(path)))
                self.report.inputs.append(f"s3://{bucket}/{key}")
                self.on_event(RunEvent("input", message=f"s3://{bucket}/{key}"))
                self._created(bucket, key, ())
            self._drive(configs)
        finally:
            self.containers.close()
            shutil.rmtree(bin_dir, ignore_errors=True)
            self._restore_logs(logger, saved)

    def _config(self, function: Function, bin_dir: Path, runs_on: str) -> FunctionConfig | None:
        if function.script is None:
            return None
        return FunctionConfig.from_dict(function.runtime_config(), script=str(function.script),
                                        environment=self.environment_of(function, bin_dir, runs_on))

    def _created(self, bucket: str, key: str, chain: tuple[str, ...]) -> None:
        """An object appeared: queue an invocation of every function it triggers (loop guard first)."""
        for function in self.workflow.consumers_of(bucket, key):
            if self.report.stopped:
                return
            path = (*chain, function.name)
            if len(path) > self.limits.max_depth:
                self._stop(loop_message(path, f"a chain of more than {self.limits.max_depth} functions"))
                return
            if self._counts[function.name] >= self.limits.max_per_function:
                self._stop(loop_message(path, f"{function.name} ran {self.limits.max_per_function} times"))
                return
            self._counts[function.name] += 1
            self._queue(function.name, bucket, key, path, "batch" if function.execution_mode == "batch" else "lambda")

    def _queue(self, function: str, bucket: str, key: str, chain: tuple[str, ...], runs_on: str) -> None:
        invocation = Invocation(len(self.report.invocations) + 1, function, bucket, key, chain, runs_on)
        self.report.invocations.append(invocation)
        self._pending.append(invocation)

    def _stop(self, message: str) -> None:
        self.report.stopped = message
        self._cancel_pending("the run was stopped by the loop guard")
        self.on_event(RunEvent("stop", message=message))

    def _cancel_pending(self, reason: str) -> None:
        for invocation in self._pending:
            invocation.status, invocation.reason = "cancelled", reason
        self._pending.clear()

    def _drive(self, configs: Mapping[tuple[str, str], FunctionConfig | None]) -> None:
        running: dict[Future, Invocation] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.limits.workers), thread_name_prefix="avgen-run") as pool:
            try:
                while self._pending or running:
                    while self._pending and len(running) < max(1, self.limits.workers):
                        # an interrupt between the queue and `running` would lose the invocation: its script
                        # would run to its end unseen, and the pool's shutdown wait for it
                        with interrupts_held():
                            invocation = self._pending.popleft()
                            invocation.status = "running"
                            config = configs[(invocation.function, invocation.runs_on)]
                            running[pool.submit(self._invoke, config, invocation)] = invocation
                        self.on_event(RunEvent("start", invocation, queued=len(self._pending)))
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for future in done:
                        invocation = running.pop(future)
                        self._finished(invocation, future)
            except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM / SIGHUP (generator/interrupts.py)
                self._interrupted(signal_name(exc), running)

    def _interrupted(self, signame: str, running: dict[Future, Invocation]) -> None:
        """End the scripts under way (their whole process groups) and record what was left unfinished."""
        self.report.interrupted = signame
        while running:
            done: set[Future] = set()
            with contextlib.suppress(KeyboardInterrupt):  # a second signal: they are being ended already
                # again until every worker is back: one may have been about to start its script
                end_running_scripts()
                done, _ = wait(list(running), timeout=0.1)
            for future in done:
                self._finished(running.pop(future), future, interrupted_by=signame)
        self._cancel_pending(f"never started: the run was ended by {signame}")

    def _invoke(self, config: FunctionConfig | None, invocation: Invocation) -> tuple[InvocationResult, float]:
        if config is None:
            raise RuntimeError(f"{invocation.function} has no init_script: its image's own entrypoint does the "
                               "work, which cannot run outside the image")
        began = time.monotonic()
        info = self.storage.head(invocation.bucket, invocation.key)
        event = s3_notification(invocation.bucket, invocation.key, info.size if info else 0)
        function = self.workflow.function(invocation.function)
        on_lambda = invocation.runs_on == "lambda" and self.limits.lambda_time_limit
        # On the Lambda side, lambda-batch hands the object over (to _finished, which queues a Batch-side run)
        submitter = HandOver() if on_lambda and function.execution_mode == "lambda-batch" else None
        with self._container(invocation) as container:
            result = run_invocation(config, event, self.storage, request_id=f"local-{invocation.number:05d}",
                                    deadline=began + function.timeout if on_lambda else None, submitter=submitter,
                                    workdir=self.workdir, container=container)
        return result, time.monotonic() - began

    @contextlib.contextmanager
    def _container(self, invocation: Invocation) -> Iterator[Container]:
        """A Lambda-side run borrows one of the function's warm containers; a Batch-side run is a job, a
        container of its own."""
        if invocation.runs_on == "lambda":
            with self.containers.lease(invocation.function) as container:
                yield container
            return
        container = Container()
        try:
            yield container
        finally:
            container.close()

    def _finished(self, invocation: Invocation, future: Future, interrupted_by: str = "") -> None:
        try:
            result, invocation.seconds = future.result()
        except Exception as exc:  # the runtime reports per-object problems itself; this is anything else
            invocation.status, invocation.reason = "error", f"{type(exc).__name__}: {exc}"
            self.on_event(RunEvent("finish", invocation, queued=len(self._pending)))
            return
        [record] = result.records
        invocation.status, invocation.reason = record.status, record.reason
        if interrupted_by and not invocation.ok:  # its script was killed, not failing by itself
            invocation.status, invocation.reason = "interrupted", f"its script was killed: avgen got {interrupted_by}"
        invocation.outputs, invocation.output_tail = record.uploaded, record.output_tail
        invocation.unchanged = record.unchanged
        for target in record.uploaded:
            bucket, key = target[len("s3://"):].split("/", 1)
            info = self.storage.head(bucket, key)
            self.report.outputs.append(OutputObject(bucket, key, info.size if info else 0, invocation.function,
                                                    invocation.source))
        if record.status == "delegated":  # the Lambda side ran out of time: Batch takes the same object over
            self._queue(invocation.function, invocation.bucket, invocation.key, invocation.chain, "batch")
        self.on_event(RunEvent("finish", invocation, queued=len(self._pending)))
        for target in record.uploaded:
            bucket, key = target[len("s3://"):].split("/", 1)
            self._created(bucket, key, invocation.chain)

    # -- the runtime's JSON log lines go to a file (or nowhere), not over the live view -----------------
    def _capture_logs(self) -> tuple[logging.Logger, tuple[list[logging.Handler], int, bool]]:
        logger = logging.getLogger(LOGGER_NAME)
        saved = (list(logger.handlers), logger.level, logger.propagate)
        for existing in saved[0]:
            logger.removeHandler(existing)
        handler: logging.Handler
        if self.log_stream is not None:
            handler = logging.StreamHandler(self.log_stream)
            handler.setFormatter(JsonFormatter())
        else:
            handler = logging.NullHandler()
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        return logger, saved

    @staticmethod
    def _restore_logs(logger: logging.Logger, saved) -> None:
        handlers, level, propagate = saved
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@dataclass
class RunTarget:
    """Where a run keeps its buckets: a folder of folders, or an S3 API (the sandbox, MinIO, …)."""

    storage: Storage
    where: str
    created_buckets: list[str] = field(default_factory=list)
    remote: bool = False


def run_target(workflow: Workflow, extra_buckets: Sequence[str], *, connection=None, store: Path | None = None,
               fresh: bool = False) -> RunTarget:
    """Storage for a run: through `connection` when given (missing buckets created), else folders in `store`."""
    names = sorted({b.name for b in workflow.buckets} | set(extra_buckets))
    if connection is not None:
        from generator.verbs.transfer import ensure_buckets, transfer_config
        from lambda_src.storage import S3Storage

        client = connection.s3()
        created = ensure_buckets(client, names)
        return RunTarget(S3Storage(client, transfer_config=transfer_config()), connection.endpoint_url or "S3", created,
                         remote=True)
    from lambda_src.storage import DirectoryStorage

    assert store is not None  # without a connection, the caller names the folder
    root = make_workdir(Path(store))
    if fresh:
        for name in names:
            shutil.rmtree(root / name, ignore_errors=True)
    return RunTarget(DirectoryStorage(root), str(root))


def run_local(workflow: Workflow, inputs: Sequence[tuple[Path, str, str]], target: RunTarget, *, log_path: Path,
              environment: Mapping[str, str], limits: Limits, on_event: Callable) -> RunReport:
    """Store `inputs` (path, bucket, key) and run every function they trigger, to the end; log to `log_path`."""
    log_path = Path(log_path)
    make_workdir(log_path.parent)
    with open(log_path, "a", encoding="utf-8") as log_stream:
        runner = LocalRunner(workflow, target.storage, environment=environment, limits=limits, on_event=on_event,
                             log_stream=log_stream)
        if not target.remote or not inputs:
            return runner.run(list(inputs))
        from generator.verbs.transfer import s3_errors

        # storing the inputs is the one S3 call outside the runtime (which reports its own problems)
        with s3_errors(inputs[0][1], action="write to"):
            return runner.run(list(inputs))
