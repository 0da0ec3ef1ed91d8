"""The sandbox's emulator: clean start and stop, state carried over by replay, and the gaps of moto that
it closes (each checked against what AWS does)."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap

import boto3
import pytest
from botocore.exceptions import ClientError

from generator.aws.sandbox import Sandbox

from ..processes import wait_dead


def client(sandbox: Sandbox, service: str):
    return boto3.session.Session(**sandbox.credentials,
                                 region_name="us-east-1").client(service, endpoint_url=sandbox.endpoint)


def test_server_stops_when_the_command_fails(tmp_path):
    with pytest.raises(RuntimeError), Sandbox(tmp_path) as sandbox:
        pid = sandbox.process.pid
        raise RuntimeError("terraform failed")
    assert wait_dead(pid, 10)


def test_server_does_not_outlive_a_killed_avgen(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from generator.aws.sandbox import Sandbox
        sandbox = Sandbox(Path({str(tmp_path)!r}))
        sandbox.start()
        print(sandbox.process.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    server_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)  # no chance to clean up
    parent.wait()
    assert wait_dead(server_pid, 60)


def test_state_and_ids_survive_a_restart(tmp_path):
    with Sandbox(tmp_path) as sandbox:
        s3 = client(sandbox, "s3")
        s3.create_bucket(Bucket="kept-bucket")
        s3.put_object(Bucket="kept-bucket", Key="in/a b.mp4", Body=b"x" * 100_000)
        vpc = client(sandbox, "ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
        template = client(sandbox, "ec2").create_launch_template(
            LaunchTemplateName="kept-template", LaunchTemplateData={})["LaunchTemplate"]["LaunchTemplateId"]
    with Sandbox(tmp_path) as sandbox:
        body = client(sandbox, "s3").get_object(Bucket="kept-bucket", Key="in/a b.mp4")["Body"].read()
        ec2 = client(sandbox, "ec2")
        assert body == b"x" * 100_000
        assert ec2.describe_vpcs()["Vpcs"][0]["VpcId"] == vpc
        assert ec2.describe_launch_templates(LaunchTemplateIds=[template])["LaunchTemplates"]


def test_tls_only_bucket_policy_allows_the_requests_aws_would_allow(tmp_path):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyPlainHttp", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::tls-bucket", "arn:aws:s3:::tls-bucket/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::tls-bucket/*"}]}
    with Sandbox(tmp_path) as sandbox:
        s3 = client(sandbox, "s3")
        s3.create_bucket(Bucket="tls-bucket")
        s3.put_bucket_policy(Bucket="tls-bucket", Policy=json.dumps(policy))
        s3.put_object(Bucket="tls-bucket", Key="k", Body=b"1")  # AWS: over TLS, allowed
        with pytest.raises(ClientError):  # an unconditional deny still applies
            s3.delete_object(Bucket="tls-bucket", Key="k")


def pushed_image(sandbox: Sandbox, repository: str, tag: str) -> tuple[str, str]:
    """An image pushed to the sandbox's ECR (a manifest, as `docker push` leaves it): (by tag, by digest)."""
    ecr = client(sandbox, "ecr")
    url = ecr.create_repository(repositoryName=repository,
                                imageTagMutability="IMMUTABLE")["repository"]["repositoryUri"]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                           "digest": "sha256:" + "0" * 64},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
                            "digest": "sha256:" + "1" * 64}]}
    digest = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest),
                           imageTag=tag)["image"]["imageId"]["imageDigest"]
    return f"{url}:{tag}", f"{url}@{digest}"


