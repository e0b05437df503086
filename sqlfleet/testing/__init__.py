"""Test doubles shipped with the package: a faithful fake of AWS DMS served next to moto.

Used by the test suite, the benchmarks and offline end-to-end runs; never by production code
(nothing outside ``sqlfleet.testing`` imports it). Needs the ``dev`` extras (moto, werkzeug).
"""
