"""The waiting room live, for `make run`: the WebSocket (devtools.websocket) fed by the entries
table's stream (devtools.stream_feed), as deployed, and the signals that cut and restore it."""
from __future__ import annotations

import os
import signal
import threading

from devtools.local_settings import StartupError, websocket_port


def start_waiting_room(host: str, http_port: int):
    """The waiting room's WebSocket (DQS_WS_PORT, default PORT+1 or a free one) fed by the entries
    table's stream. SIGUSR1 drops every WebSocket client and stops listening, SIGUSR2 listens again
    (screens then poll the board meanwhile: how the tests cut the WebSocket). SIGURG stops the stream
    feed with the sockets left open (no board is pushed: how the tests make a socket silent), SIGWINCH
    starts it again.
    Returns (the listener, notes to print)."""
    from chalicelib.settings import get_settings
    from chalicelib.storage.queue_entries import QueueEntryModel
    from devtools.stream_feed import StreamFeed, board_of, push_boards
    from devtools.websocket import Hub, WebSocketServer

    port, chosen = websocket_port(http_port)
    hub = Hub(board_of)
    try:
        listener = WebSocketServer(hub, host, port).start()
    except OSError as exc:
        if chosen:
            raise StartupError(f"Cannot listen for the waiting room's WebSocket on {host}:{port}: "
                               f"{exc.strerror or exc}. Pick another with DQS_WS_PORT=<port>.") from None
        listener = WebSocketServer(hub, host, 0).start()  # PORT+1 is taken: any free port (printed)
    url = f"ws://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{listener.port}/"
    os.environ.setdefault("DQS_WEBSOCKET_URL", url)
    settings = get_settings()
    try:
        feed = StreamFeed(settings.dynamodb_endpoint, settings.region, push_boards(hub), QueueEntryModel).start()
        fed = "fed by the entries table's stream"
    except Exception as exc:  # a DynamoDB without streams: the screens still poll the board
        feed = None
        fed = f"NOT fed (the entries table's stream cannot be read: {exc}); screens poll the board"

    def toggle(signum, frame):
        if signum == signal.SIGUSR1 and listener.running:
            threading.Thread(target=listener.stop, daemon=True).start()
        elif signum == signal.SIGUSR2 and not listener.running:
            listener.start()

    def feed_toggle(signum, frame):
        if feed is not None:
            (feed.pause if signum == signal.SIGURG else feed.resume)()

    signal.signal(signal.SIGUSR1, toggle)
    signal.signal(signal.SIGUSR2, toggle)
    signal.signal(signal.SIGURG, feed_toggle)
    signal.signal(signal.SIGWINCH, feed_toggle)
    return listener, [f"Waiting room WebSocket at {url} ({fed}); screen: http://{host}:{http_port}/api/display/"]
