#!/usr/bin/env python3
# Runs a Calamares Python job module the way Calamares does: imports its main.py with the fake
# libcalamares on sys.path and calls run(). Prints one JSON line: {"result": null} on success,
# {"result": [title, message]} on failure, with the status message the module reports.
# The live system installs the atomiso_live package in python3's dist-packages; here it is
# imported from the source tree (installer-scripts/).
# usage: run-job.py MODULE_DIR   (env: see libcalamares/__init__.py)
import importlib.util
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the module folders of the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, "..", "..", "..", "installer-scripts"))
module_dir = sys.argv[1]
spec = importlib.util.spec_from_file_location("calamares_job", os.path.join(module_dir, "main.py"))
job = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job)
import libcalamares  # noqa: E402 - the fake, from this folder

libcalamares.status_hook = getattr(job, "pretty_status_message", None)
result = job.run()
status = job.pretty_status_message() if hasattr(job, "pretty_status_message") else None
print(json.dumps({"result": list(result) if result is not None else None, "prettyName": job.pretty_name(), "status": status}))
