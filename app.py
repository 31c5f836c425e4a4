"""The Digital Queue System: a clinic's accounts, records and token queue.

This module only creates the app and registers blueprints, middleware and
scheduled functions; everything else lives in chalicelib.
"""
from chalice import Chalice, Cron

from chalicelib.api import appointments, auth, departments, doctors, patients, users
from chalicelib.api import docs
from chalicelib.api import queues
from chalicelib.api.logs import log_requests
from chalicelib import storage
from chalicelib.domain import queue

app = Chalice(app_name="digital-queue-system")
app.register_middleware(log_requests, "http")

for blueprint in (auth.bp, users.bp, patients.bp, departments.bp, doctors.bp, appointments.bp):
    app.register_blueprint(blueprint)
app.register_blueprint(queues.bp)
app.register_blueprint(docs.bp)  # GET /openapi.json and /docs, generated from the routes above


@app.schedule(Cron(5, "*", "*", "*", "?", "*"), name="queue_reset")
def queue_reset(event):
    """Hourly at minute 5: expire what is left of days that have ended in the clinic's time zone."""
    storage.bind()
    return {"expired": queue.expire_past_days()}