def test_settings_the_provider_reads_back_are_kept(tmp_path):
    with Sandbox(tmp_path) as sandbox:
        iam, sqs, lambda_ = client(sandbox, "iam"), client(sandbox, "sqs"), client(sandbox, "lambda")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        queue = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="dlq")["QueueUrl"],
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        _, image = pushed_image(sandbox, "fn", "ctx-0123456789abcdef")
        lambda_.create_function(FunctionName="f", Role=role, PackageType="Image", Code={"ImageUri": image},
                                DeadLetterConfig={"TargetArn": queue})
        assert lambda_.get_function(FunctionName="f")["Configuration"]["DeadLetterConfig"] == {"TargetArn": queue}

        batch = client(sandbox, "batch")
        actions = [{"reason": "stuck", "state": "CANCELLED", "maxTimeSeconds": 3600, "action": "CANCEL"}]
        environment = batch.create_compute_environment(computeEnvironmentName="plain-environment", type="UNMANAGED",
                                                       serviceRole=role)["computeEnvironmentArn"]
        batch.create_job_queue(jobQueueName="q", priority=1, state="ENABLED",
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
                               jobStateTimeLimitActions=actions)
        assert batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]["jobStateTimeLimitActions"] == actions


def test_a_function_whose_image_was_never_pushed_is_refused_as_aws_refuses_it(tmp_path):
    """Lambda: InvalidParameterValueException, "Source image … does not exist. Provide a valid source image."
    for an image ECR does not hold, whether named by tag or by digest; a pushed one is taken, by either."""
    with Sandbox(tmp_path) as sandbox:
        iam, lambda_ = client(sandbox, "iam"), client(sandbox, "lambda")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        by_tag, by_digest = pushed_image(sandbox, "pushed", "ctx-0123456789abcdef")
        registry = by_tag.split("/", 1)[0]
        never_pushed = [f"{registry}/pushed:latest", f"{registry}/pushed@sha256:{'2' * 64}",
                        f"{registry}/no-repository@sha256:{'2' * 64}"]
        for image in never_pushed:
            with pytest.raises(ClientError) as refused:
                lambda_.create_function(FunctionName="unpushed", Role=role, PackageType="Image",
                                        Code={"ImageUri": image})
            assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
            assert refused.value.response["Error"]["Message"] == \
                f"Source image {image} does not exist. Provide a valid source image."
        assert [f["FunctionName"] for f in lambda_.list_functions()["Functions"]] == []
        lambda_.create_function(FunctionName="by-tag", Role=role, PackageType="Image", Code={"ImageUri": by_tag})
        lambda_.create_function(FunctionName="by-digest", Role=role, PackageType="Image",
                                Code={"ImageUri": by_digest})
        with pytest.raises(ClientError) as refused:  # UpdateFunctionCode is judged the same way
            lambda_.update_function_code(FunctionName="by-digest", ImageUri=never_pushed[1])
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with Sandbox(tmp_path) as sandbox:  # the history replays (the image check does not judge it again)
        functions = client(sandbox, "lambda").list_functions()["Functions"]
        assert sorted(f["FunctionName"] for f in functions) == ["by-digest", "by-tag"]


def test_a_managed_compute_environment_without_a_service_role_gets_batchs_service_linked_role(tmp_path):
    """AWS: without serviceRole, a managed compute environment uses AWSServiceRoleForBatch, created when the
    account has none (the generated Terraform leaves the role to the account)."""
    with Sandbox(tmp_path) as sandbox:
        batch, iam, ec2 = client(sandbox, "batch"), client(sandbox, "iam"), client(sandbox, "ec2")
        profile = iam.create_instance_profile(InstanceProfileName="instances")["InstanceProfile"]["Arn"]
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        resources = {"type": "EC2", "minvCpus": 0, "maxvCpus": 2, "instanceTypes": ["optimal"],
                     "subnets": [subnet], "securityGroupIds": [group], "instanceRole": profile}
        for name in ("first", "second"):
            batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED",
                                             computeResources=resources)
        environments = batch.describe_compute_environments()["computeEnvironments"]
        roles = [role for role in iam.list_roles()["Roles"] if role["RoleName"] == "AWSServiceRoleForBatch"]
    (role,) = roles
    assert role["Arn"] == ("arn:aws:iam::123456789012:role/aws-service-role/batch.amazonaws.com/"
                           "AWSServiceRoleForBatch")
    assert {environment["serviceRole"] for environment in environments} == {role["Arn"]}


