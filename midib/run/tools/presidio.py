"""``presidio``: Microsoft presidio-image-redactor, burned-in text only (headers untouched).

It OCRs each image (tesseract), finds PHI in the text with presidio-analyzer (a spaCy NER
model plus patterns, with the file's own header values as hints) and paints boxes over it.
The spaCy model it expects (``en_core_web_lg``) is not on the package index and presidio
would try to download it at run time, which midib never allows: the adapter is unavailable
unless that model is installed as a package or ``--set model=PATH`` names a spaCy model
folder (``spacy.blank("en").to_disk(PATH)`` makes a pattern-only one). Options: ``model``,
``fill=contrast|background``, ``padding=N``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Optional

from midib.run.adapter import RunContext, ToolAdapter, ToolFailed, ToolOutcome

DEFAULT_MODEL = "en_core_web_lg"


class PresidioAdapter(ToolAdapter):
    name = "presidio"
    options_accepted = frozenset({"model", "fill", "padding"})
    description = "presidio-image-redactor: burned-in text only (--set model=PATH)"
    options: dict[str, str] = {}

    def model(self) -> str:
        return self.options.get("model", DEFAULT_MODEL)

    def available(self) -> tuple[bool, str]:
        for module, dist in (("presidio_image_redactor", "presidio-image-redactor"), ("spacy", "spacy")):
            if importlib.util.find_spec(module) is None:
                return False, f"Python package '{dist}' is not installed"
        if shutil.which("tesseract") is None:
            return False, "tesseract (OCR engine) not found on PATH"
        import spacy.util

        model = self.model()
        if Path(model).is_dir() or spacy.util.is_package(model):
            return True, ""
        if "model" in self.options:
            return False, f"spaCy model folder not found: {model}"
        return False, (f"needs the spaCy model {DEFAULT_MODEL}, which is not on the package index "
                       "(and midib never downloads at run time); install it or --set model=PATH")

    def version(self) -> Optional[str]:
        from importlib.metadata import version

        return version("presidio-image-redactor")

    def engine(self):
        """A redactor whose analyzer uses the configured model (never a download)."""
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_image_redactor import DicomImageRedactorEngine, ImageAnalyzerEngine

        nlp = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": self.model()}]
        }).create_engine()
        analyzer = ImageAnalyzerEngine(analyzer_engine=AnalyzerEngine(nlp_engine=nlp))
        return DicomImageRedactorEngine(image_analyzer_engine=analyzer)

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        self.configure(ctx.options)
        ok, reason = self.available()
        if not ok:
            raise ToolFailed(reason)
        engine = self.engine()
        fill = ctx.options.get("fill", "contrast")
        padding = int(ctx.options.get("padding", "25"))
        for f in sorted(p for p in input_dir.rglob("*") if p.is_file()):
            target = output_dir / f.parent.relative_to(input_dir)
            target.mkdir(parents=True, exist_ok=True)
            engine.redact_from_file(str(f), str(target), padding_width=padding, fill=fill,
                                    use_metadata=True, verbose=False)
        return ToolOutcome(command=f"presidio DicomImageRedactorEngine.redact_from_file (model {self.model()})")
