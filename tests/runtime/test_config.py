import json

import pytest

from lambda_src.config import DEFAULT_SCRIPT, ConfigError, FunctionConfig, OutputConfig, load_config
from tests.runtime.conftest import function_config, output


def test_the_generators_configuration_is_read_whole():
    config = FunctionConfig.from_dict(function_config(
        execution_mode="lambda-batch", timeout_threshold=30, batch_on_failure=True, log_level="debug",
        outputs=[output("video", filter_suffix=["avi"]), output("", bucket="other", filter_prefix=["a", "b"])],
    ), script="/x.sh")
    assert config.name == "test-fn"
    assert config.execution_mode == "lambda-batch"
    assert config.timeout_threshold == 30 and config.batch_on_failure is True
    assert config.log_level == "DEBUG"
    assert config.inputs[0].bucket == "media" and config.inputs[0].prefix == "in"
    assert config.outputs[0] == OutputConfig(bucket="media", prefix="video", filter_suffix=("avi",))
    assert config.outputs[1].filter_prefix == ("a", "b") and config.outputs[1].prefix == ""
    assert config.script == "/x.sh"


def test_defaults_follow_scar():
    config = FunctionConfig.from_dict({"name": "f"})
    assert (config.execution_mode, config.timeout_threshold, config.log_level) == ("lambda", 10, "INFO")
    assert config.inputs == () and config.outputs == () and config.script == DEFAULT_SCRIPT


def test_unknown_keys_are_ignored_for_newer_generators():
    assert FunctionConfig.from_dict({"name": "f", "something_new": 1}).name == "f"


@pytest.mark.parametrize("change, message", [
    ({"name": None}, "name is required"),
    ({"execution_mode": "fargate"}, "execution_mode is 'fargate'"),
    ({"timeout_threshold": -1}, "timeout_threshold"),
    ({"timeout_threshold": True}, "timeout_threshold"),
    ({"timeout_threshold": "10"}, "timeout_threshold"),
    ({"batch_on_failure": "yes"}, "batch_on_failure"),
    ({"inputs": {"bucket": "b"}}, "inputs must be a list"),
    ({"inputs": [{"prefix": "x"}]}, "inputs[0].bucket is required"),
    ({"inputs": [{"bucket": "b", "prefix": "/x"}]}, "must not start or end with '/'"),
    ({"outputs": [{"bucket": "b", "prefix": "x/"}]}, "must not start or end with '/'"),
    ({"outputs": [{"bucket": "b", "provider": "minio"}]}, "S3 only"),
    ({"outputs": [{"bucket": "b", "filter_suffix": "avi"}]}, "outputs[0].filter_suffix must be a list"),
    ({"outputs": [{"bucket": "b", "filter_prefix": [1]}]}, "list of strings"),
])
def test_malformed_configurations_say_what_is_wrong(change, message):
    data = function_config()
    data.update(change)
    if data["name"] is None:
        del data["name"]
    with pytest.raises(ConfigError) as raised:
        FunctionConfig.from_dict(data)
    assert message in str(raised.value)


def test_load_config_reads_the_environment():
    environ = {"AVGEN_FUNCTION": json.dumps(function_config()), "AVGEN_SCRIPT": "/opt/s.sh"}
    assert load_config(environ).script == "/opt/s.sh"
    assert load_config({"AVGEN_FUNCTION": json.dumps(function_config())}).script == DEFAULT_SCRIPT
    with pytest.raises(ConfigError, match="AVGEN_FUNCTION is not set"):
        load_config({})
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config({"AVGEN_FUNCTION": "{"})


@pytest.mark.parametrize("prefixes, suffixes, path, accepted", [
    ((), (), "anything/at/all.bin", True),
    ((), ("avi",), "clip.avi", True),
    ((), ("avi",), "clip.wav", False),
    ((), ("avi", "wav"), "clip.wav", True),           # any entry of the list
    (("img",), (), "img-001.jpg", True),
    (("img",), (), "sub/img-001.jpg", False),         # tested on the whole relative path
    (("sub/",), (), "sub/img-001.jpg", True),
    (("img",), ("jpg",), "img-001.png", False),       # prefix AND suffix
    (("img",), ("jpg",), "pic-001.jpg", False),
    (("img", "pic"), ("jpg", "png"), "pic-001.png", True),
])
def test_output_filters_follow_scar(prefixes, suffixes, path, accepted):
    assert OutputConfig("b", "p", prefixes, suffixes).accepts(path) is accepted


def test_output_key_is_prefix_slash_relative_path():
    assert OutputConfig("b", "result").key_for("sub/x.srt") == "result/sub/x.srt"
    assert OutputConfig("b", "").key_for("sub/x.srt") == "sub/x.srt"
    assert OutputConfig("b", "a/b").key_for("x") == "a/b/x"


def test_request_id_folder_travels_in_the_configuration_and_places_keys():
    data = function_config(outputs=[{**output("frames"), "request_id_folder": True}, output("plain")])
    config = FunctionConfig.from_dict(data)
    assert [o.request_id_folder for o in config.outputs] == [True, False]
    assert config.to_dict()["outputs"] == data["outputs"]  # only set where it is true: older configs unchanged
    assert config.outputs[0].key_for("a/x.jpg", "req-1") == "frames/req-1/a/x.jpg"
    assert config.outputs[1].key_for("a/x.jpg", "req-1") == "plain/a/x.jpg"
    with pytest.raises(ConfigError, match="request_id_folder must be true or false"):
        FunctionConfig.from_dict(function_config(outputs=[{**output(), "request_id_folder": "yes"}]))
