"""Converters from public order logs to the canonical input tables (orders, products).

A converter reads the public data set's own files from a directory the caller has
fetched; the data set's package is never imported and never a dependency.
"""
