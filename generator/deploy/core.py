"""plan / apply / destroy / outputs: generate the Terraform, then drive it (optionally in the sandbox).

The core of the deployment commands. It returns values and calls the callbacks it is given (progress,
confirmation); it never prints.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from generator import orphans
from generator.aws.clients import count_object_versions, empty_bucket, s3_client
from generator.aws.sandbox import Sandbox, remove_provider_override, write_provider_override
from generator.deploy.planview import PlanSummary, summarize
from generator.deploy.terraform import LineHandler, TerraformOptions, TerraformRunner
from generator.errors import DeployError
from generator.workdirs import IMAGES_DIR, SANDBOX_STATE, WorkflowFiles, default_workdir, distinct_files, make_workdir
from generator.workflow.findings import Finding, has_errors
from generator.workflow.load import load_workflow
from generator.workflow.model import BACKEND_HINT, Workflow

PLAN_FILE = "avgen.tfplan"
PLAN_META = ".avgen-plan.json"
SANDBOX_MARKER = ".avgen-sandbox"
DESTROYED_MARKER = ".avgen-destroyed"  # written by a destroy, removed by the next apply
# Resources that hold users' data: `avgen destroy` keeps them unless --delete-buckets.
BUCKET_DATA_TYPES = frozenset({
    "aws_s3_bucket", "aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy", "aws_s3_bucket_lifecycle_configuration",
})

# What belongs to the account, not to one workflow: earlier avgen versions could create Batch's service-linked
# role with a workflow. `avgen destroy` forgets it instead of deleting it (Terraform would destroy it: its
# `removed` block in modules/batch-shared is honoured by apply, not by a destroy plan).
ACCOUNT_TYPES = frozenset({"aws_iam_service_linked_role"})

Confirm = Callable[[PlanSummary], bool]
OnEvent = Callable[[dict], None]



@dataclass
class DeployOptions:
    workdir: Path | None = None
    sandbox: bool = False
    terraform: TerraformOptions = field(default_factory=TerraformOptions)
    # switch on EventBridge delivery of existing buckets that trigger functions (generator/deploy/buckets.py)
    enable_eventbridge: bool = False
    # what the user should read while a command goes on (a saved plan made again, a wait); never printed here
    notify: Callable[[str], None] = field(default=lambda message: None)


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    workflow: Workflow | None = None
    workdir: Path | None = None
    summary: PlanSummary | None = None
    applied: bool = False
    outputs: dict = field(default_factory=dict)
    kept_buckets: list[str] = field(default_factory=list)
    eventbridge_enabled: list[str] = field(default_factory=list)  # existing buckets switched on by this apply
    images: list = field(default_factory=list)  # the sandbox's images (images.PushedImage), registered by apply

    @property
    def blocked(self) -> bool:
        return has_errors(self.findings)


class Deployment:
    """One workflow file and the folder its Terraform runs in."""

    def __init__(self, workflow_file: WorkflowFiles, options: DeployOptions):
        # one file, or several that make one workflow (SCAR 3.x), in a stable order
        files = distinct_files(workflow_file)
        self.workflow_file: WorkflowFiles = files[0] if len(files) == 1 else files
        self.options = options
        # absolute: terraform runs inside it, and plan files are named from here
        if options.sandbox and options.terraform.backend_config:
            # Terraform itself refuses backend settings the selected backend does not take; dropping them
            # silently would let a pipeline believe the sandbox ran against the state they name.
            raise DeployError("--backend-config names a real state backend, and --sandbox never uses one (its "
                              "state stays in its working folder, in a local backend): drop --backend-config "
                              "for the sandbox")
        self.workdir = Path(options.workdir or default_workdir(self.workflow_file, options.sandbox)).resolve()
        self.workflow: Workflow | None = None
        self.contexts: list = []  # the functions' build contexts (images.ImageContext), written for the sandbox

    def _files_label(self) -> str:
        files = self.workflow_file
        return str(files) if isinstance(files, Path) else " ".join(str(f) for f in files)

    # -- steps shared by every command ---------------------------------------------------------------
    def load(self) -> list[Finding]:
        result = load_workflow(self.workflow_file)
        self.workflow = result.workflow
        return result.findings

    def generate(self) -> None:
        from generator.render.root import render, write_output  # the renderer imports the templates lazily

        make_workdir(self.workdir)
        self._check_state_kind()
        assert self.workflow is not None  # loaded by _prepare()
        written = write_output(self.workdir, render(self.workflow))
        if written.conflicts:
            # terraform would otherwise run someone else's files next to (or instead of) the workflow's
            raise DeployError(f"{self.workdir} holds files avgen did not write, in the way of its own: "
                              f"{', '.join(map(str, written.conflicts))}; move them away (or use another "
                              "--workdir) and run again")
        if written.skipped:
            raise DeployError(f"{self.workdir}: avgen writes only regular files inside it and skipped "
                              f"{', '.join(written.skipped)} (outside it, behind a symlink or not a regular "
                              "file); remove them (or use another --workdir) and run again")
        if self.options.sandbox:
            from generator.deploy.images import write_contexts

            # the executor runs each function from its build context, in place of its image
            self.contexts = write_contexts(self.workflow, self.workdir / IMAGES_DIR)
            write_provider_override(self.workdir, local_backend=self.workflow.settings.backend is not None)
            (self.workdir / SANDBOX_MARKER).write_text("state of the avgen sandbox, not of an AWS account\n")
        else:
            remove_provider_override(self.workdir)

    def _check_state_kind(self) -> None:
        marked = (self.workdir / SANDBOX_MARKER).exists()
        has_state = (self.workdir / "terraform.tfstate").exists()
        if marked and not self.options.sandbox:
            raise DeployError(f"{self.workdir} holds the state of a sandbox deployment; add --sandbox, or use "
                              "another --workdir for a real AWS account")
        if self.options.sandbox and has_state and not marked:
            raise DeployError(f"{self.workdir} holds the state of a real deployment; use another --workdir "
                              "for the sandbox")

    @contextlib.contextmanager
    def terraform(self, need_aws: bool = True) -> Iterator[TerraformRunner]:
        """A runner for the working folder; with --sandbox, an emulator runs while it is used. The terraform
        of a killed avgen command is let finish first, and a state cut off mid-write is never used."""
        try:
            orphans.wait_for_orphan(self.workdir, self.options.notify)
        except TimeoutError as exc:
            raise DeployError(f"the terraform of an interrupted avgen command (pid {exc.args[0]}) is still running "
                              f"in {self.workdir} after {orphans.WAIT_S:.0f} s: let it end (or stop it with "
                              f"`kill -INT {exc.args[0]}`, once), then run this again") from None
        state = self.local_state_file()
        if state is not None:
            check_state_file(state)
        options = self.options.terraform
        if not (self.options.sandbox and need_aws):
            yield TerraformRunner(self.workdir, options)
            return
        region = self.workflow.settings.region if self.workflow else "us-east-1"
        with Sandbox(self.workdir / SANDBOX_STATE, region) as sandbox:
            sandboxed = TerraformOptions(**{**vars(options), "env": {**options.env, **sandbox.env}})
            yield TerraformRunner(self.workdir, sandboxed)

    def local_state_file(self) -> Path | None:
        """Where terraform keeps the state in the working folder: the sandbox's, or the workflow's own local
        backend (`path` or terraform.tfstate); None for a remote backend (S3), which terraform reads itself."""
        backend = self.workflow.settings.backend if self.workflow else None
        if self.options.sandbox or backend is None:
            return self.workdir / "terraform.tfstate"
        if backend.type != "local":
            return None
        return self.workdir / str(backend.config.get("path") or "terraform.tfstate")

    # -- plan fingerprints: apply uses the saved plan only when nothing it was made from changed ----
    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.workdir.rglob("*")):
            if path.is_file() and ".terraform" not in path.parts and path.suffix in (".tf", ".json", ".tfvars") \
                    and path.name != PLAN_META and SANDBOX_STATE not in path.relative_to(self.workdir).parts:
                digest.update(str(path.relative_to(self.workdir)).encode())
                digest.update(path.read_bytes())
        options = self.options.terraform
        digest.update(json.dumps([options.variables, [Path(f).read_text() for f in options.var_files],
                                  self.options.sandbox]).encode())
        return digest.hexdigest()

    def _save_plan_meta(self, summary: PlanSummary, destroy: bool) -> None:
        meta = {"fingerprint": self._fingerprint(), "destroy": destroy, "summary": summary.to_dict()}
        (self.workdir / PLAN_META).write_text(json.dumps(meta, indent=2))

    def _current_plan(self) -> dict | None:
        meta_file, plan_file = self.workdir / PLAN_META, self.workdir / PLAN_FILE
        if not (meta_file.exists() and plan_file.exists()):
            return None
        meta = json.loads(meta_file.read_text())
        return meta if meta.get("fingerprint") == self._fingerprint() and not meta.get("destroy") else None

    def _stale_plan(self, tf: TerraformRunner) -> bool:
        """Whether the state changed since the saved plan was made (an interrupted apply wrote part of it, or
        another apply ran): terraform refuses such a plan ("Saved plan is stale"). Stricter than terraform,
        which does not check a plan made before there was any state, and would apply it again."""
        made_from = saved_plan_state(self.workdir / PLAN_FILE)
        return made_from is None or made_from != tf.state_version()

    def _forget_plan(self) -> None:
        (self.workdir / PLAN_FILE).unlink(missing_ok=True)
        (self.workdir / PLAN_META).unlink(missing_ok=True)

    # -- commands ----------------------------------------------------------------------------------
    def _prepare(self) -> Outcome:
        outcome = Outcome(findings=self.load(), workdir=self.workdir)
        outcome.workflow = self.workflow
        if not outcome.blocked:
            self.generate()
        return outcome

    def _plan(self, tf: TerraformRunner, on_line: LineHandler | None, destroy: bool = False,
              targets: tuple[str, ...] = ()) -> PlanSummary:
        tf.init(on_line)
        tf.plan(self.workdir / PLAN_FILE, destroy=destroy, targets=targets, on_line=on_line)
        assert self.workflow is not None  # loaded by _prepare()
        summary = summarize(tf.show_plan(self.workdir / PLAN_FILE), self.workflow)
        self._save_plan_meta(summary, destroy)
        return summary

    def _check_shared_buckets(self) -> None:
        """Refuse a deployment that would replace another's triggers on a shared bucket (deploy/sharing.py)."""
        from generator.deploy.sharing import shared_bucket_problem

        assert self.workflow is not None  # loaded by _prepare()
        # other deployments are looked for among avgen's own folders only (`.avgen/NAME`), not in a --workdir
        problem = shared_bucket_problem(self.workflow, distinct_files(self.workflow_file), self.workdir,
                                        self.options.sandbox, other_deployments=self.workdir.parent.name == ".avgen")
        if problem:
            raise DeployError(problem)

    def require_backend(self) -> None:
        """An AWS account's state belongs in a shared, locked backend: without avgen.backend, plan and apply
        stop unless the workflow keeps the state local on purpose (`type: local`). The sandbox is exempt."""
        assert self.workflow is not None  # loaded by _prepare()
        if self.options.sandbox or self.workflow.settings.backend is not None:
            return
        raise DeployError(f"{self._files_label()} names no avgen.backend, so the Terraform state of an AWS "
                          f"account would stay in {self.workdir} without locking; {BACKEND_HINT}")

    def plan(self, on_line: LineHandler | None = None, with_text: bool = False) -> Outcome:
        """Save a plan; `with_text` adds terraform's own text of it to the summary (for a PR comment)."""
        outcome = self._prepare()
        if outcome.blocked:
            return outcome
        self.require_backend()
        self._check_shared_buckets()
        if not self.options.sandbox:
            self._refuse_missing_images(ask_ecr=False)
        with self.terraform() as tf:
            if self.options.sandbox:
                self._sandbox_images(tf, register=False)
            outcome.summary = self._plan(tf, on_line)
            if with_text:
                outcome.summary.plan_text = tf.show_plan_text(self.workdir / PLAN_FILE)
        return outcome

    def apply(self, confirm: Confirm, on_event: OnEvent | None = None,
              on_line: LineHandler | None = None, targets: tuple[str, ...] = ()) -> Outcome:
        """Apply; `targets` limits it to some resources (avgen build creates the ECR repositories first)."""
        outcome = self._prepare()
        if outcome.blocked:
            return outcome
        self.require_backend()
        self._check_shared_buckets()
        if not (self.options.sandbox or targets):
            self._refuse_missing_images(ask_ecr=True)
        with self.terraform() as tf:
            eventbridge_off = {} if targets else self._check_existing_buckets(tf.options.env)
            if self.options.sandbox and not targets:
                outcome.images = self._sandbox_images(tf, register=True)
            meta = None if targets else self._current_plan()
            if meta is not None:
                tf.init(on_line)
                if self._stale_plan(tf):
                    self.options.notify("the saved plan was made before the state last changed (an interrupted "
                                        "apply, or another one since): planning again")
                    self._forget_plan()
                    meta = None
            if meta is None:
                outcome.summary = self._plan(tf, on_line, targets=targets)
            else:
                assert self.workflow is not None  # loaded by _prepare()
                outcome.summary = summarize(tf.show_plan(self.workdir / PLAN_FILE), self.workflow)
            if outcome.summary.has_changes:
                if not confirm(outcome.summary):
                    return outcome
                (self.workdir / DESTROYED_MARKER).unlink(missing_ok=True)
                outcome.eventbridge_enabled = self._enable_eventbridge(eventbridge_off, tf.options.env)
                try:
                    tf.apply_plan(self.workdir / PLAN_FILE, on_event)
                finally:
                    self._forget_plan()  # applied or failed, a saved plan is never applied twice
                outcome.applied = True
            else:
                self._forget_plan()
            outcome.outputs = tf.outputs()
        return outcome

    def _check_existing_buckets(self, env: dict[str, str]) -> dict[str, dict]:
        """Existing buckets with triggers must exist and deliver to EventBridge (or be allowed to be switched
        on) before their rules are planned; returns the configurations of those still to switch on."""
        from generator.deploy.buckets import buckets_needing_eventbridge, check_eventbridge

        assert self.workflow is not None  # loaded by _prepare()
        buckets = buckets_needing_eventbridge(self.workflow)
        if not buckets:
            return {}
        return check_eventbridge(s3_client(region=self.workflow.settings.region, env=env), buckets,
                                 may_enable=self.options.enable_eventbridge, workflow_file=self._files_label())

    def _enable_eventbridge(self, configurations: dict[str, dict], env: dict[str, str]) -> list[str]:
        from generator.deploy.buckets import enable_eventbridge

        if not configurations:
            return []
        assert self.workflow is not None  # loaded by _prepare()
        return enable_eventbridge(s3_client(region=self.workflow.settings.region, env=env), configurations)

    def _refuse_missing_images(self, ask_ecr: bool) -> None:
        """Stop before terraform when a function has no image recorded (`avgen build --push` records them), or,
        with `ask_ecr`, when ECR does not hold a recorded one: Lambda would reject it half-way through the
        apply (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html: the image must exist in an
        Amazon ECR repository of the function's region). The generated Terraform stops a plan without them
        too (a precondition of each Lambda function); this says it before terraform runs, with the command."""
        from generator.aws.clients import boto_session
        from generator.deploy.images import IMAGES_VARS_FILE, functions_without_images

        assert self.workflow is not None  # loaded by _prepare()
        if self._images_given_elsewhere():
            return  # terraform's precondition judges images given with --var / --var-file
        ecr = boto_session(region=self.workflow.settings.region, env=self.options.terraform.env).client("ecr") \
            if ask_ecr else None
        missing = functions_without_images(self.workflow, self.workdir, ecr)
        if not missing:
            return
        problems = []
        if missing.unrecorded:
            problems.append(f"no image is recorded for {', '.join(missing.unrecorded)} (in "
                            f"{self.workdir / IMAGES_VARS_FILE})")
        if missing.absent:
            problems.append(f"ECR does not hold the recorded image of {', '.join(missing.absent)}")
        workdir = f" -w {self.options.workdir}" if self.options.workdir else ""
        raise DeployError(
            f"{'; '.join(problems)}: Lambda cannot create a function from an image that does not exist. Build "
            f"and push them first with `avgen build {self._files_label()} --push{workdir}` (it creates the "
            "repositories, pushes the images ECR does not hold yet and records their digests), then run this again")

    def _images_given_elsewhere(self) -> bool:
        """function_images set with --var or in a --var-file rather than in the images file."""
        options = self.options.terraform
        return any(v.strip().startswith("function_images") for v in options.variables) or any(
            "function_images" in Path(f).read_text(errors="replace") for f in options.var_files if Path(f).is_file())

    def _sandbox_images(self, tf: TerraformRunner, register: bool) -> list:
        """The sandbox's `avgen build --push`. Each function's image there is a manifest that stands for its
        build context (images.sandbox_manifest), registered in the sandbox's ECR under the context's content
        tag, and its digest is recorded for terraform as on AWS. A plan records the digests the images will
        have; an apply creates the missing repositories first (a targeted apply: the sandbox is no account,
        so it is not asked about) and registers the images ECR does not hold yet. Lambda in the sandbox, as
        on AWS, refuses a function whose image was never pushed (generator/aws/sandbox_server.py)."""
        from generator.aws.clients import boto_session
        from generator.deploy.images import push_all, record_images, sandbox_push, sandbox_reference

        assert self.workflow is not None  # loaded by _prepare()
        env = tf.options.env
        session = boto_session(region=self.workflow.settings.region, env=env)
        ecr = session.client("ecr", endpoint_url=env.get("AWS_ENDPOINT_URL"))
        names = {f.name: f.resource_name.lower() for f in self.workflow.functions}  # modules/ecr-repository
        if not register:
            account = session.client("sts", endpoint_url=env.get("AWS_ENDPOINT_URL")).get_caller_identity()["Account"]
            registry = f"{account}.dkr.ecr.{self.workflow.settings.region}.amazonaws.com"
            record_images(self.workdir, {c.function: sandbox_reference(registry, names[c.function], c)
                                         for c in self.contexts}, functions=names)
            return []
        repositories = _repositories(ecr)
        if not set(names.values()) <= set(repositories):
            self._plan(tf, None, targets=("module.image",))
            try:
                tf.apply_plan(self.workdir / PLAN_FILE, None)
            finally:
                self._forget_plan()
            repositories = _repositories(ecr)
        registered: list = []
        images = push_all(self.contexts, {f: repositories[r] for f, r in names.items() if r in repositories}, ecr,
                          push=sandbox_push(ecr), on_image=registered.append)
        record_images(self.workdir, images, functions=names)
        return registered

    def destroy(self, confirm: Confirm, *, delete_buckets: bool = False, force: bool = False,
                on_event: OnEvent | None = None, on_line: LineHandler | None = None) -> Outcome:
        outcome = self._prepare()
        if outcome.blocked:
            return outcome
        assert self.workflow is not None  # loaded by _prepare()
        with self.terraform() as tf:
            tf.init(on_line)
            addresses = self._destroyable(tf)
            full: list[str] = []
            if delete_buckets:
                full = self._buckets_to_empty(force, tf.options.env)  # refuses before anything is asked
                targets: tuple[str, ...] = ()
            else:
                targets = tuple(a for a in addresses if resource_type(a) not in BUCKET_DATA_TYPES)
                outcome.kept_buckets = sorted(b.name for b in self.workflow.buckets if b.create)
            if not addresses or (not delete_buckets and not targets):
                outcome.summary = PlanSummary(workflow=self.workflow.name)
                return outcome
            outcome.summary = self._plan(tf, on_line, destroy=True, targets=targets)
            if outcome.summary.has_changes and confirm(outcome.summary):
                self._apply_destroy(tf, full, outcome, on_event)
            else:
                self._forget_plan()
        return outcome

    @staticmethod
    def _destroyable(tf: TerraformRunner) -> list[str]:
        """The managed resources in the state, after taking out those that belong to the account."""
        addresses = [a for a in tf.state_list() if not a.startswith("data.") and ".data." not in a]
        accounts = [a for a in addresses if resource_type(a) in ACCOUNT_TYPES]
        if accounts:
            tf.state_rm(accounts)
        return [a for a in addresses if a not in accounts]

    def _apply_destroy(self, tf: TerraformRunner, full: list[str], outcome: Outcome,
                       on_event: OnEvent | None) -> None:
        # only now, confirmed: a "no" (or no terminal to ask on) must leave every object in place
        self._empty(full, tf.options.env)
        try:
            tf.apply_plan(self.workdir / PLAN_FILE, on_event)
        finally:
            self._forget_plan()
        outcome.applied = True
        # a targeted destroy leaves the root outputs in the state: they must not read as live
        kept_names = ", ".join(outcome.kept_buckets) or "none"
        (self.workdir / DESTROYED_MARKER).write_text(f"destroyed; buckets kept: {kept_names}\n")

    def _buckets_to_empty(self, force: bool, env: dict[str, str]) -> list[str]:
        """The buckets to empty before deleting them; refuse when they hold objects, unless forced."""
        assert self.workflow is not None  # loaded by _prepare()
        names = [b.name for b in self.workflow.buckets if b.create]
        s3 = s3_client(env=env)
        counts = {name: count_object_versions(s3, name) for name in names}
        full = {name: n for name, n in counts.items() if n}
        if full and not force:
            listing = ", ".join(f"{name} ({n} object version{'s' * (n != 1)})" for name, n in sorted(full.items()))
            raise DeployError(f"these buckets are not empty: {listing}. Nothing was destroyed. Download what "
                              "you need (avgen get), then run again with --force to delete the objects too")
        return sorted(full)

    @staticmethod
    def _empty(names: list[str], env: dict[str, str]) -> None:
        s3 = s3_client(env=env)
        for name in names:
            empty_bucket(s3, name)

    def outputs(self) -> Outcome:
        outcome = Outcome(findings=self.load(), workdir=self.workdir)
        outcome.workflow = self.workflow
        if outcome.blocked:
            return outcome
        if not (self.workdir / "terraform.tfstate").exists() and not (self.workdir / ".terraform").exists():
            sandbox = default_workdir(self.workflow_file, sandbox=True)
            sandboxed = not self.options.sandbox and self.options.workdir is None and (
                sandbox / "terraform.tfstate").exists() and not (sandbox / DESTROYED_MARKER).exists()
            also = "; the sandbox holds a deployment of it: did you mean --sandbox?" if sandboxed else ""
            raise DeployError(f"nothing is deployed from {self.workdir}: run `avgen apply` first{also}")
        destroyed = self.workdir / DESTROYED_MARKER
        if destroyed.exists():
            raise DeployError(f"the workflow deployed from {self.workdir} was destroyed "
                              f"({destroyed.read_text().strip()}): run `avgen apply` to deploy it again")
        with self.terraform(need_aws=False) as tf:
            if not (self.workdir / ".terraform").exists():
                tf.init()  # outputs are read from the state: no provider needed once initialised
            outcome.outputs = tf.outputs()
        return outcome


