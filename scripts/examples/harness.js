// Calls one function of the document's JavaScript example and prints its result
// as JSON: node harness.js LIB FUNCTION 'ARGS_JSON'. LIB is the document's code
// (without its usage lines) with the real session filled in and the functions
// exported; scripts/examples/check.py compares the result with the documented
// body and checks the sandbox views. Exits 1 when the call throws.
'use strict';
const [lib, fname, args] = process.argv.slice(2);
const example = require(lib);
if (typeof example[fname] !== 'function') {
  console.error(`the example has no function ${fname}`);
  process.exit(1);
}
example[fname](...JSON.parse(args)).then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err) => {
    const r = err.response;
    console.error(r ? `HTTP ${r.status}: ${JSON.stringify(r.data)}` : String(err));
    process.exit(1);
  },
);
