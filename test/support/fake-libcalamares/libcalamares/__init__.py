# A small stand-in for the Python API that Calamares 3.3 embeds (libcalamares), for testing
# atomiso's job modules outside Calamares. State lives in files named by environment variables:
#   FAKE_CALAMARES_GS      globalstorage, a JSON object (read at import, rewritten on insert)
#   FAKE_CALAMARES_CONFIG  job.configuration, a JSON object (optional)
#   FAKE_CALAMARES_EVENTS  JSON lines appended by setprogress/debug/warning/error
import json
import os

_GS_FILE = os.environ["FAKE_CALAMARES_GS"]
_EVENTS_FILE = os.environ["FAKE_CALAMARES_EVENTS"]


def _event(kind, value):
    with open(_EVENTS_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps({"kind": kind, "value": value}) + "\n")


class _GlobalStorage:
    def __init__(self, path):
        self._path = path
        with open(path, encoding="utf-8") as f:
            self._data = json.load(f)

    def _save(self):
        tmp = self._path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._data, f, indent=2)
        os.replace(tmp, self._path)

    def contains(self, key):
        return key in self._data

    def count(self):
        return len(self._data)

    def keys(self):
        return list(self._data)

    def value(self, key):
        return self._data.get(key)

    def insert(self, key, value):
        self._data[key] = json.loads(json.dumps(value))
        self._save()

    def remove(self, key):
        removed = key in self._data
        self._data.pop(key, None)
        self._save()
        return removed


class _Job:
    def __init__(self):
        path = os.environ.get("FAKE_CALAMARES_CONFIG")
        self.configuration = {}
        if path:
            with open(path, encoding="utf-8") as f:
                self.configuration = json.load(f)
        self.module_name = os.environ.get("FAKE_CALAMARES_MODULE", "")
        self.pretty_name = self.module_name
        self.working_path = ""

    def setprogress(self, progress):
        # Calamares ignores values outside 0..1; record them anyway so a test can see them.
        # Like Calamares built with Boost.Python, ask the module for its status message.
        status = status_hook() if status_hook is not None else None
        with open(_EVENTS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": "progress", "value": progress, "status": status}) + "\n")


class _Utils:
    @staticmethod
    def debug(msg):
        _event("debug", str(msg))

    @staticmethod
    def warning(msg):
        _event("warning", str(msg))

    warn = warning

    @staticmethod
    def error(msg):
        _event("error", str(msg))

    @staticmethod
    def gettext_path():
        return None

    @staticmethod
    def gettext_languages():
        return []


# Set by run-job.py to the module's pretty_status_message, if it has one.
status_hook = None
globalstorage = _GlobalStorage(_GS_FILE)
job = _Job()
utils = _Utils()
