"""The attack suite: each test plays a hostile app author — one who can push to one app's
repository and nothing else — on the local cloud with IAM enforced, runs an attack on another
app or on Sprout itself, and asserts that it fails while the victim app keeps running its build.

This is where the next attack goes: one module per boundary (alarms, dependency builds, stack
roles, the API's inputs), GIVEN / WHEN / THEN, using the fixtures of ``tests/integration/sprout``.
"""
