"""`python -m batch_jobs.handlers …` runs the `avgen-handler` command without installing the package.

A call that the container's warm handler serves needs nothing else of the package: it is sent before the
command-line parser and the handlers are imported (cli.main does the same, for everything else).
"""
import sys

from .warm_handler import call_warm

served = call_warm(sys.argv[1:])
if served is not None:
    sys.exit(served)

from .cli import run, site_packages  # noqa: E402 - only when not served warm

site_packages()
sys.exit(run(sys.argv[1:]))
