"""How long the local server takes to restore its data as the data grows.

    .venv/bin/python -m devtools.restore_bench            # 1,000, 10,000 and 50,000 items
    .venv/bin/python -m devtools.restore_bench 200 2000   # other sizes

For each size it writes that many items (about 250 bytes each, like a patient record,
in a table with one index) through the embedded DynamoDB with its journal, in batches
of 25, then restores them twice in a fresh backend: from the journal as written
(replaying the writes), and from the compacted journal a start leaves behind (what
every later start reads). Prints a markdown table.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def _fresh_backend() -> None:
    from devtools.overrides import reset_moto

    reset_moto()


def _write(server, n: int) -> float:
    client = server.client()
    client.create_table(
        TableName="bench-patients", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"},
                              {"AttributeName": "kind", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "kind-id-index", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"},
                                               {"AttributeName": "id", "KeyType": "RANGE"}]}])
    started = time.perf_counter()
    for first in range(1, n + 1, 25):
        requests = [{"PutRequest": {"Item": {
            "id": {"N": str(i)}, "kind": {"S": "patient"}, "name": {"S": f"Patient number {i}"},
            "email": {"S": f"patient{i}@example.com"}, "phone": {"S": "+1 (555) 010-0100"},
            "date_of_birth": {"S": "1990-01-15"}, "created_at": {"S": "2024-03-10T08:30:00Z"},
            "user_id": {"N": str(i)}, "notes": {"S": "x" * 60}}}}
            for i in range(first, min(first + 25, n + 1))]
        client.batch_write_item(RequestItems={"bench-patients": requests})
    return time.perf_counter() - started


def measure(n: int) -> dict:
    from devtools.local_server import start_embedded_dynamodb

    with tempfile.TemporaryDirectory() as folder:
        _fresh_backend()
        server, _ = start_embedded_dynamodb(folder)
        write_seconds = _write(server, n)
        server.stop()
        journal = Path(folder) / "dynamodb.journal"
        written_mb = journal.stat().st_size / 1e6

        _fresh_backend()
        server, _ = start_embedded_dynamodb(folder)  # replays the writes, then compacts
        replay = server.restored
        server.stop()
        compacted_mb = journal.stat().st_size / 1e6

        _fresh_backend()
        server, _ = start_embedded_dynamodb(folder)  # reads the compacted journal
        restored = server.restored
        server.stop()
        assert restored.items == n, (restored, n)
    return {"items": n, "write_seconds": write_seconds, "written_mb": written_mb, "replay": replay.seconds,
            "compacted_mb": compacted_mb, "restore": restored.seconds}


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [1000, 10000, 50000]
    measure(100)  # warm up: moto's first request imports its DynamoDB backend
    print("| items | journal as written | first start (replay + compact) | compacted journal | every later start |")
    print("|---|---|---|---|---|")
    for n in sizes:
        r = measure(n)
        print(f"| {n:,} | {r['written_mb']:.1f} MB | {r['replay']:.1f} s | {r['compacted_mb']:.1f} MB "
              f"| {r['restore']:.1f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
