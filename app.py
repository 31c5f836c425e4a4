"""The Digital Queue System: a clinic's accounts, records and token queue.

This module only creates the app and registers blueprints, middleware and
scheduled functions; everything else lives in chalicelib.
"""
from chalice import Chalice

from chalicelib.api import appointments, auth, departments, doctors, patients, users
from chalicelib.api import docs
from chalicelib.api.logs import log_requests

app = Chalice(app_name="digital-queue-system")
app.register_middleware(log_requests, "http")

for blueprint in (auth.bp, users.bp, patients.bp, departments.bp, doctors.bp, appointments.bp):
    app.register_blueprint(blueprint)
app.register_blueprint(docs.bp)  # GET /openapi.json and /docs, generated from the routes above
