"""moto's server, one request at a time, with avgen's executor:
`python -m generator.aws.sandbox_server PORT REGION STATE_DIR`.

The executor (generator/aws/executor.py) runs what the deployed workflow triggers; it is switched on by the
avgen command once the recorded history has been replayed (`POST /_avgen/executor`), and reports what it
runs at `GET /_avgen/activity`. Those two paths never reach moto nor its recorder.

The gaps of moto that a deployment of the generated Terraform runs into are closed here too (below).

moto's own `moto.server` lets requests run side by side on threads. Terraform sends many at once, so the
order in which moto draws random resource ids would differ from the order its recorder writes the requests
down, and a replay would produce other ids than the Terraform state holds. Here requests still arrive on
threads but reach moto one at a time: recording order is processing order, and a replay from the same seed
reproduces every id.
"""
from __future__ import annotations

import base64
import errno
import inspect
import io
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

from werkzeug.serving import WSGIRequestHandler, run_simple

from generator import orphans
from generator.aws.iam_conditions import conditions_hold, judged_keys, request_context
from generator.aws.moto_internals import UNSUPPORTED_EXIT, MotoUnsupported, check_moto, internal
from generator.aws.recording import History, Request, upload_id_in
from generator.aws.sandbox import CONTROL_HEADER, admin_credentials, sandbox_secret

_ON_EXIT: list = []  # what must stop with the emulator (the executor's warm handlers)


def exit_now(*_) -> None:
    for action in _ON_EXIT:
        try:
            action()
        except Exception:  # exiting anyway
            pass
    os._exit(0)


def exit_with_parent(parent: int, workdir: Path | None) -> None:
    """If avgen dies without stopping us (SIGKILL), don't linger as an orphan; but first answer the terraform
    it started until that has ended (interrupted with avgen, it finishes what is in flight and writes the
    state: generator/orphans.py), so that the state holds what was created here."""
    while os.getppid() == parent:
        time.sleep(0.5)
    if workdir is not None:
        deadline = time.monotonic() + orphans.WAIT_S
        while orphans.running_terraform(workdir) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    exit_now()


def keep_settings_moto_drops() -> None:
    """moto forgets two settings that the AWS provider reads back after creating them (a Lambda's
    DeadLetterConfig, a job queue's jobStateTimeLimitActions), so every plan would show them as changes.
    Teach it to keep them: the emulator's gap, not the generated code's, so fixed here."""
    create_function = internal("moto.awslambda.models:LambdaFunction.__init__")
    get_configuration = internal("moto.awslambda.models:LambdaFunction.get_configuration")
    update_configuration = internal("moto.awslambda.models:LambdaFunction.update_configuration")

    def init(self, account_id, spec, region, version=1):
        create_function.value(self, account_id, spec, region, version)
        self.dead_letter_config = spec.get("DeadLetterConfig")

    def configuration(self, on_create=False):
        config = get_configuration.value(self, on_create)
        if getattr(self, "dead_letter_config", None):
            config["DeadLetterConfig"] = self.dead_letter_config
        return config

    def update(self, updates):
        if "DeadLetterConfig" in updates:
            self.dead_letter_config = updates["DeadLetterConfig"]
        return update_configuration.value(self, updates)

    create_function.replace(init)
    get_configuration.replace(configuration)
    update_configuration.replace(update)

    describe_queue = internal("moto.batch.models:JobQueue.describe")

    def describe(self):
        return {**describe_queue.value(self), "jobStateTimeLimitActions": getattr(self, "time_limit_actions", [])}

    def remember(handler, name_param):
        def wrapped(self):
            result = handler.value(self)
            actions = self._get_param("jobStateTimeLimitActions")
            queue = self.batch_backend.get_job_queue(self._get_param(name_param))
            if queue is not None and actions is not None:
                queue.time_limit_actions = actions
            return result
        handler.replace(wrapped)

    describe_queue.replace(describe)
    remember(internal("moto.batch.responses:BatchResponse.create_job_queue|createjobqueue"), "jobQueueName")
    remember(internal("moto.batch.responses:BatchResponse.update_job_queue|updatejobqueue"), "jobQueue")
    say_bucket_eventbridge_is_on()


BATCH_SERVICE = "batch.amazonaws.com"
BATCH_SERVICE_LINKED_ROLE = "AWSServiceRoleForBatch"


