// Runs one benchmark workload on bpmn-engine, in a process of its own.
//
//   node bpmn_engine_driver.cjs MODULES_DIR run  DIAGRAM.bpmn
//   node bpmn_engine_driver.cjs MODULES_DIR save DIAGRAM.bpmn STATE.json   run, then getState() to STATE.json
//   node bpmn_engine_driver.cjs MODULES_DIR load STATE.json                recover() and resume() a saved instance
//
// MODULES_DIR is the node_modules the engine was installed in (under target/peers).
// Prints one JSON line: {"status": "completed", "x": ...} or {"status": "failed", "error": ...}.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const [modulesDir, mode, ...args] = process.argv.slice(2);
const { Engine } = require(path.resolve(modulesDir, 'bpmn-engine'));

function report(result) {
  fs.writeSync(1, JSON.stringify(result) + '\n');
  process.exit(result.status === 'completed' ? 0 : 1);
}

function failed(error) {
  // A stack overflow in synchronous next() chains surfaces as a RangeError.
  report({ status: 'failed', error: error?.name || String(error) });
}

// bpmn-engine reports some errors through the engine, others by throwing from a callback.
process.on('uncaughtException', failed);
process.on('unhandledRejection', failed);

async function runToEnd(engine, start) {
  const ended = engine.waitFor('end');
  const execution = await start();
  await ended;
  return execution;
}

function outcome(execution) {
  // Scripts change the process's copy of the variables, not the engine's.
  const [instance] = execution.definitions[0].getProcesses();
  return { status: 'completed', x: instance.environment.variables.x };
}

async function main() {
  if (mode === 'run' || mode === 'save') {
    const [diagram, stateFile] = args;
    const engine = new Engine({ source: fs.readFileSync(diagram, 'utf8'), variables: { x: 0 } });
    const execution = await runToEnd(engine, () => engine.execute());
    if (mode === 'save') fs.writeFileSync(stateFile, JSON.stringify(await engine.getState()));
    return outcome(execution);
  }
  if (mode === 'load') {
    const [stateFile] = args;
    const engine = new Engine().recover(JSON.parse(fs.readFileSync(stateFile, 'utf8')));
    return outcome(await engine.resume());
  }
  throw new Error(`unknown mode ${mode}`);
}

main().then(report, failed);
