"""The waiting room, measured: the board's DynamoDB calls and latency at 10 and 5,000 entries
served today, and how long a change takes to reach a WebSocket subscriber of `make run`.

  .venv/bin/python -m bench.waiting_room [--runs 20] [--sizes 10,5000] [--changes 30]

1. The board through chalice.test.Client on moto, in this process: the served entries are
   batch-written (plus 12 called and 12 waiting), then GET /queues/board is timed.
2. Change -> frame: `make run` in a subprocess on a fresh data folder; a WebSocket client
   subscribes to the general queue; each join or call is timed from the request being sent
   to the board frame that shows it arriving (and from the answer to the frame).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ADMIN, ClientTransport, median, ms, p95, prepare_environment  # noqa: E402


def board_costs(sizes: list[int], runs: int) -> list[str]:
    from chalicelib.domain import departments
    from chalicelib.domain.entities import CALLED, SERVED
    from devtools.seed import seed_entries, waiting_entries

    transport = ClientTransport()
    rows = ["| served today | DynamoDB calls | calls | median ms | p95 ms |", "|---:|---:|---|---:|---:|"]
    try:
        for size in sizes:
            department = departments.ensure_department(f"Bench {size}")
            seed_entries(size, SERVED, department=department)
            seed_entries(12, CALLED, department=department, first_token=size + 1)
            waiting_entries(12, department=department, first_token=size + 13)
            replies = [transport.call("GET", f"/queues/board?department={department}") for _ in range(runs)]
            assert all(r.status == 200 for r in replies), replies[0]
            times = [r.seconds for r in replies]
            rows.append(f"| {size:,} | {len(replies[-1].calls)} | {', '.join(replies[-1].calls)} | "
                        f"{ms(median(times))} | {ms(p95(times))} |")
    finally:
        transport.close()
    return rows


def websocket_latency(changes: int) -> list[str]:
    import websocket

    from devtools.process import LocalServer, free_port, server_env

    with tempfile.TemporaryDirectory() as data:
        server = LocalServer(server_env(DQS_ADMIN_USERNAME=ADMIN[0], DQS_ADMIN_PASSWORD=ADMIN[1], DQS_DATA_DIR=data,
                                        DQS_WS_PORT=str(free_port()))).wait_serving(90)
        try:
            url = next(line for line in server.lines if "WebSocket at" in line).split("WebSocket at ")[1].split()[0]
            token = server.login(*ADMIN)
            ws = websocket.create_connection(url, timeout=10)
            ws.send(json.dumps({"action": "subscribe", "department": None}))
            ws.recv()
            from_sent, from_answer = [], []
            for n in range(changes):
                status, patient = server.call("POST", "/patients/", {"name": f"Bench {n}"}, token)
                sent = time.perf_counter()
                if n % 2 == 0:
                    status, _ = server.call("POST", "/queues/join_queue/", {"patient_id": patient["id"]}, token)
                else:
                    status, _ = server.call("POST", "/queues/call_next/", {}, token)
                answered = time.perf_counter()
                assert status in (200, 201), status
                ws.recv()
                arrived = time.perf_counter()
                from_sent.append(arrived - sent)
                from_answer.append(arrived - answered)
                while True:  # a join's patient record does not touch the board; drain anything else
                    ws.settimeout(0.05)
                    try:
                        ws.recv()
                    except websocket.WebSocketTimeoutException:
                        break
                ws.settimeout(10)
            ws.close()
        finally:
            server.stop()
    return ["| measured | median ms | p95 ms | max ms |", "|---|---:|---:|---:|",
            f"| request sent -> board frame | {ms(median(from_sent))} | {ms(p95(from_sent))} | {ms(max(from_sent))} |",
            f"| answer received -> board frame | {ms(median(from_answer))} | {ms(p95(from_answer))} | "
            f"{ms(max(from_answer))} |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="10,5000")
    parser.add_argument("--changes", type=int, default=30)
    args = parser.parse_args(argv)
    prepare_environment()
    print("### The board's cost (GET /queues/board, chalice.test.Client on moto)\n")
    print("\n".join(board_costs([int(s) for s in args.sizes.split(",")], args.runs)))
    print(f"\n### A change reaching a WebSocket subscriber (`make run`, {args.changes} joins and calls)\n")
    print("\n".join(websocket_latency(args.changes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