def batch_uses_its_service_linked_role() -> None:
    """AWS Batch manages a compute environment created without a service role with its service-linked role,
    AWSServiceRoleForBatch, and creates that role first in an account that has none (API_CreateComputeEnvironment,
    serviceRole). moto refuses such an environment ("ServiceRole is required"). The generated Terraform names no
    service role, since the role is the account's and no workflow's: do as AWS does. moto also spells the
    role's name AWSServiceRoleForbatch (CreateServiceLinkedRole too): AWS's is AWSServiceRoleForBatch."""
    internal("moto.iam.models:SERVICE_NAME_CONVERSION").value.setdefault("batch", "Batch")
    create = internal("moto.batch.models:BatchBackend.create_compute_environment")
    get_role = internal("moto.iam.models:IAMBackend.get_role").value
    create_service_linked_role = internal("moto.iam.models:IAMBackend.create_service_linked_role").value
    signature = inspect.signature(create.value)

    def service_linked_role(iam) -> str:
        try:
            return get_role(iam, BATCH_SERVICE_LINKED_ROLE).arn
        except Exception:  # moto's NotFoundException: the account has none yet
            return create_service_linked_role(iam, BATCH_SERVICE, "", "").arn

    def create_compute_environment(self, *args, **kwargs):
        call = signature.bind(self, *args, **kwargs)
        if not call.arguments.get("service_role") and call.arguments.get("_type") == "MANAGED":
            call.arguments["service_role"] = service_linked_role(self.iam_backend)
        return create.value(*call.args, **call.kwargs)

    create.replace(create_compute_environment)


