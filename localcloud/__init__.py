"""The offline AWS for Sprout's development, tests and demo.

moto holds the state; localcloud runs the code. See README.md, "The local cloud".
localcloud never imports sprout: it runs any SAM app, Sprout being one of them.
"""

from localcloud.cloud import ACCOUNT_ID, REGION, LocalCloud

__all__ = ["ACCOUNT_ID", "REGION", "LocalCloud"]
