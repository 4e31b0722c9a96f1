"""Tests of the Python client against a real gateway (STRATA_URL); run by test/python/*.test.ts."""