def say_bucket_eventbridge_is_on() -> None:
    """moto keeps a bucket's EventBridge delivery but leaves it out of GetBucketNotificationConfiguration,
    where AWS answers with an empty <EventBridgeConfiguration/>: add it back."""
    get_notification = internal("moto.s3.responses:S3Response.get_bucket_notification")

    def get_bucket_notification(self):
        status, headers, body = get_notification.value(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if status != 200 or config is None or config.event_bridge is None:
            return status, headers, body
        text = body.decode() if isinstance(body, bytes) else body
        end = "</NotificationConfiguration>"
        if end not in text:  # an otherwise empty configuration is one self-closing element
            text = text.rstrip().removesuffix("/>") + ">" + end
        return status, headers, text.replace(end, "<EventBridgeConfiguration/>" + end)

    get_notification.replace(get_bucket_notification)


def treat_requests_as_tls() -> None:
    """moto applies bucket policy statements without looking at their conditions, so the generated
    TLS-only policy (deny when aws:SecureTransport is false) would deny every request. Every call to AWS
    is TLS (aws:SecureTransport is true in every request's context, generator/aws/iam_conditions.py): the
    statements whose condition keys the sandbox knows are judged with them; those with others are left out."""
    IAMPolicy = internal("moto.iam.access_control:IAMPolicy").value
    PermissionResult = internal("moto.iam.access_control:PermissionResult").value

    def applies(statement: dict) -> bool:
        return judged_keys(statement.get("Condition"), this_context())

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        policy["Statement"] = [s for s in (statements if isinstance(statements, list) else [statements]) if applies(s)]
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    internal("moto.s3.models:FakeBucket.get_permission").replace(get_permission)


def this_context() -> dict:
    """The condition keys of the request being carried out (just aws:SecureTransport before it is judged)."""
    context = getattr(_REQUEST, "conditions", None)
    return context if context is not None else request_conditions(None, "")


def request_conditions(response, action: str) -> dict:
    """The condition keys AWS sets for a request (`response`: moto's handler of it; None: not known yet)."""
    return request_context(action, getattr(response, "querystring", None) if response is not None else None)


def judge_conditions() -> None:
    """A statement applies to a request only when its Condition holds (generator/aws/iam_conditions.py), for
    identity and resource policies alike; a statement whose condition does not hold neither allows nor denies.
    moto judges only StringEquals, and only on a trust policy's keys, and answers DENIED, not "does not apply",
    when it fails (an Allow of one bucket would deny a request on another)."""
    judge = internal("moto.iam.access_control:IAMPolicyStatement.is_action_permitted")
    Statement = internal("moto.iam.access_control:IAMPolicyStatement").value
    PermissionResult = internal("moto.iam.access_control:PermissionResult").value

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        condition = self._statement.get("Condition") if isinstance(self._statement, dict) else None
        if not condition:
            return judge.value(self, action, resource, principal, incoming_condition_values)
        known = {key.lower(): [str(value)] for key, value in (incoming_condition_values or {}).items()}
        if not conditions_hold(condition, {**this_context(), **known}):
            return PermissionResult.NEUTRAL
        unconditional = Statement({key: value for key, value in self._statement.items() if key != "Condition"})
        return judge.value(unconditional, action, resource, principal, incoming_condition_values)

    judge.replace(is_action_permitted)


def launch_template_ids_not_found_as_aws_says() -> None:
    """AWS answers a launch template id it does not know with InvalidLaunchTemplateId.NotFound, which
    the provider takes as "already deleted" when it retries a delete; moto answers with the error of an
    unknown *name*, and a retried delete then fails the destroy."""
    EC2ClientError = internal("moto.ec2.exceptions:EC2ClientError").value
    delete = internal("moto.ec2.models.launch_templates:LaunchTemplateBackend.delete_launch_template")

    def delete_launch_template(self, name, tid):
        if not name and tid and tid not in self.launch_templates:
            raise EC2ClientError("InvalidLaunchTemplateId.NotFound",
                                 f"The specified launch template, with template ID {tid}, does not exist.")
        return delete.value(self, name, tid)

    delete.replace(delete_launch_template)


def one_event_per_created_object() -> None:
    """moto completes a multipart upload by storing the object as a Put would, and that Put (and the tagging
    that follows) send events of their own before the CompleteMultipartUpload event: a large upload would run
    a function twice. AWS sends the one `ObjectCreated:CompleteMultipartUpload`."""
    send = internal("moto.s3.notifications:send_event")
    complete = internal("moto.s3.models:S3Backend.complete_multipart_upload")
    events = internal("moto.s3.notifications:S3NotificationEvent").value
    completed = events.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT
    completing = threading.local()

    def send_event(account_id, event_name, bucket, key) -> None:
        if getattr(completing, "active", False) and event_name != completed:
            return
        _EVENT.sequencer = next_sequencer()  # one per event, whichever destinations it reaches
        send.value(account_id, event_name, bucket, key)

    def complete_multipart_upload(self, bucket_name, multipart_id, body):
        completing.active = True
        try:
            return complete.value(self, bucket_name, multipart_id, body)
        finally:
            completing.active = False

    send.replace(send_event)
    complete.replace(complete_multipart_upload)


_REQUEST = threading.local()  # the request being carried out: where it came from, the ids S3 answers it with
_EVENT = threading.local()    # the S3 event being sent
_last_sequencer = 0


def next_sequencer() -> str:
    """S3's `sequencer`: hex of one width, so that a later event on a key compares greater as a string."""
    global _last_sequencer
    _last_sequencer = max(time.time_ns(), _last_sequencer + 1)  # one request at a time: no race
    return f"{_last_sequencer:018X}"


def s3_events_as_aws_writes_them() -> None:
    """moto's S3 event lacks fields AWS writes (who asked, from where, the request's ids, the sequencer) and
    writes eventTime in local time without a zone (moto 5.2.1) or in another precision: fill them in, for
    every destination (the executor's functions, queues, topics).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"""
    build = internal("moto.s3.notifications:_get_s3_event")

    def get_s3_event(event_name, bucket, key, notification_id):
        event = build.value(event_name, bucket, key, notification_id)
        now = datetime.now(timezone.utc)
        for record in event["Records"]:
            record["eventTime"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
            record["userIdentity"] = {"principalId": f"AWS:{bucket.account_id}"}
            record["requestParameters"] = {"sourceIPAddress": getattr(_REQUEST, "source_ip", "127.0.0.1")}
            record["responseElements"] = {"x-amz-request-id": getattr(_REQUEST, "request_id", ""),
                                          "x-amz-id-2": getattr(_REQUEST, "id_2", "")}
            record["s3"]["object"]["sequencer"] = getattr(_EVENT, "sequencer", None) or next_sequencer()
        return event

    build.replace(get_s3_event)


def this_request(environ: dict) -> None:
    """What S3's events tell of the request that caused them; ids drawn apart from moto's seeded random. Its
    X-Ray trace header too (an AWS SDK inside a function sends the invocation's), which S3 passes on to the
    functions it invokes: Lambda's recursive loop detection counts the chain of requests with it."""
    _REQUEST.source_ip = environ.get("REMOTE_ADDR") or "127.0.0.1"
    _REQUEST.request_id = uuid.uuid4().hex[:16].upper()
    _REQUEST.id_2 = base64.b64encode(os.urandom(48)).decode()
    _REQUEST.trace = unquote(str(environ.get("HTTP_X_AMZN_TRACE_ID") or ""))
    _REQUEST.conditions = request_conditions(None, "")


def route_keys_with_line_feeds(environ: dict) -> None:
    """S3 takes keys with a line feed (sent as %0A), and moto answers them 404: its routes are regular
    expressions whose `.` stops at one. The route is found on the path with each written out as %0A; moto
    reads the key itself from the raw URI, as the client sent it (and the history records it)."""
    path = environ.get("PATH_INFO", "")
    if isinstance(path, str) and "\n" in path and (environ.get("RAW_URI") or environ.get("REQUEST_URI")):
        environ["PATH_INFO"] = path.replace("\n", "%0A")


def overlapping_notifications_refused() -> None:
    """AWS refuses a notification configuration two of whose rules (of any destination) could both match one
    event on one object: a common event type, and filters one object can pass both of (a prefix that starts
    with the other's, or none; likewise suffixes). moto accepts it and both fire.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html"""
    put = internal("moto.s3.models:S3Backend.put_bucket_notification_configuration")
    S3ClientError = internal("moto.s3.exceptions:S3ClientError").value

    def put_bucket_notification_configuration(self, bucket_name, notification_config):
        rules = [rule for kind in ("TopicConfiguration", "QueueConfiguration", "CloudFunctionConfiguration")
                 for rule in (notification_config or {}).get(kind) or []]
        if any(rules_overlap(a, b) for i, a in enumerate(rules) for b in rules[i + 1:]):
            raise S3ClientError("InvalidArgument", "Configurations overlap. Configurations on the same bucket "
                                "cannot share a common event type.")
        return put.value(self, bucket_name, notification_config)

    put.replace(put_bucket_notification_configuration)


def rules_overlap(a: dict, b: dict) -> bool:
    """Whether two rules of a parsed NotificationConfiguration (moto's form) can match one event."""
    def events(rule: dict) -> set[tuple[str, str]]:  # "s3:ObjectCreated:Put" → ("ObjectCreated", "Put")
        return {tuple(event.removeprefix("s3:").partition(":")[::2]) for event in rule["Event"]}

    def filters(rule: dict) -> dict[str, str]:
        key = ((rule.get("Filter") or {}).get("S3Key") or {}).get("FilterRule") or []
        return {f["Name"].lower(): f["Value"] for f in (key if isinstance(key, list) else [key])}

    common = any(group == other and (kind == other_kind or "*" in (kind, other_kind))
                 for group, kind in events(a) for other, other_kind in events(b))
    fa, fb = filters(a), filters(b)
    prefix_a, prefix_b, suffix_a, suffix_b = (fa.get("prefix", ""), fb.get("prefix", ""),
                                              fa.get("suffix", ""), fb.get("suffix", ""))
    return (common and (prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a))
            and (suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)))


