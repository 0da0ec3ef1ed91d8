"""The resolved model: defaults filled in, lists replaced, paths split, precedence of settings."""
from __future__ import annotations

import json
import textwrap

import pytest

from generator.workflow import model as m
from generator.workflow.load import load_text


def load(text: str, **kwargs):
    """The resolved workflow; the text must have no errors (warnings are allowed)."""
    result = load_text(textwrap.dedent(text), **kwargs)
    errors = [f for f in result.findings if f.severity.value == "error"]
    assert result.workflow is not None and not errors, [str(f) for f in result.findings]
    return result.workflow


MINIMAL = """
functions:
  aws:
  - lambda:
      name: split
      container:
        image: grycap/ffmpeg
      input:
      - storage_provider: s3
        path: media-bucket/input
      output:
      - storage_provider: s3
        path: media-bucket/output
"""


def assert_fields(obj, **expected):
    """Each named attribute of obj has its expected value (all compared at once, so a failure shows every one)."""
    actual = {name: getattr(obj, name) for name in expected}
    assert actual == expected, type(obj).__name__


def test_scar_defaults_are_filled_in():
    workflow = load(MINIMAL)
    (function,) = workflow.functions
    assert_fields(function, memory=512, timeout=300, log_level="INFO", execution_mode="lambda",
                  log_retention_days=30, timeout_threshold=10, ephemeral_storage=512,
                  batch=None, script=None, environment={}, iam_role=None)
    assert_fields(workflow.settings, region="us-east-1", name_prefix="", backend=None, alerts_enabled=True)
    assert workflow.buckets == (m.Bucket("media-bucket", True),)


def test_batch_defaults_are_filled_in():
    workflow = load(MINIMAL.replace("name: split", "name: split\n      execution_mode: batch"))
    batch = workflow.functions[0].batch
    assert batch is not None
    assert (batch.vcpus, batch.memory, batch.min_vcpus, batch.max_vcpus) == (1, 1024, 0, 2)
    assert batch.desired_vcpus == 0
    assert batch.gpus == 0 and not batch.uses_gpu
    assert batch.compute_type == "EC2"
    assert batch.instance_types == m.DEFAULT_INSTANCE_TYPES


def test_lambda_batch_mode_gets_batch_settings_too():
    workflow = load(MINIMAL.replace("name: split", "name: split\n      execution_mode: lambda-batch"))
    assert workflow.functions[0].uses_batch and workflow.functions[0].batch is not None


GPU = """
functions:
  aws:
  - lambda:
      name: yolov3
      execution_mode: batch
      container:
        image: grycap/yolov3
    batch:
      vcpus: 4
      memory: 12288
      enable_gpu: true
      compute_resources:
        max_v_cpus: 12
        instance_types:
        - g4dn.xlarge
"""


def test_lists_are_replaced_not_concatenated():
    """SCAR merged its default [m3.medium] into the user's list; avgen replaces it."""
    batch = load(GPU).functions[0].batch
    assert batch.instance_types == ("g4dn.xlarge",)
    assert batch.gpus == 1 and batch.max_vcpus == 12 and batch.vcpus == 4 and batch.memory == 12288


def test_a_functions_list_replaces_the_list_in_avgen_defaults():
    text = GPU + """
avgen:
  defaults:
    batch:
      instance_types: [g5.xlarge, g6.xlarge]
      subnets: [subnet-1]
"""
    batch = load(text).functions[0].batch
    assert batch.instance_types == ("g4dn.xlarge",)
    assert batch.subnets == ("subnet-1",)


def test_avgen_defaults_list_is_used_when_the_function_has_none():
    text = GPU.replace("        instance_types:\n        - g4dn.xlarge\n", "") + """
avgen:
  defaults:
    batch:
      instance_types: [g5.xlarge]
"""
    batch = load(text).functions[0].batch
    assert batch.instance_types == ("g5.xlarge",)
    # the location of a default list is where avgen.defaults writes it
    where = batch.instance_type_location("g5.xlarge")
    assert (where.line, where.column) == (text.count("\n", 0, text.index("[g5.xlarge]")) + 1, 24)


@pytest.mark.parametrize("path, bucket, prefix, key_prefix", [
    ("bucket/a/b/", "bucket", "a/b", "a/b/"),
    ("bucket/a/b", "bucket", "a/b", "a/b/"),
    ("bucket", "bucket", "", ""),
    ("bucket/", "bucket", "", ""),
    ("/bucket/input/", "bucket", "input", "input/"),
    ("bucket//input", "bucket", "input", "input/"),
])
def test_paths_are_split_into_bucket_and_prefix(path, bucket, prefix, key_prefix):
    workflow = load(MINIMAL.replace("path: media-bucket/input", f"path: {path}"))
    (storage,) = workflow.functions[0].inputs
    assert (storage.bucket, storage.prefix, storage.key_prefix) == (bucket, prefix, key_prefix)
    assert storage.provider == "s3" and storage.provider_id == "default"
    assert storage.uri == f"s3://{bucket}/{key_prefix}"


