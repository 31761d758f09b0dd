"""Runs one benchmark workload on SpiffWorkflow, in a process of its own.

    spiff_driver.py run  DIAGRAM.bpmn
    spiff_driver.py save DIAGRAM.bpmn STATE.json   run, then serialize to STATE.json
    spiff_driver.py load STATE.json                deserialize a saved instance

Prints one JSON line: {"status": "completed", "x": ...} or {"status": "failed", "error": ...}.
"""

import json
import sys

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer


def run(diagram):
    parser = BpmnParser()
    parser.add_bpmn_file(diagram)
    # Each benchmark diagram holds one process.
    (process_id,) = parser.get_process_ids()
    instance = BpmnWorkflow(parser.get_spec(process_id))
    # The start data goes on the ready start task; it flows on from there.
    instance.get_next_task(state=TaskState.READY).set_data(x=0)
    instance.do_engine_steps()
    return instance


def outcome(instance):
    if not instance.is_completed():
        return {"status": "not completed"}
    return {"status": "completed", "x": instance.data.get("x")}


def root_cause(error):
    """SpiffWorkflow wraps errors raised in a task; the table names the innermost."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    return error


def main(mode, *args):
    serializer = BpmnWorkflowSerializer()
    if mode == "run":
        return outcome(run(*args))
    if mode == "save":
        diagram, state_file = args
        instance = run(diagram)
        with open(state_file, "w") as out:
            out.write(serializer.serialize_json(instance))
        return outcome(instance)
    if mode == "load":
        (state_file,) = args
        with open(state_file) as saved:
            return outcome(serializer.deserialize_json(saved.read()))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    try:
        result = main(*sys.argv[1:])
    except Exception as error:  # RecursionError included: the benchmark reports it.
        result = {"status": "failed", "error": type(root_cause(error)).__name__}
    print(json.dumps(result))
    sys.exit(0 if result["status"] == "completed" else 1)