_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$")


def lambda_images_must_exist(recorder) -> None:
    """Lambda creates (or updates) a function from a container image only when the image exists in ECR:
    `InvalidParameterValueException`, "Source image … does not exist. Provide a valid source image."
    moto, by default, takes any ImageUri. The sandbox looks the image up in its own ECR, by digest or tag,
    for every request after the replay (the history holds only requests that succeeded when they were made,
    some by an avgen that did not push images to the sandbox)."""
    set_code = internal("moto.awslambda.models:LambdaFunction._set_function_code")
    InvalidParameterValue = internal("moto.awslambda.exceptions:InvalidParameterValueException").value

    def set_function_code(self, updated_spec):
        uri = (updated_spec or {}).get("ImageUri")
        if uri and recorder.enabled and not image_in_ecr(uri):
            raise InvalidParameterValue(f"Source image {uri} does not exist. Provide a valid source image.")
        return set_code.value(self, updated_spec)

    set_code.replace(set_function_code)


def image_in_ecr(uri: str) -> bool:
    """Whether the emulator's ECR holds `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME@sha256:…` (or `…/NAME:TAG`)."""
    backends = internal("moto.ecr.models:ecr_backends").value
    RepositoryNotFound = internal("moto.ecr.exceptions:RepositoryNotFoundException").value
    location, _, digest = uri.partition("@")
    host, _, path = location.partition("/")
    registry = _ECR_HOST.match(host)
    if registry is None or not path:
        return False
    if digest:
        name, image_id = path, {"imageDigest": digest}
    else:
        name, _, tag = path.rpartition(":")
        name, image_id = (name, {"imageTag": tag}) if name else (path, {"imageTag": "latest"})
    try:
        found = backends[registry.group(1)][registry.group(2)].batch_get_image(repository_name=name,
                                                                             image_ids=[image_id])
    except RepositoryNotFound:
        return False
    return bool(found.get("images"))


