"""Plan summaries: counts, grouping by function, markdown for pull requests (from terraform's show -json shape)."""
from __future__ import annotations

from pathlib import Path

from generator.deploy.core import resource_type
from generator.deploy.planview import MARKDOWN_MAX_ROWS, summarize
from generator.workflow.load import load_workflow

EXAMPLE = Path(__file__).parents[2] / "examples" / "av-workflow" / "workflow.yaml"


def change(address, rtype, *actions, mode="managed"):
    return {"address": address, "type": rtype, "mode": mode, "change": {"actions": list(actions)}}


def plan_json(*changes, outputs=None):
    return {"resource_changes": list(changes), "output_changes": outputs or {}}


def workflow():
    return load_workflow(EXAMPLE).workflow


def test_counts_actions_and_ignores_reads_and_no_ops():
    summary = summarize(plan_json(
        change('module.function["av-workflow-ffmpeg"].aws_lambda_function.this', "aws_lambda_function", "create"),
        change('module.function["av-workflow-yolov3"].module.role[0].aws_iam_role.this', "aws_iam_role", "update"),
        change('module.batch["av-workflow-yolov3"].aws_batch_job_definition.this', "aws_batch_job_definition",
               "delete", "create"),
        change("module.alerts.aws_sns_topic.alerts", "aws_sns_topic", "delete"),
        change('module.bucket["change-me-av-workflow"].aws_s3_bucket.this', "aws_s3_bucket", "no-op"),
        change("data.aws_caller_identity.current", "aws_caller_identity", "read", mode="data"),
    ), workflow())
    assert summary.counts() == {"create": 1, "update": 1, "replace": 1, "delete": 1}
    assert summary.has_changes
    assert summary.by("owner")["av-workflow-yolov3"] == {"create": 0, "update": 1, "replace": 1, "delete": 0}
    assert summary.by("owner")["(workflow)"]["delete"] == 1
    assert summary.headline() == "Plan: 1 to add, 1 to change, 1 to replace, 1 to destroy."


def test_buckets_are_owners_too():
    summary = summarize(plan_json(
        change('module.bucket["change-me-av-workflow"].aws_s3_bucket.this', "aws_s3_bucket", "create")), workflow())
    assert summary.changes[0].owner == "bucket change-me-av-workflow"


def test_a_functions_several_alarms_are_its_own_not_a_removed_function():
    """modules/alerts keys each function's alarms "NAME/METRIC"; a first plan filed them under
    "av-workflow-ffmpeg/errors (no longer in the workflow)"."""
    alarms = Path(__file__).parents[2] / "modules" / "alerts" / "main.tf"
    assert '"${name}/${key}"' in alarms.read_text()  # the key shape this test stands for
    summary = summarize(plan_json(*(
        change(f'module.alerts.aws_cloudwatch_metric_alarm.lambda["av-workflow-ffmpeg/{metric}"]',
               "aws_cloudwatch_metric_alarm", "create") for metric in ("errors", "throttles"))), workflow())
    assert [c.owner for c in summary.changes] == ["av-workflow-ffmpeg", "av-workflow-ffmpeg"]


def test_no_changes():
    summary = summarize(plan_json(change("module.alerts.aws_sns_topic.alerts", "aws_sns_topic", "no-op")), workflow())
    assert not summary.has_changes
    assert summary.headline().startswith("No changes")
    assert "No changes" in summary.to_markdown()


def test_markdown_fits_a_pull_request_comment_and_warns_on_destroy():
    many = [change(f'module.function["f{i}"].module.role[0].aws_iam_role.this', "aws_iam_role", "delete")
            for i in range(MARKDOWN_MAX_ROWS + 50)]
    text = summarize(plan_json(*many), workflow()).to_markdown()
    assert "and 50 more" in text
    assert "[!WARNING]" in text
    assert len(text) < 65536


def test_resource_type_of_addresses_with_keys_and_dots():
    assert resource_type('module.bucket["my.bucket"].aws_s3_bucket.this') == "aws_s3_bucket"
    notification = 'module.bucket_notifications["a.b"].aws_s3_bucket_notification.this'
    assert resource_type(notification) == "aws_s3_bucket_notification"


def test_markdown_groups_by_function_and_by_resource_type():
    text = summarize(plan_json(
        change('module.function["av-workflow-ffmpeg"].aws_lambda_function.this', "aws_lambda_function", "create"),
        change('module.function["av-workflow-yolov3"].aws_lambda_function.this', "aws_lambda_function", "create"),
    ), workflow()).to_markdown()
    assert "| av-workflow-ffmpeg | 1 |" in text and "| av-workflow-yolov3 | 1 |" in text
    assert "| `aws_lambda_function` | 2 |" in text