def test_storage_provider_ids_and_filters():
    workflow = load("""
        functions:
          aws:
          - lambda:
              name: split
              container: {image: grycap/ffmpeg}
              input:
              - storage_provider: s3.archive
                path: media-bucket/input
                suffix: [.mp4]
              output:
              - storage_provider: minio.lab
                path: frames/out
                prefix: [day-]
                suffix: [.jpg, .png]
        storage_providers:
          s3:
            archive: {region: eu-west-1}
          minio:
            lab: {endpoint: https://minio.example.org}
    """)
    (function,) = workflow.functions
    (trigger,) = function.triggers
    assert (trigger.provider, trigger.provider_id, trigger.suffix_filters) == ("s3", "archive", (".mp4",))
    (output,) = function.outputs
    assert (output.provider, output.provider_id, output.bucket, output.prefix) == ("minio", "lab", "frames", "out")
    assert output.prefix_filters == ("day-",) and output.suffix_filters == (".jpg", ".png")
    assert not output.is_s3
    assert output.accepts("day-1/001.jpg") and not output.accepts("night/001.jpg")
    assert not output.accepts("day-1/001.txt")
    assert workflow.storage_providers == {"s3": ("archive",), "minio": ("lab",)}
    assert workflow.buckets == (m.Bucket("media-bucket", True),)  # only S3 buckets


def test_log_level_is_upper_cased():
    workflow = load(MINIMAL.replace("name: split", "name: split\n      log_level: debug"))
    assert workflow.functions[0].log_level == "DEBUG"


def test_legacy_forms_are_rewritten():
    text = MINIMAL.replace("      container:\n        image: grycap/ffmpeg\n",
                           "      image: grycap/ffmpeg\n      time: 120\n      log_level: warning\n")
    result = load_text(text)
    assert result.ok, [str(f) for f in result.findings]
    function = result.workflow.functions[0]
    assert (function.image, function.timeout, function.log_level) == ("grycap/ffmpeg", 120, "WARNING")
    assert sorted(f.rule_id for f in result.findings
                  if f.severity.value == "warning" and f.rule_id != "AVG034") == ["AVG006"] * 3


def test_legacy_time_next_to_timeout_is_ignored_with_a_warning():
    text = MINIMAL.replace("name: split", "name: split\n      timeout: 60\n      time: 600")
    result = load_text(text)
    assert result.ok
    assert result.workflow.functions[0].timeout == 60
    (legacy,) = [f for f in result.findings if f.rule_id == "AVG006"]
    assert "ignored" in legacy.message


DEFAULTS = """
functions:
  aws:
  - lambda:
      name: split
      memory: 2048
      execution_mode: lambda-batch
      container:
        image: grycap/ffmpeg
      input:
      - storage_provider: s3
        path: media-bucket/input
    batch:
      vcpus: 2
    cloudwatch:
      log_retention_policy_in_days: 90
  - lambda:
      name: detect
      execution_mode: batch
      container:
        image: grycap/darknet
      input:
      - storage_provider: s3
        path: media-bucket/frames
avgen:
  defaults:
    lambda:
      memory: 1024
      timeout: 600
      ephemeral_storage: 2048
      timeout_threshold: 30
      log_level: DEBUG
      batch_on_failure: true
      log_retention_days: 14
    batch:
      vcpus: 4
      memory: 8192
      compute_type: SPOT
      max_vcpus: 16
      job_timeout: 7200
      retry_attempts: 3
      runnable_timeout: 1800
      security_group_ids: [sg-1]
"""


def test_function_value_beats_avgen_defaults_which_beat_scar_defaults():
    workflow = load(DEFAULTS)
    split, detect = workflow.functions
    # the function's own value
    assert_fields(split, memory=2048, log_retention_days=90)
    assert split.batch.vcpus == 2
    # avgen.defaults where the function says nothing
    assert_fields(detect, memory=1024, timeout=600, log_retention_days=14)
    assert_fields(split, timeout=600, ephemeral_storage=2048, timeout_threshold=30, log_level="DEBUG",
                  batch_on_failure=True)
    assert detect.batch.vcpus == 4
    for batch in (split.batch, detect.batch):
        assert_fields(batch, memory=8192, compute_type="SPOT", max_vcpus=16, job_timeout=7200, retry_attempts=3,
                      runnable_timeout=1800, security_group_ids=("sg-1",))
        # SCAR's defaults where neither says anything
        assert_fields(batch, min_vcpus=0, instance_types=m.DEFAULT_INSTANCE_TYPES)


