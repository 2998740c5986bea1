#!/usr/bin/env bash
# Set up midib on a Debian machine: system tools (where missing), a virtualenv, the package
# and the real de-identification tools. Idempotent: a second run only checks.
#   MIDIB_VENV=path   virtualenv location (default: .venv in the repository)
#   MIDIB_NO_APT=1    never call apt-get (print what is missing instead)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MIDIB_VENV:-.venv}

# command-or-file to test -> Debian package that provides it
declare -A NEED=(
  [tesseract]=tesseract-ocr
  [dciodvfy]=dicom3tools
  [gdcmanon]=libgdcm-tools
  [Orthanc]=orthanc
  [/usr/share/java/pixelmed.jar]=pixelmed-apps
  [/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]=fonts-dejavu-core
  [/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf]=fonts-dejavu-core
  [java]=default-jre-headless
  [openssl]=openssl
  [unshare]=util-linux
)
[ "${MIDIB_WITH_CHROMIUM:-0}" = 1 ] && NEED[chromium]=chromium

missing=()
for what in "${!NEED[@]}"; do
  if [[ "$what" == /* ]]; then [ -e "$what" ] && continue
  else command -v "$what" >/dev/null 2>&1 && continue; fi
  missing+=("${NEED[$what]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "${MIDIB_NO_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: $pkgs"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  else
    echo "setup: warning: missing system packages (tools needing them will be 'unavailable'): $pkgs" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
echo "setup: installing midib with the de-identification tools and test dependencies"
log="$VENV/midib-install.log"
if ! "$VENV/bin/python" -m pip install -q -e '.[tools,test]' >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup: error: installing midib failed (full log above, also in $log)" >&2
  exit 1
fi
"$VENV/bin/midib" --version