def run_what_is_deployed(executor) -> None:
    """S3 → Lambda and SubmitJob → a Batch job go to the executor instead of moto's stand-ins (which need
    Docker, or pretend that a job succeeded without running it)."""
    JobStatus = internal("moto.batch.utils:JobStatus").value

    def invoke(account_id: str, event_body: dict, fn_arn: str, region_name: str) -> None:
        executor.lambda_event(fn_arn, event_body, getattr(_REQUEST, "trace", ""))

    internal("moto.s3.notifications:_invoke_awslambda").replace(invoke)
    deliver_eventbridge_to_lambda(executor)

    def queue_job(self, include_start_attempt, job):
        self.backend._jobs[job.job_id] = job
        job.log_stream_name = job._stream_name
        job.status = JobStatus.SUBMITTED  # the executor moves it on (startedAt and the attempt: when RUNNING)
        executor.batch_job(job, include_start_attempt)

    internal("moto.batch_simple.models:BatchSimpleBackend._mark_job_as_finished").replace(queue_job)


def deliver_eventbridge_to_lambda(executor) -> None:
    """EventBridge rules with Lambda targets invoke them through the executor, and those with SNS topics publish
    to them (moto 5.2.6's rules deliver only to queues, log groups and buses, and raise NotImplementedError for
    any other target, which failed the whole PutEvents: a failed function's on-failure record to the default
    bus, whose alert rules target a topic, was lost). How triggers on buckets avgen does not create reach their
    functions, and the alert rules their topic."""
    deliver = internal("moto.events.models:Rule.send_to_targets")

    def send_to_targets(self, original_event, transform_input: bool = True) -> None:
        ours = [t for t in self.targets if str(t.get("Arn", "")).startswith("arn:aws:lambda:") or (
            str(t.get("Arn", "")).startswith("arn:aws:sns:") and not t.get("InputTransformer"))]
        if ours and self.event_pattern.matches_event(original_event):
            for target in ours:
                if target["Arn"].startswith("arn:aws:lambda:"):
                    executor.lambda_event(target["Arn"], as_aws_sends_it(original_event))
                else:
                    publish_to_topic(target, original_event)
        others = [t for t in self.targets if t not in ours]
        if others:
            kept, self.targets = self.targets, others
            try:
                deliver.value(self, original_event, transform_input)
            finally:
                self.targets = kept

    deliver.replace(send_to_targets)


def publish_to_topic(target: dict, event: dict) -> None:
    """An event to an SNS topic target, as EventBridge sends it: the target's constant Input, else the event
    itself as JSON (a target with an InputTransformer is left to moto, which does not deliver it)."""
    backends = internal("moto.sns.models:sns_backends").value
    _, _, _, region, account, _ = target["Arn"].split(":", 5)
    message = str(target["Input"]) if target.get("Input") else json.dumps(as_aws_sends_it(event))
    backends[account][region].get_topic(target["Arn"]).publish(message)


