"""Loopback servers the tests run against: a fake Slack Web API and a feed server."""
