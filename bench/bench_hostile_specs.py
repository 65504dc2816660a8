"""Time and peak memory to reject each hostile or invalid spec.

Each case runs in a fresh child process so its figures are its own: wall time of
`load_spec` (read, parse, validate), peak Python heap (tracemalloc) and the child's peak
RSS (resource.getrusage, includes libyaml's C allocations and the interpreter itself).

    python bench/bench_hostile_specs.py            # every case
    python bench/bench_hostile_specs.py nesting    # cases whose name contains "nesting"
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the child imports controller even without an editable install
PORTAL = (ROOT / "specs" / "portal.yaml").read_bytes()
CORPUS = ROOT / "tests" / "specs" / "invalid"


def _services(n: int) -> bytes:
    head = PORTAL.split(b"  services:\n")[0] + b"  services:\n"
    head = head.replace(b"defaultService: gateway", b"defaultService: svc0")
    rows = (
        f"    - name: svc{i}\n      port: {1024 + i}\n      cpu: 256\n      memory: 512\n"
        for i in range(n)
    )
    return head + "".join(rows).encode()


def _laughs(levels: int, width: int) -> bytes:
    lines = [b"l0: &l0 [" + b", ".join([b"lol"] * width) + b"]"]
    for i in range(1, levels):
        items = b", ".join([f"*l{i - 1}".encode()] * width)
        lines.append(f"l{i}: &l{i} [".encode() + items + b"]")
    return b"\n".join(lines) + b"\n"


GENERATED: dict[str, Callable[[], bytes]] = {
    "portal (valid, baseline)": lambda: PORTAL,
    "billion laughs 9x9": lambda: _laughs(9, 9),
    "billion laughs 10x10": lambda: _laughs(10, 10),
    "alias fan-out 1000x1000": lambda: (
        b"a: &a [" + b",".join([b"x"] * 1000) + b"]\nb: [" + b", ".join([b"*a"] * 1000) + b"]\n"
    ),
    "10 MiB file": lambda: b"# padding\n" * (1024 * 1024),
    "1 MiB - 1 of comments": lambda: b"#" * (1024 * 1024 - 2) + b"\n",
    "binary bytes": lambda: bytes(range(256)) * 4096,
    "non-UTF-8 (latin-1)": lambda: "metadata:\n  name: caf\u00e9\n".encode("latin-1"),
    "flow nesting 10000": lambda: b"spec: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "flow nesting 500000 (1 MiB)": lambda: b"[" * 500_000 + b"]" * 500_000,
    "block nesting 10000": lambda: b"spec:\n  " + b"- " * 10_000 + b"x\n",
    "block mapping nesting 1400": lambda: (
        b"".join(b" " * i + b"a:\n" for i in range(1400)) + b" " * 1400 + b"x\n"
    ),
    "5000 services": lambda: _services(5000),
    "500 services (the limit, valid)": lambda: _services(500),
    "100k-key mapping": lambda: b"".join(f"k{i}: {i}\n".encode() for i in range(100_000))[
        : 1024 * 1024
    ],
}


def cases() -> dict[str, Callable[[], bytes]]:
    out = dict(GENERATED)
    for path in sorted(CORPUS.glob("*.yaml")):
        out[f"corpus {path.stem}"] = path.read_bytes
    return out


def measure(name: str) -> dict[str, object]:
    """Run one case in this process (called in the child)."""
    from controller.spec import SpecError, load_spec

    raw = cases()[name]()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        load_spec(name, raw)
        outcome = "accepted"
    except SpecError as exc:
        first = exc.issues[0]
        outcome = f"{len(exc.issues)} error(s): {first.message[:60]}"
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "bytes": len(raw),
        "ms": round(elapsed * 1000, 1),
        "heap_mib": round(peak / 2**20, 2),
        "rss_mib": round(rss_kib / 1024, 1),
        "outcome": outcome,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(measure(argv[1])))
        return 0
    wanted = [n for n in cases() if not argv or any(a in n for a in argv)]
    print(f"{'case':42} {'bytes':>9} {'ms':>8} {'heap MiB':>9} {'RSS MiB':>8}  outcome")
    for name in wanted:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", name],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            print(f"{name:42} FAILED: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout)
        print(
            f"{name[:42]:42} {r['bytes']:>9} {r['ms']:>8} {r['heap_mib']:>9} "
            f"{r['rss_mib']:>8}  {r['outcome']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
