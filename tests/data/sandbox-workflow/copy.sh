#!/bin/sh
set -eu
name=$(basename "$INPUT_FILE_PATH")
case "$name" in
  # instead of a copy, the variables Lambda sets that the tests check
  env-*) env | grep -E '^(LAMBDA_TASK_ROOT|AWS_LAMBDA_LOG_GROUP_NAME|AWS_LAMBDA_LOG_STREAM_NAME|_HANDLER|TZ)=' \
           | sort > "$TMP_OUTPUT_DIR/$name" ;;
  # instead of a copy, which prefixes its role lets it list: its own (in/, mid/), another's (out/), none given
  list-*) python3 - "$TMP_OUTPUT_DIR/$name" <<'PY'
import sys
import boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3")
with open(sys.argv[1], "w") as out:
    for prefix in ("in/", "mid/", "out/", None):
        try:
            s3.list_objects_v2(Bucket="avgen-sandbox-test", **({"Prefix": prefix} if prefix is not None else {}))
            out.write(f"{prefix} listed\n")
        except ClientError as exc:
            out.write(f"{prefix} {exc.response['Error']['Code']}\n")
PY
  ;;
  # the input names a folder of the test's: say the function runs, then hold until the test lets it go
  hold-*) folder=$(cat "$INPUT_FILE_PATH"); touch "$folder/running"
          i=0; while [ ! -e "$folder/go" ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i+1)); done
          cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$name" ;;
  *) cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$name" ;;
esac
