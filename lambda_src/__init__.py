"""The avgen function runtime: what runs inside every deployed function and Batch job.

`core.run_invocation` does the work (S3 event → download → `/bin/sh script` → filtered upload, or hand-over
to AWS Batch); `handler.handler` is the Lambda entry point and `batch_jobs.entrypoint` the Batch one.
Only the standard library and boto3 may be imported here: this package runs inside the functions' images.
"""
