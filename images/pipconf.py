"""Turn this machine's pip settings into a pip.conf for a container build (standard library only).

`python3 images/pipconf.py OUTDIR [--http PORT]` reads `pip config list` (files and PIP_* variables),
writes OUTDIR/pip.conf with the CA bundle pointed at the build secret /run/secrets/pipcert, copies the
bundle to OUTDIR/cert.pem (empty when pip has none), and prints the local folders the settings name
(find-links paths; a file:// index's parent; the folder of a constraint or requirement file, which a
machine's pip.conf may set), one a line, for the build to mount. With --http PORT those folders
are named as http://127.0.0.1:PORT/<path> instead, for engines that cannot mount host folders into a
build (docker): build.sh serves them on the loopback for the length of the build.
The file goes to the build as a secret, never into a layer.
"""
import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

CERT_IN_BUILD = "/run/secrets/pipcert"
PATH_KEYS = {"index-url", "extra-index-url", "find-links"}
FILE_KEYS = {"constraint", "requirement"}  # settings that name files (a machine's pip.conf may cap versions)


def pip_settings(python: str) -> dict[str, str]:
    out = subprocess.run([python, "-m", "pip", "config", "list"], check=True, capture_output=True, text=True).stdout
    settings = {}
    for line in out.splitlines():
        match = re.fullmatch(r"([^.]*)\.([A-Za-z0-9_-]+)='(.*)'", line.strip())
        if match and match.group(1) in ("global", "install", ":env:"):
            settings[match.group(2)] = match.group(3)  # later lines (environment) win, as in pip
    return settings


def local_folder(value: str) -> str | None:
    if value.startswith("file://"):
        return value[len("file://"):].rstrip("/") or "/"
    if value.startswith("/"):
        return value.rstrip("/")
    return None


def main(argv: list[str]) -> int:
    outdir = Path(argv[0])
    port = argv[argv.index("--http") + 1] if "--http" in argv else None
    python = sys.executable
    settings = pip_settings(python)
    folders = []
    config = configparser.ConfigParser(interpolation=None)
    config["global"] = {}
    for key, value in settings.items():
        if key in PATH_KEYS:
            items = []
            for item in value.split():
                folder = local_folder(item)
                if folder is None:
                    items.append(item)
                    continue
                # an index's pages link to its siblings (simple/<name>/ -> ../../files): mount its parent
                is_index = key != "find-links" and folder.endswith("/simple")
                folders.append(folder.rsplit("/", 1)[0] if is_index else folder)
                items.append(f"http://127.0.0.1:{port}{folder}/" if port else item)
            value = " ".join(items)
        elif key in FILE_KEYS:
            # the file's folder is mounted (or served) like a find-links folder; served, the file is a URL
            items = []
            for item in value.split():
                path = local_folder(item)
                if path is None:
                    items.append(item)
                    continue
                folders.append(path.rsplit("/", 1)[0] or "/")
                items.append(f"http://127.0.0.1:{port}{path}" if port else path)
            value = " ".join(items)
        elif key == "cert":
            shutil.copyfile(value, outdir / "cert.pem")
            value = CERT_IN_BUILD
        config["global"][key] = value
    if "cert" not in settings:
        (outdir / "cert.pem").write_text("")
    with open(outdir / "pip.conf", "w") as f:
        config.write(f)
    for folder in dict.fromkeys(folders):
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
