"""pydicom's per-value validation, switched off where midib has its own judgement.

pydicom checks every value against its VR as it is read and written, and warns (or raises)
when one breaks the rules. Two places need neither:

- the generator writes values its builders made valid (the tests run dciodvfy on them), and
  validating each again was a large share of its time;
- the scorer reads what a tool wrote, invalid values included: judging them is its job (the
  UID checks, the conformance phase), and pydicom's warnings on stderr only buried the one
  line a user needs among dozens naming a value the results already report.
"""

from __future__ import annotations

import warnings

from pydicom import config as pydicom_config


class unvalidated:
    """Context manager: read and write without pydicom's value validation, and without its
    warnings (pixel data with excess padding, say: the scorer's rows say what is wrong with an
    output); restored after. Process pools created inside it by fork inherit the setting."""

    def __enter__(self) -> "unvalidated":
        s = pydicom_config.settings
        self.saved = (s.reading_validation_mode, s.writing_validation_mode)
        s.reading_validation_mode = s.writing_validation_mode = pydicom_config.IGNORE
        self.quiet = warnings.catch_warnings()
        self.quiet.__enter__()
        warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
        return self

    def __exit__(self, *exc: object) -> None:
        self.quiet.__exit__(*exc)
        s = pydicom_config.settings
        s.reading_validation_mode, s.writing_validation_mode = self.saved
