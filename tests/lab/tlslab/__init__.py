"""The tlsfleet.stapling lab: a test PKI, a controllable OCSP responder and a fleet of TLS nodes.

Run modules with ``PYTHONPATH=tests/lab``, e.g. ``python -m tlslab.responder --help``.
Nothing here is imported by the collection itself; it exists to test it against real parts.
"""
