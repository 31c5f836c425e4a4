"""Chalice blueprints, one per resource. Handlers parse, call the domain, present."""
