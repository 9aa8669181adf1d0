"""circlerank: feed ranking and circle suggestions for social circles in a payment app.

This package holds what every layer shares (domain errors, progress reporting) and the
command line; the engine itself lives in features/, training/, ranking/, serving/ and
evaluation/.
"""

__version__ = "0.1.0"
