"""Load test of `ferlab serve`: concurrent clients posting the astronaut photo for a fixed time.

    python bench/serve_load.py [--clients 4] [--seconds 20] [--warmup 5] [--model ferlab-ferplus]

Starts ``ferlab serve`` as a separate process on a free loopback port and waits for
/healthz; sends ``--warmup`` requests; reads the server's resident memory (RSS, psutil);
then ``--clients`` threads, each with its own HTTP connection (httpx), POST the 512x512
astronaut PNG to /v1/analyze back to back until ``--seconds`` have passed. Reports
requests/s, p50/p99 latency, errors, and the server's RSS before and after the load.
Exit code 1 when a request failed or RSS grew by 10% or more.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import numpy as np
import psutil

from ferlab.app.demo import ASTRONAUT

MAX_RSS_GROWTH = 0.10


@dataclass
class ClientLog:
    """What one client saw: a latency per successful request, a line per failure."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, model: str) -> subprocess.Popen:
    """``ferlab serve`` on ``port``; returns once /healthz answers."""
    command = [sys.executable, "-m", "ferlab.cli", "serve", "--port", str(port), "--model", model]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz").raise_for_status()
            return process
        except httpx.TransportError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"ferlab serve did not start (exit code {process.poll()})")


def post_photo(client: httpx.Client, url: str, photo: bytes) -> None:
    """One analysis request; raises unless it found the one happy face."""
    response = client.post(url, files={"file": ("astronaut.png", photo, "image/png")})
    response.raise_for_status()
    labels = [face["label"] for face in response.json()["faces"]]
    if labels != ["happy"]:
        raise ValueError(f"unexpected faces {labels}")


def run_client(url: str, photo: bytes, until: float) -> ClientLog:
    """Post the photo back to back until ``until`` (a `time.monotonic` instant)."""
    log = ClientLog()
    with httpx.Client(timeout=60) as client:
        while time.monotonic() < until:
            start = time.perf_counter()
            try:
                post_photo(client, url, photo)
                log.latencies.append(time.perf_counter() - start)
            except (httpx.HTTPError, ValueError) as error:
                log.errors.append(f"{type(error).__name__}: {error}")
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--model", default="ferlab-ferplus")
    args = parser.parse_args()
    photo = ASTRONAUT.read_bytes()
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/analyze"
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the test")
    server = start_server(port, args.model)
    try:
        memory = psutil.Process(server.pid)
        with httpx.Client(timeout=60) as client:
            for _ in range(args.warmup):
                post_photo(client, url, photo)
        rss_before = memory.memory_info().rss
        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            logs = list(
                pool.map(lambda _: run_client(url, photo, time.monotonic() + args.seconds), range(args.clients))
            )
        elapsed = time.perf_counter() - start
        rss_after = memory.memory_info().rss
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = np.array([t for log in logs for t in log.latencies]) * 1000
    errors = [e for log in logs for e in log.errors]
    growth = rss_after / rss_before - 1
    print(
        f"{args.clients} clients for {elapsed:.1f} s, POST /v1/analyze with the 512x512 astronaut PNG "
        f"({len(photo) / 1024:.0f} KiB)"
    )
    print(f"requests: {len(latencies)} ok, {len(errors)} errors; {len(latencies) / elapsed:.2f} requests/s")
    if len(latencies):
        p50, p99 = np.percentile(latencies, [50, 99])
        print(f"latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latencies.max():.0f} ms")
    print(f"server RSS: {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB after ({growth:+.1%})")
    for error in sorted(set(errors))[:5]:
        print(f"error: {error}")
    if errors or growth >= MAX_RSS_GROWTH:
        sys.exit(1)


if __name__ == "__main__":
    main()
