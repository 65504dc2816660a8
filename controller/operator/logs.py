"""structlog configured for one JSON object per line on stdout."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure(level: int = logging.INFO) -> None:
    # one line, one write: the last events before a crash (kill -9, OOM) are not lost in a
    # block buffer when stdout is a file or a pipe without PYTHONUNBUFFERED
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # botocore/aiohttp chatter stays off stdout unless it is a real problem
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def get_logger(**bind: Any) -> Any:
    return structlog.get_logger("stackop").bind(**bind)
