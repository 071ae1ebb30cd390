"""A process that publishes files into a target and gets SIGKILLed at a chosen publish step.

    python publish_driver.py '{"db": URL, "target": PATH, "mode": ..., "partitioned": bool,
                               "files": {"rel/path": "content"}, "kill_at": POINT, "fallback": bool}'

It records its run like `formcast run` does (who runs it, where it publishes), writes the files into
the staging folder as an engine would, then publishes; the fault hook kills it at `kill_at`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from app.workflow import recovery, staging
from catalog.store import Catalog


def main(args: dict) -> None:
    store = Catalog.open(args["db"])
    details = {**recovery.process_identity(), "publish_target": args["target"]}
    run_id = store.start_run("crash", "h", "spark", "dev", None, "mart.t", details=details)
    print(run_id, flush=True)
    if args.get("fallback"):
        staging._Folder.exchange = lambda self, a, b: False  # a filesystem without RENAME_EXCHANGE
    kill_at = args.get("kill_at")
    staging.set_fault_hook(lambda point: os.kill(os.getpid(), signal.SIGKILL) if point == kill_at else None)
    with staging.Publication(args["target"], recovery.run_key(run_id), guard=lambda path: None) as publication:
        for rel, content in args["files"].items():
            path = Path(publication.staging) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        publication.publish(args["mode"], args["partitioned"])
    store.finish_run(run_id, "succeeded")
    store.close()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
