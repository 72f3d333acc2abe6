// ONNX Runtime's side of bench/compare: a server that loads an ONNX file
// exported by scripts/bench_torch.py, checks its outputs and times it, one
// JSON request per line on stdin, one JSON reply per line on stdout.
//
//   {"op": "load", "onnx": PATH, "input": PATH, "batch": B, "shape": [C, H, W], "threads": 2}
//       -> {"logits": [...]}
//   {"op": "time", "reps": K} -> {"ms": [...]}
//
// Install once: cd bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci
'use strict';
const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');

let session = null;
let feeds = null;

async function load(req) {
  session = await ort.InferenceSession.create(req.onnx, {
    intraOpNumThreads: req.threads || 2,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const buf = fs.readFileSync(req.input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  feeds = { input: new ort.Tensor('float32', data, [req.batch, ...req.shape]) };
  const out = await session.run(feeds);
  return { logits: Array.from(out.logits.data) };
}

async function time(req) {
  const ms = [];
  for (let i = 0; i < req.reps; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms };
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const req = JSON.parse(line);
    let reply;
    try {
      reply = await ({ load, time })[req.op](req);
    } catch (e) {
      reply = { error: String(e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
}

main();
