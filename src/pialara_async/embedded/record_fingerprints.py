"""Record the fingerprints of the mongoeco functions the embedded layer replaces.

    python -m pialara_async.embedded.record_fingerprints

Run in a fresh process (the fixes must not be installed yet), once every fix
has been checked against the mongoeco release now installed: it rewrites
``seam_fingerprints.py``, which ``seam.rebind`` checks at every start.
"""

from __future__ import annotations

from pathlib import Path

from pialara_async.embedded import aggregation, engine_fixes, indexes, seam


def record() -> dict[str, str]:
    """The fingerprint of every function the fixes replace."""
    with seam.recording() as noted:
        aggregation.install()
        engine_fixes.install()
        indexes.install()
    return dict(sorted(noted.items()))


def main() -> None:
    target = Path(seam.__file__).with_name("seam_fingerprints.py")
    entries = "".join(f"    {key!r}:\n        {digest!r},\n" for key, digest in record().items())
    target.write_text(
        '"""Fingerprints of the mongoeco functions the embedded layer replaces (seam.py).\n\n'
        'Written by ``python -m pialara_async.embedded.record_fingerprints``; do not edit."""\n\n'
        f"FINGERPRINTS: dict[str, str] = {{\n{entries}}}\n")
    print(f"{target}: fingerprints recorded")


if __name__ == "__main__":
    main()
