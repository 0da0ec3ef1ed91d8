"""`python -m batch_jobs.handlers …` runs the `avgen-handler` command without installing the package."""
import sys

from .cli import main

sys.exit(main())
