"""`sprout console`: a local web console, a client of Sprout's HTTP API (see ``server``)."""
