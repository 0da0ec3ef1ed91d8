"""`python -m batch_jobs.handlers.warm_server SOCKET_PATH`: the warm handler's server process
(warm_handler.py), running each call through the handlers' command line (cli.run).

Its own module because the command line sends calls to the server (cli → warm_handler) and the server runs
the command line: starting the server here keeps those two from importing each other (docs/architecture.md).
"""
from __future__ import annotations

import errno
import sys
from pathlib import Path

from .cli import run
from .warm_handler import serve


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m batch_jobs.handlers.warm_server SOCKET_PATH", file=sys.stderr)
        return 2
    try:
        return serve(Path(argv[0]), run)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return 0
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