def saved_plan_state(plan_file: Path) -> tuple[str, int] | None:
    """(lineage, serial) of the state a saved plan was made from (its `tfstate`; ("", 0) before any state);
    None when the file is not a plan terraform wrote."""
    try:
        with zipfile.ZipFile(plan_file) as plan:
            state = json.loads(plan.read("tfstate"))
        return str(state.get("lineage") or ""), int(state.get("serial") or 0)
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):
        return None


def check_state_file(state: Path) -> None:
    """Refuse a local state file that is empty or cut off (terraform killed while writing it): terraform would
    read an empty one as nothing deployed, and plan everything again."""
    state = Path(state)
    try:
        text = state.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DeployError(f"{state} cannot be read ({exc.strerror or exc}): terraform needs it") from None
    if _valid_state(text):
        return
    backup = state.with_name(state.name + ".backup")
    how = "empty" if not text.strip() else "not a whole Terraform state (cut off?)"
    try:
        kept = _valid_state(backup.read_bytes())
    except OSError:
        kept = False
    if kept:
        fix = (f"{backup} holds the state as it was before the run that wrote it: restore it with "
               f"`cp {backup} {state}`, then run this again (what that run created after it is not in the "
               "backup: apply then fails with 'already exists' for each, which `terraform import` adopts)")
    else:
        fix = f"no valid {backup.name} is there to restore"
    raise DeployError(f"{state} is {how}, so avgen will not run terraform on it; {fix}")


def _valid_state(text: bytes) -> bool:
    try:
        state = json.loads(text)
    except ValueError:
        return False
    return isinstance(state, dict) and {"version", "serial", "lineage"} <= state.keys()


def _repositories(ecr) -> dict[str, str]:
    """{name: URL} of every ECR repository (the sandbox's)."""
    found = {}
    for page in ecr.get_paginator("describe_repositories").paginate():
        found.update({r["repositoryName"]: r["repositoryUri"] for r in page["repositories"]})
    return found


def resource_type(address: str) -> str:
    """`module.a["my.bucket"].aws_s3_bucket.this["k"]` → `aws_s3_bucket`."""
    parts = re.sub(r"\[[^\]]*\]", "", address).split(".")
    return parts[-2] if len(parts) >= 2 else ""
