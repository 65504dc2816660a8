"""The `stackop` command's entry point: its imports run with the cyclic GC paused.

Importing botocore, aiohttp and pydantic creates ~100k long-lived objects; collections
during the imports scan them in vain (~5 % of a `stackop plan`). They are then frozen
(kept out of every later collection: they live as long as the process) and the GC
resumes for the command, the operator's endless loop included.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    try:
        from controller.cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    return cli_main()
