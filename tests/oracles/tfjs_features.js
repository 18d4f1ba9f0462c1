// tfjs_features.js — the independent runtime of the Keras parity tests: runs a TensorFlow.js Layers model
// (TensorFlow.js's pure-JavaScript CPU backend, nothing of oess) and writes the outputs of named layers.
//
//   node tfjs_features.js MODEL INPUT.f32 N H W OUTDIR LAYER [LAYER ...]
//
// MODEL: a model.json (shards beside it, as named in its manifest) or an nsfwjs-style UMD bundle
// model.min.js (shards PATH.min.js exporting base64 strings). INPUT.f32: N x H x W x 3 float32,
// little-endian, already preprocessed. For each layer, OUTDIR/LAYER.f32 (float32, NHWC as TensorFlow.js
// returns it) and OUTDIR/LAYER.json ({"shape": [...]}).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function readModel(file) {
  const dir = path.dirname(file);
  let topology, manifest;
  const shard = (p) => {
    if (fs.existsSync(path.join(dir, p))) return fs.readFileSync(path.join(dir, p));
    return Buffer.from(require(path.resolve(dir, p + '.min.js')), 'base64');
  };
  if (file.endsWith('.js')) {
    const m = require(path.resolve(file));
    topology = m.modelTopology;
    manifest = m.weightsManifest;
  } else {
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    topology = m.modelTopology;
    manifest = m.weightsManifest;
  }
  const specs = [];
  const buffers = [];
  for (const group of manifest) {
    for (const w of group.weights) specs.push(w);
    for (const p of group.paths) buffers.push(shard(p));
  }
  const all = Buffer.concat(buffers);
  const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {modelTopology: topology, weightSpecs: specs, weightData: data};
}

async function main() {
  const [modelFile, inputFile, n, h, w, outDir, ...layers] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel(tf.io.fromMemory(readModel(modelFile)));
  const raw = fs.readFileSync(inputFile);
  const values = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const shape = [Number(n), Number(h), Number(w), 3];
  const x = tf.tensor(values, shape, 'float32');
  const sub = tf.model({inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output)});
  let out = sub.predict(x);
  if (!Array.isArray(out)) out = [out];
  fs.mkdirSync(outDir, {recursive: true});
  for (let i = 0; i < layers.length; ++i) {
    const v = out[i].dataSync();
    fs.writeFileSync(path.join(outDir, layers[i] + '.f32'), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    fs.writeFileSync(path.join(outDir, layers[i] + '.json'), JSON.stringify({shape: out[i].shape}));
  }
  console.log(`tfjs ${tf.version.tfjs} (${tf.getBackend()}): ${layers.length} layers for ${n} images`);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
