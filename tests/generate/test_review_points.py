"""The generated shape of what a production review of the Terraform asks for (issue 11): Batch time limits
and retries, the instance role, ECR destroy and lifecycle, IAM boundaries, trust conditions, ListBucket
scoping, provenance in one file. Checked on the parsed HCL of the rendered files."""
from __future__ import annotations

import re
from functools import cache
from typing import Any

import hcl2
import pytest

from .cases import CASES, render_case


def _clean(value: Any) -> Any:
    """python-hcl2's output without its quoting of names and strings and its bookkeeping keys."""
    if isinstance(value, dict):
        return {str(k).strip('"'): _clean(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    return value


@cache
def parsed(case: str, path: str) -> dict[str, Any]:
    return _clean(hcl2.loads(render_case(case)[path]))


def block(case: str, path: str, kind: str, type_: str, name: str) -> dict[str, Any]:
    for entry in parsed(case, path)[kind]:
        if type_ in entry and name in entry[type_]:
            return entry[type_][name]
    raise AssertionError(f"no {kind} {type_}.{name} in {path}")


def locals_of(case: str, path: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in parsed(case, path).get("locals", []):
        merged.update(entry)
    return merged


BATCH = "modules/batch-job/main.tf"


def test_runnable_time_limit_acts_on_each_documented_reason_with_cancel():
    queue = block("av-workflow", BATCH, "resource", "aws_batch_job_queue", "this")
    (dynamic,) = queue["dynamic"]
    action = dynamic["job_state_time_limit_action"]
    assert action["for_each"] == "${local.runnable_block_reasons}"
    (content,) = action["content"]
    assert content == {"action": "CANCEL", "state": "RUNNABLE", "max_time_seconds": "${var.runnable_timeout_seconds}",
                       "reason": "${job_state_time_limit_action.value}"}
    assert locals_of("av-workflow", BATCH)["runnable_block_reasons"] == [
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    ]


def test_batch_retries_host_failures_only():
    definition = block("av-workflow", BATCH, "resource", "aws_batch_job_definition", "this")
    (strategy,) = definition["retry_strategy"]
    assert strategy["evaluate_on_exit"] == [
        {"action": "RETRY", "on_status_reason": "Host EC2*"},
        {"action": "EXIT", "on_reason": "*"},
    ]


def test_instance_role_holds_only_the_ecs_agent_policy_and_no_isolation_claim():
    text = render_case("av-workflow")["modules/batch-shared/main.tf"]
    attachments = [entry for entry in parsed("av-workflow", "modules/batch-shared/main.tf")["resource"]
                   if "aws_iam_role_policy_attachment" in entry]
    policies = [a["policy_arn"] for entry in attachments for a in entry["aws_iam_role_policy_attachment"].values()]
    assert len(policies) == 1
    assert policies[0].endswith(":iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role")
    resources = parsed("av-workflow", "modules/batch-shared/main.tf")["resource"]
    assert not any("aws_iam_role_policy" in entry for entry in resources)
    assert "host" in text
    batch_text = render_case("av-workflow")[BATCH]
    assert "can't reach the instance" not in batch_text and "can't use the instance role" not in batch_text


def jsonencoded(expression: str, variables: dict[str, Any]) -> Any:
    """The value of a `jsonencode({...})` argument whose object uses only literals and `var.NAME`s (as the
    lifecycle policy does), with `variables` for the variables: what Terraform would send to AWS."""
    import json

    body = expression.removeprefix("${jsonencode(").removesuffix(")}")
    body = re.sub(r"\$\{var\.(\w+)\}", lambda m: str(variables[m[1]]), body)   # in strings
    body = re.sub(r"\bvar\.(\w+)", lambda m: json.dumps(variables[m[1]]), body)  # as values
    body = re.sub(r"([{,]\s*)([A-Za-z_][\w-]*) = ", r'\1"\2": ', body)
    return json.loads(body)


def test_ecr_repository_is_force_deleted_and_keeps_the_newest_built_images(tmp_path):
    path = "modules/ecr-repository/main.tf"
    repository = block("av-workflow", path, "resource", "aws_ecr_repository", "this")
    assert repository["force_delete"] is True
    assert repository["image_tag_mutability"] == "IMMUTABLE"
    expression = block("av-workflow", path, "resource", "aws_ecr_lifecycle_policy", "this")["policy"]
    policy = jsonencoded(expression, {"untagged_image_expiry_days": 7, "kept_images": 10})
    untagged, built = policy["rules"]
    assert untagged["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                                     "countNumber": 7}
    # only the content tags avgen build pushes are counted: `latest` and tags of the user's are never expired
    assert built["selection"] == {"tagStatus": "tagged", "tagPrefixList": ["ctx-"], "countType": "imageCountMoreThan",
                                  "countNumber": 10}
    assert [rule["rulePriority"] for rule in policy["rules"]] == [1, 2]
    assert all(rule["action"] == {"type": "expire"} for rule in policy["rules"])
    assert "any" not in expression

    # the prefix is the one `avgen build` tags with
    from generator.deploy.build import context_tag

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert context_tag(tmp_path, [tmp_path / "Dockerfile"]).startswith(built["selection"]["tagPrefixList"][0])

    variables = parsed("av-workflow", "modules/ecr-repository/variables.tf")["variable"]
    defaults = {name: body["default"] for entry in variables for name, body in entry.items() if "default" in body}
    assert (defaults["untagged_image_expiry_days"], defaults["kept_images"]) == (7, 10)


def test_kept_images_is_a_workflow_setting_passed_to_every_repository(tmp_path):
    (call,) = [entry["image"] for entry in parsed("av-workflow", "main.tf")["module"] if "image" in entry]
    assert call["kept_images"] == 10
    from generator.render.root import render
    from generator.workflow.load import load_workflow

    path = tmp_path / "workflow.yaml"
    workflow = ("functions:\n  aws:\n  - lambda: {name: f, container: {image: alpine:3}}\n"
                "avgen:\n  backend: {type: local}\n")
    path.write_text(workflow + "  defaults: {lambda: {kept_images: 3}}\n")
    loaded = load_workflow(path)
    assert loaded.ok, loaded.findings
    main = _clean(hcl2.loads(render(loaded.workflow, avgen_version="0.0.0")["main.tf"]))
    (call,) = [entry["image"] for entry in main["module"] if "image" in entry]
    assert call["kept_images"] == 3
    path.write_text(workflow + "  defaults: {lambda: {kept_images: 0}}\n")
    assert not load_workflow(path).ok


ROLE = "modules/iam-role/main.tf"


def test_every_generated_role_gets_the_workflows_path_and_permissions_boundary():
    main = parsed("edge-cases", "main.tf")
    assert locals_of("edge-cases", "main.tf")["iam"] == {
        "path": "/avgen/fixture/", "permissions_boundary": "arn:aws:iam::123456789012:policy/fixture-boundary"}
    for entry in main["module"]:
        for name, call in entry.items():
            if name in ("function", "batch", "batch_shared"):
                assert call["role_path"] == "${local.iam.path}", name
                assert call["permissions_boundary"] == "${local.iam.permissions_boundary}", name
    role = block("edge-cases", ROLE, "resource", "aws_iam_role", "this")
    assert (role["path"], role["permissions_boundary"]) == ("${var.path}", "${var.permissions_boundary}")
    instance = block("edge-cases", "modules/batch-shared/main.tf", "resource", "aws_iam_role", "instance")
    assert (instance["path"], instance["permissions_boundary"]) == ("${var.role_path}", "${var.permissions_boundary}")
    for module, call in (("lambda-function", "role"), ("batch-job", "job_role")):
        calls = parsed("edge-cases", f"modules/{module}/main.tf")["module"]
        (passed,) = [entry[call] for entry in calls if call in entry]
        assert (passed["path"], passed["permissions_boundary"]) == ("${var.role_path}", "${var.permissions_boundary}")


def test_without_avgen_iam_roles_keep_the_root_path_and_no_boundary():
    assert locals_of("av-workflow", "main.tf")["iam"] == {"path": "/", "permissions_boundary": None}


def test_trust_policies_are_conditioned_on_the_account_and_for_tasks_the_source_arn():
    statement = block("av-workflow", ROLE, "data", "aws_iam_policy_document", "trust")["statement"][0]
    assert statement["condition"] == [
        {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["${local.account_id}"]}]
    (dynamic,) = statement["dynamic"]
    (content,) = dynamic["condition"]["content"]
    assert content["variable"] == "aws:SourceArn" and content["test"] == "ArnLike"
    assert "ecs-tasks.amazonaws.com" in dynamic["condition"]["for_each"]


def test_list_bucket_is_limited_to_the_roles_own_prefixes():
    document = block("av-workflow", ROLE, "data", "aws_iam_policy_document", "access")
    listing = [d["statement"] for d in document["dynamic"]
               if d["statement"]["for_each"] == "${local.listable_prefixes}"]
    (statement,) = listing
    (content,) = statement["content"]
    assert content["actions"] == ["s3:ListBucket"]
    assert content["condition"] == [{"test": "StringLike", "variable": "s3:prefix", "values": "${statement.value}"}]
    listable = locals_of("av-workflow", ROLE)["listable_prefixes"]
    # reads (inputs, models) and writes of the bucket, each as PREFIX*
    assert "concat(var.read_paths, var.write_paths)" in listable and '${path.key_prefix}*' in listable


def test_avgen_iam_is_validated():
    from pydantic import ValidationError

    from generator.workflow.schema import IamSettingsSpec

    IamSettingsSpec(permissions_boundary="arn:aws:iam::123456789012:policy/b", path="/x/")
    for bad in ({"path": "x"}, {"path": "/x"}, {"permissions_boundary": "boundary"}):
        with pytest.raises(ValidationError):
            IamSettingsSpec(**bad)


def _versions(text: str, tmp_path) -> dict[str, Any]:
    from generator.render.root import render
    from generator.workflow.load import load_workflow

    path = tmp_path / "workflow.yaml"
    path.write_text(text)
    result = load_workflow(path)
    assert result.ok, result.findings
    return _clean(hcl2.loads(render(result.workflow, avgen_version="0.0.0")["versions.tf"]))["terraform"][0]


def test_versions_admit_one_provider_major_and_terraform_1(tmp_path):
    (terraform,) = parsed("av-workflow", "versions.tf")["terraform"]
    assert terraform["required_version"] == ">= 1.10, < 2.0"
    assert terraform["required_providers"][0]["aws"] == {"source": "hashicorp/aws", "version": "~> 5.100"}
    workflow = ("functions:\n  aws:\n  - lambda:\n      name: f\n      container: {image: alpine:3}\n"
                "avgen:\n  backend: {type: local}\n")
    assert _versions(workflow, tmp_path)["required_providers"][0]["aws"]["version"] == "~> 5.100"
    six = _versions(workflow + "  aws_provider_major: 6\n", tmp_path)
    assert six["required_providers"][0]["aws"]["version"] == "~> 6.0"
    assert six["required_version"] == ">= 1.10, < 2.0"


def test_functions_fed_by_another_get_a_reserved_concurrency_by_default(tmp_path):
    functions = locals_of("av-workflow", "main.tf")["functions"]
    # ffmpeg starts the workflow; audio2srt and yolov3 run once per file it writes
    assert {name: f["reserved_concurrency"] for name, f in functions.items()} == {
        "av-workflow-ffmpeg": None, "av-workflow-audio2srt": 10, "av-workflow-yolov3": 10}
    from generator.render.root import template_context
    from generator.workflow.load import load_workflow

    path = tmp_path / "workflow.yaml"
    path.write_text(
        "functions:\n  aws:\n"
        "  - lambda: {name: a, container: {image: alpine:3}, input: [{storage_provider: s3, path: acme-media/in}],\n"
        "             output: [{storage_provider: s3, path: acme-media/mid},\n"
        "                      {storage_provider: s3, path: acme-media/other}]}\n"
        "  - lambda: {name: b, container: {image: alpine:3}, input: [{storage_provider: s3, path: acme-media/mid}]}\n"
        "  - lambda: {name: c, container: {image: alpine:3}, reserved_concurrency: 50,\n"
        "             input: [{storage_provider: s3, path: acme-media/other}]}\n"
        "avgen:\n  backend: {type: local}\n  defaults: {lambda: {fan_out_concurrency: 3}}\n")
    loaded = load_workflow(path)
    assert loaded.ok, loaded.findings
    context = template_context(loaded.workflow, "0.0.0")
    assert {n: f["reserved_concurrency"] for n, f in context["functions"].items()} == {"a": None, "b": 3, "c": 50}


def test_every_function_has_a_throttles_and_an_errors_alarm_to_the_alerts_topic():
    calls = [entry["alerts"] for entry in parsed("av-workflow", "main.tf")["module"] if "alerts" in entry]
    assert calls[0]["lambda_function_names"].startswith("${{for name, function in module.function")
    alarm = block("av-workflow", "modules/alerts/main.tf", "resource", "aws_cloudwatch_metric_alarm", "lambda")
    assert alarm["for_each"] == "${local.lambda_function_alarms}"
    assert alarm["metric_name"] == "${each.value.metric}" and alarm["namespace"] == "AWS/Lambda"
    assert alarm["dimensions"] == {"FunctionName": "${each.value.function_name}"}
    assert (alarm["comparison_operator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["alarm_actions"] == ["${aws_sns_topic.alerts.arn}"]
    assert alarm["treat_missing_data"] == "notBreaching"
    locals_ = parsed("av-workflow", "modules/alerts/main.tf")["locals"][0]["lambda_alarms"]
    assert {key: value["metric"] for key, value in locals_.items()} == {"throttles": "Throttles", "errors": "Errors"}
    policy = block("av-workflow", "modules/alerts/main.tf", "data", "aws_iam_policy_document", "alerts_topic")
    (cloudwatch,) = [statement for statement in policy["statement"]
                     if statement["principals"][0]["identifiers"] == ["cloudwatch.amazonaws.com"]]
    assert cloudwatch["actions"] == ["sns:Publish"]


def test_batch_instances_get_the_workflows_tags_and_a_sized_encrypted_root_volume():
    jobs = locals_of("av-workflow", "main.tf")["batch_jobs"]
    for job in jobs.values():
        assert job["instance_tags"] == {"ManagedBy": "avgen", "avgen:workflow": "av-workflow",
                                        "project": "av-workflow"}
        assert job["root_volume_size"] == 100
    calls = [entry["batch"] for entry in parsed("av-workflow", "main.tf")["module"] if "batch" in entry]
    assert calls[0]["instance_tags"] == "${each.value.instance_tags}"
    assert calls[0]["root_volume_size"] == "${each.value.root_volume_size}"
    environment = block("av-workflow", "modules/batch-job/main.tf", "resource", "aws_batch_compute_environment",
                        "this")
    assert environment["compute_resources"][0]["tags"] == '${merge(var.instance_tags, {Name = "${var.name}-batch"})}'
    template = block("av-workflow", "modules/batch-job/main.tf", "resource", "aws_launch_template", "this")
    (mapping,) = template["block_device_mappings"]
    assert mapping["device_name"] == "/dev/xvda"
    assert mapping["ebs"][0] == {"volume_size": "${var.root_volume_size}", "volume_type": "gp3",
                                 "encrypted": "true", "delete_on_termination": "true"}


def test_the_root_volume_size_is_set_per_function_or_for_all(tmp_path):
    from generator.workflow.load import load_workflow

    path = tmp_path / "workflow.yaml"
    batch = "execution_mode: batch, container: {image: alpine:3}"
    path.write_text("functions:\n  aws:\n"
                    f"  - lambda: {{name: a, {batch}}}\n    batch: {{root_volume_size: 200}}\n"
                    f"  - lambda: {{name: b, {batch}}}\n"
                    "avgen:\n  backend: {type: local}\n  defaults: {batch: {root_volume_size: 60}}\n")
    loaded = load_workflow(path)
    assert loaded.ok, loaded.findings
    assert [f.batch.root_volume_size for f in loaded.workflow.functions] == [200, 60]
    path.write_text(path.read_text().replace("root_volume_size: 200", "root_volume_size: 8"))
    assert not load_workflow(path).ok  # below the AMI's 30 GiB


# --- what a plan can show: IAM policies known before apply (issue 27) ---------------------------------------

_REFERENCE = re.compile(r"(?<![\w.-])(var|local|data|module|each)\.([\w-]+)(?:\.([\w-]+))?")
_RESOURCE = re.compile(r"(?<![\w.-])(aws_[a-z0-9_]+)\.([a-z_][\w-]*)")


def _strings(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _module_calls(case: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Module file → the (calling file, call) pairs that instantiate it, across the generated folder."""
    import posixpath

    calls: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path in render_case(case):
        if not path.endswith("main.tf"):
            continue
        for entry in parsed(case, path).get("module", []):
            for call in entry.values():
                target = posixpath.normpath(posixpath.join(posixpath.dirname(path), call["source"], "main.tf"))
                calls.setdefault(target, []).append((path, call))
    return calls


def unknown_at_plan(case: str, path: str, value: Any, each: Any = None, seen: set | None = None) -> set[str]:
    """What `value` (an expression in `path`, as python-hcl2 gives it) takes from managed resources or module
    outputs, followed through locals, data sources, `each.value` and, across module calls, variables.

    Empty means a data source made of it is read at plan: Terraform defers a data source that refers to a
    managed resource with pending changes even where the value it takes is known (hashicorp/terraform#27171),
    so an IAM policy document must be made of variables, locals and data sources only."""
    seen = set() if seen is None else seen
    found: set[str] = set()
    for text in _strings(value):
        found |= {f"{path}: {match[0]}" for match in _RESOURCE.finditer(text)}
        for kind, name, attribute in _REFERENCE.findall(text):
            key = (path, kind, name, attribute, repr(each))
            if key in seen:
                continue
            seen.add(key)
            found |= _unknown_through_reference(case, path, kind, name, attribute, each, seen)
    return found


def _unknown_through_reference(case: str, path: str, kind: str, name: str, attribute: str, each: Any,
                               seen: set) -> set[str]:
    """unknown_at_plan of what one reference (`kind.name.attribute` in `path`) stands for."""
    if kind == "module":
        return {f"{path}: module.{name}"}
    if kind == "local":
        return unknown_at_plan(case, path, locals_of(case, path)[name], each, seen)
    if kind == "data":
        return unknown_at_plan(case, path, block(case, path, "data", name, attribute), each, seen)
    if kind == "each" and name == "value" and each is not None:
        return unknown_at_plan(case, each[0], each[1], None, seen)
    if kind == "var":
        return _unknown_through_variable(case, path, name, seen)
    return set()


def _unknown_through_variable(case: str, path: str, name: str, seen: set) -> set[str]:
    """unknown_at_plan of the module variable `name` of `path`, over every call that sets it."""
    found: set[str] = set()
    for caller, call in _module_calls(case).get(path, []):
        if name in call:
            binding = (caller, call["for_each"]) if "for_each" in call else None
            found |= unknown_at_plan(case, caller, call[name], binding, seen)
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_role_policies_are_known_at_plan(case):
    """The first plan of a deployment shows every role's policy whole, not `(known after apply)`: the ARNs it
    grants are written from names (partition, account, region, the resource's name), never read from the
    resources that the same apply creates."""
    for name in ("access", "trust"):
        document = block(case, ROLE, "data", "aws_iam_policy_document", name)
        assert unknown_at_plan(case, ROLE, document) == set(), name
    queue_policy = block(case, "modules/lambda-function/main.tf", "data", "aws_iam_policy_document", "dead_letter")
    assert unknown_at_plan(case, "modules/lambda-function/main.tf", queue_policy) == set()
    policy = block(case, ROLE, "resource", "aws_iam_role_policy", "access")
    assert policy["role"] == "${aws_iam_role.this.name}"  # the name given, known at plan (its id is not)
    # the tracer does see what an apply makes: the function's role ARN is a module output
    assert unknown_at_plan(case, "modules/lambda-function/main.tf", "${local.role_arn}") == {
        "modules/lambda-function/main.tf: module.role"}
    assert unknown_at_plan(case, "modules/lambda-function/main.tf", "${aws_sqs_queue.dead_letter.arn}")


def test_arns_written_from_names_are_the_ones_aws_gives():
    main = locals_of("av-workflow", "modules/lambda-function/main.tf")
    assert main["log_group_arn"].endswith(":logs:${var.region}:${local.account_id}:log-group:${local.log_group_name}")
    assert main["dead_letter_queue_arn"].endswith(":sqs:${var.region}:${local.account_id}:"
                                                  "${local.dead_letter_queue_name}")
    log_group = block("av-workflow", "modules/lambda-function/main.tf", "resource", "aws_cloudwatch_log_group", "this")
    queue = block("av-workflow", "modules/lambda-function/main.tf", "resource", "aws_sqs_queue", "dead_letter")
    assert (log_group["name"], queue["name"]) == ("${local.log_group_name}", "${local.dead_letter_queue_name}")
    function = block("av-workflow", "modules/lambda-function/main.tf", "resource", "aws_lambda_function", "this")
    assert function["depends_on"] == ["${aws_cloudwatch_log_group.this}"]  # its logs exist before it runs
    submit = locals_of("av-workflow", "main.tf")["batch_submit_arns"]
    for arn in ("job-queue/${function.resource_name}", "job-definition/${function.resource_name}",
                "job-definition/${function.resource_name}:*"):
        assert f"${{local.batch_arn_prefix}}:{arn}" in submit
    (call,) = [entry["batch"] for entry in parsed("av-workflow", "main.tf")["module"] if "batch" in entry]
    assert call["name"] == "${local.functions[each.key].resource_name}"  # queue and definition names


ALERTS = "modules/alerts/main.tf"


def _topic_statement(case: str, service: str) -> dict[str, Any]:
    policy = block(case, ALERTS, "data", "aws_iam_policy_document", "alerts_topic")
    (statement,) = [s for s in policy["statement"] if s["principals"][0]["identifiers"] == [service]]
    return statement


def test_every_dead_letter_queue_has_an_alarm_while_it_holds_messages():
    (call,) = [entry["alerts"] for entry in parsed("av-workflow", "main.tf")["module"] if "alerts" in entry]
    assert call["dead_letter_queue_names"] == (
        "${{for name, function in module.function : name => function.dead_letter_queue_name}}")
    alarm = block("av-workflow", ALERTS, "resource", "aws_cloudwatch_metric_alarm", "dead_letter")
    assert alarm["for_each"] == "${var.dead_letter_queue_names}"  # keyed by function: stable addresses
    assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["dimensions"] == {"QueueName": "${each.value}"}
    assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == (
        "Maximum", "GreaterThanThreshold", 0)
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == ["${aws_sns_topic.alerts.arn}"]
    assert "aws_cloudwatch_metric_alarm.dead_letter[key].arn" in _topic_statement(
        "av-workflow", "cloudwatch.amazonaws.com")["condition"][0]["values"]
    output = block("av-workflow", "modules/lambda-function/outputs.tf", "output", "dead_letter_queue_name", "value")
    assert output == "${aws_sqs_queue.dead_letter.name}"


EXISTING_BUCKET_WORKFLOW = """\
functions:
  aws:
  - lambda:
      name: copy
      container: {image: alpine:3}
      input: [{storage_provider: s3, path: owners-media/uploads, suffix: [.txt]}]
      output: [{storage_provider: s3, path: copies/out}]
  - lambda:
      name: other
      container: {image: alpine:3}
      input: [{storage_provider: s3, path: copies/out}]
avgen:
  backend: {type: local}
  buckets: {owners-media: {create: false}}
"""


@pytest.fixture(scope="module")
def existing_bucket(tmp_path_factory) -> dict[str, str]:
    """A workflow with alerts on and a trigger on a bucket avgen does not own, rendered."""
    from generator.render.root import render
    from generator.workflow.load import load_workflow

    path = tmp_path_factory.mktemp("existing") / "workflow.yaml"
    path.write_text(EXISTING_BUCKET_WORKFLOW)
    loaded = load_workflow(path)
    assert loaded.ok, loaded.findings
    return render(loaded.workflow, avgen_version="0.0.0")


def test_eventbridge_targets_keep_undelivered_events_in_the_functions_dead_letter_queue(existing_bucket):
    module = _clean(hcl2.loads(existing_bucket["modules/eventbridge-triggers/main.tf"]))
    (target,) = [entry["aws_cloudwatch_event_target"]["this"] for entry in module["resource"]
                 if "aws_cloudwatch_event_target" in entry]
    assert target["retry_policy"] == [{"maximum_event_age_in_seconds": 86400, "maximum_retry_attempts": 185}]
    assert target["dead_letter_config"] == [{"arn": "${var.dead_letter_queue_arns[each.value.function]}"}]
    main = _clean(hcl2.loads(existing_bucket["main.tf"]))
    calls = {name: call for entry in main["module"] for name, call in entry.items()}
    assert calls["bucket_events"]["dead_letter_queue_arns"] == (
        "${{for name, function in module.function : name => function.dead_letter_queue_arn}}")
    assert calls["function"]["eventbridge_rule_names"] == "${local.eventbridge_rule_names[each.key]}"
    assert calls["alerts"]["eventbridge_rule_names"] == "${sort(flatten(values(local.eventbridge_rule_names)))}"


def test_a_functions_dead_letter_queue_lets_exactly_the_rules_that_target_it_send(existing_bucket):
    # the queue lets exactly those rules send, each by its ARN; only where a rule targets the function
    function = _clean(hcl2.loads(existing_bucket["modules/lambda-function/main.tf"]))
    (queue_policy,) = [entry["aws_sqs_queue_policy"]["dead_letter"] for entry in function["resource"]
                       if "aws_sqs_queue_policy" in entry]
    assert queue_policy["count"] == "${length(var.eventbridge_rule_names) > 0 ? 1 : 0}"
    (document,) = [entry["aws_iam_policy_document"]["dead_letter"] for entry in function["data"]
                   if "aws_iam_policy_document" in entry and "dead_letter" in entry["aws_iam_policy_document"]]
    (statement,) = document["statement"]
    assert statement["actions"] == ["sqs:SendMessage"]
    assert statement["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    assert statement["condition"] == [{"test": "ArnEquals", "variable": "aws:SourceArn",
                                       "values": "${[for rule in sort(var.eventbridge_rule_names) : "
                                                 "\"${local.event_rule_arn_prefix}/${rule}\"]}"}]
    prefix = _clean(hcl2.loads(existing_bucket["modules/lambda-function/main.tf"]))["locals"][0]
    assert prefix["event_rule_arn_prefix"].endswith(":events:${var.region}:${local.account_id}:rule")


def test_every_eventbridge_rule_has_a_failed_invocations_alarm(existing_bucket):
    alerts = _clean(hcl2.loads(existing_bucket[ALERTS]))
    alarms = {name: body for entry in alerts["resource"] for name, body in
              entry.get("aws_cloudwatch_metric_alarm", {}).items()}
    alarm = alarms["eventbridge_failed"]
    assert alarm["for_each"] == "${toset(var.eventbridge_rule_names)}"  # keyed by rule name: stable
    assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Events", "FailedInvocations")
    assert alarm["dimensions"] == {"RuleName": "${each.key}"}
    assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == ("Sum", "GreaterThanThreshold", 0)
    assert alarm["alarm_actions"] == ["${aws_sns_topic.alerts.arn}"]
    policy = next(entry["aws_iam_policy_document"]["alerts_topic"] for entry in alerts["data"])
    (cloudwatch,) = [s for s in policy["statement"]
                     if s["principals"][0]["identifiers"] == ["cloudwatch.amazonaws.com"]]
    assert "aws_cloudwatch_metric_alarm.eventbridge_failed[rule].arn" in cloudwatch["condition"][0]["values"]
    # one rule per trigger on the bucket avgen does not own, named for the function it runs
    main = _clean(hcl2.loads(existing_bucket["main.tf"]))
    triggers = {key: value for entry in main["locals"] for key, value in entry.items()}["eventbridge_triggers"]
    assert [(rule["function"], rule["rule_name"].startswith("copy-s3-")) for rule in
            triggers["owners-media"].values()] == [("copy", True)]


@pytest.mark.terraform
def test_the_existing_bucket_workflow_validates(existing_bucket, tmp_path, terraform_bin, terraform_env, plugin_dir):
    import subprocess

    from generator.render.root import write_output

    write_output(tmp_path, existing_bucket)
    for command in (["init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={plugin_dir}"],
                    ["validate", "-no-color"], ["fmt", "-check", "-recursive", "-diff", "-no-color"]):
        result = subprocess.run([terraform_bin, *command], cwd=tmp_path, env=terraform_env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_blocked_batch_queue_is_an_alert():
    rule = block("av-workflow", ALERTS, "resource", "aws_cloudwatch_event_rule", "batch_job_queue_blocked")
    assert rule["count"] == "${length(var.batch_job_queue_arns) > 0 ? 1 : 0}"
    pattern = rule["event_pattern"]
    # the detail-type AWS Batch documents for a job that waits RUNNABLE and blocks its queue
    assert 'detail-type = ["Batch Job Queue Blocked"]' in pattern and 'source = ["aws.batch"]' in pattern
    assert "jobQueue = sort(var.batch_job_queue_arns)" in pattern
    target = block("av-workflow", ALERTS, "resource", "aws_cloudwatch_event_target", "batch_job_queue_blocked")
    assert target["arn"] == "${aws_sns_topic.alerts.arn}"
    assert target["rule"] == "${aws_cloudwatch_event_rule.batch_job_queue_blocked[0].name}"
    values = _topic_statement("av-workflow", "events.amazonaws.com")["condition"][0]["values"]
    assert "aws_cloudwatch_event_rule.batch_job_queue_blocked[*].arn" in values


@pytest.mark.parametrize("case", sorted(CASES))
def test_batchs_service_linked_role_is_the_accounts_not_the_workflows(case):
    """Destroying a workflow must not delete AWSServiceRoleForBatch, which every Batch workload of the account
    uses: the generated Terraform does not manage it, and a role an earlier version created is forgotten."""
    files = render_case(case)
    assert not any('"aws_iam_service_linked_role"' in text for text in files.values())
    code = [line for text in files.values() for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "create_batch_service_linked_role" in line or "service_role" in line]
    environment = block(case, BATCH, "resource", "aws_batch_compute_environment", "this")
    assert "service_role" not in environment  # Batch uses (and creates) its service-linked role
    (removed,) = parsed(case, "modules/batch-shared/main.tf")["removed"]
    assert removed["from"] == "${aws_iam_service_linked_role.batch}"
    assert removed["lifecycle"] == [{"destroy": False}]
