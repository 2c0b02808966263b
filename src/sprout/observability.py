"""One place for Powertools' Logger, Tracer and Metrics (service and namespace from POWERTOOLS_* env)."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Not every invocation has a business metric to publish; Powertools warns about each such flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")
