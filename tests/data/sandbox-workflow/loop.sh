#!/bin/sh
# A loop the workflow does not show: its output folder (loop/, of which it uploads only done/) holds its own
# input (loop/in/), and its role may write anywhere in loop/. It writes its input back there with boto3, one
# more each time: on AWS, Lambda's recursive loop detection stops it after 16 invocations.
set -eu
count=$(cat "$INPUT_FILE_PATH")
python3 -c "import boto3, sys; boto3.client('s3').put_object(Bucket='avgen-sandbox-test', Key=sys.argv[1],
Body=sys.argv[2].encode())" "loop/in/$(basename "$INPUT_FILE_PATH")" "$((count + 1))"
