"""Write every generated artefact; ``--check`` fails when the committed files are stale.

python -m monitoring.generate                 # rewrite alerts/ and dashboards/
python -m monitoring.generate --check         # exit 1 and list stale files
python -m monitoring.generate --out DIR       # write under DIR instead of the repo
python -m monitoring.generate --bundle FILE   # another bundle config
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .bundle import DEFAULT_BUNDLE, REPO, Bundle
from .dashboards import dashboard_files, provisioning_files
from .rulefiles import alert_file, recording_file, runbooks


def render(b: Bundle) -> dict[str, str]:
    """Relative path -> file content, for every generated file."""
    files = {
        "alerts/rules/llm-exporter.rules.yml": recording_file(b),
        "alerts/rules/llm-exporter.alerts.yml": alert_file(b),
    }
    files.update({f"alerts/runbooks/{k}": v for k, v in runbooks(b).items()})
    files.update({f"dashboards/grafana/{k}": v for k, v in dashboard_files(b).items()})
    files.update({f"dashboards/provisioning/{k}": v for k, v in provisioning_files(b).items()})
    return files


GENERATED_DIRS = (
    "alerts/rules",
    "alerts/runbooks",
    "dashboards/grafana",
    "dashboards/provisioning/dashboards",
    "dashboards/provisioning/datasources",
)


def stale(files: dict[str, str], root: Path) -> list[str]:
    """Files that differ, are missing, or exist but are no longer generated."""
    out = [p for p, text in files.items() if not (root / p).is_file() or (root / p).read_text(encoding="utf-8") != text]
    for d in GENERATED_DIRS:
        for f in sorted((root / d).glob("*")) if (root / d).is_dir() else ():
            rel = f.relative_to(root).as_posix()
            if f.is_file() and rel not in files:
                out.append(rel + " (no longer generated)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m monitoring.generate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bundle", default=str(DEFAULT_BUNDLE))
    ap.add_argument("--out", default=str(REPO))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    files = render(Bundle.load(args.bundle))
    root = Path(args.out)
    if args.check:
        bad = stale(files, root)
        for p in bad:
            print(f"stale: {p}", file=sys.stderr)
        if bad:
            print("run: python -m monitoring.generate", file=sys.stderr)
        return 1 if bad else 0
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
