"""The clinic's rules, in plain Python: nothing here knows about Chalice or HTTP."""