def test_unknown_launch_template_id_gets_the_error_code_aws_sends(tmp_path):
    with Sandbox(tmp_path) as sandbox, pytest.raises(ClientError) as info:
        client(sandbox, "ec2").delete_launch_template(LaunchTemplateId="lt-0123456789abcdef0")
    assert info.value.response["Error"]["Code"] == "InvalidLaunchTemplateId.NotFound"


def queued_events(sqs, queue_url: str) -> list[dict]:
    """The S3 event records a queue received (S3's test event left out)."""
    records = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return records
        for message in messages:
            records += json.loads(message["Body"]).get("Records", [])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def notifying_bucket(sandbox: Sandbox, bucket: str) -> str:
    """A bucket whose created objects are announced on a queue; the queue's URL."""
    s3, sqs = client(sandbox, "s3"), client(sandbox, "sqs")
    s3.create_bucket(Bucket=bucket)
    url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return url


def test_a_multipart_upload_sends_one_event_as_aws_does(tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"v" * (9 * 1024 * 1024))  # over boto3's 8 MiB threshold: a multipart upload
    with Sandbox(tmp_path / "sandbox") as sandbox:
        url = notifying_bucket(sandbox, "multipart-bucket")
        client(sandbox, "s3").upload_file(str(big), "multipart-bucket", "in/big.mp4")
        records = queued_events(client(sandbox, "sqs"), url)
    assert [r["eventName"] for r in records] == ["ObjectCreated:CompleteMultipartUpload"]
    assert records[0]["s3"]["object"]["size"] == 9 * 1024 * 1024


def test_s3_events_carry_the_fields_aws_writes(tmp_path):
    with Sandbox(tmp_path) as sandbox:
        url = notifying_bucket(sandbox, "fields-bucket")
        s3 = client(sandbox, "s3")
        s3.put_object(Bucket="fields-bucket", Key="in/a.mp4", Body=b"1")
        s3.put_object(Bucket="fields-bucket", Key="in/a.mp4", Body=b"2")
        first, second = queued_events(client(sandbox, "sqs"), url)
    for record in (first, second):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["eventTime"])
        assert record["userIdentity"]["principalId"]
        assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
        assert record["responseElements"]["x-amz-request-id"] and record["responseElements"]["x-amz-id-2"]
        assert re.fullmatch(r"[0-9A-F]+", record["s3"]["object"]["sequencer"])
    assert first["responseElements"] != second["responseElements"]  # two requests
    assert second["s3"]["object"]["sequencer"] > first["s3"]["object"]["sequencer"]


def queue_rule(arn: str, events: list[str], prefix: str = "", suffix: str = "") -> dict:
    filters = [{"Name": name, "Value": value} for name, value in (("prefix", prefix), ("suffix", suffix)) if value]
    return {"QueueArn": arn, "Events": events, **({"Filter": {"Key": {"FilterRules": filters}}} if filters else {})}


