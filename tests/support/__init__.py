"""Helpers the tests share: records made straight in storage, and DynamoDB call recording."""
