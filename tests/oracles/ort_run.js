// Runs an ONNX file in ONNX Runtime (onnxruntime-node, the CPU build inside the npm package) on a NumPy .npy
// input and writes every output as JSON. Independent of oess: nothing here comes from oess's code.
//
// usage: NODE_PATH=tests/js/node_modules node ort_run.js MODEL.onnx INPUT.npy OUT.json [--batch B] [--repeat R]
//   INPUT.npy: float32 little-endian, C order, [N, 3, H, W] (what `oess score --save-input` writes).
//   OUT.json: {inputs: [names], outputs: {name: {dims, data}}, seconds: [per repeat: the whole input]}.
"use strict";
const fs = require("fs");
const ort = require("onnxruntime-node");

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", start, start + headerLen);
  if (!header.includes("'<f4'")) throw new Error(`${path}: expected float32 little-endian, header ${header}`);
  if (header.includes("'fortran_order': True")) throw new Error(`${path}: Fortran order`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(",").map((s) => s.trim()).filter((s) => s)
    .map(Number);
  const offset = start + headerLen;
  const n = shape.reduce((a, b) => a * b, 1);
  if (buf.length - offset !== 4 * n) throw new Error(`${path}: ${buf.length - offset} bytes of data for ${n} values`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = buf.readFloatLE(offset + 4 * i);
  return { shape, data };
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const [modelPath, npyPath, outPath] = args;
  const x = readNpy(npyPath);
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: opt("--threads", 2) });
  const [n, c, h, w] = x.shape;
  const batch = opt("--batch", n);
  const per = c * h * w;
  const outputs = {};
  const seconds = [];
  for (let r = 0; r < opt("--repeat", 1); ++r) {
    const t0 = process.hrtime.bigint();
    const collected = {};
    for (let b = 0; b < n; b += batch) {
      const m = Math.min(batch, n - b);
      const input = new ort.Tensor("float32", x.data.subarray(b * per, (b + m) * per), [m, c, h, w]);
      const res = await session.run({ image: input });
      for (const name of session.outputNames) {
        const t = res[name];
        if (!collected[name]) collected[name] = { dims: [0, ...t.dims.slice(1)], data: [] };
        collected[name].dims[0] += t.dims[0];
        for (const v of t.data) collected[name].data.push(v);
      }
    }
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    Object.assign(outputs, collected);
  }
  fs.writeFileSync(outPath, JSON.stringify({ inputs: session.inputNames, outputs, seconds }));
}

main().catch((e) => {
  console.error(`ort_run: ${e.message}`);
  process.exit(1);
});
