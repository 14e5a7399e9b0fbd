"""Storage: how every output reaches the disk and how the data directory is read.

* :mod:`~anticipate.storage.files`: atomic files and directories (temp, fsync, rename; the
  process umask respected), content digests, the run lock, and loading the canonical data
  directory as a :class:`~anticipate.storage.files.DataSet`;
* :mod:`~anticipate.storage.layout`: the orders partitioned by customer for Dask workers.
"""