def test_execution_mode_does_not_come_from_defaults():
    workflow = load(MINIMAL)
    assert workflow.functions[0].execution_mode == "lambda"


def test_region_comes_from_lambda_region_when_avgen_region_is_absent():
    workflow = load(MINIMAL.replace("name: split", "name: split\n      region: eu-west-1"))
    assert workflow.settings.region == "eu-west-1"


def test_avgen_region_beats_lambda_region():
    workflow = load(MINIMAL.replace("name: split", "name: split\n      region: eu-west-1")
                    + "avgen:\n  region: eu-central-1\n")
    assert workflow.settings.region == "eu-central-1"


def test_avgen_settings_are_resolved():
    workflow = load(MINIMAL + """
avgen:
  region: eu-west-1
  name_prefix: media-
  tags: {team: video, env: prod}
  backend: {type: s3, bucket: tf-state, key: media.tfstate, use_lockfile: true}
  buckets:
    media-bucket: {create: false}
  alerts: {email: ops@example.com}
""")
    settings = workflow.settings
    assert settings.region == "eu-west-1"
    assert settings.name_prefix == "media-"
    assert list(settings.tags.items()) == [("env", "prod"), ("team", "video")]  # sorted
    assert settings.backend == m.Backend("s3", {"bucket": "tf-state", "key": "media.tfstate", "use_lockfile": True})
    assert settings.alert_email == "ops@example.com" and settings.alerts_enabled
    assert workflow.buckets == (m.Bucket("media-bucket", False),)
    assert workflow.functions[0].resource_name == "media-split"
    assert workflow.functions[0].name == "split"


def test_environment_merges_lambda_then_container_and_stringifies():
    workflow = load(MINIMAL.replace("        image: grycap/ffmpeg\n", """        image: grycap/ffmpeg
        environment:
          Variables:
            FPS: 1
            KEEP: false
            SHARED: container
      environment:
        Variables:
          SHARED: lambda
          RATIO: 0.5
"""))
    env = workflow.functions[0].environment
    assert env == {"FPS": "1", "KEEP": "false", "RATIO": "0.5", "SHARED": "container"}
    assert list(env) == sorted(env)


def test_runtime_config_content():
    text = MINIMAL.replace("name: split", "name: split\n      log_level: debug\n      execution_mode: lambda-batch\n"
                           "      batch_on_failure: true") \
        .replace("path: media-bucket/output", "path: media-bucket/output/\n        prefix: [frames]\n"
                 "        suffix: [.jpg]")
    function = load(text + "avgen:\n  name_prefix: media-\n").functions[0]
    assert function.runtime_config() == {
        "name": "media-split",
        "execution_mode": "lambda-batch",
        "log_level": "DEBUG",
        "timeout_threshold": 10,
        "batch_on_failure": True,
        "inputs": [{"provider": "s3", "bucket": "media-bucket", "prefix": "input"}],
        "outputs": [{"provider": "s3", "bucket": "media-bucket", "prefix": "output",
                     "filter_prefix": ["frames"], "filter_suffix": [".jpg"]}],
    }
    encoded = function.runtime_config_json()
    assert json.loads(encoded) == function.runtime_config()
    assert " " not in encoded  # compact: it lives in Lambda's 4 KB environment


def test_the_model_is_the_same_for_the_same_input():
    assert load(DEFAULTS) == load(DEFAULTS)


def test_triggers_and_consumers():
    workflow = load("""
        functions:
          aws:
          - lambda:
              name: split
              container: {image: grycap/ffmpeg}
              input: [{storage_provider: s3, path: media-bucket/videos, suffix: [.mp4]}]
              output: [{storage_provider: s3, path: media-bucket/frames}]
          - lambda:
              name: detect
              container: {image: grycap/darknet}
              input: [{storage_provider: s3, path: media-bucket/frames, suffix: [.jpg]}]
              output: [{storage_provider: s3, path: media-bucket/result}]
    """)
    assert [f.name for f in workflow.consumers_of("media-bucket", "videos/a.mp4")] == ["split"]
    assert [f.name for f in workflow.consumers_of("media-bucket", "frames/001.jpg")] == ["detect"]
    assert workflow.consumers_of("media-bucket", "frames/001.png") == []
    assert workflow.consumers_of("other-bucket", "videos/a.mp4") == []
    assert workflow.function("detect").where_it_runs == "Lambda"
