"""Benchmarks: speed and memory as ratios against a baseline measured in the same run.

``python -m bench`` (``make bench``) runs every module listed in ``bench.__main__``; each module
also runs alone (``python -m bench.<name>``) and merges its figures into ``bench/results.json``.
"""
