"""Prefect tasks: thin wrappers, one side effect each, small values in and out."""
