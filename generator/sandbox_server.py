"""moto's server, one request at a time: `python -m generator.sandbox_server PORT`.

moto's own `moto.server` serves requests on threads. Terraform sends many at once, so the order in which
moto draws random resource ids would differ from the order its recorder writes the requests down, and a
replay would produce other ids than the Terraform state holds. Served in sequence, recording order is
processing order and a replay from the same seed reproduces every id.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def exit_with_parent(parent: int) -> None:
    """If avgen dies without stopping us (SIGKILL), don't linger as an orphan."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main() -> None:
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, app, threaded=False, use_reloader=False)


if __name__ == "__main__":
    main()
