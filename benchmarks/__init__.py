"""What to generate and how it is scored. No torch at import time."""
