#!/bin/sh
# Tries to write next to its input instead of into its output folder: the role must not allow it.
set -eu
python3 -c "import boto3; boto3.client('s3').put_object(Bucket='avgen-sandbox-test', Key='in/planted.txt', Body=b'x')"
