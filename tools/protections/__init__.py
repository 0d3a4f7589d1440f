"""`make protections`: see runner.py."""
