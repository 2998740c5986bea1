"""PHI channels: each module plants one way identifiers reach a DICOM file, and says where.

Every planter has the same shape, ``plant(inst: PlantedInstance) -> None``: it edits
``inst.ds`` and adds ledger entries for what it alone knows (fragments in free text, pixel
boxes, file names). Values written into ordinary elements need no bookkeeping by the planter:
:func:`midib.generate.planting.attributes.record` walks the final dataset and records every
element that carries an identity, so nothing planted escapes the ledger.
"""

from midib.generate.planting.instance import PlantedInstance, PlantingContext

__all__ = ["PlantedInstance", "PlantingContext"]
