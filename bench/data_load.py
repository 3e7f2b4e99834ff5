"""Time the first (parsing) and the cached load of FER2013 and print the ratio.

    python bench/data_load.py [--root ../shared/data/fer2013] [--repeats 3]

The first load runs with an empty cache dir (a fresh temp folder), so it parses the CSV
and writes the cache; each cached load reads the .npz. Reports the median cached time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["FERLAB_CACHE_DIR"] = cache
        from ferlab.data import load_dataset  # imported after the cache dir is set

        start = time.perf_counter()
        first = load_dataset("fer2013", args.root, "all")
        first_s = time.perf_counter() - start
        cached = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            load_dataset("fer2013", args.root, "all")
            cached.append(time.perf_counter() - start)
        cache_mb = sum(f.stat().st_size for f in Path(cache).iterdir()) / 1e6
    cached_s = statistics.median(cached)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores")
    print(f"data: {args.root} (all splits, {len(first):,} images)")
    print(f"first load (parse CSV + write cache): {first_s:.2f} s")
    print(f"cached load (median of {args.repeats}):    {cached_s:.3f} s   cache file {cache_mb:.1f} MB")
    print(f"ratio first/cached: {first_s / cached_s:.1f}x")


if __name__ == "__main__":
    main()
