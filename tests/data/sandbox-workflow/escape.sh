#!/bin/sh
# Tries to write where its role does not allow: next to the input of another function, or (with credentials
# of its own making, or none) back into its own input folder, which would start itself again. All denied.
set -eu
name=$(basename "$INPUT_FILE_PATH")
case "$name" in
  madeup-*) python3 -c "import boto3; boto3.client('s3', aws_access_key_id='AKIAMADEUPMADEUP1234',
aws_secret_access_key='made-up').put_object(Bucket='avgen-sandbox-test', Key='escape/again-$name', Body=b'x')" ;;
  notoken-*) python3 -c "import boto3, os; boto3.client('s3', aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'],
aws_secret_access_key=os.environ['AWS_SECRET_ACCESS_KEY']).put_object(Bucket='avgen-sandbox-test',
Key='escape/again-$name', Body=b'x')" ;;
  unsigned-*) python3 -c "
import os, urllib.request
request = urllib.request.Request(os.environ['AWS_ENDPOINT_URL'] + '/avgen-sandbox-test/escape/again-$name',
                                 data=b'x', method='PUT')
urllib.request.urlopen(request)" ;;
  reset-*) curl -fsS -X POST "$AWS_ENDPOINT_URL/moto-api/reset" 2>&1 || python3 -c "
import os, urllib.request
urllib.request.urlopen(urllib.request.Request(os.environ['AWS_ENDPOINT_URL'] + '/moto-api/reset', method='POST'))" ;;
  *) python3 -c "import boto3; boto3.client('s3').put_object(Bucket='avgen-sandbox-test', Key='in/planted.txt', Body=b'x')" ;;
esac