def test_overlapping_notification_rules_are_refused_as_aws_does(tmp_path):
    with Sandbox(tmp_path) as sandbox:
        s3, sqs = client(sandbox, "s3"), client(sandbox, "sqs")
        s3.create_bucket(Bucket="rules-bucket")
        a, b = (sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName=name)["QueueUrl"],
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for name in "ab")
        with pytest.raises(ClientError) as info:  # every object under in/ would be announced twice
            s3.put_bucket_notification_configuration(Bucket="rules-bucket", NotificationConfiguration={
                "QueueConfigurations": [queue_rule(a, ["s3:ObjectCreated:*"], prefix="in/"),
                                        queue_rule(b, ["s3:ObjectCreated:Put"], suffix=".mp4")]})
        assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket="rules-bucket")
        s3.put_bucket_notification_configuration(Bucket="rules-bucket", NotificationConfiguration={
            "QueueConfigurations": [queue_rule(a, ["s3:ObjectCreated:*"], prefix="in/"),
                                    queue_rule(b, ["s3:ObjectCreated:*"], prefix="out/")]})
        assert len(s3.get_bucket_notification_configuration(Bucket="rules-bucket")["QueueConfigurations"]) == 2
    error = info.value.response
    assert error["Error"]["Code"] == "InvalidArgument"
    assert error["Error"]["Message"] == ("Configurations overlap. Configurations on the same bucket cannot share "
                                         "a common event type.")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("first, second, overlap", [
    ((["s3:ObjectCreated:*"],), (["s3:ObjectCreated:Put"], "in/"), True),              # no prefix: every key
    ((["s3:ObjectCreated:Put"], "in/"), (["s3:ObjectCreated:Put"], "in/a"), True),
    ((["s3:ObjectCreated:Put"], "", ".mp4"), (["s3:ObjectCreated:Put"], "", "4"), True),
    ((["s3:ObjectCreated:Put"], "in/"), (["s3:ObjectCreated:Put"], "", ".mp4"), True),  # in/x.mp4 passes both
    ((["s3:ObjectCreated:Put"], "in/"), (["s3:ObjectCreated:Put"], "out/"), False),
    ((["s3:ObjectCreated:*"], "", ".jpg"), (["s3:ObjectCreated:*"], "", ".png"), False),
    ((["s3:ObjectCreated:Put"],), (["s3:ObjectCreated:Copy"],), False),
    ((["s3:ObjectCreated:*"],), (["s3:ObjectRemoved:*"],), False),
])
def test_rules_overlap_where_one_event_on_one_key_matches_both(first, second, overlap):
    from generator.aws.sandbox_server import rules_overlap

    def parsed(rule: dict) -> dict:  # as moto parses the XML body
        filters = rule.get("Filter", {}).get("Key", {}).get("FilterRules")
        return {"Event": rule["Events"], **({"Filter": {"S3Key": {"FilterRule": filters}}} if filters else {})}

    a, b = parsed(queue_rule("a", *first)), parsed(queue_rule("b", *second))
    assert rules_overlap(a, b) is overlap and rules_overlap(b, a) is overlap


def scripts_environment(sandbox: Sandbox) -> dict:
    """What a function script is given: the endpoint, never the sandbox's own key nor its control token."""
    return {"AWS_ENDPOINT_URL": sandbox.endpoint, "AWS_REGION": "us-east-1"}


def test_moto_admin_api_and_avgen_control_refuse_a_script(tmp_path):
    import os
    import stat

    import requests

    with Sandbox(tmp_path) as sandbox:
        client(sandbox, "s3").create_bucket(Bucket="kept-bucket")
        endpoint = scripts_environment(sandbox)["AWS_ENDPOINT_URL"]
        for method, path in (("POST", "/moto-api/reset"), ("GET", "/moto-api/data.json"),
                             ("POST", "/moto-api/seed?a=1"), ("POST", "/_avgen/executor"),
                             ("GET", "/_avgen/activity"), ("POST", "/moto-api/reset/")):
            answer = requests.request(method, endpoint + path, timeout=10)
            assert answer.status_code == 403, (path, answer.text)
        forged = requests.post(endpoint + "/moto-api/reset", headers={"X-Avgen-Control": "guess"}, timeout=10)
        assert forged.status_code == 403
        assert "kept-bucket" in [b["Name"] for b in client(sandbox, "s3").list_buckets()["Buckets"]]
        assert sandbox.activity()["busy"] == 0  # the avgen command itself still gets in
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o600
    assert "moto-api" not in (tmp_path / "requests.jsonl").read_text()
    with Sandbox(tmp_path) as sandbox:  # nothing refused was recorded and replayed: the bucket is there
        assert "kept-bucket" in [b["Name"] for b in client(sandbox, "s3").list_buckets()["Buckets"]]