def as_aws_sends_it(event: dict) -> dict:
    """moto's S3 → EventBridge event with the envelope fields as AWS writes them (an ISO time, an id)."""
    event = dict(event)
    if isinstance(event.get("time"), (int, float)):
        event["time"] = datetime.fromtimestamp(event["time"], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event.setdefault("id", str(uuid.uuid4()))
    return event


def judge_requests_as_aws(executor, recorder, admin_key: str | None) -> None:
    """Every request after the replay is judged as AWS judges it: an unsigned S3 request is AccessDenied, an
    access key the sandbox does not know is InvalidAccessKeyId (InvalidClientTokenId outside S3), a user's
    key is judged by its policies. The sandbox's own key (generator/aws/sandbox.py: the avgen command's and
    Terraform's) is the account's administrator, allowed everything; the temporary credentials of the roles
    the executor assumes for functions and jobs are judged by their role's policies. The replay of the
    history is not judged again: it holds only requests that succeeded when they were made."""
    S3AccessDenied = internal("moto.s3.exceptions:S3AccessDeniedError").value
    AccessDenied = internal("moto.core.exceptions:AccessDeniedError").value

    class MissingAuthenticationToken(AccessDenied):  # type: ignore[misc,valid-type]  # 403, as AccessDenied
        def __init__(self) -> None:
            super(AccessDenied, self).__init__("MissingAuthenticationToken", "Request is missing Authentication Token")

    def authorize(self, iam_request_cls, resource="*"):
        s3 = "S3" in iam_request_cls.__name__
        # the condition keys of this request, for the identity policies here and the bucket policy after
        _REQUEST.conditions = request_conditions(self, f"s3:{iam_action(self, resource)}" if s3 else "")
        if not recorder.enabled:
            return
        key = access_key_of(self.headers, self.querystring or {})
        if key is None:
            raise S3AccessDenied() if s3 else MissingAuthenticationToken()
        if admin_key is not None and key == admin_key:
            return
        temporary = "X-Amz-Security-Token" in self.headers or "X-Amz-Security-Token" in (self.querystring or {})
        if temporary and not executor.enabled:
            return  # a role's credentials before the executor runs anything: the command's own checks
        parsed = urlparse(self.uri)
        # an unknown key raises here (moto looks it up among its IAM users' keys and the assumed roles')
        request = iam_request_cls(account_id=self.current_account, method=self.method,
                                  path=parsed.path + (f"?{parsed.query}" if parsed.query else ""), data=self.data,
                                  body=self.raw_body, headers=self.headers, action=iam_action(self, resource))
        # the signature is not checked (moto's check fails on some valid S3 requests): the credentials must
        # exist, and the policies of their user or role decide
        if parsed.path.rstrip("/").lower() == "/v1/submitjob":
            # moto judges Batch calls against resource "*" with a lower-cased action, which no policy naming
            # ARNs matches; AWS checks SubmitJob against the job queue and the job definition
            request._action = "batch:SubmitJob"
            for arn in submit_job_resources(self):
                request.check_action_permitted(arn)
            return
        request.check_action_permitted(resource)

    internal("moto.core.authorization:ActionAuthenticatorMixin._authenticate_and_authorize_action").replace(authorize)


def access_key_of(headers, querystring) -> str | None:
    """The access key id a request is signed with (SigV4 or SigV2, header or presigned URL); None if unsigned."""
    authorization = str(headers.get("Authorization") or "")
    if "Credential=" in authorization:
        return authorization.split("Credential=", 1)[1].split("/", 1)[0].strip()
    if authorization.startswith("AWS ") and ":" in authorization:
        return authorization[4:].split(":", 1)[0].strip()
    for name in ("X-Amz-Credential", "AWSAccessKeyId"):
        value = querystring.get(name)
        if value:
            return str(value[0] if isinstance(value, list) else value).split("/", 1)[0]
    return None


def iam_action(response, resource: str) -> str:
    """The action IAM judges: for S3, the one moto's S3 handler names for the request (HeadObject is judged as
    s3:GetObject, as on AWS); moto 5.2.6 answers `_get_action()` with the API operation instead."""
    data = getattr(response, "data", None)
    if ":s3:::" in resource and isinstance(data, dict) and isinstance(data.get("Action"), str):
        return data["Action"]
    return response._get_action()


def submit_job_resources(response) -> list[str]:
    """The ARNs AWS authorizes a SubmitJob against: its job queue and its job definition."""
    body = json.loads(response.body or "{}")
    prefix = f"arn:aws:batch:{response.region}:{response.current_account}"
    queue, definition = str(body.get("jobQueue", "")), str(body.get("jobDefinition", ""))
    return [queue if queue.startswith("arn:") else f"{prefix}:job-queue/{queue}",
            definition if definition.startswith("arn:") else f"{prefix}:job-definition/{definition}"]


def controlled(environ: dict) -> bool:
    """Whether a request is for the emulator's control paths: avgen's (`/_avgen/…`) or moto's admin API
    (`/moto-api/…`: reset, seed, config, the dashboard), which only the avgen command may use."""
    path = environ.get("PATH_INFO", "")
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    return path.startswith(("/_avgen/", "/moto-api")) or path == "/favicon.ico"


def allowed_to_control(environ: dict, token: str | None) -> bool:
    import hmac

    given = environ.get("HTTP_" + CONTROL_HEADER.upper().replace("-", "_"), "")
    return token is not None and hmac.compare_digest(given.encode(), token.encode())


def refuse(start_response) -> list[bytes]:
    start_response("403 Forbidden", [("Content-Type", "application/json")])
    return [b'{"error": "the sandbox\'s control paths answer the avgen command only"}']


def control(executor, recorder, environ, start_response):
    """`/_avgen/…`: the avgen command's side door to the executor."""
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    if path == "/_avgen/executor" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        settings = json.loads(environ["wsgi.input"].read(length) or b"{}")
        executor.enable(settings.get("contexts"))
        body = {"enabled": True}
    elif path == "/_avgen/recorder" and method == "POST":
        recorder.enabled = True
        body = {"recording": True}
    elif path == "/_avgen/activity":
        body = executor.activity()
    else:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "unknown avgen control path"}']
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class Recorder:
    """Writes each request the emulator carried out into the sandbox's history (generator/aws/recording.py),
    once switched on: the replay of the history at start-up is not recorded again."""

    def __init__(self, state_dir: Path | None):
        self.history = History(state_dir) if state_dir else None
        self.enabled = False

    def __call__(self, app, environ: dict, start_response) -> list[bytes]:
        body = read_body(environ)
        expected = int(environ.get("CONTENT_LENGTH") or 0)
        if not environ.get("wsgi.input_terminated") and len(body) < expected:
            # the sender stopped early (killed, cut off): AWS carries out nothing of such a request
            return refusal(environ, start_response, "400 Bad Request", "IncompleteBody",
                           f"the request's body ended after {len(body)} of the {expected} bytes its Content-Length "
                           "announced: nothing of it was carried out; send it again whole")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        answered: dict = {}
        written: list[bytes] = []

        def capture(code: str, headers: list, exc_info=None):
            answered.update(code=code, headers=headers, exc_info=exc_info)
            return written.append  # WSGI's write(): kept until the answer goes out

        answer = b"".join([*written, *app(environ, capture)])
        status = int(str(answered.get("code", "500")).split()[0])
        if self.enabled and self.history is not None and worth_recording(environ, status):
            uploads = environ["REQUEST_METHOD"] == "POST" and "uploads" in parse_qs(
                environ.get("QUERY_STRING", ""), keep_blank_values=True)
            try:
                self.history.append(Request(environ["REQUEST_METHOD"], raw_uri(environ), headers_of(environ), body,
                                            upload_id_in(answer) if uploads else None))
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                folder = self.history.path.parent
                return refusal(environ, start_response, "507 Insufficient Storage", "InsufficientStorage",
                               f"no space left in {folder}: the sandbox could not write this request to its history "
                               "(a restart would lose it), so it answers it as failed; free space there and send it "
                               "again")
        start_response(answered.get("code", "500 Internal Server Error"), answered.get("headers", []),
                       answered.get("exc_info"))
        return [answer]


