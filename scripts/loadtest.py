"""Load test of ``kgrec serve``: N concurrent clients send mixed requests for a fixed time.

Each client is an ``aiohttp`` async loop that, until the deadline, picks a request kind at
random (seeded, weights from ``--mix``) and waits for its answer before sending the next
(a closed loop, so throughput is what the server sustains at that concurrency):

* ``user``: ``POST /v1/recommend`` for a known user, k=10, with explanations;
* ``liked``: ``POST /v1/recommend`` for 1-3 liked titles (drawn from the 50 most rated);
* ``query``: ``POST /v1/recommend`` for a request in words (a fixed list);
* ``explain``: ``POST /v1/explain`` for a known user and a popular movie.

With ``--rate R`` the clients instead send at a fixed total rate (``R`` requests per second,
each client every ``clients / R`` seconds from a seeded random phase: an open loop, as
traffic from many people arrives). Latency is then counted from each request's scheduled
time, so a server that falls behind is charged for the wait too (no coordinated
omission).

Known users are the ``example_users`` of ``GET /v1/model``. Requests in the first
``--warmup`` seconds are not counted. Prints per kind and overall: requests, errors,
p50 / p95 / p99 / max latency (ms) and requests per second; writes the same as JSON,
with the machine's load average before and after.

With ``--model DIR`` the script starts ``kgrec serve`` itself on a free port of
127.0.0.1, measures its cold start (process start → first answered known-user
recommendation, and → first answered query), runs the test and stops the server::

    python scripts/loadtest.py --model /tmp/ml100k --workers 2 --clients 16 --duration 60 \\
        --out results/loadtest-ml100k.json
    python scripts/loadtest.py --url http://127.0.0.1:8000 --mix user=1 --duration 20

Only loopback addresses are accepted as targets. With ``--model``, the server's own CPU time
(all its processes, from ``/proc``) over the measured window is reported per request: what a
request costs the server whatever else the machine is running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

QUERIES = ("a 90s crime film", "funny animated movies for kids", "science fiction with robots",
           "a romantic comedy from the 80s", "movies directed by Steven Spielberg",
           "a dark thriller like Seven", "westerns", "a war movie", "something like Star Wars",
           "a musical", "horror films from the 70s", "a mystery with a twist")
KINDS = ("user", "liked", "query", "explain")


def parse_mix(text: str) -> dict[str, float]:
    """``"user=4,liked=2"`` → ``{"user": 4.0, "liked": 2.0}`` (kinds from :data:`KINDS`)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in KINDS:
            raise SystemExit(f"--mix: unknown kind {name!r}; kinds: {', '.join(KINDS)}")
        try:
            mix[name] = float(weight or 1)
        except ValueError:
            raise SystemExit(f"--mix: weight of {name!r} is not a number: {weight!r}") from None
    if not mix or sum(mix.values()) <= 0:
        raise SystemExit("--mix needs at least one kind with a positive weight")
    return mix


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p``% of values ≤ it."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(samples: list[tuple[str, float, bool]], seconds: float) -> dict[str, dict]:
    """Per kind (and ``"all"``): requests, errors, latency percentiles (ms), req/s."""
    out = {}
    for kind in [*KINDS, "all"]:
        rows = [s for s in samples if kind in ("all", s[0])]
        if not rows:
            continue
        ok = sorted(ms for _, ms, good in rows if good)
        out[kind] = {"requests": len(rows), "errors": sum(not good for *_, good in rows),
                     "p50_ms": percentile(ok, 50), "p95_ms": percentile(ok, 95),
                     "p99_ms": percentile(ok, 99), "max_ms": ok[-1] if ok else float("nan"),
                     "req_per_s": len(rows) / seconds}
    return out