def test_a_renamed_function_is_attributed_and_its_data_losses_flagged():
    """Renaming av-workflow-ffmpeg to av-workflow-ffmpeg2: the old name's resources go, the new one's come."""
    old, new = "av-workflow-ffmpeg-old", "av-workflow-ffmpeg"
    summary = summarize(plan_json(
        change(f'module.function["{old}"].aws_sqs_queue.dead_letter', "aws_sqs_queue", "delete"),
        change(f'module.function["{old}"].aws_cloudwatch_log_group.this', "aws_cloudwatch_log_group", "delete"),
        change(f'module.image["{old}"].aws_ecr_repository.this', "aws_ecr_repository", "delete"),
        change(f'module.function["{old}"].aws_lambda_function.this', "aws_lambda_function", "delete"),
        change(f'module.function["{new}"].aws_lambda_function.this', "aws_lambda_function", "create"),
        change(f'module.function["{new}"].aws_cloudwatch_log_group.this', "aws_cloudwatch_log_group", "create"),
    ), workflow())
    owners = summary.by("owner")
    assert owners[f"{old} (no longer in the workflow)"]["delete"] == 4 and "(workflow)" not in owners
    assert {c.type for c in summary.data_losses()} == {"aws_ecr_repository", "aws_sqs_queue",
                                                       "aws_cloudwatch_log_group"}
    assert all("loses" in line for line in summary.data_loss_lines())
    markdown = summary.to_markdown()
    assert "Data is lost with:" in markdown and "the messages in its dead-letter queue" in markdown
    assert summary.to_dict()["data_losses"] and not any(c.loses_data for c in summary.changes
                                                        if c.action == "create")


def test_the_pr_comment_shows_what_changes_and_the_iam_policy_text():
    memory = change('module.function["av-workflow-ffmpeg"].aws_lambda_function.this',
                    "aws_lambda_function", "update")
    memory["change"].update(before={"memory_size": 1024, "timeout": 900, "tags": {"a": "b"}},
                            after={"memory_size": 2048, "timeout": 900, "tags": {"a": "c"}})
    policy = change('module.function["av-workflow-ffmpeg"].module.role[0].aws_iam_role_policy.access',
                    "aws_iam_role_policy", "update")
    policy["change"].update(before={"policy": '{"Statement": []}'},
                            after={"policy": '{"Statement": [{"Action": "s3:GetObject", "Effect": "Allow"}]}'})
    summary = summarize(plan_json(memory, policy), workflow())
    markdown = summary.to_markdown()
    assert "`memory_size`: `1024` → `2048`" in markdown
    assert "timeout" not in markdown.split("What changes")[1] and "tags" not in markdown.split("What changes")[1]
    assert '"Action": "s3:GetObject"' in markdown  # the new policy, pretty-printed for review


def test_the_pr_comment_stays_within_githubs_limit():
    from generator.deploy.planview import MARKDOWN_MAX_CHARACTERS

    many = []
    for index in range(400):
        item = change(f'module.function["f{index}"].module.role[0].aws_iam_role_policy.access', "aws_iam_role_policy",
                      "create")
        item["change"].update(before=None, after={"policy": '{"Statement": "' + "x" * 400 + '"}'})
        many.append(item)
    markdown = summarize(plan_json(*many), workflow()).to_markdown()
    assert len(markdown) < MARKDOWN_MAX_CHARACTERS + 200 and "cut here to fit a pull-request comment" in markdown


def test_terraform_show_is_folded_at_the_end_and_cut_to_fit():
    from generator.deploy.planview import MARKDOWN_MAX_CHARACTERS

    one = change('module.function["av-workflow-ffmpeg"].aws_lambda_function.this', "aws_lambda_function", "update")
    summary = summarize(plan_json(one), workflow())
    summary.plan_text = ('  # module.function["av-workflow-ffmpeg"].aws_lambda_function.this will be updated in-place\n'
                         "  ~ memory_size = 512 -> 1024\n")
    short = summary.to_markdown()
    folded = short[short.index("<details><summary>terraform show</summary>"):]
    assert "~ memory_size = 512 -> 1024" in folded and folded.rstrip().endswith("</details>")
    assert short.index("Resources") < short.index("terraform show")  # the summary comes first

    summary.plan_text = "".join(f"  + attribute_{i} = \"```{'v' * 80}\"\n" for i in range(2000))
    long = summary.to_markdown()
    assert len(long) <= MARKDOWN_MAX_CHARACTERS
    assert "cut here to fit a pull-request comment: `terraform show avgen.tfplan`" in long
    assert "````" in long  # a fence longer than any backtick run inside the plan text
    assert long.rstrip().endswith("</details>")