def refusal(environ: dict, start_response, status: str, code: str, message: str) -> list[bytes]:
    """A request the sandbox answers as failed before the emulator sees it (a body cut short, a history that
    cannot keep it): an error as AWS words one (S3's XML, a JSON service's JSON), not the server's HTML page."""
    # the credential's scope names the service: in the Authorization header, or a presigned URL's query
    scope = environ.get("HTTP_AUTHORIZATION", "") + unquote(environ.get("QUERY_STRING", ""))
    if environ.get("HTTP_X_AMZ_TARGET") or "json" in environ.get("CONTENT_TYPE", "") or \
            re.search(r"/(lambda|batch)/aws4_request", scope):
        body = json.dumps({"__type": code, "message": message}).encode()
        kind = "application/x-amz-json-1.1"
    else:
        from xml.sax.saxutils import escape

        error = f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        service = re.search(r"/([\w-]+)/aws4_request", scope)
        s3 = service is None or service.group(1) == "s3"  # unsigned, or SigV2 (a presigned S3 URL): S3's
        body = (error if s3 else f"<ErrorResponse>{error}</ErrorResponse>").encode()
        kind = "application/xml"
    start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body))), ("x-amzn-ErrorType", code)])
    return [body]


def read_body(environ: dict) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked transfer: werkzeug ends the stream itself
        return stream.read()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return stream.read(length) if length else b""


def worth_recording(environ: dict, status: int) -> bool:
    """What changed the emulator's state: not a failed request (an IAM denial, a missing key, a bad
    parameter), and not an S3 read (every `ls`, `get` and function download would grow the history)."""
    if status >= 400:
        return False
    return not (environ["REQUEST_METHOD"] in ("GET", "HEAD") and "/s3/" in environ.get("HTTP_AUTHORIZATION", ""))


