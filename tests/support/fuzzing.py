"""Schemathesis over the API: every operation of /api/openapi.json, fuzzed against a running
server, each answer checked against the document and the error contract.

Three passes per operation, all deterministic (CI sees the same requests every run):
schemathesis's coverage cases (boundary values, missing and wrong-typed fields, unexpected
methods), then Hypothesis-generated valid and invalid requests with a fixed seed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.failures import FailureGroup

PROBLEM = "application/problem+json"
EVENT_STREAM = "text/event-stream"

# A schema-valid request may still be refused for what a schema cannot say: an expiry in the
# past, an entry that does not exist, a duplicate slug. Everything else must be accepted.
_CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": [200, 201, 204, 401, 403, 404, 409, 412, 422, 429]
        }
    },
}


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """An export (POST /api/blogs/import): sent as it is when it is text, else as JSON lines."""
    if isinstance(value, str):
        return value.encode()
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


@dataclass
class Report:
    """What the fuzzing saw: statuses per operation, and every failure (first of a kind)."""

    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def saw(self, label: str, status: int) -> None:
        counts = self.statuses.setdefault(label, {})
        counts[status] = counts.get(status, 0) + 1

    def fail(self, label: str, kind: str, detail: str) -> None:
        self.failures.setdefault((label, kind), detail)

    @property
    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())


def load(base_url: str) -> schemathesis.BaseSchema:
    """The server's own document (schemathesis refuses an invalid one). Read by hand:
    ``from_url`` would leave out the operation that serves the document."""
    document = requests.get(f"{base_url}/api/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(_CONFIG))


def operations(schema: schemathesis.BaseSchema) -> Iterator[schemathesis.APIOperation]:
    """Every operation; deletes last, so the other operations still find what they work on."""
    ops = [result.ok() for result in schema.get_all_operations()]
    yield from sorted(ops, key=lambda op: op.method.upper() == "DELETE")


class Fuzzer:
    def __init__(self, base_url: str, token: str, report: Report) -> None:
        self.base_url = base_url
        self.token = token
        self.report = report
        self.session = requests.Session()

    def check(self, case: Case) -> None:
        """Send one case; record whatever is wrong with the answer, never raise."""
        self._authorize(case)
        label, curl = case.operation.label, case.as_curl_command()
        try:
            response = self._send(case)
        except requests.RequestException as exc:
            self.report.fail(label, "no answer", f"{exc}\n{curl}")
            return
        status = response.status_code
        self.report.saw(label, status)
        content_type = response.headers.get("content-type", "")
        if content_type.startswith(EVENT_STREAM):
            # A live stream: its status and headers are the whole answer there is to check.
            if str(status) not in case.operation.definition.raw["responses"]:
                self.report.fail(label, f"undocumented {status}", curl)
            return
        if status >= 500:
            self.report.fail(label, f"{status}", f"{response.text[:500]}\n{curl}")
        if status >= 400 and content_type != PROBLEM:
            detail = f"{status} {content_type!r}: {response.text[:200]}\n{curl}"
            self.report.fail(label, f"{status} not {PROBLEM}", detail)
        try:
            case.validate_response(response)
        except FailureGroup as group:
            for failure in group.exceptions:
                kind = getattr(failure, "title", type(failure).__name__)
                self.report.fail(label, kind, f"{failure}\n{curl}")

    def _send(self, case: Case) -> requests.Response:
        """The request of ``case``; the body read unless it is an event stream, which never
        ends (schemathesis's own call would read one until its timeout)."""
        kwargs = case.as_transport_kwargs(base_url=self.base_url)
        with self.session.request(**kwargs, stream=True, timeout=10) as response:
            if not response.headers.get("content-type", "").startswith(EVENT_STREAM):
                response.content  # noqa: B018 (reads the body)
        return response

    def _authorize(self, case: Case) -> None:
        """The admin token on every operation that takes one, unless the case is about a bad
        or missing token (schemathesis sends those to see them refused)."""
        if case.operation.schema.is_security_param_negated(case):
            return
        if "security" in case.operation.definition.raw:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {self.token}"}

    def coverage(self, op: schemathesis.APIOperation, **fixed: str) -> None:
        schema = op.schema
        cases = schema.iter_coverage_cases(
            op,
            generation_modes=list(GenerationMode),
            generation_config=schema.config.generation_for(operation=op),
        )
        for case in cases:
            if fixed:
                case.path_parameters = {**(case.path_parameters or {}), **fixed}
            self.check(case)

    def generated(
        self, op: schemathesis.APIOperation, mode: GenerationMode, examples: int, **fixed: str
    ) -> None:
        strategy = op.as_strategy(generation_mode=mode, path_parameters=fixed or None)
        run = _bounded(examples)(given(case=strategy)(self.check))
        try:
            run()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (no body, no typed parameter):
            # there is no negative case to send.
            assert mode is GenerationMode.NEGATIVE, op.label


def _bounded(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        derandomize=True,  # a fixed seed: CI sends the same requests every run
        database=None,  # and remembers nothing between runs
        deadline=None,  # a slow answer is not what this test judges
        phases=[Phase.explicit, Phase.generate],  # no shrinking: check() never raises
        # The schemas are large and some strategies filter a lot; the health checks would
        # fail the run for speed of generation, which is not what this test judges.
        suppress_health_check=list(HealthCheck),
    )
