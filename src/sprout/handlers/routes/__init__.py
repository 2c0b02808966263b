"""The API's routes, one Router per resource, joined in sprout.handlers.api."""