def raw_uri(environ: dict) -> str:
    """The path and query as the client sent them (`.`/`..`/`%2F` in keys kept as they were)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    query = environ.get("QUERY_STRING")
    return quote(environ.get("PATH_INFO", "/")) + (f"?{query}" if query else "")


def headers_of(environ: dict) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_MD5", "Content-Md5")):
        if environ.get(key):
            headers[name] = environ[key]
    return headers


def request_ids_apart_from_ids() -> None:
    """moto draws request ids from the seeded random that also names resources; the history leaves out
    reads and failures, so request ids must not use it, or a replay would name resources differently."""
    def request_id(headerdict=None) -> str:
        value = uuid.uuid4().hex + uuid.uuid4().hex[:20]
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = value
        return value

    internal("moto.utilities.aws_headers:gen_amzn_requestid_long").replace(request_id)
    internal("moto.core.responses:gen_amzn_requestid_long").replace(request_id)


class HeadersWithBody:
    """The handler's socket writer, holding an answer's status line and headers until the first bytes of its
    body, so that both leave in one write; anything else (an interim `100 Continue`) goes out at once."""

    def __init__(self, socket_writer):
        self.socket_writer, self.held = socket_writer, b""

    def hold(self, headers: bytes) -> None:
        self.held += headers

    def write(self, data: bytes) -> int:
        data, self.held = self.held + data, b""
        return self.socket_writer.write(data)

    def flush(self) -> None:
        if self.held:  # an answer without a body
            self.write(b"")
        self.socket_writer.flush()

    def __getattr__(self, name: str):
        return getattr(self.socket_writer, name)


class OneWriteAnswers(WSGIRequestHandler):
    """Sends an answer's status line, headers and body in one write. Written apart (werkzeug's default), the
    terraform provider's HTTP client now and then dropped the connection after reading the headers alone and
    sent the request again; a create sent twice fails against its own first attempt ("Role ... already
    exists"). Not a buffered socket file: that would also keep back the `100 Continue` that boto3's uploads
    wait for."""

    def setup(self) -> None:
        super().setup()
        self.answer = HeadersWithBody(self.wfile)
        self.wfile = self.answer  # type: ignore[assignment]

    def flush_headers(self) -> None:  # http.server's end_headers() sends them from here
        headers: list[bytes] = getattr(self, "_headers_buffer", [])
        self.answer.hold(b"".join(headers))
        headers.clear()


def main() -> None:
    port = int(sys.argv[1])
    region = sys.argv[2] if len(sys.argv) > 2 else "us-east-1"
    state_dir = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    signal.signal(signal.SIGTERM, exit_now)
    try:
        check_moto()
    except MotoUnsupported as exc:  # the avgen command reads this line back (generator/aws/sandbox.py)
        print(exc, file=sys.stderr, flush=True)
        sys.exit(UNSUPPORTED_EXIT)
    if "--detached" not in sys.argv:
        threading.Thread(target=exit_with_parent, args=(os.getppid(), state_dir.parent if state_dir else None),
                         daemon=True).start()
    keep_settings_moto_drops()
    one_event_per_created_object()
    s3_events_as_aws_writes_them()
    overlapping_notifications_refused()
    treat_requests_as_tls()
    judge_conditions()
    launch_template_ids_not_found_as_aws_says()
    batch_uses_its_service_linked_role()
    from generator.aws.executor import Executor

    secret = sandbox_secret(state_dir) if state_dir else None
    executor = Executor(f"http://127.0.0.1:{port}", region, state_dir)
    _ON_EXIT.append(executor.close)  # the containers' warm handlers stop with the emulator
    recorder = Recorder(state_dir)
    lambda_images_must_exist(recorder)
    request_ids_apart_from_ids()
    run_what_is_deployed(executor)
    judge_requests_as_aws(executor, recorder, admin_credentials(secret)[0] if secret else None)
    dispatcher = internal("moto.moto_server.werkzeug_app:DomainDispatcherApplication").value
    app = dispatcher(internal("moto.moto_server.werkzeug_app:create_backend_app").value)
    one_at_a_time = threading.Lock()

    def serialized(environ, start_response):
        if controlled(environ) and not allowed_to_control(environ, secret):
            return refuse(start_response)  # before the recorder: never history
        if environ.get("PATH_INFO", "").startswith("/_avgen/"):
            return control(executor, recorder, environ, start_response)
        route_keys_with_line_feeds(environ)
        with one_at_a_time:
            this_request(environ)
            return recorder(app, environ, start_response)

    # Threads serve the clients as moto's own server does (HTTP/1.1, one connection per request), while the
    # lock lets one request at a time reach moto.
    run_simple("127.0.0.1", port, serialized, threaded=True, use_reloader=False, request_handler=OneWriteAnswers)


if __name__ == "__main__":
    main()