def table(summary: dict[str, dict]) -> str:
    head = f"{'kind':<8} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} " \
           f"{'p99 ms':>8} {'max ms':>8} {'req/s':>8}"
    lines = [head, "-" * len(head)]
    for kind, s in summary.items():
        lines.append(f"{kind:<8} {s['requests']:>9} {s['errors']:>7} {s['p50_ms']:>8.1f} "
                     f"{s['p95_ms']:>8.1f} {s['p99_ms']:>8.1f} {s['max_ms']:>8.1f} "
                     f"{s['req_per_s']:>8.1f}")
    return "\n".join(lines)


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        address = socket.gethostbyname(host)
    except OSError:
        raise SystemExit(f"--url: cannot resolve {host!r}") from None
    if not address.startswith("127."):
        raise SystemExit(f"--url: {host} ({address}) is not a loopback address; this script "
                         "only load-tests a server on this machine")


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` and all its descendants (Linux
    ``/proc``; ``None`` where it is not available)."""
    proc = Path("/proc")
    if not (proc / str(pid) / "stat").exists():
        return None
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        children = [c for c, p in parents.items() if p in frontier and c not in tree]
        tree.update(children)
        frontier = children
    return sum(times.get(p, 0.0) for p in tree)


async def run_load(url: str, clients: int, duration: float, warmup: float,
                   mix: dict[str, float], seed: int, rate: float | None = None,
                   on_measure: Callable[[str], None] | None = None
                   ) -> tuple[list, float, list[str]]:
    """Run the clients (closed loop, or open loop at ``rate`` requests/s in total);
    returns (samples, measured seconds, first error messages). ``on_measure("start")``
    and ``on_measure("stop")`` are called when the measured window opens and closes.

    The clients use ``aiohttp``: on a machine whose cores the server shares, a client that
    costs less CPU per request leaves more to the server (measured here: about 0.4 ms of
    client CPU per request, against about 2 ms with ``httpx``'s async client)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        async with http.get("/v1/model") as response:
            response.raise_for_status()
            users = (await response.json())["example_users"]
        async with http.get("/v1/movies", params={"limit": 50}) as response:
            response.raise_for_status()
            titles = [m["title"] for m in (await response.json())["movies"]]
        samples: list[tuple[str, float, bool]] = []
        errors: list[str] = []
        start = time.perf_counter()
        measure_from, deadline = start + warmup, start + warmup + duration

        def request(kind: str, rng: random.Random) -> tuple[str, dict]:
            if kind == "user":
                return "/v1/recommend", {"user": rng.choice(users), "k": 10}
            if kind == "liked":
                return "/v1/recommend", {"liked": rng.sample(titles, rng.randint(1, 3)), "k": 10}
            if kind == "query":
                return "/v1/recommend", {"query": rng.choice(QUERIES), "k": 10}
            return "/v1/explain", {"user": rng.choice(users), "movie": rng.choice(titles),
                                   "graph": False}

        async def client(number: int) -> None:
            rng = random.Random(seed * 1000 + number)
            kinds, weights = zip(*mix.items())
            interval = None if rate is None else clients / rate
            scheduled = start + (0.0 if interval is None else rng.random() * interval)
            while (now := time.perf_counter()) < deadline:
                kind = rng.choices(kinds, weights)[0]
                path, body = request(kind, rng)
                if interval is None:
                    t0 = time.perf_counter()
                else:  # open loop: wait for the slot; latency counts from the slot
                    if scheduled > now:
                        await asyncio.sleep(scheduled - now)
                    t0, scheduled = scheduled, scheduled + interval
                    if t0 >= deadline:
                        break
                try:
                    async with http.post(path, json=body) as response:
                        text = await response.text()
                        good = response.status == 200
                    if not good and len(errors) < 10:
                        errors.append(f"{kind} {body}: {response.status} {text[:200]}")
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    good = False
                    if len(errors) < 10:
                        errors.append(f"{kind} {body}: {exc!r}")
                if t0 >= measure_from:
                    samples.append((kind, (time.perf_counter() - t0) * 1000, good))

        async def window() -> None:
            if on_measure is None:
                return
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            on_measure("start")
            await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
            on_measure("stop")

        await asyncio.gather(window(), *(client(i) for i in range(clients)))
        return samples, time.perf_counter() - measure_from, errors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_server(model: str, workers: int, threads: int) -> tuple[subprocess.Popen, str, dict]:
    """``kgrec serve`` on a free port; waits for it and measures the cold start."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo),
                                                                    os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kgrec", "serve", "--model", model, "--port",
                             str(port), "--workers", str(workers), "--threads", str(threads),
                             "--log-level", "warning"], env=env)
    cold: dict[str, float] = {}
    try:
        with httpx.Client(base_url=url, timeout=60.0) as http:
            while "first_recommend_s" not in cold:
                if proc.poll() is not None:
                    raise SystemExit(f"kgrec serve exited with status {proc.returncode}")
                if time.perf_counter() - t0 > 300:
                    raise SystemExit("kgrec serve did not answer within 300 s")
                try:
                    users = http.get("/v1/model").json()["example_users"]
                    cold["model_info_s"] = time.perf_counter() - t0
                    http.post("/v1/recommend", json={"user": users[0], "k": 10}
                              ).raise_for_status()
                    cold["first_recommend_s"] = time.perf_counter() - t0
                except httpx.TransportError:
                    time.sleep(0.05)
            http.post("/v1/recommend", json={"query": QUERIES[0], "k": 10}).raise_for_status()
            cold["first_query_s"] = time.perf_counter() - t0
    except BaseException:
        stop_server(proc)
        raise
    return proc, url, cold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    target.add_argument("--model", metavar="DIR", help="start `kgrec serve --model DIR` here")
    parser.add_argument("--workers", type=int, default=1, help="server workers (with --model)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted seconds first")
    parser.add_argument("--mix", default="user=4,liked=2,query=2,explain=2",
                        help="request kinds and weights (default %(default)s)")
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: total requests per second offered by the clients "
                             "(default: closed loop, each client waits for its answer)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--clients >= 1, --duration > 0 and --warmup >= 0 required")
    if args.rate is not None and args.rate <= 0:
        parser.error(f"--rate must be > 0, got {args.rate}")
    mix = parse_mix(args.mix)
    proc, cold = None, None
    if args.model:
        proc, url, cold = start_server(args.model, args.workers, args.threads)
        print(f"cold start: model info after {cold['model_info_s']:.2f} s, first "
              f"recommendation after {cold['first_recommend_s']:.2f} s, first query after "
              f"{cold['first_query_s']:.2f} s")
    else:
        url = args.url.rstrip("/")
        check_loopback(url)
    try:
        server_cpu: dict[str, float | None] = {}

        def on_measure(event: str) -> None:
            if proc is not None:
                server_cpu[event] = tree_cpu_seconds(proc.pid)

        load_before, cpu_before = os.getloadavg(), time.process_time()
        samples, seconds, errors = asyncio.run(
            run_load(url, args.clients, args.duration, args.warmup, mix, args.seed,
                     args.rate, on_measure))
        load_after, client_cpu = os.getloadavg(), time.process_time() - cpu_before
    finally:
        if proc is not None:
            stop_server(proc)
    summary = summarise(samples, seconds)
    cpu_per_request = None
    if server_cpu.get("start") is not None and server_cpu.get("stop") is not None and samples:
        cpu_per_request = (server_cpu["stop"] - server_cpu["start"]) / len(samples) * 1000
    loop = "closed loop" if args.rate is None else f"open loop at {args.rate:g} req/s offered"
    print(f"{args.clients} clients ({loop}), {seconds:.1f} s measured, mix {args.mix}, "
          f"{args.workers if args.model else '?'} worker(s); load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} cores); "
          f"the clients used {client_cpu:.1f} s of CPU")
    print(table(summary))
    if cpu_per_request is not None:
        print(f"server CPU per request: {cpu_per_request:.2f} ms (all server processes)")
    for line in errors:
        print("error:", line)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        result = {"url": url, "clients": args.clients, "duration_s": seconds,
                  "warmup_s": args.warmup, "mix": mix, "seed": args.seed,
                  "workers": args.workers if args.model else None, "model": args.model,
                  "cold_start": cold, "load_average_before": load_before,
                  "load_average_after": load_after, "cpu_count": os.cpu_count(),
                  "client_cpu_s": client_cpu, "rate": args.rate,
                  "server_cpu_ms_per_request": cpu_per_request,
                  "summary": summary, "errors": errors,
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
        os.replace(tmp, out)
        print(f"wrote {out}")
    return 1 if any(not good for *_, good in samples) else 0


if __name__ == "__main__":
    sys.exit(main())
