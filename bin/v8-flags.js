// V8 optimises a function once it has run through an "interrupt budget" of bytecode, a default made for long-running
// processes. A diagnose is short: most of what it would optimise runs briefly afterwards, and optimising it cost more
// CPU than it saved (1000 guests / 20k rules: 1.25 -> 0.74 s user at 8x the default; 4x and 16x did no better, and
// 10,000 guests are equal within noise). Every entry sets this before it compiles anything, the code-cache build too:
// V8 takes a code cache only under the flags it was made with.
// CommonJS, as bin/run.js is (bin/package.json).
'use strict'
require('node:v8').setFlagsFromString('--interrupt-budget=1081344')
