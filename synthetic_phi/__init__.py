"""The editable data that drives PHI planting (JSON files beside this one).

A package only so that a non-editable install ships the files; code finds the folder through
:func:`midib.resources.synthetic_phi_dir`, which also honours ``$MIDIB_SYNTHETIC_PHI``.
"""
