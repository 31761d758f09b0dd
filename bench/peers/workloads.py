"""BPMN fixtures for the peer benchmark, generated per engine.

Every engine gets the same diagram shapes; only the script and condition bodies differ,
each written in the engine's own script language. Every process starts with x = 0 and
each script task adds one to x, so a finished run's x tells whether the work was done.
"""

from dataclasses import dataclass
from xml.sax.saxutils import escape

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class Dialect:
    """How one engine spells an increment script task and a condition."""

    script_format: str
    increment: str
    # The condition "x < {bound}", as a format string.
    below: str
    condition_language: str | None


DIALECTS = {
    # wasmflow's inline scripts and conditions: its built-in Python-dialect interpreter.
    "wasmflow": Dialect("python", "x = x + 1", "x < {bound}", None),
    # SpiffWorkflow's PythonScriptEngine runs task data as Python.
    "spiffworkflow": Dialect("python", "x = x + 1", "x < {bound}", None),
    # bpmn-engine runs JavaScript in node:vm; a script or a script condition ends with next().
    "bpmn-engine": Dialect(
        "javascript",
        "environment.variables.x = environment.variables.x + 1; next();",
        "next(null, environment.variables.x < {bound});",
        "javascript",
    ),
}


class Diagram:
    """One executable process, built element by element."""

    def __init__(self, process_id, dialect):
        self.process_id = process_id
        self.dialect = dialect
        self.elements = []
        self.flow_count = 0

    def add(self, xml):
        self.elements.append(xml)

    def script_task(self, task_id):
        d = self.dialect
        self.add(
            f'<bpmn:scriptTask id="{task_id}" scriptFormat="{d.script_format}">'
            f"<bpmn:script>{escape(d.increment)}</bpmn:script></bpmn:scriptTask>"
        )

    def flow(self, source, target, below=None, flow_id=None):
        """A sequence flow; with `below`, conditional on x < below."""
        self.flow_count += 1
        flow_id = flow_id or f"flow_{self.flow_count}"
        if below is None:
            self.add(f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>')
            return flow_id
        d = self.dialect
        body = d.below.format(bound=below)
        language = f' language="{d.condition_language}"' if d.condition_language else ""
        self.add(
            f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"{language}>'
            f"{escape(body)}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        )
        return flow_id

    def xml(self):
        body = "\n    ".join(self.elements)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:xsi="{XSI_NS}" '
            f'id="defs_{self.process_id}" targetNamespace="http://wasmflow.invalid/bench">\n'
            f'  <bpmn:process id="{self.process_id}" isExecutable="true">\n'
            f"    {body}\n"
            "  </bpmn:process>\n"
            "</bpmn:definitions>\n"
        )


def chain(dialect, tasks):
    """start -> task_1 -> ... -> task_N -> end; x ends at N."""
    d = Diagram("chain", dialect)
    d.add('<bpmn:startEvent id="start"/>')
    previous = "start"
    for i in range(1, tasks + 1):
        d.script_task(f"task_{i}")
        d.flow(previous, f"task_{i}")
        previous = f"task_{i}"
    d.add('<bpmn:endEvent id="end"/>')
    d.flow(previous, "end")
    return d.xml()


def gateway_loop(dialect, iterations):
    """One task run again through an exclusive gateway's back-edge; x ends at iterations."""
    d = Diagram("loop", dialect)
    d.add('<bpmn:startEvent id="start"/>')
    # A merging gateway in front of the task, so that the task has one incoming flow.
    d.add('<bpmn:exclusiveGateway id="merge"/>')
    d.script_task("increment")
    d.add('<bpmn:exclusiveGateway id="again" default="done"/>')
    d.add('<bpmn:endEvent id="end"/>')
    d.flow("start", "merge")
    d.flow("merge", "increment")
    d.flow("increment", "again")
    d.flow("again", "merge", below=iterations)
    d.flow("again", "end", flow_id="done")
    return d.xml()


def parallel(dialect, branches):
    """A parallel fork into `branches` script tasks and a join."""
    d = Diagram("parallel", dialect)
    d.add('<bpmn:startEvent id="start"/>')
    d.add('<bpmn:parallelGateway id="fork"/>')
    d.add('<bpmn:parallelGateway id="join"/>')
    d.add('<bpmn:endEvent id="end"/>')
    d.flow("start", "fork")
    for i in range(1, branches + 1):
        d.script_task(f"branch_{i}")
        d.flow("fork", f"branch_{i}")
        d.flow(f"branch_{i}", "join")
    d.flow("join", "end")
    return d.xml()
