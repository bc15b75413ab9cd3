"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test bootstraps pip into each virtual environment it creates by running a get-pip.py that it
downloads from a host this project's machines cannot reach. It first looks for a cached copy under
~/.ansible/test/cache/, so tools/ansible-test places this file there. It does the same job with what
every CPython ships: ensurepip, then pip itself installs the exact versions ansible-test asks for.
"""

import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode)
