"""One place for Powertools' Logger, Tracer and Metrics (service and namespace from POWERTOOLS_* env)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
