"""What the deployed scheduled function does, for `make run` (which has no scheduler)."""
from __future__ import annotations

import logging
import threading


def start_hourly_queue_reset(interval_seconds: float = 3600) -> threading.Event:
    """Expire what is left of ended days, now and then every hour, on a daemon thread;
    setting the returned event stops it."""
    from chalicelib.domain import queue, reminders

    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                expired = queue.expire_past_days()
                if expired:
                    print(f"Queue reset: {expired} entries of earlier days expired.", flush=True)
                sent = reminders.send_due()  # the messages go to the local inbox, which prints them
                if sent:
                    print(f"Reminders: {sent} appointment reminders sent.", flush=True)
            except Exception:  # keep serving; the next hour tries again
                logging.getLogger("dqs").exception("queue reset failed")
            if stop.wait(interval_seconds):
                return

    threading.Thread(target=run, name="queue-reset", daemon=True).start()
    return stop
