"""One Orthanc anonymization session: start a private server, upload, anonymize, download, stop.

Run as ``python -m midib.run.tools.orthanc_session SPEC.json`` by :mod:`midib.run.tools.orthanc`,
normally inside its own network namespace (then loopback is down and is brought up here).
Talks to Orthanc with the standard library only; every wait is bounded. The result (mapping,
notes, or an error) is written to ``result.json`` beside the spec, and the server is always
stopped by its own PID, never by name.
"""

from __future__ import annotations

import base64
import ctypes
import fcntl
import json
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from midib.run.adapter import ToolFailed, ToolOutcome
from midib.run.tools import correspondence as corr

USER = "midib"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def bring_loopback_up() -> None:
    """A fresh network namespace has ``lo`` down; set IFF_UP with two ioctls (no ``ip`` needed)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh22x", b"lo", flags | iff_up))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_config(work: Path, port: int, password: str) -> dict[str, Any]:
    """Storage in the work folder, HTTP on one loopback port, no DICOM server, no plugins."""
    storage = str(work / "storage")
    return {"Name": "midib", "StorageDirectory": storage, "IndexDirectory": storage,
            "Plugins": [], "HttpPort": port, "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True, "RegisteredUsers": {USER: password},
            "DicomServerEnabled": False, "DicomPort": free_port(), "WebDavEnabled": False,
            "OrthancExplorerEnabled": False, "MetricsEnabled": False, "SaveJobs": False,
            "HttpCompressionEnabled": False, "JobsHistorySize": 100000, "LimitFindResults": 0,
            "LimitFindInstances": 0, "ExecuteLuaEnabled": False, "StableAge": 3600}


def _die_with_parent() -> None:
    """If the session is killed (timeout), the kernel kills the server too (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


class OrthancClient:
    """The few REST calls a session needs, over urllib with basic auth and a timeout."""

    def __init__(self, port: int, password: str, timeout: float = 120.0) -> None:
        self.base = f"http://127.0.0.1:{port}"
        token = base64.b64encode(f"{USER}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.timeout = timeout

    def call(self, method: str, path: str, data: Optional[bytes] = None) -> bytes:
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return response.read()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        return json.loads(self.call(method, path, data) or b"null")


class OrthancServer:
    """A private Orthanc process: started with a generated config, stopped by its PID."""

    def __init__(self, binary: str, work: Path, password: str, log: Path) -> None:
        self.port = free_port()
        self.config = work / "orthanc.json"
        self.config.write_text(json.dumps(server_config(work, self.port, password), indent=1))
        self.log = log
        self.client = OrthancClient(self.port, password)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([binary, str(self.config)], stdout=log,
                                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def wait_ready(self) -> dict[str, Any]:
        """Poll ``/system`` until it answers; fail fast if the server exits during start-up."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-300:]
                raise ToolFailed(f"Orthanc exited at start-up (status {self.process.returncode}): {tail}")
            try:
                return self.client.json("GET", "/system")
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise ToolFailed(f"Orthanc did not answer within {START_TIMEOUT:.0f} s")

    def stop(self) -> str:
        """SIGTERM by PID, bounded wait, then SIGKILL; say how it ended."""
        pid = self.process.pid
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        return f"Orthanc server pid {pid} stopped (exit status {self.process.returncode})"


def upload(client: OrthancClient, inputs: list[Path], root: Path,
           notes: list[str]) -> tuple[dict[str, Path], set[str]]:
    """POST every file; return (Orthanc instance ID -> input file, original patient IDs)."""
    stored: dict[str, Path] = {}
    patients: set[str] = set()
    for path in inputs:
        try:
            answer = json.loads(client.call("POST", "/instances", path.read_bytes()))
        except urllib.error.HTTPError as exc:
            notes.append(f"no output for {path.relative_to(root)}: Orthanc refused it (HTTP {exc.code})")
            continue
        if answer["ID"] in stored:
            notes.append(f"no output for {path.relative_to(root)}: same UIDs as "
                         f"{stored[answer['ID']].relative_to(root)}, Orthanc stores one instance")
        stored.setdefault(answer["ID"], path)
        patients.add(answer["ParentPatient"])
    return stored, patients


def anonymize(client: OrthancClient, patient: str, body: dict[str, Any], timeout: float) -> None:
    """Anonymize one patient as an asynchronous job and wait (bounded) for it to finish."""
    job = client.json("POST", f"/patients/{patient}/anonymize", {**body, "Asynchronous": True})
    deadline, delay = time.monotonic() + timeout, 0.05
    while time.monotonic() < deadline:
        state = client.json("GET", f"/jobs/{job['ID']}")
        if state["State"] == "Success":
            return
        if state["State"] == "Failure":
            raise ToolFailed(f"anonymization job of patient {patient} failed: "
                             f"{state.get('ErrorDescription', '')} {state.get('ErrorDetails', '')}")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    raise ToolFailed(f"anonymization job of patient {patient} did not finish within {timeout:.0f} s")


def _safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", value) or "unknown"


def download(client: OrthancClient, stored: dict[str, Path], output: Path,
             outcome: ToolOutcome) -> set[Path]:
    """Write every anonymized instance, map it to its source; return the inputs covered."""
    covered: set[Path] = set()
    for instance in sorted(set(client.json("GET", "/instances")) - set(stored)):
        source = client.call("GET", f"/instances/{instance}/metadata/AnonymizedFrom").decode()
        data = client.call("GET", f"/instances/{instance}/file")
        new = corr.read_ids(data)
        if new is None:
            outcome.notes.append(f"Orthanc instance {instance}: downloaded file is not readable DICOM")
            continue
        folder = output / _safe(new.patient_id) / _safe(new.uids["StudyInstanceUID"]) / \
            _safe(new.uids["SeriesInstanceUID"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{_safe(new.sop_uid)}.dcm").write_bytes(data)
        if source in stored:
            covered.add(stored[source])
            corr.record_pair(outcome, corr.read_ids(stored[source]), new)
    return covered


def session(spec: dict[str, Any]) -> ToolOutcome:
    """The whole session; the server is stopped whatever happens after it started."""
    if spec["netns"]:
        bring_loopback_up()
    work, root, output = Path(spec["work"]), Path(spec["input"]), Path(spec["output"])
    output.mkdir(parents=True, exist_ok=True)
    outcome = ToolOutcome()
    server = OrthancServer(spec["binary"], work, spec["password"], Path(spec["server_log"]))
    try:
        system = server.wait_ready()
        outcome.notes.append(f"Orthanc {system.get('Version')} on loopback port {server.port}")
        inputs = corr.input_files(root)
        stored, patients = upload(server.client, inputs, root, outcome.notes)
        for patient in sorted(patients):
            anonymize(server.client, patient, spec["body"], spec["job_timeout"])
        covered = download(server.client, stored, output, outcome)
        corr.note_missing(outcome, sorted(stored.values()), covered, root,
                          "Orthanc produced no anonymized instance")
    finally:
        outcome.notes.append(server.stop())
    return outcome


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    result_path = spec_path.with_name("result.json")
    try:
        outcome = session(spec)
    except ToolFailed as exc:
        result_path.write_text(json.dumps({"error": str(exc)}))
        return 1
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        result_path.write_text(json.dumps({"error": f"HTTP {exc.code} on {exc.url}: {detail}"}))
        return 1
    result_path.write_text(json.dumps({"uid_mapping": outcome.uid_mapping,
                                       "patid_mapping": outcome.patid_mapping,
                                       "notes": outcome.notes}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