def test_unknown_keys_and_unsigned_requests_are_refused_as_aws_refuses_them(tmp_path):
    import requests

    with Sandbox(tmp_path) as sandbox:
        s3 = client(sandbox, "s3")
        s3.create_bucket(Bucket="guarded")
        made_up = boto3.client("s3", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                               aws_access_key_id="AKIAMADEUPMADEUP1234", aws_secret_access_key="made-up")
        with pytest.raises(ClientError) as denied:
            made_up.put_object(Bucket="guarded", Key="in/planted.txt", Body=b"x")
        assert denied.value.response["Error"]["Code"] == "InvalidAccessKeyId"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        for key in ("avgen-sandbox", "x"):  # the keys avgen once signed with are nobody's now
            old = boto3.client("s3", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                               aws_access_key_id=key, aws_secret_access_key=key)
            with pytest.raises(ClientError, match="InvalidAccessKeyId"):
                old.list_buckets()
        unsigned = requests.put(sandbox.endpoint + "/guarded/in/planted.txt", data=b"x", timeout=10)
        assert unsigned.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned.text
        iam = boto3.client("iam", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIAMADEUPMADEUP1234", aws_secret_access_key="made-up")
        with pytest.raises(ClientError, match="InvalidClientTokenId"):
            iam.list_users()
        assert "Contents" not in s3.list_objects_v2(Bucket="guarded")


def test_the_server_of_a_killed_avgen_answers_its_terraform_until_that_ended(tmp_path):
    from generator import orphans

    script = textwrap.dedent(f"""
        import subprocess, sys, time
        from pathlib import Path
        from generator.aws.sandbox import Sandbox
        from generator import orphans
        sandbox = Sandbox(Path({str(tmp_path / "sandbox")!r}))
        sandbox.start()
        # stands in for terraform: it runs until the test lets it end (or ten minutes)
        terraform = subprocess.Popen(["sh", "-c", "i=0; while [ ! -e {tmp_path / "end"!s} ] && [ $i -lt 12000 ]; "
                                      "do sleep 0.05; i=$((i+1)); done"], start_new_session=True)
        orphans.record(Path({str(tmp_path)!r}), terraform.pid)
        print(sandbox.process.pid, sandbox.port, terraform.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    server_pid, port, terraform = map(int, parent.stdout.readline().split())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert orphans.orphaned_terraform(tmp_path) == terraform
    assert not wait_dead(server_pid, 2)  # still answering it, however long it runs
    import requests
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=60).status_code < 500
    (tmp_path / "end").touch()
    assert wait_dead(server_pid, 60)  # and gone once it ended
    assert orphans.orphaned_terraform(tmp_path) is None


@pytest.mark.parametrize("authorization, kind, looks_like", [
    ("AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/s3/aws4_request", "application/xml", "<Error><Code>"),
    ("AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/iam/aws4_request", "application/xml", "<ErrorResponse>"),
    ("AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/lambda/aws4_request", "application/x-amz-json-1.1",
     '{"__type": "InsufficientStorage"'),
])
def test_a_full_sandbox_folder_is_said_as_an_aws_error_not_an_html_page(tmp_path, monkeypatch, authorization, kind,
                                                                        looks_like):
    import errno
    import io

    from generator.aws import sandbox_server
    from generator.aws.recording import History

    def full(self, request):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(History, "append", full)
    recorder = sandbox_server.Recorder(tmp_path)
    recorder.enabled = True
    answered = {}

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    def start_response(code, headers, exc_info=None):
        answered.update(code=code, headers=dict(headers))

    environ = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key", "RAW_URI": "/bucket/key", "QUERY_STRING": "",
               "HTTP_AUTHORIZATION": authorization, "CONTENT_LENGTH": "4", "wsgi.input": io.BytesIO(b"data")}
    body = b"".join(recorder(app, environ, start_response)).decode()
    assert answered["code"] == "507 Insufficient Storage"
    assert answered["headers"]["Content-Type"] == kind
    assert body.startswith(looks_like)
    assert f"no space left in {tmp_path}" in body and "<html" not in body.lower()


def test_an_eventbridge_rule_targeting_a_topic_publishes_the_event_to_it(tmp_path):
    # moto 5.2.6 raises on such a target, failing the whole PutEvents (a failed function's on-failure record
    # to the default bus, whose alert rule targets the alerts topic, was lost)
    with Sandbox(tmp_path) as sandbox:
        sns, sqs, events = (client(sandbox, name) for name in ("sns", "sqs", "events"))
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        url = sqs.create_queue(QueueName="alerts-mail")["QueueUrl"]
        queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
        events.put_rule(Name="lambda-invocation-failed", EventPattern=json.dumps(
            {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Failure"]}))
        events.put_targets(Rule="lambda-invocation-failed", Targets=[{"Id": "alerts-topic", "Arn": topic}])
        sent = events.put_events(Entries=[{"Source": "lambda", "DetailType": "Lambda Function Invocation Result - "
                                           "Failure", "Detail": json.dumps({"requestContext": {"requestId": "r1"}}),
                                           "EventBusName": "default"}])
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert sent["FailedEntryCount"] == 0
    assert len(messages) == 1
    event = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert event["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert event["detail"] == {"requestContext": {"requestId": "r1"}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])


def raw_exchange(sandbox: Sandbox, head: str, body: bytes = b"") -> tuple[bytes, bytes]:
    """What the server sends after a request's head alone (within 3 s), then after its body: read raw."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(sandbox.endpoint)
    with socket.create_connection((url.hostname, url.port), timeout=3) as conn:
        conn.sendall(head.encode())
        try:
            early = conn.recv(65536)
        except TimeoutError:
            early = b""
        conn.sendall(body)
        late = b""
        while chunk := conn.recv(65536):
            late += chunk
    return early, late


def test_an_upload_that_expects_100_continue_gets_it_at_once(tmp_path):
    """boto3 sends its uploads with `Expect: 100-continue` and waits up to a second for the interim answer
    before it sends the body: held back, every upload would take a second longer."""
    with Sandbox(tmp_path) as sandbox:
        early, late = raw_exchange(sandbox, "PUT /some-bucket/key HTTP/1.1\r\nHost: localhost\r\n"
                                            "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n", b"hello")
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"  # http.server and werkzeug each send one: clients skip 100s
    assert early.startswith(interim) and early.replace(interim, b"") == b""
    assert late.startswith(b"HTTP/1.1 403")  # unsigned: refused as AWS refuses it, after the body came


def test_an_answer_leaves_in_one_write_headers_and_body_together(tmp_path):
    """The terraform provider's HTTP client now and then dropped a connection that brought the headers
    alone, and sent the request again (a second create then fails against the first): nothing of an answer
    may arrive without the rest."""
    with Sandbox(tmp_path) as sandbox:
        early, late = raw_exchange(sandbox, "GET /some-bucket/key HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head, _, body = early.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    assert length > 0 and len(body) == length and late == b""


def test_an_upload_whose_sender_stopped_early_is_refused_and_stores_nothing(tmp_path):
    """A function killed in the middle of its upload leaves a request shorter than its Content-Length: S3
    answers IncompleteBody and stores nothing, and so does the sandbox (it once stored the bytes that came)."""
    import socket
    from urllib.parse import urlparse

    with Sandbox(tmp_path) as sandbox:
        s3 = client(sandbox, "s3")
        s3.create_bucket(Bucket="uploads")
        request = s3.generate_presigned_url("put_object", Params={"Bucket": "uploads", "Key": "cut.bin"})
        url = urlparse(request)
        with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
            conn.sendall(f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                         "Content-Length: 10\r\n\r\nhalf".encode())
            conn.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        listed = s3.list_objects_v2(Bucket="uploads").get("Contents", [])
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"\r\n\r\n<Error><Code>IncompleteBody</Code>" in answer and b"after 4 of the 10 bytes" in answer
    assert listed == []
