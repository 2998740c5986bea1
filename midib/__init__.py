"""midib: an open benchmark harness for DICOM de-identification tools.

Four verbs: ``generate`` a benchmark with planted synthetic PHI and its ground truth,
``run`` a de-identification tool on it, ``score`` the output against the answer key,
``report`` the results. See README.md and docs/architecture.md.
"""

__version__ = "0.1.0"
