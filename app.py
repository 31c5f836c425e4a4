"""The Digital Queue System: a clinic's accounts, records and token queue.

This module only creates the app and registers blueprints, middleware and
scheduled functions; everything else lives in chalicelib.
"""
from chalice import Chalice, Cron

from chalicelib import storage
from chalicelib.api import (
    appointments,
    auth,
    checkin,
    clinical,
    departments,
    docs,
    doctors,
    health,
    index,
    live,
    password_reset,
    patients,
    profile,
    queues,
    service_points,
    users,
    waiting_room,
    webhooks,
)
from chalicelib.api.headers import browser_headers
from chalicelib.api.http import answer_other_methods, request_edge
from chalicelib.api.logs import log_requests
from chalicelib.domain import queue, reminders
from chalicelib.telemetry import logged

app = Chalice(app_name="digital-queue-system")
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.register_middleware(request_edge, "http")  # first: routes a path with repeated slashes
app.register_middleware(log_requests, "http")
app.register_middleware(browser_headers, "http")

for blueprint in (index.bp, health.bp, auth.bp, users.bp, patients.bp, departments.bp, doctors.bp, service_points.bp,
                  appointments.bp, checkin.bp, queues.bp, waiting_room.bp, clinical.bp, profile.bp,
                  password_reset.bp, webhooks.bp,
                  docs.bp):  # docs last: GET /openapi.json and /docs describe the routes above
    app.register_blueprint(blueprint)
answer_other_methods(app)  # a wrong method is a JSON 405 on API Gateway too


@app.schedule(Cron(5, "*", "*", "*", "?", "*"), name="queue_reset")
@logged("queue_reset")
def queue_reset(event):
    """Hourly at minute 5: expire what is left of days that have ended in the clinic's time zone, and
    send the reminders of appointments now due (chalicelib/domain/reminders.py).

    Running every hour (rather than once at a fixed UTC time) closes each day soon
    after the clinic's own midnight, whatever its time zone and daylight-saving shift.
    """
    storage.bind()
    return {"expired": queue.expire_past_days(), "reminders": reminders.send_due()}


# The waiting room's live updates (chalicelib/api/live.py): a WebSocket API, fed by the entries'
# stream. The functions' names are Chalice's for its WebSocket handlers, and the IAM lists' keys.
@app.on_ws_connect()
@logged("websocket_connect")
def websocket_connect(event):
    live.connect(event)


@app.on_ws_message()
@logged("websocket_message")
def websocket_message(event):
    live.message(app.websocket_api, event)


@app.on_ws_disconnect()
@logged("websocket_disconnect")
def websocket_disconnect(event):
    live.disconnect(event)


@app.on_dynamodb_record(stream_arn=live.ENTRIES_STREAM, name="queue_changes", batch_size=100,
                        starting_position="LATEST")
@logged("queue_changes")
def queue_changes(event):
    """Every change of the queue's entries: push the boards it changed, send the messages it made due."""
    return live.changes(app.websocket_api, event.to_dict()["Records"])


# Webhooks (chalicelib/domain/webhooks.py): events from the entries', appointments' and counters' streams, each
# delivery one message on an SQS queue, handled one at a time by its own function with a short timeout.
@app.on_dynamodb_record(stream_arn=live.ENTRIES_STREAM, name="webhook_entry_events", batch_size=100,
                        starting_position="LATEST")
@logged("webhook_entry_events")
def webhook_entry_events(event):
    return webhooks.entry_events(event.to_dict()["Records"])


@app.on_dynamodb_record(stream_arn=webhooks.APPOINTMENTS_STREAM, name="webhook_appointment_events", batch_size=100,
                        starting_position="LATEST")
@logged("webhook_appointment_events")
def webhook_appointment_events(event):
    return webhooks.appointment_events(event.to_dict()["Records"])


@app.on_dynamodb_record(stream_arn=webhooks.COUNTERS_STREAM, name="webhook_queue_events", batch_size=100,
                        starting_position="LATEST")
@logged("webhook_queue_events")
def webhook_queue_events(event):
    """queue.closed and queue.opened: the queue days' closed flag, in the counters table (the
    deployed mapping lets only those records through: devtools/package/webhooks.py)."""
    return webhooks.queue_day_events(event.to_dict()["Records"])


@app.on_sqs_message(queue_arn=webhooks.DELIVERY_QUEUE, batch_size=1, name="webhook_deliveries")
@logged("webhook_deliveries")
def webhook_deliveries(event):
    return webhooks.deliver([record.body for record in event])
