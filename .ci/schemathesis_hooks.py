"""Schemathesis hooks for .ci/schemathesis: a check that a refused control request changes nothing.

Before each call the readable state (options, instance, faults, scenario, clock) is fetched;
after a 4xx answer it must be the same. The server runs on a manual clock, so time stands still.
"""
import os
import urllib.request

import schemathesis

CONTROL = os.environ["IMDSPEC_CONTROL"]
STATE_PATHS = ["/options", "/instance", "/faults", "/scenario", "/clock"]
# Loopback: never through a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_before = {}


def _state():
    out = {}
    for path in STATE_PATHS:
        with _OPENER.open(CONTROL + path, timeout=10) as resp:
            out[path] = resp.read().decode()
    return out


@schemathesis.hook
def before_call(context, case, kwargs):
    _before[id(case)] = _state()


@schemathesis.check
def refused_requests_change_nothing(ctx, response, case):
    before = _before.pop(id(case), None)
    if before is None or response.status_code < 400:
        return None
    after = _state()
    changed = [p for p in STATE_PATHS if before[p] != after[p]]
    if changed:
        raise AssertionError(
            f"{case.method} {case.path} answered {response.status_code} but changed {', '.join(changed)}"
        )
    return None
