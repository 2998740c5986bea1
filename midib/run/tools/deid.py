"""``deid`` (pydicom/deid): header de-identification by recipe, run through its Python API.

As shipped, deid's default recipe removes SOPClassUID and every other UID (``REMOVE
contains:UID``), so its output is not valid DICOM any more; midib runs it that way by default,
because that is what a user gets. ``--set recipe=midib`` uses the recipe shipped in
``midib/data/deid/deid.midib`` (stable UID replacement, date shift, names blanked, private
elements removed) and ``--set recipe=PATH`` any recipe file. deid writes every output file
flat under one folder by its base name, so the adapter calls it once per input folder, each
into its own output folder (two ``IM0001`` files would overwrite each other). Those folders are
named ``series-0001``... (input folders in sorted order), not after the input's: the input's
names hold the patient's name, MRN and dates, which deid never wrote and must not be blamed for.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Optional

from midib.run.adapter import PythonPackageAdapter, RunContext, ToolFailed, ToolOutcome

MIDIB_RECIPE = Path(__file__).resolve().parents[2] / "data" / "deid" / "deid.midib"


class DeidAdapter(PythonPackageAdapter):
    name = "deid"
    options_accepted = frozenset({"recipe", "remove_private"})
    module, distribution = "deid", "deid"
    description = "pydicom/deid header recipes (default recipe; --set recipe=midib|PATH)"

    def recipe_path(self, ctx: RunContext) -> Optional[Path]:
        """None for deid's shipped default, else the recipe file to use."""
        choice = ctx.options.get("recipe", "default")
        if choice == "default":
            return None
        path = MIDIB_RECIPE if choice == "midib" else Path(choice)
        if not path.is_file():
            raise ToolFailed(f"deid recipe not found: {path}")
        return path

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        from deid.config import DeidRecipe
        from deid.dicom import replace_identifiers

        path = self.recipe_path(ctx)
        recipe = DeidRecipe(deid=str(path), base=False) if path else None
        remove_private = path is not None and ctx.options.get("remove_private", "yes") != "no"
        by_folder: dict[Path, list[str]] = defaultdict(list)
        for f in sorted(p for p in input_dir.rglob("*") if p.is_file()):
            by_folder[f.parent.relative_to(input_dir)].append(str(f))
        for i, (_, files) in enumerate(sorted(by_folder.items()), 1):
            target = output_dir / f"series-{i:04d}"
            target.mkdir(parents=True, exist_ok=True)
            replace_identifiers(dicom_files=files, deid=recipe, save=True, overwrite=True,
                                output_folder=str(target), remove_private=remove_private)
        label = f"recipe {path.name}" if path else "default recipe"
        return ToolOutcome(command=f"deid.dicom.replace_identifiers ({label})")
