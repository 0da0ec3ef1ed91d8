"""The parts of moto's inside that the sandbox patches or reads, looked up in one place.

moto offers no extension point for what the sandbox changes (running deployed functions, keeping settings it
drops, judging temporary credentials), so avgen patches its internals, and those move between releases: moto
5.2.6 renamed Batch's handlers (`createjobqueue` became `create_job_queue`). Every internal avgen touches is
listed in INTERNALS, with each spelling a supported release uses, and resolved through `internal()`. When one
is missing the user reads one line naming the moto found and the releases avgen supports, never an
AttributeError in the emulator's log; `check_moto()` runs before the emulator starts, and a test checks every
entry against the installed moto.
"""
from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

from generator.errors import AvgenError

# Keep in step with the moto range in pyproject.toml: the releases the test suite has run against.
SUPPORTED = ("5.2.1", "5.2.6")

UNSUPPORTED_EXIT = 3  # the emulator's exit code when it stops for this reason; its last log line says why

# "module:Class.attribute", alternatives after "|" (newest spelling first).
INTERNALS = (
    "moto.moto_server.werkzeug_app:DomainDispatcherApplication",
    "moto.moto_server.werkzeug_app:create_backend_app",
    "moto.awslambda.models:LambdaFunction.__init__",
    "moto.awslambda.models:LambdaFunction.get_configuration",
    "moto.awslambda.models:LambdaFunction.update_configuration",
    "moto.awslambda.models:LambdaFunction._set_function_code",
    "moto.awslambda.exceptions:InvalidParameterValueException",
    "moto.ecr.models:ecr_backends",
    "moto.ecr.exceptions:RepositoryNotFoundException",
    "moto.awslambda.utils:get_backend",
    "moto.batch.models:JobQueue.describe",
    "moto.batch.models:BatchBackend.create_compute_environment",
    "moto.batch.responses:BatchResponse.create_job_queue|createjobqueue",
    "moto.batch.responses:BatchResponse.update_job_queue|updatejobqueue",
    "moto.batch.utils:JobStatus",
    "moto.batch_simple.models:BatchSimpleBackend._mark_job_as_finished",
    "moto.s3.responses:S3Response.get_bucket_notification",
    "moto.s3.models:FakeBucket.get_permission",
    "moto.s3.models:S3Backend.complete_multipart_upload",
    "moto.s3.models:S3Backend.put_bucket_notification_configuration",
    "moto.s3.exceptions:S3ClientError",
    "moto.s3.exceptions:S3AccessDeniedError",
    "moto.core.exceptions:AccessDeniedError",
    "moto.s3.notifications:S3NotificationEvent",
    "moto.s3.notifications:send_event",
    "moto.s3.notifications:_get_s3_event",
    "moto.s3.notifications:_invoke_awslambda",
    "moto.iam.access_control:IAMPolicy",
    "moto.iam.access_control:IAMPolicyStatement",
    "moto.iam.access_control:IAMPolicyStatement.is_action_permitted",
    "moto.iam.models:IAMBackend.get_role",
    "moto.iam.models:IAMBackend.create_service_linked_role",
    "moto.iam.models:SERVICE_NAME_CONVERSION",
    "moto.iam.access_control:PermissionResult",
    "moto.ec2.exceptions:EC2ClientError",
    "moto.ec2.models.launch_templates:LaunchTemplateBackend.delete_launch_template",
    "moto.events.models:Rule.send_to_targets",
    "moto.sns.models:sns_backends",
    "moto.core.authorization:ActionAuthenticatorMixin._authenticate_and_authorize_action",
    "moto.core.responses:gen_amzn_requestid_long",
    "moto.utilities.aws_headers:gen_amzn_requestid_long",
)


class MotoUnsupported(AvgenError):
    """The installed moto lacks an internal the sandbox needs."""


class Internal(NamedTuple):
    """One attribute of moto: where it lives, under which name, and what it is now."""

    owner: Any
    name: str
    value: Any

    def replace(self, new: Any) -> None:
        setattr(self.owner, self.name, new)


def moto_version() -> str:
    try:
        return version("moto")
    except PackageNotFoundError:
        return "none"


def unsupported(what: str) -> MotoUnsupported:
    low, high = SUPPORTED
    return MotoUnsupported(
        f"the sandbox needs moto {low} to {high}, found moto {moto_version()} ({what}): "
        f"pip install 'moto[server]>={low},<={high}'")


def internal(path: str) -> Internal:
    """The internal `path` names (one of INTERNALS), in the first spelling the installed moto has."""
    if path not in INTERNALS:
        raise ValueError(f"{path} is not listed in INTERNALS")  # a bug in avgen: every internal is listed
    module_name, _, qualname = path.partition(":")
    *owner_path, names = qualname.split(".")
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        raise unsupported(f"no module {module_name}") from None
    for part in owner_path:
        owner = getattr(owner, part, None)
        if owner is None:
            raise unsupported(f"no {module_name}.{'.'.join(owner_path)}")
    for name in names.split("|"):
        if hasattr(owner, name):
            return Internal(owner, name, getattr(owner, name))
    raise unsupported(f"no {module_name}.{qualname.replace('|', ' or ')}")


def check_moto() -> None:
    """Raise MotoUnsupported, naming the first missing internal, unless the installed moto has them all."""
    for path in INTERNALS:
        internal(path)
