#!/usr/bin/env python3
"""Folder transfers: `avgen put`/`get`'s parallel transfer (one s3transfer manager for all files) against
one file after another with boto3 (the reference), same files, same S3 API, one process.

The S3 API is moto's server on loopback, with a fixed delay added to every request to stand in for the
round trip to S3 (a loopback server answers in microseconds, where S3 takes tens of milliseconds; parallel
transfers win by overlapping those waits).

    python3 bench/bench_transfer.py [--files 200] [--size 4096] [--latency-ms 20]
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    options = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    from generator.verbs.transfer import S3Location, get, list_objects, plan_get, plan_put, put, transfer_config

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
        delay = options.latency_ms / 1000
        client.meta.events.register("before-send.s3.*", lambda **kwargs: time.sleep(delay))
        client.create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "files"
            folder.mkdir()
            for index in range(options.files):
                (folder / f"f{index:04d}.bin").write_bytes(os.urandom(options.size))
            items = plan_put([folder], S3Location("bench", "seq")).uploads

            began = time.perf_counter()
            for item in items:
                client.upload_file(str(item.path), "bench", item.key, Config=transfer_config())
            sequential_up = time.perf_counter() - began

            began = time.perf_counter()
            put(client, "bench", plan_put([folder], S3Location("bench", "par")).uploads)
            parallel_up = time.perf_counter() - began

            entries = list_objects(client, S3Location("bench", "seq"))
            began = time.perf_counter()
            for entry in entries:
                target = Path(tmp) / "seq-back" / entry.key
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file("bench", entry.key, str(target), Config=transfer_config())
            sequential_down = time.perf_counter() - began

            began = time.perf_counter()
            get(client, "bench", plan_get(list_objects(client, S3Location("bench", "par")), Path(tmp) / "back"))
            parallel_down = time.perf_counter() - began
    finally:
        server.stop()

    print(f"{options.files} files of {options.size} B, {options.latency_ms:.0f} ms added per request, "
          f"{transfer_config().max_concurrency} transfers at once\n")
    print("| transfer | one after another (reference) | avgen (parallel) | ratio |")
    print("|---|---|---|---|")
    print(f"| upload a folder | {sequential_up:.2f} s | {parallel_up:.2f} s | {parallel_up / sequential_up:.2f} |")
    print(f"| download a folder | {sequential_down:.2f} s | {parallel_down:.2f} s | "
          f"{parallel_down / sequential_down:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
