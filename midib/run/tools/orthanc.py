"""Orthanc's REST anonymizer, on a private server that nothing outside can reach.

Orthanc 1.10 has no bind-address option, so the adapter runs a whole *session* (start a
server with a generated configuration, upload, anonymize, download, stop) in a child
process placed in its own network namespace (``unshare --net``, or ``--map-root-user`` when
not root): only that namespace's loopback exists, so no other host or local process can talk
to the server. Where namespaces are unavailable the session still runs, with remote access
disabled, the DICOM server off and a generated password, and a note says so.

Anonymization is at PATIENT level (per-instance anonymization would split studies) with
Orthanc's default body (Basic Profile, private tags removed); each new instance's
``AnonymizedFrom`` metadata names its source, which gives the old -> new identifier mapping.
Downloads are laid out as ``PatientID/StudyUID/SeriesUID/SOPUID.dcm`` (new values only).

Options (``--set key=value``): ``keep_private=true`` (body ``KeepPrivateTags``),
``body=JSON`` (merged into the anonymize request), ``job_timeout=S`` (default 600),
``netns=off`` (skip the namespace; loopback-only settings still apply).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from midib.errors import MidibError
from midib.run.adapter import RunContext, ToolAdapter, ToolFailed, ToolOutcome, run_logged

BINARY_CANDIDATES = ("Orthanc", "/usr/sbin/Orthanc")


def orthanc_binary() -> Optional[str]:
    """Debian installs Orthanc in /usr/sbin, which is not on every user's PATH."""
    for candidate in BINARY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def isolation_prefix() -> list[str]:
    """The command prefix giving the session its own network namespace, or [] if impossible."""
    if shutil.which("unshare") is None:
        return []
    for prefix in (["unshare", "--net"], ["unshare", "--net", "--map-root-user"]):
        probe = subprocess.run([*prefix, "true"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return []


def anonymize_body(options: dict[str, str]) -> dict[str, Any]:
    """Orthanc's default request body plus the user's variant options."""
    body: dict[str, Any] = {}
    if "body" in options:
        try:
            body.update(json.loads(options["body"]))
        except json.JSONDecodeError as exc:
            raise MidibError(f"orthanc: --set body=...: not JSON ({exc.msg})") from exc
    if options.get("keep_private", "").lower() in ("1", "true", "yes"):
        body["KeepPrivateTags"] = True
    return body


class OrthancAdapter(ToolAdapter):
    """A private Orthanc started, used and stopped within one run."""

    name = "orthanc"
    options_accepted = frozenset({"body", "keep_private", "netns", "job_timeout"})
    description = "Orthanc REST anonymizer (patient level), private server in a network namespace"

    def available(self) -> tuple[bool, str]:
        if orthanc_binary() is None:
            return False, "Orthanc not found on PATH or in /usr/sbin (Debian: apt install orthanc)"
        return True, ""

    def version(self) -> Optional[str]:
        binary = orthanc_binary()
        if binary is None:
            return None
        out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        match = re.search(r"Orthanc ([0-9][0-9.]*)", out)
        return match.group(1) if match else None

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        work = ctx.work_dir.resolve() / "orthanc"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        prefix = [] if ctx.options.get("netns", "on").lower() == "off" else isolation_prefix()
        spec = {"binary": orthanc_binary(), "input": str(input_dir.resolve()),
                "output": str(output_dir.resolve()), "work": str(work), "netns": bool(prefix),
                "body": anonymize_body(ctx.options),
                "job_timeout": float(ctx.options.get("job_timeout", 600)),
                "password": secrets.token_urlsafe(24),
                "server_log": str(ctx.log_dir.resolve() / "orthanc-server.log")}
        spec_path, result_path = work / "session.json", work / "result.json"
        spec_path.touch(mode=0o600)      # it holds the server's one-run password
        spec_path.write_text(json.dumps(spec))
        ctx.log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*prefix, sys.executable, "-m", "midib.run.tools.orthanc_session", str(spec_path)]
        code = run_logged(cmd, ctx.log_dir, self.name)
        return self._outcome(cmd, code, result_path, prefix)

    def _outcome(self, cmd: list[str], code: int, result_path: Path, prefix: list[str]) -> ToolOutcome:
        """Turn the session's result file into a ToolOutcome (or ToolFailed)."""
        if not result_path.is_file():
            raise ToolFailed(f"the Orthanc session exited with status {code} without a result "
                             "(see logs/orthanc.log)", exit_code=code or 1)
        result = json.loads(result_path.read_text())
        if result.get("error"):
            raise ToolFailed(f"Orthanc: {result['error']}", exit_code=code or 1)
        notes = list(result.get("notes", []))
        if not prefix:
            notes.append("no network namespace: server isolated only by RemoteAccessAllowed=false, "
                         "DicomServerEnabled=false and a generated password")
        return ToolOutcome(command=cmd, uid_mapping=result.get("uid_mapping", {}),
                           patid_mapping=result.get("patid_mapping", {}), notes=notes)
