#!/usr/bin/python3
"""Builds the inputs of bench/modules.sh from an unpacked kernel package.

    modules-fixture.py ROOT PACKAGE VERSION SOURCE_PACKAGE TEMPLATE_DIR

ROOT holds the .ko files of SOURCE_PACKAGE (an unpacked
linux-image-*-unsigned). Each module keeps its path; Debian's build-time
signature is cut off in place (the last sig_len + 40 bytes: a 12-byte
struct module_signature whose last 4 bytes are sig_len, big-endian, then
the 28-byte magic "~Module signature appended~\\n"). ROOT/DEBIAN/control
is written for PACKAGE at VERSION, ready for `dpkg-deb -b`.

TEMPLATE_DIR becomes a code-signing directory: files.json listing every
module as sig_type linux-module, and source-template/debian/ with
changelog, control (Build-Depends: PACKAGE (= VERSION)), copyright, rules
and source/format "3.0 (native)".

Prints the number of modules on stdout.
"""

import json
import os
import struct
import sys

MAGIC = b"~Module signature appended~\n"
PKEY_ID_PKCS7 = 2


def strip(path):
    """Cuts the appended signature off path; False if it had none."""
    with open(path, "r+b") as f:
        data = f.read()
        if not data.endswith(MAGIC):
            return False
        info = data[-len(MAGIC) - 12:-len(MAGIC)]
        algo, hash_, id_type, signer_len, key_id_len, sig_len = struct.unpack(">BBBBB3x I", info)
        if id_type != PKEY_ID_PKCS7 or sig_len + 40 > len(data):
            raise SystemExit(f"{path}: unexpected module signature (id_type {id_type}, sig_len {sig_len})")
        f.truncate(len(data) - sig_len - 40)
    return True


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def main():
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    root, package, version, source_package, tpl = sys.argv[1:]
    modules = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".ko"):
                modules.append(os.path.relpath(os.path.join(dirpath, name), root))
    if not modules:
        raise SystemExit(f"{root}: no .ko files")
    unsigned = sum(not strip(os.path.join(root, m)) for m in modules)
    if unsigned:
        print(f"{unsigned} of {len(modules)} modules carried no signature", file=sys.stderr)

    write(os.path.join(root, "DEBIAN", "control"), f"""\
Package: {package}
Version: {version}
Architecture: amd64
Maintainer: mksigned bench <bench@invalid>
Section: kernel
Priority: optional
Description: {len(modules)} kernel modules of {source_package}, unsigned (benchmark input)
 The .ko files of {source_package} {version} with Debian's build-time
 module signatures removed, for mksigned's bench/modules.sh. Not for use.
""")

    source = "bench-modules-amd64-signed"
    signed_version = version.replace("-", "+")
    files = {"packages": {package: {"trusted_certs": [], "files": [
        {"sig_type": "linux-module", "file": m} for m in modules]}}}
    with open(os.path.join(tpl, "files.json"), "w") as f:
        json.dump(files, f, indent=1)
        f.write("\n")
    deb = os.path.join(tpl, "source-template", "debian")
    write(os.path.join(deb, "changelog"), f"""\
{source} ({signed_version}) bookworm; urgency=medium

  * Sign the {len(modules)} modules of {package} {version}
    (mksigned benchmark).

 -- mksigned bench <bench@invalid>  Thu, 01 Jan 2026 00:00:00 +0000
""")
    write(os.path.join(deb, "control"), f"""\
Source: {source}
Section: kernel
Priority: optional
Maintainer: mksigned bench <bench@invalid>
Build-Depends: debhelper-compat (= 13), {package} (= {version})
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: {package.replace("-unsigned", "-signed")}
Architecture: amd64
Depends: ${{misc:Depends}}
Description: kernel modules of {source_package}, signed (benchmark output)
 Built by mksigned's bench/modules.sh. Not for use.
""")
    write(os.path.join(deb, "copyright"), f"""\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: linux

Files: *
Copyright: the Linux kernel authors (modules from {source_package})
License: GPL-2
 On Debian systems, the full text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
""")
    write(os.path.join(deb, "rules"), "#!/usr/bin/make -f\n%:\n\tdh $@\n", 0o755)
    write(os.path.join(deb, "source", "format"), "3.0 (native)\n")
    print(len(modules))


if __name__ == "__main__":
    main()
