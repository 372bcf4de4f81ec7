"""``pip-audit`` over the locked dependencies, for ``./run test``: fail on a known vulnerability,
skip with a clear message where no vulnerability service can be reached."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

LOCK = Path(__file__).parents[1] / "requirements" / "lock.txt"
SERVICES = ("osv", "pypi")
# Vulnerability id -> why it does not apply to us. Every entry needs a written reason.
IGNORED: dict[str, str] = {}


def audit(service: str) -> dict[str, Any] | str:
    """pip-audit's JSON report from ``service``, or why there is none (it could not be reached)."""
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        *("-r", str(LOCK), "--no-deps", "--disable-pip", "--progress-spinner", "off"),
        *("-f", "json", "-s", service),
        *(arg for vuln in IGNORED for arg in ("--ignore-vuln", vuln)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return lines[-1]
    return report


def main() -> int:
    tried = []
    for service in SERVICES:
        report = audit(service)
        if isinstance(report, str):
            tried.append(f"{service}: {report}")
            continue
        packages = report["dependencies"]
        audited = [p for p in packages if "skip_reason" not in p]
        if not audited:
            # A service that answers "not found" for every package audited nothing: not a pass.
            tried.append(f"{service}: none of the {len(packages)} packages could be audited")
            continue
        found = [(p, v) for p in audited for v in p.get("vulns", [])]
        for package, vuln in found:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            print(f"pip-audit: {package['name']} {package['version']}: {vuln['id']} (fix: {fixes})")
        skipped = sorted(p["name"] for p in packages if "skip_reason" in p)
        if skipped:
            print(f"pip-audit: not audited by {service}: {', '.join(skipped)}")
        if found:
            print(f"pip-audit: {len(found)} known vulnerabilities; fix, or add to IGNORED with why")
            return 1
        print(f"pip-audit ({service}): no known vulnerability in {len(audited)} locked packages")
        return 0
    print("pip-audit: SKIPPED, no vulnerability service reachable from here:")
    for line in tried:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
