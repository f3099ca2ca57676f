"""The library versions a fixture script was run with, checked before it runs.

Every script here states its pins once, in a header line near the top:

    # requires: torch==2.13.0 transformers==5.24.0 safetensors==0.8.0

`require(__file__)` reads that line and compares each pin with the installed distribution (a local build tag
such as torch's "+cpu" is ignored). A missing or different version stops the script with one line per package
and the pip command that installs the pins, before anything is written: fixtures made with other versions can
differ from the committed ones in the last bits. RPP_FIXTURE_VERSIONS=any turns the stop into a warning.
Entries without "==" (e.g. "Python 3.10+") are notes, not checked.
"""
import os
import re
import sys
from importlib import metadata


def pins(path):
    """The name==version pins of the script at `path` (its first "# requires:" line), in order."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            match = re.match(r"#\s*requires:\s*(.*)", line.strip())
            if match:
                return re.findall(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-+]+)", match.group(1))
    sys.exit(f"{os.path.basename(path)}: no '# requires:' line stating the library versions it runs with")


def installed(name):
    """The installed version of distribution `name` without a local build tag, or None."""
    try:
        return metadata.version(name).split("+")[0]
    except metadata.PackageNotFoundError:
        return None


def require(path):
    """Stops (or warns, with RPP_FIXTURE_VERSIONS=any) when an installed version differs from the pins."""
    wanted = pins(path)
    problems = []
    for name, version in wanted:
        have = installed(name)
        if have != version:
            problems.append(f"  {name}: {'not installed' if have is None else have}, pinned {version}")
    if not problems:
        return
    script = os.path.basename(path)
    install = "pip install " + " ".join(f"{n}=={v}" for n, v in wanted)
    message = (f"{script}: this Python ({sys.executable}) does not have the pinned library versions:\n"
               + "\n".join(problems) + f"\nInstall them in a venv of its own: {install}")
    if os.environ.get("RPP_FIXTURE_VERSIONS") == "any":
        print(message + "\nRPP_FIXTURE_VERSIONS=any: going on; the output may differ from the committed fixtures",
              file=sys.stderr)
    else:
        sys.exit(message + "\n(RPP_FIXTURE_VERSIONS=any runs it anyway)")
